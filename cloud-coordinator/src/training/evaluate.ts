// Calibration and evaluation maths on model outputs: temperature fitting (validation NLL), the
// target-precision → threshold table (validation, reweighted to an expected out-of-scope share),
// per-split metrics and confusions. Precision counts an out-of-scope query answered with any intent
// as wrong, and a prediction of the out-of-scope label is never accepted.
import { ACCEPT_RULES, CALIBRATION_TARGETS } from "@tiergate/shared";
import type { AcceptRule, CalibrationRow, Confidence, CoverageRow, SplitMetrics } from "@tiergate/shared";
import {
  confidenceFromProbs,
  measureAt,
  oosWeights,
  precisionCurve,
  scoreOf,
  thresholdForPrecision,
} from "@tiergate/shared/internal";
import type { ScoredRow } from "@tiergate/shared/internal";

export interface Prediction {
  label: string;
  confidence: Confidence;
}

/** Argmax label and confidence of each row of `probs` [rows × labels]. */
export function predictionsFromProbs(probs: Float32Array, labels: readonly string[]): Prediction[] {
  const C = labels.length;
  const out: Prediction[] = [];
  for (let off = 0; off < probs.length; off += C) {
    let best = 0;
    for (let c = 1; c < C; c++) if ((probs[off + c] ?? 0) > (probs[off + best] ?? 0)) best = c;
    out.push({ label: labels[best] ?? "", confidence: confidenceFromProbs(probs, off, C) });
  }
  return out;
}

function nll(logits: Float32Array, gold: readonly number[], C: number, invT: number): number {
  let total = 0;
  for (let r = 0; r < gold.length; r++) {
    const off = r * C;
    let m = -Infinity;
    for (let c = 0; c < C; c++) m = Math.max(m, (logits[off + c] ?? 0) * invT);
    let s = 0;
    for (let c = 0; c < C; c++) s += Math.exp((logits[off + c] ?? 0) * invT - m);
    total += Math.log(s) + m - (logits[off + (gold[r] ?? 0)] ?? 0) * invT;
  }
  return total / Math.max(1, gold.length);
}

export const TEMPERATURE_MIN = 0.05;
export const TEMPERATURE_MAX = 20;

/** Temperature minimising validation NLL (golden-section search on log T). */
export function fitTemperature(logits: Float32Array, gold: readonly number[], C: number): number {
  let lo = Math.log(TEMPERATURE_MIN);
  let hi = Math.log(TEMPERATURE_MAX);
  const g = (Math.sqrt(5) - 1) / 2;
  const f = (x: number) => nll(logits, gold, C, Math.exp(-x));
  let a = hi - g * (hi - lo);
  let b = lo + g * (hi - lo);
  let fa = f(a);
  let fb = f(b);
  for (let i = 0; i < 60; i++) {
    if (fa < fb) {
      hi = b;
      b = a;
      fb = fa;
      a = hi - g * (hi - lo);
      fa = f(a);
    } else {
      lo = a;
      a = b;
      fa = fb;
      b = lo + g * (hi - lo);
      fb = f(b);
    }
  }
  return Math.exp((lo + hi) / 2);
}

function scored(
  preds: readonly Prediction[],
  gold: readonly string[],
  oosLabel: string | null,
  rule: AcceptRule,
  weights: readonly number[],
): ScoredRow[] {
  return preds.map((p, i) => ({
    score: scoreOf(p.confidence, rule),
    correct: p.label === gold[i] && p.label !== oosLabel,
    predictedOos: p.label === oosLabel,
    weight: weights[i] ?? 1,
  }));
}

/** The manifest's table: per target precision, the lowest threshold per rule that reaches it on validation. */
export function calibrationTable(
  preds: readonly Prediction[],
  gold: readonly string[],
  oosLabel: string | null,
  oosShare: number | undefined,
  targets: readonly number[] = CALIBRATION_TARGETS,
): CalibrationRow[] {
  const weights = oosWeights(
    gold.map((g) => g === oosLabel),
    oosShare,
  );
  const curves = Object.fromEntries(
    ACCEPT_RULES.map((rule) => [rule, precisionCurve(scored(preds, gold, oosLabel, rule, weights))]),
  );
  return targets.map((precision) => {
    const at = (rule: AcceptRule) => thresholdForPrecision(curves[rule] ?? [], precision);
    const m = at("max-prob");
    const g = at("margin");
    const e = at("entropy");
    return {
      precision,
      thresholds: { "max-prob": m.threshold, margin: g.threshold, entropy: e.threshold },
      coverage: { "max-prob": m.coverage, margin: g.coverage, entropy: e.coverage },
    };
  });
}

/** Accuracy and coverage/precision at the table's thresholds on one split (unweighted). */
export function splitMetrics(
  preds: readonly Prediction[],
  gold: readonly string[],
  oosLabel: string | null,
  table: readonly CalibrationRow[],
): SplitMetrics {
  let ok = 0;
  let inRows = 0;
  let inOk = 0;
  let oosRows = 0;
  let oosOk = 0;
  preds.forEach((p, i) => {
    const right = p.label === gold[i];
    if (right) ok++;
    if (gold[i] === oosLabel) {
      oosRows++;
      if (right) oosOk++;
    } else {
      inRows++;
      if (right) inOk++;
    }
  });
  const ones = preds.map(() => 1);
  const atThresholds: CoverageRow[] = [];
  for (const row of table) {
    for (const rule of ACCEPT_RULES) {
      const threshold = row.thresholds[rule];
      const m = measureAt(scored(preds, gold, oosLabel, rule, ones), threshold);
      atThresholds.push({
        targetPrecision: row.precision,
        rule,
        threshold,
        coverage: m.coverage,
        precision: m.precision,
      });
    }
  }
  return {
    rows: preds.length,
    oosRows,
    inScopeAccuracy: inRows > 0 ? inOk / inRows : 0,
    accuracy: preds.length > 0 ? ok / preds.length : 0,
    oosRecall: oosRows > 0 ? oosOk / oosRows : null,
    atThresholds,
  };
}

export interface Confusion {
  gold: string;
  predicted: string;
  count: number;
}

export function topConfusions(preds: readonly Prediction[], gold: readonly string[], k: number): Confusion[] {
  const counts = new Map<string, Confusion>();
  preds.forEach((p, i) => {
    const g = gold[i] ?? "";
    if (p.label === g) return;
    const key = `${g}\u0000${p.label}`;
    const c = counts.get(key) ?? { gold: g, predicted: p.label, count: 0 };
    c.count++;
    counts.set(key, c);
  });
  return [...counts.values()]
    .sort(
      (a, b) => b.count - a.count || a.gold.localeCompare(b.gold) || a.predicted.localeCompare(b.predicted),
    )
    .slice(0, k);
}

/** Coverage/precision curve for plots: accepting score ≥ t for every distinct t (unweighted). */
export function coverageCurve(
  preds: readonly Prediction[],
  gold: readonly string[],
  oosLabel: string | null,
  rule: AcceptRule,
) {
  return precisionCurve(
    scored(
      preds,
      gold,
      oosLabel,
      rule,
      preds.map(() => 1),
    ),
  );
}
