// The edge agent daemon, wired from the resources main.ts hands it (NATS connector, model loader,
// tracer, logger). Start order: stores → models → outbox flusher → heartbeat → HTTP → NATS link
// (it connects in the background, after ready: loading the NATS client is not on the way to ready).
// close() reverses it: stop accepting, finish in-flight, flush the outbox, drain NATS, close stores
// and models.
import { join } from "node:path";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Tracer } from "@opentelemetry/api";
import type { FastifyInstance } from "fastify";
import {
  BatchItemSchema,
  DEFAULT_HEARTBEAT_INTERVAL_MS,
  MAX_BATCH_ITEMS,
  PolicyWatcher,
  type BatchItem,
  type DeviceResult,
  type Logger,
  type Subjects,
} from "@tiergate/shared";
import { ResultCache } from "./cache/result-cache.ts";
import { EdgeEngine, type CachedAnswer } from "./engine/engine.ts";
import { buildPolicyState, ModelPool, type ModelLoader, type PolicyState } from "./engine/policy-state.ts";
import { StoredResultSchema, type StoredResult } from "./engine/types.ts";
import { RttEstimator } from "./escalation/rtt.ts";
import { createHttpServer } from "./http/server.ts";
import { EdgeMetrics } from "./metrics/metrics.ts";
import { NatsLink } from "./nats/link.ts";
import { OutboxFlusher } from "./outbox/flusher.ts";
import { Outbox, type OutboxBatch } from "./outbox/outbox.ts";
import { ResultsStore } from "./results/results-store.ts";
import { startHeartbeat } from "./heartbeat.ts";
import { postCallback } from "./callback.ts";

export const DEFAULT_SHUTDOWN_FLUSH_MS = 5_000;
/** Payload bytes per outbox batch: under the default NATS max_payload (1 MiB) with room for JSON. */
export const DEFAULT_BATCH_MAX_BYTES = 768 * 1024;
export const AGENT_VERSION = "0.1.0";

export type ListenAddress = { type: "tcp"; host: string; port: number } | { type: "socket"; path: string };

export type EdgeAgentOptions = {
  deviceId: string;
  policyFile: string;
  dataDir: string;
  listen: ListenAddress;
  subjects: Subjects;
  connect: () => Promise<NatsConnection>;
  loadModel: ModelLoader;
  logger: Logger;
  tracer: Tracer;
  heartbeatIntervalMs?: number;
  shutdownFlushMs?: number;
  /** Watch the policy file for changes (SIGHUP reloads either way). Default true. */
  watchPolicy?: boolean;
  /** Collect process metrics (RSS, event loop lag) too. Default true. */
  processMetrics?: boolean;
};

export class EdgeAgent {
  readonly metrics: EdgeMetrics;
  readonly #o: EdgeAgentOptions;
  #state!: PolicyState;
  #watcher!: PolicyWatcher;
  #pool!: ModelPool;
  #outbox!: Outbox;
  #results!: ResultsStore<StoredResult>;
  #flusher!: OutboxFlusher;
  #link!: NatsLink;
  #http!: FastifyInstance;
  #engine!: EdgeEngine;
  #stopHeartbeat: (() => void) | undefined;
  #closing = false;
  #address = "";
  readonly #startedAt = Date.now();
  readonly #cache = new ResultCache<CachedAnswer>();

  private constructor(options: EdgeAgentOptions) {
    this.#o = options;
    this.metrics = new EdgeMetrics({ defaultMetrics: options.processMetrics ?? true });
  }

  static async start(options: EdgeAgentOptions): Promise<EdgeAgent> {
    const agent = new EdgeAgent(options);
    try {
      await agent.#start();
    } catch (err) {
      await agent.close().catch(() => undefined);
      throw err;
    }
    return agent;
  }

  /** "http://host:port" or the socket path. */
  get address(): string {
    return this.#address;
  }

  /** The cascade itself (benchmarks time decisions without HTTP). */
  get engine(): EdgeEngine {
    return this.#engine;
  }

  get state(): PolicyState {
    return this.#state;
  }

  get outboxDepth(): number {
    return this.#outbox.depth;
  }

  async #start(): Promise<void> {
    const { logger } = this.#o;
    const bootMs = performance.now(); // process start → here: Node and module loading
    this.#watcher = await PolicyWatcher.open({
      file: this.#o.policyFile,
      watch: this.#o.watchPolicy ?? true,
      onChange: (loaded) => void this.#applyPolicy(loaded),
      onError: (error) => {
        this.metrics.policyReloads.inc({ result: "rejected" });
        logger.error("policy reload rejected; keeping the policy in force", { err: error.message });
      },
    });
    // The outbox and results store open (file I/O on libuv's threads) while the models load (mostly
    // ONNX Runtime on this thread). Each is kept as it opens, so a failed start closes what opened.
    const stores = [
      Outbox.open({ dir: join(this.#o.dataDir, "outbox") }).then((o) => (this.#outbox = o)),
      ResultsStore.open<StoredResult>({
        dir: join(this.#o.dataDir, "results"),
        decode: (json) => {
          const parsed = StoredResultSchema.safeParse(json);
          return parsed.success ? parsed.data : undefined;
        },
      }).then((r) => (this.#results = r)),
    ];
    for (const opening of stores) opening.catch(() => undefined); // rejections are read below, not unhandled
    this.#pool = new ModelPool({ load: this.#o.loadModel });
    try {
      this.#state = await buildPolicyState(this.#watcher.current, this.#pool);
    } finally {
      await Promise.allSettled(stores); // both settled before anything closes; an error is thrown below
    }
    const modelsMs = performance.now();
    await Promise.all(stores);
    this.#configureCache();

    if (this.#outbox.recovery.truncatedBytes > 0 || this.#outbox.depth > 0) {
      logger.info("outbox recovered", {
        depth: this.#outbox.depth,
        truncatedBytes: this.#outbox.recovery.truncatedBytes,
      });
    }
    this.metrics.outboxDepth.set(this.#outbox.depth);

    const rtt = new RttEstimator();
    this.#link = new NatsLink({
      connect: this.#o.connect,
      subjects: this.#o.subjects,
      deviceId: this.#o.deviceId,
      logger: logger.child({ component: "nats" }),
      metrics: this.metrics,
      rtt,
      onResult: (r) => this.#onResult(r),
      onConnected: () => this.#flusher.retryNow(),
    });
    this.#flusher = new OutboxFlusher({
      outbox: this.#outbox,
      maxItems: Math.min(this.#state.policy.batch.maxItems, MAX_BATCH_ITEMS),
      maxAgeMs: this.#state.policy.batch.maxAgeMs,
      maxBytes: DEFAULT_BATCH_MAX_BYTES,
      publish: (batch) => this.#publishBatch(batch),
      onError: (err, batch) =>
        logger.debug("batch not delivered yet; will retry", { batchId: batch.id, err: String(err) }),
      onDelivered: (batch) => {
        this.metrics.outboxDelivered.inc(batch.items.length);
        this.metrics.outboxDepth.set(this.#outbox.depth);
      },
    });
    this.#outbox.onAppend(() => this.metrics.outboxDepth.set(this.#outbox.depth));
    this.#flusher.kick();

    const engine = (this.#engine = new EdgeEngine({
      deviceId: this.#o.deviceId,
      state: () => this.#state,
      cache: this.#cache,
      escalator: this.#link,
      deferred: {
        enqueue: async (item: BatchItem) =>
          void (await this.#outbox.append(Buffer.from(JSON.stringify(item)))),
      },
      results: this.#results,
      metrics: this.metrics,
      tracer: this.#o.tracer,
      logger,
    }));
    this.#stopHeartbeat = startHeartbeat({
      intervalMs: this.#o.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS,
      build: () => ({
        deviceId: this.#o.deviceId,
        sentAt: Date.now(),
        uptimeMs: Date.now() - this.#startedAt,
        policyVersion: this.#state.policyVersion,
        models: this.#loadedModels(),
        counters: { ...this.metrics.totals },
        outboxDepth: this.#outbox.depth,
        rttMs: rtt.snapshot().samples > 0 ? rtt.estimateMs : null,
        agentVersion: AGENT_VERSION,
      }),
      publish: (hb) => this.#link.publishHeartbeat(hb),
    });

    const maxInputBytes = Math.max(...Object.values(this.#state.policy.tasks).map((t) => t.maxInputBytes));
    this.#http = createHttpServer({
      engine,
      results: this.#results,
      metrics: this.metrics,
      logger,
      maxInputBytes,
      readiness: () => ({
        ready: !this.#closing,
        models: this.#loadedModels(),
        nats: this.#link.state,
        outboxDepth: this.#outbox.depth,
        policyVersion: this.#state.policyVersion,
      }),
    });
    const listen = this.#o.listen;
    this.#address =
      listen.type === "tcp"
        ? await this.#http.listen({ host: listen.host, port: listen.port })
        : await this.#http.listen({ path: listen.path });
    this.#link.start();
    logger.info("edge agent ready", {
      sinceProcessStartMs: Math.round(performance.now()),
      phasesMs: {
        boot: Math.round(bootMs),
        policyAndModels: Math.round(modelsMs - bootMs),
        storesNatsHttp: Math.round(performance.now() - modelsMs),
      },
      address: this.#address,
      deviceId: this.#o.deviceId,
      policyVersion: this.#state.policyVersion,
    });
  }

  /** Reloads the policy file now (SIGHUP). */
  async reloadPolicy(): Promise<void> {
    await this.#watcher.reload();
  }

  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    const { logger } = this.#o;
    this.#stopHeartbeat?.();
    await this.#http?.close(); // stops accepting; waits for requests in flight
    this.#watcher?.close();
    if (this.#flusher !== undefined) {
      if (this.#link?.connected === true && this.#outbox.depth > 0) {
        const empty = await this.#flusher.flush(this.#o.shutdownFlushMs ?? DEFAULT_SHUTDOWN_FLUSH_MS);
        if (!empty)
          logger.warn("outbox not empty at shutdown; it is kept on disk", { depth: this.#outbox.depth });
      }
      await this.#flusher.close();
    }
    await this.#link?.close();
    await this.#outbox?.close();
    await this.#results?.close();
    await this.#pool?.close();
    logger.info("edge agent stopped");
  }

  async #applyPolicy(loaded: PolicyWatcher["current"]): Promise<void> {
    try {
      const next = await buildPolicyState(loaded, this.#pool);
      this.#state = next;
      this.#configureCache();
      this.#flusher.configure({
        maxItems: Math.min(next.policy.batch.maxItems, MAX_BATCH_ITEMS),
        maxAgeMs: next.policy.batch.maxAgeMs,
      });
      await this.#pool.retainOnly(next);
      this.metrics.policyReloads.inc({ result: "changed" });
      this.#o.logger.info("policy reloaded", { policyVersion: next.policyVersion });
    } catch (err) {
      this.metrics.policyReloads.inc({ result: "rejected" });
      this.#o.logger.error("new policy's models could not be loaded; keeping the policy in force", {
        err: String(err),
      });
    }
  }

  #configureCache(): void {
    const c = this.#state.policy.cache;
    this.#cache.configure({ ttlMs: c.ttlMs, maxBytes: c.maxBytes });
  }

  #loadedModels(): { tier: string; model: string; version: string }[] {
    return [...this.#state.tiers.values()].flatMap((tiers) =>
      tiers.map((t) => ({ tier: t.tier.name, model: t.model.manifest.preset, version: t.model.version })),
    );
  }

  async #publishBatch(batch: OutboxBatch): Promise<void> {
    const items: BatchItem[] = [];
    for (const raw of batch.items) {
      try {
        items.push(BatchItemSchema.parse(JSON.parse(raw.payload.toString("utf8"))));
      } catch (err) {
        this.#o.logger.error("dropping an unreadable outbox item", { seq: raw.seq, err: String(err) });
      }
    }
    if (items.length === 0) return;
    await this.#link.publishBatch({
      batchId: batch.id,
      deviceId: this.#o.deviceId,
      source: "edge",
      items,
      submittedAt: Date.now(),
      policyVersion: this.#state.policyVersion,
    });
  }

  async #onResult(r: DeviceResult): Promise<void> {
    const previous = this.#results.get(r.requestId);
    const stored: StoredResult =
      previous?.callbackUrl === undefined
        ? { result: r.result }
        : { result: r.result, callbackUrl: previous.callbackUrl };
    await this.#results.put(r.requestId, stored);
    if (stored.callbackUrl !== undefined) postCallback(stored.callbackUrl, r.result, this.#o.logger);
  }
}
