// Turns batch submissions (from the API and from edge agents) into BullMQ jobs. The job id is the
// batch id, so a repeated submission is not run twice; outside an off-peak window the job is delayed
// to the next window start, computed in the policy's time zone with the injected clock.
import { Queue, type JobsOptions } from "bullmq";
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
import { DEFAULT_BATCH_QUEUE, newBatchMeta, type BatchMeta, type BatchStore } from "./store.ts";

export { DEFAULT_BATCH_QUEUE };
export const BATCH_JOB_NAME = "batch";
/**
 * Length the queue's BullMQ events stream is trimmed to (approximately). BullMQ copies each completed
 * job's return value, which holds its last chunk of results (up to ~45 KB), into that stream and keeps
 * 10,000 entries by default: up to ~450 MB of Redis that nothing here reads (no QueueEvents).
 */
export const BATCH_EVENTS_MAX_LEN = 1000;
/**
 * Most submissions stored by one status-record script and one `addBulk` (a MULTI). A burst of
 * submissions is stored in chunks of this many, all in flight at once: Redis runs each chunk's
 * MULTI on its own, so the worker (and every other client) is served between chunks instead of
 * waiting out one MULTI of the whole burst (~25 ms for 1,000 jobs), and the first jobs start while
 * the rest are still being stored.
 */
export const STORE_CHUNK = 100;

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

type PendingSubmit = {
  submission: BatchSubmission;
  fresh: BatchMeta;
  now: number;
  scheduledFor: number;
  trace: Record<string, string>;
  attempts: number;
  backoffMs: number;
  resolve: (outcome: SubmitOutcome) => void;
  reject: (err: unknown) => void;
};

export class BatchScheduler {
  readonly queue: Queue<BatchJobData>;
  readonly #o: BatchSchedulerOptions;
  readonly #clock: Clock;
  #pending: PendingSubmit[] = [];
  #storing: Promise<void> | undefined;

  constructor(options: BatchSchedulerOptions) {
    this.#o = options;
    this.#clock = options.clock ?? systemClock;
    this.queue = new Queue<BatchJobData>(options.queueName ?? DEFAULT_BATCH_QUEUE, {
      connection: options.redis,
      streams: { events: { maxLen: BATCH_EVENTS_MAX_LEN } },
      ...(options.prefix === undefined ? {} : { prefix: options.prefix }),
    });
  }

  /**
   * Stores the batch as a job (idempotent by batch id). Resolves only once the job is in Redis.
   * Submissions that arrive while earlier ones are being stored (concurrent API requests) are
   * stored together next: per chunk of up to `STORE_CHUNK`, their status records in one script and
   * their jobs in one `addBulk`.
   */
  submit(submission: BatchSubmission): Promise<SubmitOutcome> {
    let entry: Omit<PendingSubmit, "resolve" | "reject">;
    try {
      entry = this.#prepare(submission);
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    return new Promise<SubmitOutcome>((resolve, reject) => {
      this.#pending.push({ ...entry, resolve, reject });
      if (this.#storing === undefined)
        this.#storing = this.#drain().finally(() => (this.#storing = undefined));
    });
  }

  /**
   * Stores what is pending (in chunks of `STORE_CHUNK`, together), then what arrived meanwhile (group
   * commit: no wait when idle).
   */
  async #drain(): Promise<void> {
    while (this.#pending.length > 0) {
      const group = this.#pending;
      this.#pending = [];
      const chunks: PendingSubmit[][] = [];
      for (let i = 0; i < group.length; i += STORE_CHUNK) chunks.push(group.slice(i, i + STORE_CHUNK));
      await Promise.all(
        chunks.map(
          async (chunk) =>
            // #store settles every submission itself; this only guards against the unforeseen.
            await this.#store(chunk).catch((err: unknown) => {
              for (const g of chunk) g.reject(err);
            }),
        ),
      );
    }
  }

  #prepare(submission: BatchSubmission): Omit<PendingSubmit, "resolve" | "reject"> {
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
    const fresh = newBatchMeta(submission, windowDelay > 0 ? "delayed" : "queued", now + windowDelay);
    return {
      submission,
      fresh,
      now,
      scheduledFor: now + windowDelay,
      trace: traceCarrier(),
      attempts: policy.batch.attempts,
      backoffMs: policy.batch.backoffMs,
    };
  }

  /** Status records first (SET NX: the one atomic "is this batch id new?"), jobs second. */
  async #store(group: PendingSubmit[]): Promise<void> {
    let created: boolean[];
    try {
      created = await this.#o.store.createMany(group.map((g) => g.fresh));
    } catch (err) {
      for (const g of group) g.reject(err);
      return;
    }
    const toAdd: { entry: PendingSubmit; outcome: SubmitOutcome }[] = [];
    await Promise.all(
      group.map(async (g, i) => {
        try {
          const isNew = created[i] === true;
          const id = g.submission.batchId;
          const existing = isNew ? g.fresh : await this.#o.store.meta(id);
          const scheduledFor = existing?.scheduledFor ?? g.scheduledFor;
          const status = existing?.status ?? g.fresh.status;
          const outcome: SubmitOutcome = {
            type: isNew ? "accepted" : "duplicate",
            batchId: id,
            status,
            scheduledFor,
          };
          // A record without its job (a crash between the two writes) is repaired by adding the job now.
          if (
            !isNew &&
            (status === "completed" || status === "failed" || (await this.queue.getJob(id)) !== undefined)
          )
            g.resolve(outcome);
          else toAdd.push({ entry: g, outcome });
        } catch (err) {
          g.reject(err);
        }
      }),
    );
    if (toAdd.length === 0) return;
    try {
      // Idempotent by jobId: a concurrent duplicate submission adds nothing.
      await this.queue.addBulk(
        toAdd.map(({ entry: g, outcome }) => ({
          name: BATCH_JOB_NAME,
          data: { submission: g.submission, trace: g.trace, scheduledFor: outcome.scheduledFor },
          opts: jobOptions(g, outcome.scheduledFor),
        })),
      );
      for (const { entry, outcome } of toAdd) entry.resolve(outcome);
    } catch (err) {
      for (const { entry } of toAdd) entry.reject(err);
    }
  }

  async close(): Promise<void> {
    await this.#storing;
    await this.queue.close();
  }
}

/**
 * A batch job's own BullMQ options: its id, retries and, outside an off-peak window, its delay.
 * How long a finished job is kept is the worker's option (BatchWorker: `removeOnComplete`), not
 * each job's: BullMQ packs, stores and decodes every job's options again on each move.
 */
function jobOptions(
  g: Pick<PendingSubmit, "submission" | "now" | "attempts" | "backoffMs">,
  scheduledFor: number,
): JobsOptions {
  const delay = scheduledFor - g.now;
  return {
    jobId: g.submission.batchId,
    attempts: g.attempts,
    backoff: { type: "exponential", delay: g.backoffMs },
    ...(delay > 0 ? { delay } : {}),
  };
}
