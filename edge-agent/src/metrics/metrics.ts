// Prometheus metrics of one agent, in its own registry (tests run several agents in one process).
// Per tier: served, escalated, degraded, latency, confidence; plus what left the device, by kind.
import { Counter, Gauge, Registry, collectDefaultMetrics } from "prom-client";
import { FastCounter, FastHistogram, type FastCounterChild, type FastHistogramChild } from "@tiergate/shared";

export const METRIC_PREFIX = "tiergate_edge_";
/** Seconds; edge answers take microseconds to milliseconds, escalations up to seconds. */
export const LATENCY_BUCKETS_S = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
];
export const CONFIDENCE_BUCKETS = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.97, 0.99, 1];

export type Outcome = "served" | "escalated" | "degraded" | "refused" | "deferred";
export type Egress = "escalation" | "batch";

export type EdgeMetricsOptions = { defaultMetrics?: boolean };

export class EdgeMetrics {
  readonly registry = new Registry();
  readonly requests: FastCounter<"task" | "outcome" | "tier">;
  readonly escalations: Counter<"task" | "result">;
  readonly degraded: Counter<"task" | "reason">;
  readonly latency: FastHistogram<"task" | "tier">;
  readonly tierLatency: FastHistogram<"task" | "tier">;
  readonly confidence: FastHistogram<"task" | "tier">;
  readonly cache: FastCounter<"result">;
  readonly egressMessages: Counter<"channel">;
  readonly egressRedactions: Counter<"kind" | "channel">;
  readonly outboxDepth: Gauge;
  readonly outboxDelivered: Counter;
  readonly resultsReceived: Counter;
  readonly policyReloads: Counter<"result">;
  readonly rttEstimate: Gauge;
  readonly natsConnected: Gauge;
  readonly badRequests: Counter<"code">;
  /** Label children by task, then tier (then outcome): found by Map lookups, no key string built. */
  readonly #outcomeChildren = new Map<string, Map<string, OutcomeChildren>>();
  readonly #tierChildren = new Map<string, Map<string, TierChildren>>();
  #cacheHit: FastCounterChild | undefined;
  #cacheMiss: FastCounterChild | undefined;
  /** Plain counters for the heartbeat. */
  readonly totals: Record<Outcome | "cacheHits" | "badRequests", number> = {
    served: 0,
    escalated: 0,
    degraded: 0,
    refused: 0,
    deferred: 0,
    cacheHits: 0,
    badRequests: 0,
  };

  constructor(options: EdgeMetricsOptions = {}) {
    const registers = [this.registry];
    if (options.defaultMetrics === true)
      collectDefaultMetrics({ register: this.registry, prefix: METRIC_PREFIX });
    this.requests = new FastCounter({
      name: `${METRIC_PREFIX}requests_total`,
      help: "Requests by outcome and the tier that answered (cache, nano, small, cloud tier, none)",
      labelNames: ["task", "outcome", "tier"],
      registers,
    });
    this.escalations = new Counter({
      name: `${METRIC_PREFIX}escalations_total`,
      help: "Escalations to the coordinators by result (answered, or the error code)",
      labelNames: ["task", "result"],
      registers,
    });
    this.degraded = new Counter({
      name: `${METRIC_PREFIX}degraded_total`,
      help: "Answers from the best edge tier because the cloud could not answer in time, by reason",
      labelNames: ["task", "reason"],
      registers,
    });
    this.latency = new FastHistogram({
      name: `${METRIC_PREFIX}request_duration_seconds`,
      help: "Time from request to answer, by the tier that answered",
      labelNames: ["task", "tier"],
      buckets: LATENCY_BUCKETS_S,
      registers,
    });
    this.tierLatency = new FastHistogram({
      name: `${METRIC_PREFIX}tier_duration_seconds`,
      help: "Time spent in one edge tier (model call through the micro-batcher)",
      labelNames: ["task", "tier"],
      buckets: LATENCY_BUCKETS_S,
      registers,
    });
    this.confidence = new FastHistogram({
      name: `${METRIC_PREFIX}tier_confidence`,
      help: "Confidence score of each edge tier's prediction (the tier's acceptance rule)",
      labelNames: ["task", "tier"],
      buckets: CONFIDENCE_BUCKETS,
      registers,
    });
    this.cache = new FastCounter({
      name: `${METRIC_PREFIX}cache_total`,
      help: "Cache lookups",
      labelNames: ["result"],
      registers,
    });
    this.egressMessages = new Counter({
      name: `${METRIC_PREFIX}egress_messages_total`,
      help: "Messages with request content that left the device, by channel",
      labelNames: ["channel"],
      registers,
    });
    this.egressRedactions = new Counter({
      name: `${METRIC_PREFIX}egress_redactions_total`,
      help: "Personal data spans redacted from what left the device, by kind",
      labelNames: ["kind", "channel"],
      registers,
    });
    this.outboxDepth = new Gauge({
      name: `${METRIC_PREFIX}outbox_depth`,
      help: "Requests held in the outbox",
      registers,
    });
    this.outboxDelivered = new Counter({
      name: `${METRIC_PREFIX}outbox_delivered_total`,
      help: "Outbox requests delivered to JetStream",
      registers,
    });
    this.resultsReceived = new Counter({
      name: `${METRIC_PREFIX}results_received_total`,
      help: "Deferred results received from the cloud",
      registers,
    });
    this.policyReloads = new Counter({
      name: `${METRIC_PREFIX}policy_reloads_total`,
      help: "Policy reloads by result (changed, rejected)",
      labelNames: ["result"],
      registers,
    });
    this.rttEstimate = new Gauge({
      name: `${METRIC_PREFIX}rtt_estimate_ms`,
      help: "Escalation round-trip estimate",
      registers,
    });
    this.natsConnected = new Gauge({
      name: `${METRIC_PREFIX}nats_connected`,
      help: "1 when connected to NATS",
      registers,
    });
    this.badRequests = new Counter({
      name: `${METRIC_PREFIX}bad_requests_total`,
      help: "Requests refused before the cascade, by error code",
      labelNames: ["code"],
      registers,
    });
  }

  outcome(task: string, outcome: Outcome, tier: string, durationMs: number): void {
    this.totals[outcome]++;
    const byTier = byTask(this.#outcomeChildren, task);
    let children = byTier.get(tier);
    if (children === undefined) {
      // Label children are looked up once per label set: the hot path skips building label keys.
      children = { latency: this.latency.labels(task, tier), requests: {} };
      byTier.set(tier, children);
    }
    (children.requests[outcome] ??= this.requests.labels(task, outcome, tier)).inc();
    children.latency.observe(durationMs / 1000);
  }

  /** Per-tier confidence and duration of one edge model call. */
  tier(task: string, tier: string, confidence: number | undefined, durationMs: number): void {
    const byTier = byTask(this.#tierChildren, task);
    let children = byTier.get(tier);
    if (children === undefined) {
      children = {
        confidence: this.confidence.labels(task, tier),
        latency: this.tierLatency.labels(task, tier),
      };
      byTier.set(tier, children);
    }
    if (confidence !== undefined) children.confidence.observe(confidence);
    children.latency.observe(durationMs / 1000);
  }

  /** One result-cache lookup. */
  cacheLookup(hit: boolean): void {
    if (hit) (this.#cacheHit ??= this.cache.labels("hit")).inc();
    else (this.#cacheMiss ??= this.cache.labels("miss")).inc();
  }

  egress(channel: Egress, counts: Readonly<Record<string, number>>): void {
    this.egressMessages.inc({ channel });
    for (const [kind, n] of Object.entries(counts))
      if (n > 0) this.egressRedactions.inc({ kind, channel }, n);
  }

  async text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

type OutcomeChildren = {
  latency: FastHistogramChild;
  requests: Partial<Record<Outcome, FastCounterChild>>;
};
type TierChildren = { confidence: FastHistogramChild; latency: FastHistogramChild };

/** A task's children by tier, made on first use. */
function byTask<C>(children: Map<string, Map<string, C>>, task: string): Map<string, C> {
  let byTier = children.get(task);
  if (byTier === undefined) children.set(task, (byTier = new Map<string, C>()));
  return byTier;
}
