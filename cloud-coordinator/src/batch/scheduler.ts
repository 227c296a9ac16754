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
    const existing = await this.#o.store.meta(submission.batchId);
    if (existing !== undefined) {
      const outcome: SubmitOutcome = {
        type: "duplicate",
        batchId: submission.batchId,
        status: existing.status,
        scheduledFor: existing.scheduledFor ?? existing.submittedAt,
      };
      // The status record is written before the job; a record without its job (a crash in between)
      // is repaired by adding the job now.
      if (existing.status === "completed" || existing.status === "failed") return outcome;
      if ((await this.queue.getJob(submission.batchId)) !== undefined) return outcome;
    }

    const now = this.#clock.now();
    const windowDelay =
      this.#o.forceOffPeak === true ? 0 : offPeakDelayMs(new Date(now), policy.batch.offPeak);
    const scheduledFor = existing?.scheduledFor ?? now + windowDelay;
    const delay = Math.max(0, scheduledFor - now);
    const status: BatchStatus = delay > 0 ? "delayed" : "queued";
    const created =
      existing === undefined &&
      (await this.#o.store.create({
        batchId: submission.batchId,
        source: submission.source,
        status,
        itemIds: submission.items.map((i) => i.id),
        submittedAt: submission.submittedAt,
        scheduledFor,
        ...(submission.deviceId === undefined ? {} : { deviceId: submission.deviceId }),
      }));
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
