// train → fit temperature on validation → export ONNX → thresholds on validation → metrics → model
// directory (model.onnx + row-map.bin + token-rows.txt + manifest.json). Every number in the manifest comes from ONNX Runtime
// running the exported graph on the featurized splits, as inference will.
import { rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import {
  ErrorCode,
  makeDirs,
  MANIFEST_FILE,
  MODEL_FILE,
  ROW_MAP_FILE,
  TOKEN_ROWS_FILE,
  TiergateError,
} from "@tiergate/shared";
import type { ModelManifest, SplitMetrics } from "@tiergate/shared";
import {
  MANIFEST_FORMAT,
  MANIFEST_FORMAT_VERSION,
  MODEL_IO,
  encodeBatch,
  rowMapOf,
  sha256Hex,
  tokenRowsOf,
} from "@tiergate/shared/internal";
import type { FeatureRows, FeaturizerSettings } from "@tiergate/shared/internal";
import { loadSplits } from "./data.ts";
import type { DataFormat } from "./data.ts";
import { calibrationTable, fitTemperature, predictionsFromProbs, splitMetrics } from "./evaluate.ts";
import { exportOnnx } from "./onnx-export.ts";
import { ONNX_OPSET } from "./onnx-proto.ts";
import { PRESETS } from "./presets.ts";
import { tokenRowsFileBytes, trainTokenRows } from "./token-rows.ts";
import type { TrainedTokenRows } from "./token-rows.ts";
import type { PresetName } from "./presets.ts";
import { trainClassifier } from "./trainer.ts";
import type { Example, TrainProgress, TrainedModel } from "./trainer.ts";

export const DEFAULT_SEED = 1;
/** Expected out-of-scope share of traffic that thresholds are chosen for (CLINC150 test: 18%). */
export const DEFAULT_OOS_SHARE = 0.2;
export const DEFAULT_OOS_LABEL = "oos";
export const DEFAULT_TASK = "intent";
/** Rows per session.run when scoring splits. */
export const EVAL_BATCH_ROWS = 1024;

export interface TrainModelOptions {
  data: string;
  format: DataFormat;
  preset: PresetName;
  out: string;
  seed?: number;
  valFile?: string;
  testFile?: string;
  oosShare?: number;
  /** Also write `<out>-int8`. */
  quantize?: boolean;
  task?: string;
  oosLabel?: string;
  /** Overrides for experiments (epochs, dim, …). */
  overrides?: Partial<Omit<(typeof PRESETS)[PresetName], "name">>;
  log?: (line: string) => void;
}

export interface TrainedDir {
  dir: string;
  manifest: ModelManifest;
}

/** Runs the exported graph on `texts`; returns the requested output, rows × labels. */
async function runGraph(
  session: ort.InferenceSession,
  texts: readonly string[],
  rows: FeatureRows,
  output: string,
  C: number,
): Promise<Float32Array> {
  const out = new Float32Array(texts.length * C);
  for (let i = 0; i < texts.length; i += EVAL_BATCH_ROWS) {
    const { feeds } = encodeBatch(texts.slice(i, i + EVAL_BATCH_ROWS), rows);
    const res = await session.run(feeds, [output]);
    out.set(res[output]?.data as Float32Array, i * C);
  }
  return out;
}

function checkLabels(rows: readonly Example[], labels: ReadonlySet<string>, split: string): void {
  const unknown = [...new Set(rows.map((r) => r.label).filter((l) => !labels.has(l)))];
  if (unknown.length > 0) {
    throw new TiergateError(
      ErrorCode.VALIDATION_FAILED,
      `${split} split has labels not in training: ${unknown.slice(0, 5).join(", ")}`,
    );
  }
}

export async function trainModel(options: TrainModelOptions): Promise<TrainedDir[]> {
  const log = options.log ?? (() => {});
  const seed = options.seed ?? DEFAULT_SEED;
  const preset = { ...PRESETS[options.preset], ...options.overrides };
  const splitOpts = {
    format: options.format,
    seed,
    ...(options.valFile === undefined ? {} : { valFile: options.valFile }),
    ...(options.testFile === undefined ? {} : { testFile: options.testFile }),
  };
  const splits = await loadSplits(options.data, splitOpts);
  if (splits.train.length === 0)
    throw new TiergateError(ErrorCode.VALIDATION_FAILED, `${options.data}: no training rows`);
  const labels = [...new Set(splits.train.map((r) => r.label))].sort();
  if (labels.length < 2)
    throw new TiergateError(ErrorCode.VALIDATION_FAILED, "training data needs at least 2 labels");
  const labelSet = new Set(labels);
  checkLabels(splits.val, labelSet, "validation");
  checkLabels(splits.test, labelSet, "test");
  const oosLabelName = options.oosLabel ?? DEFAULT_OOS_LABEL;
  const oosLabel = labelSet.has(oosLabelName) ? oosLabelName : null;
  const oosShare = options.oosShare ?? DEFAULT_OOS_SHARE;
  log(
    `train ${preset.name}: ${splits.train.length} rows, ${labels.length} labels, val ${splits.val.length}, test ${splits.test.length}, seed ${seed}`,
  );
  const model = trainClassifier(splits.train, {
    preset,
    labels,
    seed,
    onProgress: (p: TrainProgress) =>
      log(`  epoch ${p.epoch}/${p.epochs} loss ${p.loss.toFixed(4)} ${(p.elapsedMs / 1000).toFixed(1)} s`),
  });
  const tokenRows = trainTokenRows(
    model,
    splits.train.map((r) => r.text),
    preset.featurizer,
  );
  log(
    `trained in ${(model.durationMs / 1000).toFixed(1)} s (${model.rowsKept} embedding rows, ${tokenRows.tokens.length} token rows)`,
  );
  const variants: { dir: string; quantize: boolean }[] = [{ dir: options.out, quantize: false }];
  if (options.quantize === true) variants.push({ dir: `${options.out}-int8`, quantize: true });
  const results: TrainedDir[] = [];
  for (const v of variants) {
    results.push(
      await writeVariant(model, tokenRows, v.dir, v.quantize, {
        ...options,
        seed,
        labels,
        oosLabel,
        oosShare,
        splits,
        featurizer: preset.featurizer,
        presetName: preset.name,
        hyper: preset,
        log,
      }),
    );
  }
  return results;
}

interface VariantContext {
  task?: string | undefined;
  seed: number;
  labels: string[];
  oosLabel: string | null;
  oosShare: number;
  splits: Awaited<ReturnType<typeof loadSplits>>;
  featurizer: FeaturizerSettings;
  presetName: string;
  hyper: { learningRate: number; labelSmoothing: number; minCount: number };
  log: (line: string) => void;
}

async function writeVariant(
  trained: TrainedModel,
  tokenRows: TrainedTokenRows,
  dir: string,
  quantize: boolean,
  ctx: VariantContext,
): Promise<TrainedDir> {
  const { labels, splits, featurizer, oosLabel } = ctx;
  const model = { ...trained, tokenRows };
  const C = labels.length;
  const metadata = { task: ctx.task ?? DEFAULT_TASK, preset: ctx.presetName, labels: labels.join("\n") };
  const valTexts = splits.val.map((r) => r.text);
  const valGold = splits.val.map((r) => r.label);
  const labelIndex = new Map(labels.map((l, i) => [l, i]));
  // The buckets training kept, by row (training numbers rows in bucket order, so ascending): what
  // ROW_MAP_FILE holds, and what the runtime builds its map from.
  const kept = new Uint32Array(model.rowsKept);
  model.rowMap.forEach((row, b) => {
    if (row < model.rowsKept) kept[row] = b;
  });
  const rows: FeatureRows = {
    featurizer,
    rowMap: rowMapOf(kept, featurizer.buckets),
    pad: model.rowsKept,
    tokens: tokenRowsOf(tokenRows.tokens, model.rowsKept),
  };
  let temperature = 1;
  if (splits.val.length > 0) {
    const raw = await ort.InferenceSession.create(exportOnnx(model, { temperature: 1, quantize, metadata }));
    const logits = await runGraph(raw, valTexts, rows, MODEL_IO.logits, C);
    await raw.release();
    temperature = fitTemperature(
      logits,
      valGold.map((l) => labelIndex.get(l) ?? 0),
      C,
    );
  }
  const bytes = exportOnnx(model, { temperature, quantize, metadata });
  const session = await ort.InferenceSession.create(bytes);
  const valPreds = predictionsFromProbs(await runGraph(session, valTexts, rows, MODEL_IO.probs, C), labels);
  const table = calibrationTable(valPreds, valGold, oosLabel, ctx.oosShare);
  const metrics: Record<string, SplitMetrics> = {
    validation: splitMetrics(valPreds, valGold, oosLabel, table),
  };
  if (splits.test.length > 0) {
    const testPreds = predictionsFromProbs(
      await runGraph(
        session,
        splits.test.map((r) => r.text),
        rows,
        MODEL_IO.probs,
        C,
      ),
      labels,
    );
    metrics["test"] = splitMetrics(
      testPreds,
      splits.test.map((r) => r.label),
      oosLabel,
      table,
    );
  }
  await session.release();
  const sha256 = sha256Hex(bytes);
  const rowMapBytes = new Uint8Array(kept.length * 4);
  const rowMapView = new DataView(rowMapBytes.buffer);
  kept.forEach((bucket, row) => rowMapView.setUint32(row * 4, bucket, true));
  const tokenBytes = tokenRowsFileBytes(tokenRows.tokens);
  const precision = quantize ? "int8" : "fp32";
  const task = ctx.task ?? DEFAULT_TASK;
  const manifest: ModelManifest = {
    format: MANIFEST_FORMAT,
    formatVersion: MANIFEST_FORMAT_VERSION,
    version: `${task}-${ctx.presetName}-${precision}-${sha256.slice(0, 12)}`,
    task,
    preset: ctx.presetName,
    precision,
    labels,
    oosLabel,
    featurizer,
    onnx: { file: MODEL_FILE, sha256, bytes: bytes.length, opset: ONNX_OPSET },
    rowMap: { file: ROW_MAP_FILE, sha256: sha256Hex(rowMapBytes), bytes: rowMapBytes.length },
    tokenRows: {
      file: TOKEN_ROWS_FILE,
      sha256: sha256Hex(tokenBytes),
      bytes: tokenBytes.length,
      tokens: tokenRows.tokens.length,
    },
    temperature,
    calibration: { split: "validation", oosShare: ctx.oosShare, table },
    metrics,
    training: {
      dataSha256: splits.dataSha256,
      seed: ctx.seed,
      rows: splits.train.length,
      epochs: model.epochs,
      durationMs: Math.round(model.durationMs),
      dim: model.dim,
      hidden: model.hidden,
      rowsKept: model.rowsKept,
      learningRate: ctx.hyper.learningRate,
      labelSmoothing: ctx.hyper.labelSmoothing,
      minCount: ctx.hyper.minCount,
    },
    createdAt: new Date().toISOString(),
  };
  await makeDirs(dir);
  // model.onnx, row map and token rows first, manifest last (renamed into place): a reader never
  // sees a manifest without its files.
  await writeFile(join(dir, MODEL_FILE), bytes);
  await writeFile(join(dir, ROW_MAP_FILE), rowMapBytes);
  await writeFile(join(dir, TOKEN_ROWS_FILE), tokenBytes);
  await writeFile(join(dir, `${MANIFEST_FILE}.tmp`), `${JSON.stringify(manifest, null, 2)}\n`);
  await rename(join(dir, `${MANIFEST_FILE}.tmp`), join(dir, MANIFEST_FILE));
  const t = metrics["test"] ?? metrics["validation"];
  const at97 = t?.atThresholds.find((r) => r.rule === "max-prob" && r.targetPrecision === 0.97);
  ctx.log(
    `${dir}: ${precision} ${(bytes.length / 1e6).toFixed(2)} MB, T=${temperature.toFixed(3)}, in-scope acc ${pct(t?.inScopeAccuracy)}, coverage@97 ${pct(at97?.coverage)} (precision ${pct(at97?.precision ?? undefined)})`,
  );
  return { dir, manifest };
}

function pct(x: number | undefined): string {
  return x === undefined ? "-" : `${(x * 100).toFixed(1)}%`;
}
