// One coordinator: the escalation service, the batch scheduler, worker and edge intake, and the HTTP
// API, wired from resources it is given (main.ts creates the real ones; tests pass their own).
// Started in dependency order and closed in reverse: HTTP, edge intake, BullMQ worker and queue,
// the escalation subscription (drained), models, presence.
import { randomUUID } from "node:crypto";
import { trace, type Tracer } from "@opentelemetry/api";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Redis } from "ioredis";
import {
  InferResultSchema,
  createSubjects,
  isModelTier,
  type LlmTier as PolicyLlmTier,
  type LoadedPolicy,
  type Logger,
  type Subjects,
} from "@tiergate/shared";
import { ApiKeyVerifier } from "../api/auth.ts";
import { ChatForwarder, type ChatLlm } from "../api/chat.ts";
import { RedisRateLimiter } from "../api/rate-limit.ts";
import { buildApiServer } from "../api/server.ts";
import { EdgeBatchIntake } from "../batch/edge-intake.ts";
import { BatchScheduler } from "../batch/scheduler.ts";
import { BatchStore, DEFAULT_BATCH_QUEUE } from "../batch/store.ts";
import { BatchWorker } from "../batch/worker.ts";
import { InstancePresence, RequestDedup } from "../cache/request-dedup.ts";
import { ResultCache } from "../cache/result-cache.ts";
import { Cascade } from "../escalation/cascade.ts";
import { ModelRegistry, type LoadedRuntime } from "../escalation/models.ts";
import { EscalationService } from "../escalation/service.ts";
import { systemClock, type Clock, type LlmClassifier } from "../escalation/types.ts";
import { CoordinatorMetrics } from "../metrics/metrics.ts";

export const TRACER_NAME = "@tiergate/cloud-coordinator";

/** Live connections and factories; the coordinator closes none of them (their creator does). */
export type CoordinatorResources = {
  nc: NatsConnection;
  /** Commands: cache, dedup, rate limit, batch store. */
  redis: Redis;
  /** BullMQ's connection (`maxRetriesPerRequest: null`); the worker duplicates it for blocking reads. */
  bullRedis: Redis;
  loadModel: (dir: string) => Promise<LoadedRuntime>;
  /** An LLM tier over these policy endpoints, in fallback order (main.ts builds `LlmTier`). */
  llm: (endpointNames: readonly string[]) => LlmClassifier & ChatLlm;
  logger: Logger;
  tracer?: Tracer;
  metrics?: CoordinatorMetrics;
  /** Places batches in the off-peak windows (tests inject one); deadlines always use real time. */
  clock?: Clock;
};

export type CoordinatorSettings = {
  policy: () => LoadedPolicy;
  /** HTTP listen address; undefined: no HTTP API. */
  listen?: { host: string; port: number } | undefined;
  apiKeys: readonly string[];
  rateLimit?: { perSecond: number; burst: number };
  /** Run batches at once regardless of the off-peak windows. */
  forceOffPeak?: boolean;
  /** Subject / stream prefix (test isolation). */
  subjectPrefix?: string;
  /** Redis key prefix of BullMQ and tiergate keys (test isolation). */
  keyPrefix?: string;
  instanceId?: string;
  /** Turn parts off (e.g. a pure escalation coordinator); all on by default. */
  escalations?: boolean;
  batches?: boolean;
  /** BullMQ lock duration; shorter recovers a dead worker's job sooner. */
  batchLockDurationMs?: number;
};

type Closer = { name: string; close: () => Promise<void> | void };

export class Coordinator {
  readonly instanceId: string;
  readonly subjects: Subjects;
  readonly metrics: CoordinatorMetrics;
  #cascade: Cascade | undefined;
  #escalations: EscalationService | undefined;
  #batchWorker: BatchWorker | undefined;
  #closers: Closer[] = [];
  #url: string | undefined;
  #closed = false;

  private constructor(resources: CoordinatorResources, settings: CoordinatorSettings) {
    this.instanceId = settings.instanceId ?? randomUUID();
    this.subjects = createSubjects(
      settings.subjectPrefix === undefined ? {} : { prefix: settings.subjectPrefix },
    );
    this.metrics = resources.metrics ?? new CoordinatorMetrics();
  }

  /** Starts every enabled part; on a failure, what already started is closed again. */
  static async start(resources: CoordinatorResources, settings: CoordinatorSettings): Promise<Coordinator> {
    const c = new Coordinator(resources, settings);
    try {
      await c.#start(resources, settings);
    } catch (err) {
      await c.close();
      throw err;
    }
    return c;
  }

  /** The cloud cascade (HTTP and batch share it); for benchmarks and tests. */
  get cascade(): Cascade {
    if (this.#cascade === undefined) throw new Error("coordinator not started");
    return this.#cascade;
  }

  /** Escalations this coordinator answered (load-sharing checks). */
  get escalationsHandled(): number {
    return this.#escalations?.handled ?? 0;
  }

  /** Batch jobs this coordinator's worker completed (their completion stored by BullMQ). */
  get batchesCompleted(): number {
    return this.#batchWorker?.completed ?? 0;
  }

  /** `http://host:port` of the HTTP API, when it listens. */
  get url(): string | undefined {
    return this.#url;
  }

  async #start(r: CoordinatorResources, s: CoordinatorSettings): Promise<void> {
    const tracer = r.tracer ?? trace.getTracer(TRACER_NAME);
    const clock = r.clock ?? systemClock;
    const prefix = s.keyPrefix ?? "";
    const logger = r.logger.child({ instanceId: this.instanceId });

    const presence = new InstancePresence({
      redis: r.redis,
      instanceId: this.instanceId,
      keyPrefix: `${prefix}tg:inst:`,
    });
    await presence.start((err) => logger.warn("presence heartbeat failed", { err }));
    this.#closers.push({ name: "presence", close: () => presence.close() });

    const models = new ModelRegistry({ load: r.loadModel });
    this.#closers.push({ name: "models", close: () => models.close() });
    const { policy } = s.policy();
    await models.preload(
      Object.values(policy.tasks).flatMap((t) =>
        t.tiers.filter((tier) => tier.where === "cloud" && isModelTier(tier)).map((tier) => tier.model ?? ""),
      ),
    );

    const llmTiers = new Map<string, LlmClassifier & ChatLlm>();
    const llmFor = (names: readonly string[]): LlmClassifier & ChatLlm => {
      const key = names.join("\u0000");
      let tier = llmTiers.get(key);
      if (tier === undefined) {
        tier = r.llm(names);
        llmTiers.set(key, tier);
      }
      return tier;
    };
    // Build every LLM tier now, so a missing API key (env:NAME) stops the start with its reason.
    for (const task of Object.values(policy.tasks))
      for (const tier of task.tiers) if (tier.llm !== undefined) llmFor(tier.llm.endpoints);
    const cache = new ResultCache({
      redis: r.redis,
      schema: InferResultSchema,
      keyPrefix: `${prefix}tg:cache:v1:`,
      ttlMs: policy.cache.ttlMs,
    });
    const cascade = new Cascade({
      policy: s.policy,
      models,
      llmFor: (tier: PolicyLlmTier) => llmFor(tier.llm.endpoints),
      cache,
      tracer,
      metrics: this.metrics,
    });
    this.#cascade = cascade;

    if (s.escalations !== false) {
      const dedup = new RequestDedup({
        redis: r.redis,
        instanceId: this.instanceId,
        keyPrefix: `${prefix}tg:req:`,
        instanceKeyPrefix: `${prefix}tg:inst:`,
      });
      const service = new EscalationService({
        nc: r.nc,
        subjects: this.subjects,
        cascade,
        dedup,
        logger,
        tracer,
        metrics: this.metrics,
      });
      this.#escalations = service;
      this.#closers.push({ name: "escalations", close: () => service.close() });
      await service.start();
    }

    let scheduler: BatchScheduler | undefined;
    const bullPrefix = `${prefix}bull`;
    const store = new BatchStore({
      redis: r.redis,
      keyPrefix: `${prefix}tg:batch:`,
      jobKeyPrefix: `${bullPrefix}:${DEFAULT_BATCH_QUEUE}:`,
    });
    if (s.batches !== false) {
      scheduler = new BatchScheduler({
        redis: r.bullRedis,
        store,
        policy: s.policy,
        clock,
        prefix: bullPrefix,
        forceOffPeak: s.forceOffPeak === true,
      });
      this.#closers.push({ name: "batch queue", close: () => scheduler?.close() });
      const js = jetstream(r.nc);
      const worker = new BatchWorker({
        redis: r.bullRedis,
        store,
        cascade,
        policy: s.policy,
        js,
        subjects: this.subjects,
        logger,
        tracer,
        metrics: this.metrics,
        clock,
        prefix: bullPrefix,
        ...(s.batchLockDurationMs === undefined ? {} : { lockDurationMs: s.batchLockDurationMs }),
      });
      this.#batchWorker = worker;
      this.#closers.push({ name: "batch worker", close: () => worker.close() });
      const intake = new EdgeBatchIntake({
        js,
        jsm: await jetstreamManager(r.nc),
        subjects: this.subjects,
        scheduler,
        logger,
        metrics: this.metrics,
      });
      await intake.start();
      this.#closers.push({ name: "edge batch intake", close: () => intake.close() });
    }

    if (s.listen !== undefined) {
      const endpointNames = Object.keys(policy.llm.endpoints);
      const app = buildApiServer({
        cascade,
        policy: s.policy,
        verifier: new ApiKeyVerifier({ keys: s.apiKeys }),
        rateLimiter: new RedisRateLimiter({
          redis: r.redis,
          keyPrefix: `${prefix}tg:rl:`,
          ...(s.rateLimit ?? {}),
        }),
        scheduler,
        store,
        chat:
          endpointNames.length === 0
            ? undefined
            : new ChatForwarder({
                llm: llmFor(endpointNames),
                redis: r.redis,
                keyPrefix: `${prefix}tg:chat:v1:`,
              }),
        metrics: this.metrics,
        logger,
        clock,
        ready: () => !r.nc.isClosed() && r.redis.status === "ready",
      });
      this.#closers.push({ name: "http", close: () => app.close() });
      this.#url = await app.listen({ host: s.listen.host, port: s.listen.port });
    }
    logger.info("coordinator started", { http: this.#url, subjects: this.subjects.all.escalate });
  }

  /** Closes what was started, in reverse order; each step runs even when an earlier one failed. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const errors: unknown[] = [];
    for (const c of this.#closers.reverse()) {
      try {
        await c.close();
      } catch (err) {
        errors.push(new Error(`closing ${c.name} failed`, { cause: err }));
      }
    }
    this.#closers = [];
    if (errors.length > 0) throw new AggregateError(errors, "coordinator did not close cleanly");
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
