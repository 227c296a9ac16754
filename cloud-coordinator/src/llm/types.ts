// Types of the LLM tier. The endpoint options mirror the policy's `llm.endpoints.<name>` with the
// API key already resolved from `env:NAME`; `endpointOptionsFromPolicy` adapts one.
import type { Logger as SharedLogger } from "@tiergate/shared";
import type {
  ChatCompletion,
  ChatCompletionCreateParamsNonStreaming,
} from "openai/resources/chat/completions";

// ── defaults ──
/** Base of the exponential backoff after 5xx / connection errors (full jitter: 0..base·2^n). */
export const DEFAULT_BACKOFF_BASE_MS = 100;
/** Cap of one backoff wait. */
export const DEFAULT_BACKOFF_MAX_MS = 5_000;
/** Longest Retry-After the tier waits for before it falls back instead. */
export const DEFAULT_MAX_RETRY_AFTER_MS = 30_000;
/** Callers waiting for a free slot on one endpoint, beyond `maxConcurrency`, before it is skipped. */
export const DEFAULT_MAX_QUEUE_PER_ENDPOINT = 256;
/** Malformed classification replies retried (on top of the first) before LLM_MALFORMED. */
export const MALFORMED_RETRIES = 1;

export type LlmEndpointOptions = {
  name: string;
  baseURL: string;
  /** The key itself (resolved from the policy's `env:NAME`), never logged. */
  apiKey: string;
  model: string;
  timeoutMs: number;
  /** Retries on this endpoint after the first attempt, before falling back to the next. */
  maxRetries: number;
  maxConcurrency: number;
  circuitBreaker: { failureThreshold: number; resetMs: number };
  pricing: { inputPerMTokUsd: number; outputPerMTokUsd: number };
};

export type Usage = { promptTokens: number; completionTokens: number };

export type ClassifyRequest = {
  task: string;
  text: string;
  labels: readonly string[];
  /** Absolute time (ms, the tier's clock) after which no attempt starts and running ones are cut. */
  deadlineAt?: number;
  signal?: AbortSignal;
};

export type ClassifyResult = {
  label: string;
  confidence?: number;
  /** Endpoint name that answered. */
  endpoint: string;
  /** Model as the server reported it (a stand-in says so here). */
  model: string;
  usage: Usage;
  costUsd: number;
  /** Requests sent, over all endpoints, including the one that answered. */
  attempts: number;
  latencyMs: number;
};

export type ChatBody = ChatCompletionCreateParamsNonStreaming;

export type ChatOptions = { deadlineAt?: number; signal?: AbortSignal };

export type ChatResult = {
  completion: ChatCompletion;
  endpoint: string;
  model: string;
  usage: Usage;
  costUsd: number;
  attempts: number;
  latencyMs: number;
};

// ── injectables ──
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}
/** Waits `ms`; rejects when `signal` aborts. Tests inject a recorder. */
export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

/** The four levels of @tiergate/shared's Logger (any shared Logger fits). */
export type Logger = Pick<SharedLogger, "debug" | "info" | "warn" | "error">;

export const NOOP_LOGGER: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

/** What happened to one request sent to one endpoint. */
export type AttemptOutcome =
  "ok" | "rate_limited" | "server_error" | "connection" | "timeout" | "malformed" | "rejected";

export type BreakerState =
  | { type: "closed"; failures: number }
  | { type: "open"; openedAt: number }
  | { type: "half-open"; probeInFlight: boolean };

/** Metrics hooks (Prometheus wiring lives with the service); each must not throw. */
export interface LlmMetricsHooks {
  attempt?(e: { endpoint: string; outcome: AttemptOutcome; latencyMs: number }): void;
  result?(e: {
    endpoint: string;
    kind: "classify" | "chat";
    usage: Usage;
    costUsd: number;
    latencyMs: number;
  }): void;
  skipped?(e: { endpoint: string; reason: "circuit_open" | "queue_full" }): void;
  breaker?(e: { endpoint: string; state: BreakerState["type"] }): void;
}
