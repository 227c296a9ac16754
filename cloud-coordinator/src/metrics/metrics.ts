// Prometheus metrics of the coordinator, on one registry that `/metrics` serves: per tier (calls,
// outcomes, latency, cost), per LLM endpoint (attempts, errors, latency, tokens, cost, breaker state),
// escalations, batches and HTTP requests. Recording never throws into business code. Counters and
// histograms are shared's FastCounter and FastHistogram (no label hashing per call; a batched call's n requests are one
// histogram update); the breaker gauge, set rarely, is prom-client's.
import { Gauge, Registry, collectDefaultMetrics } from "prom-client";
import { FastCounter, FastHistogram } from "@tiergate/shared";

export const METRIC_PREFIX = "tiergate_coordinator_";
const LATENCY_BUCKETS_S = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
];
const BREAKER_VALUE = { closed: 0, "half-open": 1, open: 2 } as const;

export type TierObservation = {
  task: string;
  tier: string;
  kind: "cache" | "model" | "llm";
  outcome: string;
  seconds: number;
  /** Per request. */
  costUsd?: number;
  /** Requests this observation stands for (a batched call's requests with one outcome); default 1. */
  count?: number;
};

/** What the cascade records. */
export interface CascadeMetrics {
  tier(o: TierObservation): void;
}

type LlmUsage = { promptTokens: number; completionTokens: number };

function safe(fn: () => void): void {
  try {
    fn();
  } catch {
    // metrics never throw into business code
  }
}

export type CoordinatorMetricsOptions = { defaultMetrics?: boolean };

export class CoordinatorMetrics implements CascadeMetrics {
  readonly registry = new Registry();
  readonly #tierCalls: FastCounter<"task" | "tier" | "kind" | "outcome">;
  readonly #tierLatency: FastHistogram<"tier" | "kind">;
  readonly #tierCost: FastCounter<"tier">;
  readonly #llmAttempts: FastCounter<"endpoint" | "outcome">;
  readonly #llmLatency: FastHistogram<"endpoint">;
  readonly #llmTokens: FastCounter<"endpoint" | "type">;
  readonly #llmCost: FastCounter<"endpoint" | "kind">;
  readonly #llmSkipped: FastCounter<"endpoint" | "reason">;
  readonly #llmBreaker: Gauge<"endpoint">;
  readonly #escalations: FastCounter<"task" | "outcome">;
  readonly #batches: FastCounter<"source" | "event">;
  readonly #http: FastCounter<"route" | "status">;
  readonly #httpLatency: FastHistogram<"route">;

  constructor(options: CoordinatorMetricsOptions = {}) {
    const registers = [this.registry];
    const p = METRIC_PREFIX;
    if (options.defaultMetrics === true) collectDefaultMetrics({ register: this.registry, prefix: p });
    this.#tierCalls = new FastCounter({
      name: `${p}tier_calls_total`,
      help: "Cloud tier calls by outcome (accepted, rejected, error, hit, miss)",
      labelNames: ["task", "tier", "kind", "outcome"],
      registers,
    });
    this.#tierLatency = new FastHistogram({
      name: `${p}tier_latency_seconds`,
      help: "Cloud tier latency",
      labelNames: ["tier", "kind"],
      buckets: LATENCY_BUCKETS_S,
      registers,
    });
    this.#tierCost = new FastCounter({
      name: `${p}tier_cost_usd_total`,
      help: "Cost of cloud tier calls in USD",
      labelNames: ["tier"],
      registers,
    });
    this.#llmAttempts = new FastCounter({
      name: `${p}llm_attempts_total`,
      help: "Requests sent to each LLM endpoint by outcome",
      labelNames: ["endpoint", "outcome"],
      registers,
    });
    this.#llmLatency = new FastHistogram({
      name: `${p}llm_latency_seconds`,
      help: "LLM endpoint request latency",
      labelNames: ["endpoint"],
      buckets: LATENCY_BUCKETS_S,
      registers,
    });
    this.#llmTokens = new FastCounter({
      name: `${p}llm_tokens_total`,
      help: "LLM tokens by endpoint and type (prompt, completion)",
      labelNames: ["endpoint", "type"],
      registers,
    });
    this.#llmCost = new FastCounter({
      name: `${p}llm_cost_usd_total`,
      help: "LLM spend in USD by endpoint",
      labelNames: ["endpoint", "kind"],
      registers,
    });
    this.#llmSkipped = new FastCounter({
      name: `${p}llm_skipped_total`,
      help: "LLM endpoints skipped (circuit open, queue full)",
      labelNames: ["endpoint", "reason"],
      registers,
    });
    this.#llmBreaker = new Gauge({
      name: `${p}llm_breaker_state`,
      help: "Circuit breaker state per endpoint (0 closed, 1 half-open, 2 open)",
      labelNames: ["endpoint"],
      registers,
    });
    this.#escalations = new FastCounter({
      name: `${p}escalations_total`,
      help: "Escalations handled, by outcome (answered, refused, deduplicated, error code)",
      labelNames: ["task", "outcome"],
      registers,
    });
    this.#batches = new FastCounter({
      name: `${p}batch_events_total`,
      help: "Batch events (submitted, duplicate, delayed, completed, failed, item)",
      labelNames: ["source", "event"],
      registers,
    });
    this.#http = new FastCounter({
      name: `${p}http_requests_total`,
      help: "HTTP API requests by route and status",
      labelNames: ["route", "status"],
      registers,
    });
    this.#httpLatency = new FastHistogram({
      name: `${p}http_latency_seconds`,
      help: "HTTP API latency",
      labelNames: ["route"],
      buckets: LATENCY_BUCKETS_S,
      registers,
    });
  }

  tier(o: TierObservation): void {
    safe(() => {
      const n = o.count ?? 1;
      if (n <= 0) return;
      this.#tierCalls.labels(o.task, o.tier, o.kind, o.outcome).inc(n);
      // Every request waited the call: one latency observation each.
      this.#tierLatency.labels(o.tier, o.kind).observe(o.seconds, n);
      if (o.costUsd !== undefined && o.costUsd > 0) this.#tierCost.labels(o.tier).inc(o.costUsd * n);
    });
  }

  escalation(task: string, outcome: string): void {
    safe(() => this.#escalations.labels(task, outcome).inc());
  }

  batch(source: string, event: string, n = 1): void {
    safe(() => this.#batches.labels(source, event).inc(n));
  }

  http(route: string, status: number, seconds: number): void {
    safe(() => {
      this.#http.labels(route, String(status)).inc();
      this.#httpLatency.labels(route).observe(seconds);
    });
  }

  /** Hooks in the shape of the LLM tier's `LlmMetricsHooks`. */
  llmHooks(): {
    attempt(e: { endpoint: string; outcome: string; latencyMs: number }): void;
    result(e: { endpoint: string; kind: string; usage: LlmUsage; costUsd: number; latencyMs: number }): void;
    skipped(e: { endpoint: string; reason: string }): void;
    breaker(e: { endpoint: string; state: keyof typeof BREAKER_VALUE }): void;
  } {
    return {
      attempt: (e) =>
        safe(() => {
          this.#llmAttempts.labels(e.endpoint, e.outcome).inc();
          this.#llmLatency.labels(e.endpoint).observe(e.latencyMs / 1000);
        }),
      result: (e) =>
        safe(() => {
          this.#llmTokens.labels(e.endpoint, "prompt").inc(e.usage.promptTokens);
          this.#llmTokens.labels(e.endpoint, "completion").inc(e.usage.completionTokens);
          this.#llmCost.labels(e.endpoint, e.kind).inc(e.costUsd);
        }),
      skipped: (e) => safe(() => this.#llmSkipped.labels(e.endpoint, e.reason).inc()),
      breaker: (e) => safe(() => this.#llmBreaker.set({ endpoint: e.endpoint }, BREAKER_VALUE[e.state])),
    };
  }

  async text(): Promise<string> {
    return await this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
