// Answers each request id once. An edge agent that timed out on one coordinator re-sends the same
// request id; whoever receives it first claims the id in Redis (SET NX), runs the cascade and stores
// the reply for a short window. A second receiver returns the stored reply, or — while the claim is
// held by a live coordinator — waits for it; a claim whose owner stopped heart-beating (it died
// mid-request) is taken over at once, so a retry is never stuck behind a dead process.
import { setTimeout as sleep } from "node:timers/promises";
import type { Redis } from "ioredis";
import { LuaScript } from "./lua.ts";

export const DEDUP_KEY_PREFIX = "tg:req:";
export const INSTANCE_KEY_PREFIX = "tg:inst:";
/** How long a stored reply answers repeats of its request id. */
export const DEFAULT_DEDUP_RESULT_TTL_MS = 120_000;
/** Longest a claim lives without its owner finishing (a safety net; liveness is the real test). */
export const DEFAULT_DEDUP_CLAIM_TTL_MS = 60_000;
/** How often a waiting receiver looks for the owner's reply. */
export const DEFAULT_DEDUP_POLL_MS = 10;
/** A coordinator counts as alive while its presence key exists; refreshed every third of this. */
export const DEFAULT_PRESENCE_TTL_MS = 1_000;

// → {1, reply} stored reply; {2} claimed by us (or ours already); {3, owner} held by another.
const BEGIN = new LuaScript(`
local r = redis.call('GET', KEYS[1])
if r then return {1, r} end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return {2} end
local owner = redis.call('GET', KEYS[2])
if owner == ARGV[1] then return {3, owner} end
if owner == false then return {4} end
return {3, owner}
`);
// Deletes the claim only when it is still held by ARGV[1].
const RELEASE = new LuaScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`);
// Stores the reply and drops the claim in one step.
const COMPLETE = new LuaScript(`
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('DEL', KEYS[2])
return 1
`);

export type DedupBegin =
  /** A reply for this id exists: send it again. */
  | { type: "answered"; reply: string }
  /** The caller owns the id: run the request, then `complete` or `release`. */
  | { type: "run" }
  /** The deadline passed while another live coordinator held the id. */
  | { type: "timeout"; owner: string };

export type RequestDedupOptions = {
  redis: Redis;
  instanceId: string;
  resultTtlMs?: number;
  claimTtlMs?: number;
  pollMs?: number;
  keyPrefix?: string;
  instanceKeyPrefix?: string;
  now?: () => number;
};

export class RequestDedup {
  readonly #redis: Redis;
  readonly #instanceId: string;
  readonly #resultTtlMs: number;
  readonly #claimTtlMs: number;
  readonly #pollMs: number;
  readonly #prefix: string;
  readonly #instancePrefix: string;
  readonly #now: () => number;

  constructor(options: RequestDedupOptions) {
    this.#redis = options.redis;
    this.#instanceId = options.instanceId;
    this.#resultTtlMs = options.resultTtlMs ?? DEFAULT_DEDUP_RESULT_TTL_MS;
    this.#claimTtlMs = options.claimTtlMs ?? DEFAULT_DEDUP_CLAIM_TTL_MS;
    this.#pollMs = options.pollMs ?? DEFAULT_DEDUP_POLL_MS;
    this.#prefix = options.keyPrefix ?? DEDUP_KEY_PREFIX;
    this.#instancePrefix = options.instanceKeyPrefix ?? INSTANCE_KEY_PREFIX;
    this.#now = options.now ?? Date.now;
  }

  #keys(requestId: string): [result: string, claim: string] {
    return [`${this.#prefix}${requestId}:r`, `${this.#prefix}${requestId}:c`];
  }

  async begin(requestId: string, deadlineAt: number): Promise<DedupBegin> {
    const keys = this.#keys(requestId);
    for (;;) {
      const raw = await BEGIN.run(this.#redis, keys, [this.#instanceId, this.#claimTtlMs]);
      const [kind, value] = Array.isArray(raw) ? (raw as [number, string | undefined]) : [0, undefined];
      if (kind === 1 && value !== undefined) return { type: "answered", reply: value };
      if (kind === 2) return { type: "run" };
      if (kind === 3 && value !== undefined) {
        const alive =
          value === this.#instanceId || (await this.#redis.exists(this.#instancePrefix + value)) === 1;
        if (!alive) {
          await RELEASE.run(this.#redis, [keys[1]], [value]);
          continue;
        }
        if (this.#now() >= deadlineAt) return { type: "timeout", owner: value };
        await sleep(this.#pollMs);
      }
      // kind 4: the claim vanished between SET NX and GET; try again.
    }
  }

  async complete(requestId: string, reply: string): Promise<void> {
    await COMPLETE.run(this.#redis, this.#keys(requestId), [reply, this.#resultTtlMs]);
  }

  /** Gives the id up without a reply (the request failed), so a retry may run it. */
  async release(requestId: string): Promise<void> {
    await RELEASE.run(this.#redis, [this.#keys(requestId)[1]], [this.#instanceId]);
  }
}

export type InstancePresenceOptions = {
  redis: Redis;
  instanceId: string;
  ttlMs?: number;
  keyPrefix?: string;
};

/** Keeps `tg:inst:<id>` alive while this coordinator runs; peers use it to take over a dead one's claims. */
export class InstancePresence {
  readonly #redis: Redis;
  readonly #key: string;
  readonly #ttlMs: number;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: InstancePresenceOptions) {
    this.#redis = options.redis;
    this.#key = (options.keyPrefix ?? INSTANCE_KEY_PREFIX) + options.instanceId;
    this.#ttlMs = options.ttlMs ?? DEFAULT_PRESENCE_TTL_MS;
  }

  async start(onError: (err: unknown) => void): Promise<void> {
    await this.#beat();
    this.#timer = setInterval(
      () => {
        this.#beat().catch(onError);
      },
      Math.max(1, Math.floor(this.#ttlMs / 3)),
    );
    this.#timer.unref();
  }

  async #beat(): Promise<void> {
    await this.#redis.set(this.#key, String(Date.now()), "PX", this.#ttlMs);
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#redis.del(this.#key);
  }
}
