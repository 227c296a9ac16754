// Redis result cache for cloud answers. The key binds everything that could change the answer: the
// task, the policy version, the version of the model set that answered, and the normalised text
// (hashed, so no request text is kept in key names). Values are parsed with the caller's schema on
// the way out; an entry that no longer parses is deleted and counts as a miss.
import { createHash } from "node:crypto";
import type { Redis } from "ioredis";
import type { z } from "zod";

export const RESULT_CACHE_KEY_PREFIX = "tg:cache:v1:";
export const DEFAULT_RESULT_CACHE_TTL_MS = 600_000;

export type CacheKeyParts = {
  task: string;
  policyVersion: string;
  /** Version of the cloud tiers that can answer (e.g. the medium model's version plus the LLM models). */
  modelVersion: string;
  text: string;
};

/** Unicode NFKC, lower case, inner whitespace collapsed, trimmed: "  Hello\tWORLD " and "hello world" share an entry. */
export function normaliseText(text: string): string {
  return text.normalize("NFKC").toLowerCase().replace(/\s+/gu, " ").trim();
}

export function resultCacheKey(parts: CacheKeyParts, prefix: string = RESULT_CACHE_KEY_PREFIX): string {
  const h = createHash("sha256");
  for (const p of [parts.task, parts.policyVersion, parts.modelVersion, normaliseText(parts.text)]) {
    h.update(p, "utf8").update("\u0000");
  }
  // The task stays readable so an operator can drop one task's entries with SCAN MATCH.
  return `${prefix}${parts.task}:${h.digest("hex")}`;
}

export type ResultCacheOptions<S extends z.ZodType> = {
  redis: Redis;
  schema: S;
  ttlMs?: number;
  keyPrefix?: string;
};

export type CacheLookup<T> = { type: "hit"; value: T } | { type: "miss" };

export class ResultCache<S extends z.ZodType> {
  readonly #redis: Redis;
  readonly #schema: S;
  readonly #ttlMs: number;
  readonly #prefix: string;

  constructor(options: ResultCacheOptions<S>) {
    this.#redis = options.redis;
    this.#schema = options.schema;
    this.#ttlMs = options.ttlMs ?? DEFAULT_RESULT_CACHE_TTL_MS;
    this.#prefix = options.keyPrefix ?? RESULT_CACHE_KEY_PREFIX;
  }

  key(parts: CacheKeyParts): string {
    return resultCacheKey(parts, this.#prefix);
  }

  async get(parts: CacheKeyParts): Promise<CacheLookup<z.output<S>>> {
    const key = this.key(parts);
    const raw = await this.#redis.get(key);
    if (raw === null) return { type: "miss" };
    const value = this.#parse(raw);
    if (value.type === "miss") await this.#redis.del(key);
    return value;
  }

  async set(parts: CacheKeyParts, value: z.input<S>, ttlMs: number = this.#ttlMs): Promise<void> {
    await this.#redis.set(this.key(parts), JSON.stringify(value), "PX", ttlMs);
  }

  /** `get` for many keys (from `key`) in one round trip (MGET); entries that no longer parse are deleted. */
  async getMany(keys: readonly string[]): Promise<CacheLookup<z.output<S>>[]> {
    if (keys.length === 0) return [];
    const raws = await this.#redis.mget(...keys);
    const stale: string[] = [];
    const out = keys.map((key, i): CacheLookup<z.output<S>> => {
      const raw = raws[i];
      if (raw === null || raw === undefined) return { type: "miss" };
      const value = this.#parse(raw);
      if (value.type === "miss") stale.push(key);
      return value;
    });
    if (stale.length > 0) await this.#redis.del(...stale);
    return out;
  }

  /** `set` for many entries (keys from `key`) in one round trip. */
  async setMany(
    entries: readonly { key: string; value: z.input<S> }[],
    ttlMs: number = this.#ttlMs,
  ): Promise<void> {
    if (entries.length === 0) return;
    const pipeline = this.#redis.pipeline();
    for (const e of entries) pipeline.set(e.key, JSON.stringify(e.value), "PX", ttlMs);
    const replies = (await pipeline.exec()) ?? [];
    const failed = replies.find(([err]) => err !== null)?.[0];
    if (failed !== undefined && failed !== null) throw failed;
  }

  #parse(raw: string): CacheLookup<z.output<S>> {
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch {
      json = undefined;
    }
    const parsed = this.#schema.safeParse(json);
    return parsed.success ? { type: "hit", value: parsed.data } : { type: "miss" };
  }
}
