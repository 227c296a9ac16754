import { describe, expect, it } from "vitest";
import {
  confidenceFromProbs,
  measureAt,
  oosWeights,
  precisionCurve,
  thresholdForPrecision,
} from "./confidence.ts";
import type { ScoredRow } from "./confidence.ts";

describe("confidenceFromProbs", () => {
  it.each([
    { probs: [1, 0, 0, 0], maxProb: 1, margin: 1, entropy: 1 },
    { probs: [0.25, 0.25, 0.25, 0.25], maxProb: 0.25, margin: 0, entropy: 0 },
    { probs: [0.5, 0.3, 0.2, 0], maxProb: 0.5, margin: 0.2, entropy: 1 - 1.0296530140645737 / Math.log(4) },
  ])("scores $probs", ({ probs, maxProb, margin, entropy }) => {
    const c = confidenceFromProbs(probs);
    expect(c.maxProb).toBeCloseTo(maxProb, 12);
    expect(c.margin).toBeCloseTo(margin, 12);
    expect(c.entropy).toBeCloseTo(entropy, 12);
  });
});

describe("thresholds", () => {
  const row = (score: number, correct: boolean, predictedOos = false, weight = 1): ScoredRow => ({
    score,
    correct,
    predictedOos,
    weight,
  });
  const rows = [row(0.9, true), row(0.8, true), row(0.7, false), row(0.6, true), row(0.5, true, true)];

  it("takes the lowest threshold that keeps the precision, never accepting oos predictions", () => {
    const curve = precisionCurve(rows);
    expect(thresholdForPrecision(curve, 1)).toEqual({ threshold: 0.8, coverage: 0.4 });
    expect(thresholdForPrecision(curve, 0.75)).toEqual({ threshold: 0.6, coverage: 0.8 });
    expect(measureAt(rows, 0.6)).toEqual({ coverage: 0.8, precision: 0.75 });
    expect(measureAt(rows, null)).toEqual({ coverage: 0, precision: null });
  });

  it("reweights rows to the expected out-of-scope share", () => {
    const w = oosWeights([true, false, false, false], 0.5);
    expect(w[0]).toBeCloseTo(2);
    expect(w[1]).toBeCloseTo(2 / 3);
    expect(w.reduce((a, b) => a + b, 0)).toBeCloseTo(4);
  });
});
