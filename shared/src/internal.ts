// @tiergate/shared/internal — what tests and sibling packages need beyond the public entry.
export {};

// ── model pipeline (training, eval, benchmarks) ──
export { fnv1a32, fnv1a32Update } from "./model/hash.ts";
export {
  featurize,
  featureStrings,
  tokenize,
  tokenBuckets,
  normalizeText,
  FeaturizerSettingsSchema,
  FEATURIZER_VERSION,
  DEFAULT_MAX_FEATURES,
} from "./model/featurizer.ts";
export type { FeaturizerSettings, TokenRows } from "./model/featurizer.ts";
export { checkTexts, sha256Hex } from "./model/runtime.ts";
export { encodeBatch, FEATURE_CHUNK, rowMapOf, tokenRowsOf } from "./model/encode.ts";
export type { EncodedBatch, FeatureRows } from "./model/encode.ts";
export {
  confidenceFromProbs,
  scoreOf,
  oosWeights,
  precisionCurve,
  thresholdForPrecision,
  measureAt,
} from "./model/confidence.ts";
export type { ScoredRow } from "./model/confidence.ts";
export {
  MANIFEST_FORMAT,
  MANIFEST_FORMAT_VERSION,
  MODEL_IO,
  AcceptRuleSchema,
  SplitMetricsSchema,
} from "./model/manifest.ts";
