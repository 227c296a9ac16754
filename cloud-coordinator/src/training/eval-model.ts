// Evaluates a model directory on labeled rows through the runtime (ONNX Runtime, as served).
import { ACCEPT_RULES, ErrorCode, TiergateError, loadModel } from "@tiergate/shared";
import type { AcceptRule, ModelManifest } from "@tiergate/shared";
import { loadRows } from "./data.ts";
import type { DataFormat } from "./data.ts";
import { coverageCurve, splitMetrics, topConfusions } from "./evaluate.ts";
import type { Prediction } from "./evaluate.ts";
import type { CurvePoint, EvalReport } from "./report.ts";

export const DEFAULT_CONFUSIONS = 10;
/** Texts per classify call during eval. */
export const EVAL_CHUNK_ROWS = 512;
/** Curve points kept per rule in a report (evenly thinned). */
export const MAX_CURVE_POINTS = 400;

export interface EvalOptions {
  model: string;
  data: string;
  format: DataFormat;
  confusions?: number;
}

function thin(points: CurvePoint[]): CurvePoint[] {
  if (points.length <= MAX_CURVE_POINTS) return points;
  const step = points.length / MAX_CURVE_POINTS;
  const out: CurvePoint[] = [];
  for (let i = 0; i < MAX_CURVE_POINTS; i++) out.push(points[Math.floor(i * step)] as CurvePoint);
  out.push(points[points.length - 1] as CurvePoint);
  return out;
}

export async function evaluateModel(
  options: EvalOptions,
): Promise<{ report: EvalReport; manifest: ModelManifest }> {
  const rows = await loadRows(options.data, options.format);
  const runtime = await loadModel(options.model);
  try {
    const known = new Set(runtime.labels);
    const unknown = [...new Set(rows.map((r) => r.label).filter((l) => !known.has(l)))];
    if (unknown.length > 0) {
      throw new TiergateError(
        ErrorCode.VALIDATION_FAILED,
        `${options.data}: labels the model does not know: ${unknown.slice(0, 5).join(", ")}`,
        {
          details: unknown
            .slice(0, 20)
            .map((l) => ({ path: ["label"], message: `unknown label ${JSON.stringify(l)}` })),
        },
      );
    }
    const preds: Prediction[] = [];
    for (let i = 0; i < rows.length; i += EVAL_CHUNK_ROWS) {
      const out = await runtime.classify(rows.slice(i, i + EVAL_CHUNK_ROWS).map((r) => r.text));
      for (const c of out) preds.push({ label: c.label, confidence: c.confidence });
    }
    const gold = rows.map((r) => r.label);
    const m = runtime.manifest;
    const curves = Object.fromEntries(
      ACCEPT_RULES.map((rule) => [rule, thin(coverageCurve(preds, gold, m.oosLabel, rule))]),
    ) as Record<AcceptRule, CurvePoint[]>;
    const report: EvalReport = {
      model: { dir: options.model, version: m.version, preset: m.preset, precision: m.precision },
      data: { file: options.data, format: options.format, rows: rows.length },
      metrics: splitMetrics(preds, gold, m.oosLabel, m.calibration.table),
      confusions: topConfusions(preds, gold, options.confusions ?? DEFAULT_CONFUSIONS),
      curves,
    };
    return { report, manifest: m };
  } finally {
    await runtime.close();
  }
}
