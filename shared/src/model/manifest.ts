// The model directory's manifest.json: everything needed to featurize, run and trust a model.
import { z } from "zod";
import { ACCEPT_RULES } from "../policy/schema.ts";
import { FeaturizerSettingsSchema } from "./featurizer.ts";

export const MODEL_FILE = "model.onnx";
export const MANIFEST_FILE = "manifest.json";
/**
 * The bucket → embedding-row map, as the buckets training kept: `training.rowsKept` uint32
 * little-endian, strictly ascending; the i-th kept bucket's features use embedding row i, every
 * other bucket's the zero row `rowsKept` (training numbers rows in bucket order). The runtime maps
 * buckets to rows before `session.run` and drops unknown features. 57 KB for small instead of 2 MB
 * as a full table, which took ~20 ms to read and check at start.
 */
export const ROW_MAP_FILE = "row-map.bin";
/**
 * Token rows: ASCII tokens seen in training, one a line (UTF-8, each line ending in "\n"), sorted;
 * the i-th token's own features (word unigram and character n-grams the model kept, at least two)
 * are summed in embedding row `training.rowsKept + 1 + i`, its column of counts included, so a
 * text's ids carry one row for the token instead of one per feature. The graph's mean is then the
 * same up to float rounding: for small on CLINC150, ~16 ids a text instead of ~36.
 */
export const TOKEN_ROWS_FILE = "token-rows.txt";
export const MANIFEST_FORMAT = "tiergate-model";
/**
 * The graph's version. 2: ragged inputs (ids, segments, lengths). 3: the same inputs; the count of
 * known features rides in the embedding table's last column (one ScatterND, not two). 4: segments
 * and lengths are int32 (no BigInt in the runtime). 5: ids come in chunks of FEATURE_CHUNK ([M, K],
 * padded with the id `buckets`) and segments index chunks ([M, 1]): ReduceSum sums each chunk, so
 * ScatterND adds ~1/16 as many rows. 6: ids are embedding rows, not buckets: the bucket → row map
 * left the graph for ROW_MAP_FILE, so the runtime maps ids in JS and drops the features training
 * never kept (a Gather of ~25 ns an id in ONNX Runtime, and fewer ids for the rest of the graph),
 * and pads with the zero row `training.rowsKept`. 7: ROW_MAP_FILE lists the kept buckets instead of
 * a row per bucket. 8: token rows after the zero row (TOKEN_ROWS_FILE). ensureModels retrains models of
 * another version.
 */
export const MANIFEST_FORMAT_VERSION = 8;
/** Graph input/output names every tiergate model uses. */
export const MODEL_IO = {
  ids: "ids",
  segments: "segments",
  lengths: "lengths",
  probs: "probs",
  logits: "logits",
} as const;
/** Target precisions the calibration table covers. */
export const CALIBRATION_TARGETS = [0.9, 0.92, 0.94, 0.95, 0.96, 0.97, 0.98, 0.99] as const;

export const AcceptRuleSchema = z.enum(ACCEPT_RULES);

const Rate = z.number().min(0).max(1);
const ThresholdsSchema = z.strictObject({
  "max-prob": Rate.nullable(),
  margin: Rate.nullable(),
  entropy: Rate.nullable(),
});

/** One row of the calibration table: the lowest threshold per rule whose precision ≥ `precision` (null: none). */
export const CalibrationRowSchema = z.strictObject({
  precision: Rate,
  thresholds: ThresholdsSchema,
  /** Share of (reweighted) queries answered at the edge at that threshold. */
  coverage: z.strictObject({ "max-prob": Rate, margin: Rate, entropy: Rate }),
});
export type CalibrationRow = z.infer<typeof CalibrationRowSchema>;

export const CoverageRowSchema = z.strictObject({
  targetPrecision: Rate,
  rule: AcceptRuleSchema,
  threshold: Rate.nullable(),
  coverage: Rate,
  precision: Rate.nullable(),
});
export type CoverageRow = z.infer<typeof CoverageRowSchema>;

export const SplitMetricsSchema = z.strictObject({
  rows: z.int().nonnegative(),
  oosRows: z.int().nonnegative(),
  /** Argmax accuracy over in-scope rows (predicting `oos` for them is wrong). */
  inScopeAccuracy: Rate,
  /** Argmax accuracy over all rows, `oos` included. */
  accuracy: Rate,
  /** Share of out-of-scope rows whose argmax is `oos`. */
  oosRecall: Rate.nullable(),
  /** Coverage and precision at the manifest's validation thresholds, unweighted. */
  atThresholds: z.array(CoverageRowSchema),
});
export type SplitMetrics = z.infer<typeof SplitMetricsSchema>;

export const ManifestSchema = z.strictObject({
  format: z.literal(MANIFEST_FORMAT),
  formatVersion: z.literal(MANIFEST_FORMAT_VERSION),
  /** `<task>-<preset>-<precision>-<first 12 hex of sha256>`. */
  version: z.string().min(1),
  task: z.string().min(1),
  preset: z.string().min(1),
  precision: z.enum(["fp32", "int8"]),
  labels: z.array(z.string().min(1)).min(2),
  /** The out-of-scope label: a prediction of it is never an edge answer. */
  oosLabel: z.string().min(1).nullable(),
  featurizer: FeaturizerSettingsSchema,
  onnx: z.strictObject({
    file: z.literal(MODEL_FILE),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
    bytes: z.int().positive(),
    opset: z.int().positive(),
  }),
  rowMap: z.strictObject({
    file: z.literal(ROW_MAP_FILE),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
    bytes: z.int().positive(),
  }),
  tokenRows: z.strictObject({
    file: z.literal(TOKEN_ROWS_FILE),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
    bytes: z.int().nonnegative(),
    tokens: z.int().nonnegative(),
  }),
  /** Temperature already applied in-graph: `probs` = softmax(logits / temperature). */
  temperature: z.number().positive(),
  calibration: z.strictObject({
    split: z.string(),
    /** Out-of-scope share the validation rows were reweighted to before choosing thresholds. */
    oosShare: Rate,
    table: z.array(CalibrationRowSchema),
  }),
  metrics: z.record(z.string(), SplitMetricsSchema),
  training: z.strictObject({
    dataSha256: z.string(),
    seed: z.int(),
    rows: z.int().nonnegative(),
    epochs: z.int().positive(),
    durationMs: z.number().nonnegative(),
    dim: z.int().positive(),
    hidden: z.int().nonnegative(),
    rowsKept: z.int().positive(),
    learningRate: z.number().positive().optional(),
    labelSmoothing: z.number().min(0).max(1).optional(),
    minCount: z.int().positive().optional(),
  }),
  createdAt: z.iso.datetime(),
});
export type ModelManifest = z.infer<typeof ManifestSchema>;
