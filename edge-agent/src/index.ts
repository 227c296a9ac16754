// @tiergate/edge-agent — public entry. Named exports grouped by feature; no `export *`.

// ── daemon ──
export { EdgeAgent, AGENT_VERSION, DEFAULT_BATCH_MAX_BYTES, DEFAULT_SHUTDOWN_FLUSH_MS } from "./agent.ts";
export type { EdgeAgentOptions, ListenAddress } from "./agent.ts";
export {
  resolveConfig,
  ConfigError,
  EdgeConfigSchema,
  ENV_VARS,
  DEFAULT_LISTEN,
  DEFAULT_NATS_URL,
} from "./config.ts";
export type { EdgeConfig, RawSettings } from "./config.ts";

// ── cascade ──
export { EdgeEngine, RESULTS_PATH } from "./engine/engine.ts";
export type { EdgeEngineOptions, CachedAnswer } from "./engine/engine.ts";
export { ModelPool, buildPolicyState } from "./engine/policy-state.ts";
export type { ModelLoader, PolicyState, EdgeTierRuntime } from "./engine/policy-state.ts";
export { StoredResultSchema } from "./engine/types.ts";
export type { Escalator, DeferredSink, ResultsSink, StoredResult } from "./engine/types.ts";
export { RttEstimator, decideEscalation } from "./escalation/rtt.ts";
export type { EscalationDecision, RttSnapshot } from "./escalation/rtt.ts";

// ── privacy ──
export {
  Redactor,
  redact,
  luhnValid,
  ibanValid,
  placeholderFor,
  BUILTIN_REDACT_KINDS,
} from "./privacy/redact.ts";
export type { RedactOptions, RedactResult, RedactCounts, BuiltinRedactKind } from "./privacy/redact.ts";

// ── storage ──
export { ResultCache, cacheKey, normaliseInput } from "./cache/result-cache.ts";
export type { ResultCacheOptions, CacheKeyParts } from "./cache/result-cache.ts";
export { Outbox } from "./outbox/outbox.ts";
export type { OutboxBatch, OutboxItem, OutboxOptions } from "./outbox/outbox.ts";
export { OutboxFlusher } from "./outbox/flusher.ts";
export type { OutboxFlusherOptions, PublishBatch } from "./outbox/flusher.ts";
export { ResultsStore } from "./results/results-store.ts";
export type { ResultsStoreOptions } from "./results/results-store.ts";
export { RecordLog } from "./storage/record-log.ts";
export type { LogRecord, RecoveryReport } from "./storage/record-log.ts";

// ── NATS and HTTP ──
export { NatsLink, DEADLINE_HEADER, REQUEST_ID_HEADER, DEVICE_ID_HEADER } from "./nats/link.ts";
export type { NatsLinkOptions, LinkState } from "./nats/link.ts";
export { ensureStreams, ensureResultsConsumer, BATCH_DUPLICATE_WINDOW_MS } from "./nats/streams.ts";
export { createHttpServer, httpError } from "./http/server.ts";
export type { HttpServerOptions } from "./http/server.ts";
export { EdgeMetrics, METRIC_PREFIX } from "./metrics/metrics.ts";
