// Confidence scores (all in [0,1], higher = surer) and the calibration maths that turns a target
// precision into a threshold. Shared by training (choosing thresholds) and inference (applying them).
import type { AcceptRule } from "../policy/schema.ts";
import type { CalibrationRow, CoverageRow, ModelManifest } from "./manifest.ts";

export interface Confidence {
  maxProb: number;
  /** Top-1 minus top-2 probability. */
  margin: number;
  /** 1 − entropy / ln(labels): 1 for a one-hot distribution, 0 for a uniform one. */
  entropy: number;
}

export interface Classification {
  label: string;
  probability: number;
  confidence: Confidence;
  top: { label: string; p: number }[];
  /** The label is the model's out-of-scope label: never an edge answer. */
  outOfScope: boolean;
}

/** Confidence scores of one probability row `probs[offset .. offset + n)`. */
export function confidenceFromProbs(probs: ArrayLike<number>, offset = 0, n = probs.length): Confidence {
  let p1 = 0;
  let p2 = 0;
  let h = 0;
  for (let j = 0; j < n; j++) {
    const p = probs[offset + j] ?? 0;
    if (p > p1) {
      p2 = p1;
      p1 = p;
    } else if (p > p2) p2 = p;
    if (p > 0) h -= p * Math.log(p);
  }
  const entropy = n > 1 ? Math.min(1, Math.max(0, 1 - h / Math.log(n))) : 1;
  return { maxProb: p1, margin: Math.max(0, p1 - p2), entropy };
}

export function scoreOf(confidence: Confidence, rule: AcceptRule): number {
  switch (rule) {
    case "max-prob":
      return confidence.maxProb;
    case "margin":
      return confidence.margin;
    case "entropy":
      return confidence.entropy;
  }
}

export function confidenceOf(classification: Classification, rule: AcceptRule): number {
  return scoreOf(classification.confidence, rule);
}

/** The edge may answer: in scope and confidence ≥ threshold. */
export function acceptsAtEdge(classification: Classification, rule: AcceptRule, threshold: number): boolean {
  return !classification.outOfScope && confidenceOf(classification, rule) >= threshold;
}

/**
 * Threshold for `targetPrecision` from the manifest's validation table: the row with the lowest
 * precision ≥ target (conservative). Undefined when no threshold reaches it (escalate everything).
 */
export function thresholdFor(
  manifest: ModelManifest,
  rule: AcceptRule,
  targetPrecision: number,
): number | undefined {
  const rows = [...manifest.calibration.table].sort((a, b) => a.precision - b.precision);
  const row = rows.find((r) => r.precision >= targetPrecision - 1e-9);
  const t = row?.thresholds[rule];
  return t === null ? undefined : t;
}

/** One scored prediction for the calibration maths. */
export interface ScoredRow {
  score: number;
  /** Accepting this row is right: in-scope prediction that equals the gold label. */
  correct: boolean;
  /** Predicted the out-of-scope label: never accepted. */
  predictedOos: boolean;
  weight: number;
}

/** Weights that reweight rows so out-of-scope gold rows make up `oosShare` of the total. */
export function oosWeights(goldIsOos: readonly boolean[], oosShare: number | undefined): number[] {
  const nOos = goldIsOos.filter(Boolean).length;
  const nIn = goldIsOos.length - nOos;
  if (oosShare === undefined || nOos === 0 || nIn === 0) return goldIsOos.map(() => 1);
  const total = goldIsOos.length;
  const wOos = (oosShare * total) / nOos;
  const wIn = ((1 - oosShare) * total) / nIn;
  return goldIsOos.map((o) => (o ? wOos : wIn));
}

interface Point {
  threshold: number;
  coverage: number;
  precision: number;
}

/** Precision/coverage at each distinct score, highest first (accepting score ≥ threshold). */
export function precisionCurve(rows: readonly ScoredRow[]): Point[] {
  const total = rows.reduce((s, r) => s + r.weight, 0);
  const cand = rows.filter((r) => !r.predictedOos).sort((a, b) => b.score - a.score);
  const out: Point[] = [];
  let acc = 0;
  let ok = 0;
  for (let i = 0; i < cand.length; i++) {
    const r = cand[i];
    if (r === undefined) break;
    acc += r.weight;
    if (r.correct) ok += r.weight;
    const next = cand[i + 1];
    if (next !== undefined && next.score === r.score) continue;
    out.push({
      threshold: r.score,
      coverage: total > 0 ? acc / total : 0,
      precision: acc > 0 ? ok / acc : 1,
    });
  }
  return out;
}

/** Lowest threshold whose precision ≥ target, with its coverage; null threshold when none. */
export function thresholdForPrecision(
  curve: readonly Point[],
  target: number,
): { threshold: number | null; coverage: number } {
  let best: Point | undefined;
  for (const p of curve) if (p.precision >= target) best = p;
  return best === undefined
    ? { threshold: null, coverage: 0 }
    : { threshold: best.threshold, coverage: best.coverage };
}

/** Coverage and precision when accepting rows with score ≥ threshold (null threshold: none). */
export function measureAt(
  rows: readonly ScoredRow[],
  threshold: number | null,
): { coverage: number; precision: number | null } {
  const total = rows.reduce((s, r) => s + r.weight, 0);
  if (threshold === null) return { coverage: 0, precision: null };
  let acc = 0;
  let ok = 0;
  for (const r of rows) {
    if (r.predictedOos || r.score < threshold) continue;
    acc += r.weight;
    if (r.correct) ok += r.weight;
  }
  return { coverage: total > 0 ? acc / total : 0, precision: acc > 0 ? ok / acc : null };
}

export type { CalibrationRow, CoverageRow };
