// @tiergate/shared — public entry. Named exports grouped by feature; no `export *`.

// ── package ──
export const VERSION = "0.1.0";

// ── http ──
export { makeDirs } from "./make-dirs.ts";
export { drainRequestBody, DEFAULT_DRAIN_MAX_BYTES, DEFAULT_DRAIN_TIMEOUT_MS } from "./http/drain.ts";
export type { DrainLimits } from "./http/drain.ts";

// ── policy ──
export {
  PolicySchema,
  TaskSchema,
  TierSchema,
  AcceptSchema,
  ActionSchema,
  LlmEndpointSchema,
  SUPPORTED_POLICY_MAJORS,
  ACCEPT_RULES,
  REDACT_KINDS,
  WEEKDAYS,
  TEMPLATE_PLACEHOLDERS,
  DEFAULT_MAX_INPUT_BYTES,
  DEFAULT_DEADLINE_MS,
  DEFAULT_CACHE_TTL_MS,
  DEFAULT_CACHE_MAX_BYTES,
  DEFAULT_BATCH_MAX_ITEMS,
  DEFAULT_BATCH_MAX_AGE_MS,
  DEFAULT_LLM_TIMEOUT_MS,
  isModelTier,
  isLlmTier,
  isKnownTimeZone,
  policyMajor,
} from "./policy/schema.ts";
export type {
  Policy,
  PolicyInput,
  Task,
  Tier,
  ModelTier,
  LlmTier,
  Accept,
  AcceptRule,
  Action,
  Privacy,
  RedactKind,
  CustomPattern,
  CacheSettings,
  BatchSettings,
  OffPeak,
  OffPeakWindow,
  Weekday,
  LlmEndpoint,
  LlmPricing,
} from "./policy/schema.ts";
export { loadPolicyFile, parsePolicy, resolveSecret, formatPath, canonicalJson } from "./policy/load.ts";
export type { LoadedPolicy, ParsePolicyOptions } from "./policy/load.ts";
export { PolicyError, POLICY_ERROR_CODES, formatPolicyIssue } from "./policy/errors.ts";
export type { PolicyErrorCode, PolicyIssue } from "./policy/errors.ts";
export {
  getTask,
  edgeTiers,
  cloudTiers,
  findTier,
  isRejectLabel,
  actionFor,
  isNeverEscalate,
  isUpgradeLabel,
  tierCostUsd,
  llmEndpointsFor,
  llmCostUsd,
  renderTemplate,
} from "./policy/evaluate.ts";
export type { TemplateVars } from "./policy/evaluate.ts";
export { checkPolicyFiles } from "./policy/check.ts";
export type { PolicyCheckOptions, PolicyCheckReport } from "./policy/check.ts";
export { PolicyWatcher, DEFAULT_POLICY_WATCH_DEBOUNCE_MS } from "./policy/watch.ts";
export type { PolicyWatcherOptions, ReloadOutcome } from "./policy/watch.ts";

// ── errors ──
export {
  ErrorCode,
  ErrorCodeSchema,
  ErrorDetailSchema,
  ErrorBodySchema,
  TiergateError,
  isTiergateError,
  isErrorCode,
  isRetryable,
  httpStatusFor,
  toTiergateError,
  validationError,
  issuesToDetails,
  errorBody,
  fromErrorBody,
  errorHeaders,
  errorFromHeaders,
  INTERNAL_ERROR_MESSAGE,
  ERROR_HEADER_CODE,
  ERROR_HEADER_MESSAGE,
  ERROR_HEADER_DETAILS,
  ERROR_HEADER_RETRY_AFTER_MS,
  MAX_ERROR_HEADER_MESSAGE_CHARS,
  MAX_ERROR_HEADER_DETAILS_CHARS,
} from "./errors.ts";
export type { ErrorDetail, ErrorBody, ErrorBodyOptions, TiergateErrorOptions } from "./errors.ts";

// ── subjects ──
export {
  subjects,
  createSubjects,
  assertValidId,
  SUBJECT_ROOT,
  STREAM_BATCH,
  STREAM_RESULTS,
  ESCALATION_QUEUE_GROUP,
  BATCH_CONSUMER,
  RESULTS_CONSUMER_PREFIX,
} from "./subjects.ts";
export type { Subjects, SubjectsOptions, SubjectKind, StreamSpec } from "./subjects.ts";

// ── contracts ──
export {
  MAX_ID_LENGTH,
  IdSchema,
  TaskNameSchema,
  InputTextSchema,
  EpochMsSchema,
  DurationMsSchema,
  ConfidenceSchema,
  CostUsdSchema,
  CountSchema,
  WhereSchema,
  TierKindSchema,
  TraceIdSchema,
  ErrorInfoSchema,
  TokenUsageSchema,
  TierAttemptSchema,
  RedactionCountsSchema,
  idProblem,
  isValidId,
  findControlChar,
} from "./contracts/common.ts";
export type {
  Where,
  TierKind,
  ErrorInfo,
  TokenUsage,
  TierAttempt,
  RedactionCounts,
} from "./contracts/common.ts";
export {
  MAX_DEADLINE_MS,
  DEFAULT_INFER_MODE,
  InferModeSchema,
  CallbackUrlSchema,
  InferRequestSchema,
  InferStatusSchema,
  ServedBySchema,
  StepTimingSchema,
  TimingsSchema,
  InferResultSchema,
} from "./contracts/infer.ts";
export type {
  InferMode,
  InferRequest,
  InferRequestInput,
  InferStatus,
  ServedBy,
  StepTiming,
  Timings,
  InferResult,
} from "./contracts/infer.ts";
export { EscalationRequestSchema, EscalationReplySchema } from "./contracts/escalation.ts";
export type { EscalationRequest, EscalationReply } from "./contracts/escalation.ts";
export {
  MAX_BATCH_ITEMS,
  BatchItemSchema,
  BatchSourceSchema,
  BatchSubmissionSchema,
  BatchStatusSchema,
  BatchResultSchema,
  DeviceResultSchema,
} from "./contracts/batch.ts";
export type {
  BatchItem,
  BatchSource,
  BatchSubmission,
  BatchStatus,
  BatchResult,
  DeviceResult,
} from "./contracts/batch.ts";
export { DEFAULT_HEARTBEAT_INTERVAL_MS, LoadedModelSchema, HeartbeatSchema } from "./contracts/heartbeat.ts";
export type { LoadedModel, Heartbeat } from "./contracts/heartbeat.ts";
export {
  decode,
  encode,
  validate,
  decodeReply,
  encodeErrorReply,
  ONE_SHOT_PARSE,
} from "./contracts/codec.ts";
export type { DecodeOptions } from "./contracts/codec.ts";

// ── telemetry ──
export {
  ATTR_TASK,
  ATTR_REQUEST_ID,
  ATTR_MODE,
  ATTR_STATUS,
  ATTR_TIER,
  ATTR_WHERE,
  ATTR_TIER_KIND,
  ATTR_MODEL,
  ATTR_MODEL_VERSION,
  ATTR_LABEL,
  ATTR_CONFIDENCE,
  ATTR_THRESHOLD,
  ATTR_ACCEPTED,
  ATTR_DEGRADED,
  ATTR_CACHED,
  ATTR_COST_USD,
  ATTR_DEVICE_ID,
  ATTR_BATCH_ID,
  ATTR_BATCH_SIZE,
  ATTR_POLICY_VERSION,
  ATTR_ERROR_CODE,
  ATTR_DEADLINE_MS,
  ATTR_REDACTIONS,
  ATTR_LLM_ENDPOINT,
  ATTR_LLM_PROMPT_TOKENS,
  ATTR_LLM_COMPLETION_TOKENS,
  ATTR_STEP,
} from "./telemetry/attributes.ts";
export {
  injectTraceContext,
  extractTraceContext,
  traceIdOf,
  traceCarrier,
  TRACEPARENT_HEADER,
  TRACESTATE_HEADER,
} from "./telemetry/propagation.ts";
export type { CarrierGetter } from "./telemetry/propagation.ts";
export { withSpan } from "./telemetry/spans.ts";
export {
  FastCounter,
  FastHistogram,
  FastCounterChild,
  FastHistogramChild,
} from "./telemetry/fast-metrics.ts";
export type { FastMetricConfig, FastHistogramConfig } from "./telemetry/fast-metrics.ts";
export type { WithSpanOptions } from "./telemetry/spans.ts";
export {
  createConsoleLogger,
  silentLogger,
  isLogLevel,
  LOG_LEVELS,
  DEFAULT_LOG_LEVEL,
} from "./telemetry/logger.ts";
export type { Logger, LogLevel, LogFields, ConsoleLoggerOptions } from "./telemetry/logger.ts";

// ── model runtime ──
export {
  loadModel,
  readManifest,
  ModelRuntime,
  DEFAULT_INTRA_OP_THREADS,
  DEFAULT_TOP_K,
} from "./model/runtime.ts";
export type { LoadModelOptions } from "./model/runtime.ts";
export {
  MicroBatcher,
  DEFAULT_MICRO_BATCH_MAX_WAIT_MS,
  DEFAULT_MICRO_BATCH_MAX_SIZE,
} from "./model/micro-batcher.ts";
export type { MicroBatcherOptions, BatchClassifier } from "./model/micro-batcher.ts";
export { thresholdFor, confidenceOf, acceptsAtEdge } from "./model/confidence.ts";
export type { Classification, Confidence } from "./model/confidence.ts";
export {
  ManifestSchema,
  MODEL_FILE,
  ROW_MAP_FILE,
  TOKEN_ROWS_FILE,
  MANIFEST_FILE,
  CALIBRATION_TARGETS,
} from "./model/manifest.ts";
export type { ModelManifest, SplitMetrics, CalibrationRow, CoverageRow } from "./model/manifest.ts";
