// Runs batch jobs: every item through the cloud cascade, results kept per item in Redis (a retried or
// recovered job skips what is done), then — for edge batches — one DeviceResult per item on the
// device's results subject (JetStream, Nats-Msg-Id = request id, so a re-run publishes no duplicates).
// Policy violations fail the job for good (UnrecoverableError); retryable errors retry with backoff.
import { setTimeout as sleep } from "node:timers/promises";
import type { Tracer } from "@opentelemetry/api";
import type { JetStreamClient } from "@nats-io/jetstream";
import { UnrecoverableError, Worker, type Job } from "bullmq";
import type { Redis } from "ioredis";
import {
  ATTR_BATCH_ID,
  ATTR_BATCH_SIZE,
  DeviceResultSchema,
  ErrorCode,
  encode,
  extractTraceContext,
  isRetryable,
  toTiergateError,
  withSpan,
  type BatchItem,
  type InferResult,
  type LoadedPolicy,
  type Logger,
  type Subjects,
} from "@tiergate/shared";
import type { Cascade } from "../escalation/cascade.ts";
import { systemClock, type Clock } from "../escalation/types.ts";
import type { CoordinatorMetrics } from "../metrics/metrics.ts";
import { BatchJobDataSchema, DEFAULT_BATCH_QUEUE, type BatchJobData } from "./scheduler.ts";
import type { BatchMeta, BatchStore } from "./store.ts";

/** Time one batch item may take through the cascade. */
export const DEFAULT_BATCH_ITEM_DEADLINE_MS = 60_000;
/** How often BullMQ looks for stalled jobs (a worker that died holding one); they are run again. */
export const DEFAULT_STALLED_INTERVAL_MS = 5_000;
export const DEFAULT_MAX_STALLED_COUNT = 3;
/** A policy rate at or above this is "unlimited": no BullMQ limiter (it costs a Redis call per job). */
export const UNLIMITED_RATE_PER_SECOND = 100_000;
/** A batch's callbackUrl: tries, the time one POST may take, and the first pause between tries. */
export const DEFAULT_CALLBACK_ATTEMPTS = 3;
export const CALLBACK_TIMEOUT_MS = 5_000;
export const CALLBACK_BACKOFF_MS = 1_000;

export type BatchWorkerOptions = {
  redis: Redis;
  store: BatchStore;
  cascade: Cascade;
  policy: () => LoadedPolicy;
  /** For edge batches' results; without it edge results stay in Redis only. */
  js?: JetStreamClient | undefined;
  subjects: Subjects;
  logger: Logger;
  tracer: Tracer;
  metrics?: CoordinatorMetrics | undefined;
  clock?: Clock;
  queueName?: string;
  prefix?: string;
  itemDeadlineMs?: number;
  stalledIntervalMs?: number;
  /** Lock held on a running job; renewed at half. Shorter means faster stalled-job recovery. */
  lockDurationMs?: number;
  /** Tries of a batch's callbackUrl POST (on errors, 429 and 5xx). */
  callbackAttempts?: number;
};

/** BullMQ's limiter takes an integer count per duration: rate r/s becomes ceil(r) per ceil(r)/r s. */
export function limiterFor(ratePerSecond: number): { max: number; duration: number } {
  const max = Math.max(1, Math.ceil(ratePerSecond));
  return { max, duration: Math.round((1000 * max) / ratePerSecond) };
}

export class BatchWorker {
  readonly worker: Worker<BatchJobData>;
  readonly #o: BatchWorkerOptions;
  readonly #clock: Clock;

  constructor(options: BatchWorkerOptions) {
    this.#o = options;
    this.#clock = options.clock ?? systemClock;
    const { batch } = options.policy().policy;
    this.worker = new Worker<BatchJobData>(
      options.queueName ?? DEFAULT_BATCH_QUEUE,
      async (job) => await this.#process(job),
      {
        connection: options.redis,
        concurrency: batch.concurrency,
        ...(batch.ratePerSecond >= UNLIMITED_RATE_PER_SECOND
          ? {}
          : { limiter: limiterFor(batch.ratePerSecond) }),
        stalledInterval: options.stalledIntervalMs ?? DEFAULT_STALLED_INTERVAL_MS,
        maxStalledCount: DEFAULT_MAX_STALLED_COUNT,
        ...(options.lockDurationMs === undefined ? {} : { lockDuration: options.lockDurationMs }),
        ...(options.prefix === undefined ? {} : { prefix: options.prefix }),
      },
    );
    this.worker.on("failed", (job, err) => {
      if (job === undefined) return;
      const final = err instanceof UnrecoverableError || job.attemptsMade >= (job.opts.attempts ?? 1);
      this.#o.logger.warn("batch job failed", { batchId: job.id, attempt: job.attemptsMade, final, err });
      if (!final) return;
      const e = toTiergateError(err);
      this.#o.metrics?.batch(job.data.submission?.source ?? "unknown", "failed");
      this.#o.store
        .update(job.id ?? "", {
          status: "failed",
          completedAt: this.#clock.now(),
          error: { code: e.code, message: e.message },
        })
        .then(() => {
          const url = job.data.submission?.callbackUrl;
          if (url !== undefined && job.id !== undefined) this.#callback(url, job.id);
        })
        .catch((cause: unknown) =>
          this.#o.logger.error("could not record a failed batch", { batchId: job.id, err: cause }),
        );
    });
    this.worker.on("error", (err) => this.#o.logger.error("batch worker error", { err }));
  }

  async #process(job: Job<BatchJobData>): Promise<{ items: number }> {
    const parsed = BatchJobDataSchema.safeParse(job.data);
    if (!parsed.success)
      throw new UnrecoverableError(`job data outside the contract: ${parsed.error.message}`);
    const { submission, trace } = parsed.data;
    const { policy } = this.#o.policy();
    if (submission.items.length > policy.batch.maxItems)
      throw new UnrecoverableError(
        `${ErrorCode.REFUSED_BY_POLICY}: ${submission.items.length} items over the policy's ${policy.batch.maxItems}`,
      );
    return await withSpan(
      this.#o.tracer,
      "tiergate.cloud.batch",
      async () => {
        const id = submission.batchId;
        const opened = await this.#o.store.open(id);
        // The scheduler writes the record before the job; rebuild it if it went missing.
        const meta: BatchMeta = opened.meta ?? {
          batchId: id,
          source: submission.source,
          status: "queued",
          itemIds: submission.items.map((i) => i.id),
          submittedAt: submission.submittedAt,
          ...(submission.deviceId === undefined ? {} : { deviceId: submission.deviceId }),
        };
        const startedAt = this.#clock.now();
        // Sent now, awaited before completion: Redis runs one connection's commands in order, so the
        // first item's cascade need not wait for this write.
        const running = this.#o.store.save({ ...meta, status: "running", startedAt });
        running.catch(() => undefined);
        const done = opened.results;
        for (const item of submission.items) {
          if (done.has(item.id)) continue;
          const result = await this.#runItem(item);
          await this.#o.store.putResult(id, result);
          done.set(item.id, result);
          this.#o.metrics?.batch(submission.source, "item");
        }
        await running;
        if (submission.source === "edge" && submission.deviceId !== undefined) {
          await this.#publish(submission.deviceId, id, submission.items, done);
        }
        await this.#o.store.save({ ...meta, status: "completed", startedAt, completedAt: this.#clock.now() });
        this.#o.metrics?.batch(submission.source, "completed");
        if (submission.callbackUrl !== undefined) this.#callback(submission.callbackUrl, id);
        return { items: submission.items.length };
      },
      {
        parent: extractTraceContext(trace),
        attributes: { [ATTR_BATCH_ID]: submission.batchId, [ATTR_BATCH_SIZE]: submission.items.length },
      },
    );
  }

  /** One item's result; a non-retryable error becomes a refused result, a retryable one retries the job. */
  async #runItem(item: BatchItem): Promise<InferResult> {
    try {
      return await this.#o.cascade.run({
        id: item.id,
        task: item.task,
        input: item.input,
        // Deadlines are real time; the injected clock only places batches in the off-peak windows.
        deadlineAt: Date.now() + (this.#o.itemDeadlineMs ?? DEFAULT_BATCH_ITEM_DEADLINE_MS),
        ...(item.edgeAttempts === undefined ? {} : { edgeAttempts: item.edgeAttempts }),
      });
    } catch (err) {
      const e = toTiergateError(err);
      if (isRetryable(e.code)) throw e;
      return {
        id: item.id,
        task: item.task,
        status: "refused",
        degraded: false,
        cached: false,
        attempts: item.edgeAttempts ?? [],
        costUsd: 0,
        timings: { totalMs: 0, steps: [] },
        error: { code: e.code, message: e.message },
      };
    }
  }

  async #publish(
    deviceId: string,
    batchId: string,
    items: readonly BatchItem[],
    results: Map<string, InferResult>,
  ): Promise<void> {
    const js = this.#o.js;
    if (js === undefined) return;
    const subject = this.#o.subjects.results(deviceId);
    for (const item of items) {
      const result = results.get(item.id);
      if (result === undefined) continue;
      const msg = DeviceResultSchema.parse({ deviceId, batchId, requestId: item.id, result });
      await js.publish(subject, encode(msg), { msgID: item.id });
    }
  }

  /**
   * POSTs the finished batch (what GET /v1/batches/:id answers) to the submitter's callbackUrl. Best
   * effort, in the background: a few tries with backoff, then a warning. The batch stays readable
   * at GET /v1/batches/:id either way, so a lost callback loses no result.
   */
  #callback(url: string, batchId: string): void {
    const attempts = this.#o.callbackAttempts ?? DEFAULT_CALLBACK_ATTEMPTS;
    const send = async (): Promise<void> => {
      const view = await this.#o.store.view(batchId);
      if (view === undefined) return;
      const body = JSON.stringify(view);
      for (let attempt = 1; ; attempt++) {
        let status: number | undefined;
        try {
          const res = await fetch(url, {
            method: "POST",
            headers: { "content-type": "application/json", "x-tiergate-batch-id": batchId },
            body,
            signal: AbortSignal.timeout(CALLBACK_TIMEOUT_MS),
          });
          await res.body?.cancel();
          if (res.ok) return;
          status = res.status;
        } catch (err) {
          if (attempt >= attempts) throw err;
        }
        // A 4xx other than 429 will not change on a retry.
        if (status !== undefined && (attempt >= attempts || (status < 500 && status !== 429)))
          throw new Error(`the callback answered HTTP ${status} (try ${attempt} of ${attempts})`);
        await sleep(CALLBACK_BACKOFF_MS * 2 ** (attempt - 1));
      }
    };
    send().catch((err: unknown) =>
      this.#o.logger.warn("batch callback failed", { batchId, url, err: String(err) }),
    );
  }

  async close(): Promise<void> {
    await this.worker.close();
  }
}
