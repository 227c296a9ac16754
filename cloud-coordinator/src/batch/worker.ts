// Runs batch jobs: the items through the cloud cascade a chunk at a time (`Cascade.runMany`: one cache
// lookup, one model call, the LLM only for what the model is unsure of; chunks of jobs that start
// together share the run, see ChunkGather), results kept per item in
// Redis with one write per chunk (a retried or recovered job skips what is done), then — for edge
// batches — one DeviceResult per item on the device's results subject (JetStream, Nats-Msg-Id =
// request id, so a re-run publishes no duplicates).
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
  type TiergateError,
  type BatchItem,
  type InferResult,
  type LoadedPolicy,
  type Logger,
  type Subjects,
} from "@tiergate/shared";
import type { Cascade } from "../escalation/cascade.ts";
import { systemClock, type Clock } from "../escalation/types.ts";
import type { CoordinatorMetrics } from "../metrics/metrics.ts";
import { ChunkGather } from "./chunk-gather.ts";
import { jobDataProblem } from "./job-shape.ts";
import { RunningMarks } from "./running-marks.ts";
import { DEFAULT_BATCH_QUEUE, type BatchJobData } from "./scheduler.ts";
import {
  DEFAULT_BATCH_RETENTION_MS,
  jobResult,
  newBatchMeta,
  type StoredJobResult,
  type BatchMeta,
  type BatchStore,
} from "./store.ts";

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
/**
 * Items run through the cascade together (one model call, one cache round trip, one results write);
 * also how much work a crash can repeat.
 */
export const DEFAULT_BATCH_CHUNK_ITEMS = 64;
/** A batch still running after this long shows "running" before its first results are stored. */
export const DEFAULT_RUNNING_MARK_MS = 20;
/** An edge batch's DeviceResults awaiting their JetStream acks at once. */
export const PUBLISH_IN_FLIGHT = 64;

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
  /** Items run through the cascade together. */
  chunkItems?: number;
  /** How long a batch runs before "running" is written on its own (without results). */
  runningMarkMs?: number;
};

/** BullMQ's limiter takes an integer count per duration: rate r/s becomes ceil(r) per ceil(r)/r s. */
export function limiterFor(ratePerSecond: number): { max: number; duration: number } {
  const max = Math.max(1, Math.ceil(ratePerSecond));
  return { max, duration: Math.round((1000 * max) / ratePerSecond) };
}

export class BatchWorker {
  readonly worker: Worker<BatchJobData, StoredJobResult>;
  readonly #o: BatchWorkerOptions;
  readonly #clock: Clock;
  readonly #marks: RunningMarks;
  readonly #gather: ChunkGather;
  /** Jobs completed by this worker (their completion stored by BullMQ). */
  completed = 0;

  constructor(options: BatchWorkerOptions) {
    this.#o = options;
    this.#clock = options.clock ?? systemClock;
    this.#marks = new RunningMarks(options.runningMarkMs ?? DEFAULT_RUNNING_MARK_MS);
    this.#gather = new ChunkGather(async (reqs, onOutcome) => await options.cascade.runMany(reqs, onOutcome));
    const { batch } = options.policy().policy;
    this.worker = new Worker<BatchJobData, StoredJobResult>(
      options.queueName ?? DEFAULT_BATCH_QUEUE,
      async (job) => await this.#process(job),
      {
        connection: options.redis,
        concurrency: batch.concurrency,
        ...(batch.ratePerSecond >= UNLIMITED_RATE_PER_SECOND
          ? {}
          : { limiter: limiterFor(batch.ratePerSecond) }),
        // Finished jobs are kept as long as the batch's status record: a completed job's hash holds
        // its last results (its return value), a failed one why it failed. A worker option rather
        // than each job's: BullMQ packs, stores and decodes a job's options on every move.
        removeOnComplete: { age: DEFAULT_BATCH_RETENTION_MS / 1000 },
        removeOnFail: { age: DEFAULT_BATCH_RETENTION_MS / 1000 },
        stalledInterval: options.stalledIntervalMs ?? DEFAULT_STALLED_INTERVAL_MS,
        maxStalledCount: DEFAULT_MAX_STALLED_COUNT,
        ...(options.lockDurationMs === undefined ? {} : { lockDuration: options.lockDurationMs }),
        ...(options.prefix === undefined ? {} : { prefix: options.prefix }),
      },
    );
    // Completion is reported once BullMQ has stored it (with the last results).
    this.worker.on("completed", (job) => {
      this.completed += 1;
      const { submission } = job.data;
      this.#o.metrics?.batch(submission.source, "completed");
      if (submission.callbackUrl !== undefined && job.id !== undefined)
        this.#callback(submission.callbackUrl, job.id);
    });
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

  async #process(job: Job<BatchJobData>): Promise<StoredJobResult> {
    // The submission was parsed against the contract when it came in (API, edge intake); the job's
    // data is checked for the shape this code relies on, and used as stored.
    const problem = jobDataProblem(job.data);
    if (problem !== undefined) throw new UnrecoverableError(`job data outside the contract: ${problem}`);
    const { submission, trace, scheduledFor } = job.data;
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
        // A job's first start finds nothing stored: no read. A retried or recovered (stalled) job
        // reads the results so far and skips those items; its status record is rebuilt if missing.
        const firstStart = job.attemptsStarted <= 1 && job.attemptsMade === 0 && job.stalledCounter === 0;
        const opened = firstStart
          ? { meta: undefined, results: new Map<string, InferResult>() }
          : await this.#o.store.open(id);
        const startedAt = this.#clock.now();
        // The status record the scheduler wrote (rebuilt from the job's own data when it is missing),
        // marked running; built when first written.
        const runningMeta = (): BatchMeta => ({
          ...(opened.meta ?? newBatchMeta(submission, "queued", scheduledFor)),
          status: "running",
          startedAt,
        });
        // "running" is written with the first stored results, or on its own once the batch has run
        // `runningMarkMs`, whichever comes first; a short batch goes from queued to completed in one
        // write (BullMQ's). The timer is stopped, and a mark in flight awaited, before completing.
        let running: Promise<void> | undefined;
        const unmark = this.#marks.add(() => {
          running ??= this.#o.store.save(runningMeta());
          running.catch(() => undefined);
        });
        const done = opened.results;
        const pending = submission.items.filter((item) => !done.has(item.id));
        const edge = submission.source === "edge" && submission.deviceId !== undefined;
        const size = Math.max(1, this.#o.chunkItems ?? DEFAULT_BATCH_CHUNK_ITEMS);
        // The last chunk's results go with the completion (the job's return value) instead of a write
        // of their own, unless a device must get its results first (edge batches publish what is
        // stored, then complete).
        let last: InferResult[] = [];
        try {
          for (let from = 0; from < pending.length; from += size) {
            const { results, retry } = await this.#runChunk(pending.slice(from, from + size));
            const final = from + size >= pending.length && retry === undefined && !edge;
            if (final) {
              unmark();
              last = results;
            } else {
              let status: BatchMeta | undefined;
              if (running === undefined) {
                unmark();
                status = runningMeta();
                running = Promise.resolve();
              }
              await running;
              await this.#o.store.putResults(id, results, status);
            }
            for (const r of results) done.set(r.id, r);
            if (results.length > 0) this.#o.metrics?.batch(submission.source, "item", results.length);
            if (retry !== undefined) throw retry;
          }
        } finally {
          unmark();
        }
        // A "running" mark in flight lands before the completion is even sent.
        await running;
        if (edge && submission.deviceId !== undefined)
          await this.#publish(submission.deviceId, id, submission.items, done);
        return jobResult(submission.items.length, startedAt, this.#clock.now(), last);
      },
      {
        parent: extractTraceContext(trace),
        attributes: { [ATTR_BATCH_ID]: submission.batchId, [ATTR_BATCH_SIZE]: submission.items.length },
      },
    );
  }

  /**
   * One chunk of items through the cascade together. A non-retryable error becomes that item's
   * refused result; a retryable one is handed back (after the chunk's other results are stored, the
   * job is retried).
   */
  async #runChunk(items: readonly BatchItem[]): Promise<{ results: InferResult[]; retry?: TiergateError }> {
    // Deadlines are real time; the injected clock only places batches in the off-peak windows.
    const deadlineAt = Date.now() + (this.#o.itemDeadlineMs ?? DEFAULT_BATCH_ITEM_DEADLINE_MS);
    const outcomes = await this.#gather.run(
      items.map((item) => ({
        id: item.id,
        task: item.task,
        input: item.input,
        deadlineAt,
        ...(item.edgeAttempts === undefined ? {} : { edgeAttempts: item.edgeAttempts }),
      })),
    );
    const results: InferResult[] = [];
    let retry: TiergateError | undefined;
    items.forEach((item, i) => {
      const outcome = outcomes[i];
      if (outcome?.type === "answered") {
        results.push(outcome.result);
        return;
      }
      const e = toTiergateError(outcome?.error);
      if (isRetryable(e.code)) retry ??= e;
      else results.push(refusedResult(item, e));
    });
    return retry === undefined ? { results } : { results, retry };
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
    const messages = items.flatMap((item) => {
      const result = results.get(item.id);
      if (result === undefined) return [];
      const msg = DeviceResultSchema.parse({ deviceId, batchId, requestId: item.id, result });
      return [{ id: item.id, data: encode(msg) }];
    });
    // Several acks awaited at a time; messages leave in item order on the one connection.
    for (let from = 0; from < messages.length; from += PUBLISH_IN_FLIGHT) {
      await Promise.all(
        messages
          .slice(from, from + PUBLISH_IN_FLIGHT)
          .map(async (m) => await js.publish(subject, m.data, { msgID: m.id })),
      );
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
    this.#marks.close();
  }
}

/** A batch item's answer when it is refused with a non-retryable error (by the cascade or the intake). */
export function refusedResult(item: BatchItem, e: TiergateError): InferResult {
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
