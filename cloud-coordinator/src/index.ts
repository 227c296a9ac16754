export {};

// ── cloud pieces: off-peak windows, API keys, rate limit, caches (coordinator service helper) ──
export {
  isOffPeak,
  nextWindowStart,
  offPeakDelayMs,
  currentWindow,
  zonedTimeToInstant,
} from "./batch/off-peak.ts";
export type { OffPeakSpec, OffPeakWindowSpec, WindowInstant } from "./batch/off-peak.ts";
export { ApiKeyVerifier, bearerToken, parseKeyList } from "./api/auth.ts";
export { RedisRateLimiter } from "./api/rate-limit.ts";
export type { RateLimitDecision, RedisRateLimiterOptions } from "./api/rate-limit.ts";
export { ResultCache, resultCacheKey, normaliseText } from "./cache/result-cache.ts";
export type { CacheKeyParts, CacheLookup, ResultCacheOptions } from "./cache/result-cache.ts";
export { RequestDedup, InstancePresence } from "./cache/request-dedup.ts";
export type { DedupBegin, RequestDedupOptions } from "./cache/request-dedup.ts";

// ── LLM tier (retries, Retry-After, fallback, circuit breakers, concurrency, cost) ──
export { LlmTier, costUsd, ATTR_LLM_ENDPOINT, ATTR_LLM_ATTEMPTS, ATTR_LLM_COST_USD } from "./llm/tier.ts";
export type { LlmTierOptions, EndpointStatus } from "./llm/tier.ts";
export { OpenAiCompatibleProvider } from "./llm/openai-provider.ts";
export type {
  LlmProvider,
  ProviderCall,
  ProviderClassifyRequest,
  ProviderClassifyReply,
  ProviderChatReply,
} from "./llm/provider.ts";
export { endpointOptionsFromPolicy, endpointsFromPolicy } from "./llm/from-policy.ts";
export {
  classificationMessages,
  classificationResponseFormat,
  extractClassificationText,
  parseClassificationReply,
  TEXT_START_MARKER,
  TEXT_END_MARKER,
} from "./llm/prompt.ts";
export { parseRetryAfterMs } from "./llm/backoff.ts";
export { CircuitBreaker } from "./llm/circuit-breaker.ts";
export {
  DEFAULT_BACKOFF_BASE_MS,
  DEFAULT_BACKOFF_MAX_MS,
  DEFAULT_MAX_RETRY_AFTER_MS,
  DEFAULT_MAX_QUEUE_PER_ENDPOINT,
  NOOP_LOGGER,
} from "./llm/types.ts";
export type {
  LlmEndpointOptions,
  ClassifyRequest,
  ClassifyResult,
  ChatBody,
  ChatOptions,
  ChatResult,
  Usage,
  Clock,
  Sleep,
  LlmMetricsHooks,
  AttemptOutcome,
  BreakerState,
} from "./llm/types.ts";

// ── LLM stand-in (offline, not a real LLM) ──
export { startStandin, DEFAULT_STANDIN_HOST, DEFAULT_STANDIN_PORT } from "./standin/server.ts";
export type { Standin, StandinOptions, StandinStats } from "./standin/server.ts";
export { STANDIN_NAME, STANDIN_MODEL_PREFIX } from "./standin/protocol.ts";
export { GoldTeacher, ModelTeacher, loadClincGold, DEFAULT_CLINC150_PATH } from "./standin/teacher.ts";
export type { Teacher, ClassifierRuntime, GoldTeacherOptions } from "./standin/teacher.ts";
export { FaultConfigSchema } from "./standin/faults.ts";
export type { FaultConfig, FaultConfigInput } from "./standin/faults.ts";

// ── coordinator service: cascade, escalations, batches, HTTP API, metrics ──
export { Coordinator, TRACER_NAME } from "./service/coordinator.ts";
export type { CoordinatorResources, CoordinatorSettings } from "./service/coordinator.ts";
export { Cascade } from "./escalation/cascade.ts";
export type { CascadeOptions, CascadeRequest } from "./escalation/cascade.ts";
export { EscalationService, DEFAULT_MAX_ESCALATION_BYTES } from "./escalation/service.ts";
export type { EscalationServiceOptions } from "./escalation/service.ts";
export { ModelRegistry } from "./escalation/models.ts";
export type { LoadedRuntime, ModelRegistryOptions } from "./escalation/models.ts";
export type { CloudModel, ModelSource, LlmClassifier } from "./escalation/types.ts";
export {
  BATCH_EVENTS_MAX_LEN,
  STORE_CHUNK,
  BatchScheduler,
  BatchJobDataSchema,
  DEFAULT_BATCH_QUEUE,
} from "./batch/scheduler.ts";
export type { BatchSchedulerOptions, SubmitOutcome, BatchJobData } from "./batch/scheduler.ts";
export { BatchWorker, limiterFor } from "./batch/worker.ts";
export type { BatchWorkerOptions } from "./batch/worker.ts";
export { BatchStore } from "./batch/store.ts";
export type { BatchMeta, BatchJobResult, StoredJobResult, BatchStoreOptions } from "./batch/store.ts";
export { EdgeBatchIntake, ensureStream } from "./batch/edge-intake.ts";
export { buildApiServer, ApiBatchRequestSchema, DEFAULT_BODY_LIMIT_BYTES } from "./api/server.ts";
export type { ApiServerOptions } from "./api/server.ts";
export { ChatForwarder } from "./api/chat.ts";
export type { ChatLlm } from "./api/chat.ts";
export { CoordinatorMetrics } from "./metrics/metrics.ts";
export { StartSettingsSchema } from "./config/settings.ts";
export type { StartSettings } from "./config/settings.ts";
