// Turns batch submissions (from the API and from edge agents) into BullMQ jobs. The job id is the
// batch id, so a repeated submission is not run twice; outside an off-peak window the job is delayed
// to the next window start, computed in the policy's time zone with the injected clock.
import { Queue } from "bullmq";
import type { Redis } from "ioredis";
import { z } from "zod";
import {
  BatchSubmissionSchema,
  ErrorCode,
  TiergateError,
  traceCarrier,
  type BatchStatus,
  type BatchSubmission,
  type LoadedPolicy,
} from "@tiergate/shared";
import type { Clock } from "../escalation/types.ts";
import { systemClock } from "../escalation/types.ts";
import { offPeakDelayMs } from "./off-peak.ts";
import { DEFAULT_BATCH_RETENTION_MS, type BatchStore } from "./store.ts";

export const DEFAULT_BATCH_QUEUE = "tg-batches";
export const BATCH_JOB_NAME = "batch";

/** What a BullMQ job carries: the submission, the trace it continues, and when it was meant to run. */
export const BatchJobDataSchema = z.strictObject({
  submission: BatchSubmissionSchema,
  trace: z.record(z.string(), z.string()),
  scheduledFor: z.int().nonnegative(),
});
export type BatchJobData = z.infer<typeof BatchJobDataSchema>;

export type SubmitOutcome = {
  type: "accepted" | "duplicate";
  batchId: string;
  status: BatchStatus;
  /** When it runs (epoch ms, by the injected clock). */
  scheduledFor: number;
};

export type BatchSchedulerOptions = {
  redis: Redis;
  store: BatchStore;
  policy: () => LoadedPolicy;
  queueName?: string;
  /** BullMQ key prefix (test isolation). */
  prefix?: string;
  clock?: Clock;
  /** Run every batch at once, ignoring the windows (demo, operator override). */
  forceOffPeak?: boolean;
};

export class BatchScheduler {
  readonly queue: Queue<BatchJobData>;
  readonly #o: BatchSchedulerOptions;
  readonly #clock: Clock;

  constructor(options: BatchSchedulerOptions) {
    this.#o = options;
    this.#clock = options.clock ?? systemClock;
    this.queue = new Queue<BatchJobData>(options.queueName ?? DEFAULT_BATCH_QUEUE, {
      connection: options.redis,
      ...(options.prefix === undefined ? {} : { prefix: options.prefix }),
    });
  }

  /** Stores the batch as a job (idempotent by batch id). Resolves only once the job is in Redis. */
  async submit(submission: BatchSubmission): Promise<SubmitOutcome> {
    const { policy } = this.#o.policy();
    const max = policy.batch.maxItems;
    if (submission.items.length > max)
      throw new TiergateError(
        ErrorCode.REFUSED_BY_POLICY,
        `batch has ${submission.items.length} items; the policy allows ${max}`,
        {
          details: [{ path: ["items"], message: `at most ${max} items` }],
        },
      );
    for (const [i, item] of submission.items.entries()) {
      if (!Object.hasOwn(policy.tasks, item.task))
        throw new TiergateError(ErrorCode.UNKNOWN_TASK, `task "${item.task}" is not in the policy`, {
          details: [{ path: ["items", i, "task"], message: "unknown task" }],
        });
    }
    const now = this.#clock.now();
    const windowDelay =
      this.#o.forceOffPeak === true ? 0 : offPeakDelayMs(new Date(now), policy.batch.offPeak);
    const freshStatus: BatchStatus = windowDelay > 0 ? "delayed" : "queued";
    const fresh = {
      batchId: submission.batchId,
      source: submission.source,
      status: freshStatus,
      itemIds: submission.items.map((i) => i.id),
      submittedAt: submission.submittedAt,
      scheduledFor: now + windowDelay,
      ...(submission.deviceId === undefined ? {} : { deviceId: submission.deviceId }),
    };
    // The status record first (SET NX: the one atomic "is this batch id new?"), the job second.
    const created = await this.#o.store.create(fresh);
    const existing = created ? fresh : await this.#o.store.meta(submission.batchId);
    const scheduledFor = existing?.scheduledFor ?? fresh.scheduledFor;
    const status = existing?.status ?? fresh.status;
    if (!created) {
      const outcome: SubmitOutcome = { type: "duplicate", batchId: submission.batchId, status, scheduledFor };
      // A record without its job (a crash between the two writes) is repaired by adding the job now.
      if (status === "completed" || status === "failed") return outcome;
      if ((await this.queue.getJob(submission.batchId)) !== undefined) return outcome;
    }
    const delay = Math.max(0, scheduledFor - now);
    // Idempotent by jobId: a concurrent duplicate submission adds nothing.
    await this.queue.add(
      BATCH_JOB_NAME,
      { submission, trace: traceCarrier(), scheduledFor },
      {
        jobId: submission.batchId,
        delay,
        attempts: policy.batch.attempts,
        backoff: { type: "exponential", delay: policy.batch.backoffMs },
        removeOnComplete: { age: DEFAULT_BATCH_RETENTION_MS / 1000 },
        removeOnFail: { age: DEFAULT_BATCH_RETENTION_MS / 1000 },
      },
    );
    return { type: created ? "accepted" : "duplicate", batchId: submission.batchId, status, scheduledFor };
  }

  async close(): Promise<void> {
    await this.queue.close();
  }
}
