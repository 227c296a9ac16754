// Batch status and results in Redis, read by GET /v1/batches/:id and written by the scheduler and
// the worker. Per-item results are kept as they finish, so a retried or recovered (stalled) job skips
// the items already answered. A job's last results and its completion are one write: the worker
// returns them as the BullMQ job's return value, which BullMQ stores in the job's hash in the same
// script that marks the job completed (so results are stored before, or rather with, completion);
// reads merge that record into the status and results.
import type { Redis } from "ioredis";
import { z } from "zod";
import {
  BatchSourceSchema,
  BatchStatusSchema,
  EpochMsSchema,
  ErrorInfoSchema,
  IdSchema,
  InferResultSchema,
  type BatchResult,
  type BatchStatus,
  type BatchSubmission,
  type ErrorInfo,
  type InferResult,
} from "@tiergate/shared";
import { LuaScript } from "../cache/lua.ts";
import {
  compactResult,
  expandResult,
  longNames,
  packResults,
  shortNames,
  unpackResults,
  type PackedResults,
} from "./result-pack.ts";

export const BATCH_KEY_PREFIX = "tg:batch:";
/** BullMQ queue of the batch jobs (the scheduler's and worker's default). */
export const DEFAULT_BATCH_QUEUE = "tg-batches";
/** Where BullMQ keeps a batch job's hash by default: `<BullMQ prefix>:<queue>:<job id>`. */
export const DEFAULT_BATCH_JOB_KEY_PREFIX = `bull:${DEFAULT_BATCH_QUEUE}:`;
// KEYS: results hash, status record. ARGV: retention ms, status JSON ("" = keep), then item id and
// result JSON pairs.
const PUT_RESULTS = new LuaScript(`
local n = #ARGV
if n > 2 then
  for i = 3, n, 1000 do redis.call('HSET', KEYS[1], unpack(ARGV, i, math.min(i + 999, n))) end
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
if ARGV[2] ~= '' then redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[1]) end
return 1
`);
// KEYS: status records. ARGV: retention ms, then each record's JSON. → 1 where created, 0 where it existed.
const CREATE_MANY = new LuaScript(`
local out = {}
for i = 1, #KEYS do
  out[i] = redis.call('SET', KEYS[i], ARGV[i + 1], 'PX', ARGV[1], 'NX') and 1 or 0
end
return out
`);
/** How long a batch's status and results stay readable. */
export const DEFAULT_BATCH_RETENTION_MS = 7 * 24 * 3_600_000;

export const BatchMetaSchema = z.strictObject({
  batchId: IdSchema,
  source: BatchSourceSchema,
  deviceId: IdSchema.optional(),
  status: BatchStatusSchema,
  itemIds: z.array(IdSchema),
  submittedAt: EpochMsSchema,
  scheduledFor: EpochMsSchema.optional(),
  startedAt: EpochMsSchema.optional(),
  completedAt: EpochMsSchema.optional(),
  error: ErrorInfoSchema.optional(),
});
export type BatchMeta = z.infer<typeof BatchMetaSchema>;

/**
 * A batch job's return value (stored by BullMQ with the job's completion): when it ran, by the
 * worker's clock, and the results not already in the results hash (the last chunk's, or all of a
 * one-chunk batch's), each without what it repeats of its own attempts (`compactResult`): one result
 * as it is, several packed (`packResults`: the first, then what each other one changes, ~5x smaller
 * for 50 results of one model call), under short names (`shortNames`: ~35% fewer bytes for one
 * result). BullMQ serialises a return value twice and Redis keeps it twice (the job's hash and the
 * events stream).
 */
export type BatchJobResult = {
  items: number;
  startedAt: number;
  completedAt: number;
  results?: InferResult[];
  packed?: PackedResults;
};
const BatchJobResultSchema = z.object({
  items: z.int().nonnegative(),
  startedAt: EpochMsSchema,
  completedAt: EpochMsSchema,
  // Each result is checked on its own (like the results hash's), so one bad entry drops only itself.
  results: z.array(z.unknown()).optional(),
  packed: z.unknown().optional(),
});

/** A `BatchJobResult` as a job returns it (and BullMQ stores it): under short names (`shortNames`). */
export type StoredJobResult = { readonly [name: string]: unknown };

/** The return value of a job whose last results are `results`. */
export function jobResult(
  items: number,
  startedAt: number,
  completedAt: number,
  results: readonly InferResult[],
): StoredJobResult {
  const stored = results.map((r) => compactResult(r));
  const result: BatchJobResult =
    stored.length > 1
      ? { items, startedAt, completedAt, packed: packResults(stored) }
      : { items, startedAt, completedAt, results: stored as InferResult[] };
  return shortNames(result) as StoredJobResult;
}

/** The status record of a batch that is stored but has not started. */
export function newBatchMeta(
  submission: BatchSubmission,
  status: "queued" | "delayed",
  scheduledFor: number,
): BatchMeta {
  return {
    batchId: submission.batchId,
    source: submission.source,
    status,
    itemIds: submission.items.map((i) => i.id),
    submittedAt: submission.submittedAt,
    scheduledFor,
    ...(submission.deviceId === undefined ? {} : { deviceId: submission.deviceId }),
  };
}

export type BatchStoreOptions = {
  redis: Redis;
  keyPrefix?: string;
  retentionMs?: number;
  /** `<BullMQ prefix>:<queue>:` of the batch jobs, whose completion records carry the last results. */
  jobKeyPrefix?: string;
};

/** A batch's three records as read from Redis in one round trip. */
type RawBatch = { meta: unknown; results: unknown; job: unknown };

/** A `putResults` script call waiting for the end of the current event-loop turn. */
type PendingWrite = { keys: string[]; args: string[]; resolve: () => void; reject: (err: unknown) => void };

export class BatchStore {
  #writes: PendingWrite[] = [];
  readonly #redis: Redis;
  readonly #prefix: string;
  readonly #retentionMs: number;
  readonly #jobPrefix: string;

  constructor(options: BatchStoreOptions) {
    this.#redis = options.redis;
    this.#prefix = options.keyPrefix ?? BATCH_KEY_PREFIX;
    this.#retentionMs = options.retentionMs ?? DEFAULT_BATCH_RETENTION_MS;
    this.#jobPrefix = options.jobKeyPrefix ?? DEFAULT_BATCH_JOB_KEY_PREFIX;
  }

  #meta(id: string): string {
    return `${this.#prefix}${id}:meta`;
  }
  #results(id: string): string {
    return `${this.#prefix}${id}:results`;
  }

  /** Stores `meta` unless the batch exists; true when it was created. */
  async create(meta: BatchMeta): Promise<boolean> {
    const ok = await this.#redis.set(
      this.#meta(meta.batchId),
      JSON.stringify(meta),
      "PX",
      this.#retentionMs,
      "NX",
    );
    return ok === "OK";
  }

  /** `create` for many batches in one command (a script, not a command each): whether each was created. */
  async createMany(metas: readonly BatchMeta[]): Promise<boolean[]> {
    if (metas.length === 1 && metas[0] !== undefined) return [await this.create(metas[0])];
    const replies = await CREATE_MANY.run(
      this.#redis,
      metas.map((m) => this.#meta(m.batchId)),
      [this.#retentionMs, ...metas.map((m) => JSON.stringify(m))],
    );
    if (!Array.isArray(replies) || replies.length !== metas.length)
      throw new Error("unexpected reply to the batch records' creation");
    return replies.map((r) => r === 1);
  }

  /** The status record, "completed" (with its times) once the job's completion is stored. */
  async meta(id: string): Promise<BatchMeta | undefined> {
    return (await this.#read(id, false)).meta;
  }

  /** Status record, stored results and the job's completion record, in one round trip. */
  async #read(
    id: string,
    withResults: boolean,
  ): Promise<{ meta: BatchMeta | undefined; results: Map<string, InferResult> }> {
    const multi = this.#redis.multi().get(this.#meta(id));
    if (withResults) multi.hgetall(this.#results(id));
    multi.hget(`${this.#jobPrefix}${id}`, "returnvalue");
    const replies = (await multi.exec()) ?? [];
    for (const [err] of replies) if (err !== null) throw err;
    const raw: RawBatch = withResults
      ? { meta: replies[0]?.[1], results: replies[1]?.[1], job: replies[2]?.[1] }
      : { meta: replies[0]?.[1], results: undefined, job: replies[1]?.[1] };
    return merged(raw);
  }

  async update(
    id: string,
    change: { status: BatchStatus; startedAt?: number; completedAt?: number; error?: ErrorInfo },
  ): Promise<void> {
    const meta = await this.meta(id);
    if (meta === undefined) return;
    await this.#redis.set(this.#meta(id), JSON.stringify({ ...meta, ...change }), "PX", this.#retentionMs);
  }

  /** Replaces the status record (the worker holds the job, so nobody else writes it meanwhile). */
  async save(meta: BatchMeta): Promise<void> {
    await this.#redis.set(this.#meta(meta.batchId), JSON.stringify(meta), "PX", this.#retentionMs);
  }

  /** The status record and the results so far, in one round trip. */
  async open(id: string): Promise<{ meta: BatchMeta | undefined; results: Map<string, InferResult> }> {
    return await this.#read(id, true);
  }

  /**
   * Stores results (by item id) in one round trip; with `meta`, the status record is replaced in the
   * same step (a script, so the last results and "completed" land together or not at all). Calls
   * made in the same turn of the event loop (jobs whose items shared a model call) share one
   * pipelined socket write; each resolves when its own script has run.
   */
  async putResults(id: string, results: readonly InferResult[], meta?: BatchMeta): Promise<void> {
    if (results.length === 0 && meta === undefined) return;
    const args: string[] = [String(this.#retentionMs), meta === undefined ? "" : JSON.stringify(meta)];
    for (const r of results) args.push(r.id, JSON.stringify(r));
    const keys = [this.#results(id), this.#meta(id)];
    await new Promise<void>((resolve, reject) => {
      this.#writes.push({ keys, args, resolve, reject });
      if (this.#writes.length > 1) return;
      setImmediate(() => {
        const group = this.#writes;
        this.#writes = [];
        void this.#write(group);
      });
    });
  }

  /** Writes queued in one turn of the event loop go out in one pipeline (one socket write). */
  async #write(group: PendingWrite[]): Promise<void> {
    if (group.length === 1) {
      const [w] = group as [PendingWrite];
      await PUT_RESULTS.run(this.#redis, w.keys, w.args).then(() => w.resolve(), w.reject);
      return;
    }
    const pipeline = this.#redis.pipeline();
    for (const w of group) pipeline.evalsha(PUT_RESULTS.sha, w.keys.length, ...w.keys, ...w.args);
    let replies: [Error | null, unknown][];
    try {
      replies = (await pipeline.exec()) ?? [];
    } catch (err) {
      for (const w of group) w.reject(err);
      return;
    }
    await Promise.all(
      group.map(async (w, i) => {
        const err = replies[i]?.[0] ?? null;
        // NOSCRIPT (a restarted Redis): the one-by-one path loads the script.
        if (err === null) w.resolve();
        else await PUT_RESULTS.run(this.#redis, w.keys, w.args).then(() => w.resolve(), w.reject);
      }),
    );
  }

  /** Results stored so far, by item id (with those stored with the job's completion). */
  async results(id: string): Promise<Map<string, InferResult>> {
    return (await this.#read(id, true)).results;
  }

  /** The API view: status plus results in submission order. */
  async view(id: string): Promise<BatchResult | undefined> {
    const { meta, results } = await this.#read(id, true);
    if (meta === undefined) return undefined;
    const view: BatchResult = {
      batchId: meta.batchId,
      status: meta.status,
      itemCount: meta.itemIds.length,
      results: meta.itemIds.flatMap((itemId) => {
        const r = results.get(itemId);
        return r === undefined ? [] : [r];
      }),
    };
    if (meta.scheduledFor !== undefined) view.scheduledFor = meta.scheduledFor;
    if (meta.startedAt !== undefined) view.startedAt = meta.startedAt;
    if (meta.completedAt !== undefined) view.completedAt = meta.completedAt;
    if (meta.error !== undefined) view.error = meta.error;
    return view;
  }
}

function parseResults(raw: Record<string, string>): Map<string, InferResult> {
  const out = new Map<string, InferResult>();
  for (const [itemId, json] of Object.entries(raw)) {
    const parsed = InferResultSchema.safeParse(JSON.parse(json));
    if (parsed.success) out.set(itemId, parsed.data);
  }
  return out;
}

/** Status and results from the three records; the job's completion record wins over the status. */
function merged(raw: RawBatch): { meta: BatchMeta | undefined; results: Map<string, InferResult> } {
  const parsedMeta =
    typeof raw.meta === "string" ? BatchMetaSchema.safeParse(JSON.parse(raw.meta)) : undefined;
  let meta = parsedMeta?.success === true ? parsedMeta.data : undefined;
  const results = parseResults(
    typeof raw.results === "object" && raw.results !== null ? (raw.results as Record<string, string>) : {},
  );
  const job =
    typeof raw.job === "string" ? BatchJobResultSchema.safeParse(longNames(JSON.parse(raw.job))) : undefined;
  if (meta !== undefined && job?.success === true) {
    // (A job that returned `{ items }` only, as before, fails the schema; its status record says
    // "completed" itself, and its results are all in the results hash.)
    if (meta.status !== "completed" && meta.status !== "failed")
      meta = {
        ...meta,
        status: "completed",
        startedAt: job.data.startedAt,
        completedAt: job.data.completedAt,
      };
    for (const r of job.data.results ?? unpackResults(job.data.packed)) {
      const parsed = InferResultSchema.safeParse(expandResult(r));
      if (parsed.success) results.set(parsed.data.id, parsed.data);
    }
  }
  return { meta, results };
}
