// Exact-match answer cache. Keys combine the task, the policy version and the model version with the
// normalised input, so a policy reload or a new model never serves an answer made under the old one.
// LRU (a Map keeps insertion order; a hit re-inserts), with a TTL per entry and a bound in bytes.

export const DEFAULT_RESULT_CACHE_TTL_MS = 600_000;
export const DEFAULT_RESULT_CACHE_MAX_BYTES = 16 * 1024 * 1024;
/** Rough per-entry overhead (Map slot, entry object) added to the key and value sizes. */
export const CACHE_ENTRY_OVERHEAD_BYTES = 96;

export type CacheKeyParts = { task: string; policyVersion: string; modelVersion: string; input: string };

export type ResultCacheOptions<V> = {
  ttlMs?: number;
  maxBytes?: number;
  /** Size of a value in bytes; defaults to the UTF-8 length of its JSON. */
  sizeOf?: (value: V) => number;
  now?: () => number;
};

export type ResultCacheStats = {
  entries: number;
  bytes: number;
  hits: number;
  misses: number;
  evictions: number;
};

/** Unicode NFKC, lower case, whitespace collapsed and trimmed. */
export function normaliseInput(input: string): string {
  return input.normalize("NFKC").toLowerCase().replace(/\s+/gu, " ").trim();
}

export function cacheKey(parts: CacheKeyParts): string {
  return `${parts.task}\u0000${parts.policyVersion}\u0000${parts.modelVersion}\u0000${normaliseInput(parts.input)}`;
}

type Entry<V> = { value: V; bytes: number; expiresAtMs: number };

export class ResultCache<V> {
  readonly #entries = new Map<string, Entry<V>>();
  #ttlMs: number;
  #maxBytes: number;
  readonly #sizeOf: (value: V) => number;
  readonly #now: () => number;
  #bytes = 0;
  #hits = 0;
  #misses = 0;
  #evictions = 0;

  constructor(options: ResultCacheOptions<V> = {}) {
    this.#ttlMs = options.ttlMs ?? DEFAULT_RESULT_CACHE_TTL_MS;
    this.#maxBytes = options.maxBytes ?? DEFAULT_RESULT_CACHE_MAX_BYTES;
    this.#sizeOf = options.sizeOf ?? ((v) => Buffer.byteLength(JSON.stringify(v) ?? ""));
    this.#now = options.now ?? Date.now;
  }

  /** New limits (policy reload); shrinks at once when the byte bound fell. */
  configure(options: { ttlMs: number; maxBytes: number }): void {
    this.#ttlMs = options.ttlMs;
    this.#maxBytes = options.maxBytes;
    this.#evictToBound();
  }

  get(parts: CacheKeyParts): V | undefined {
    const key = cacheKey(parts);
    const entry = this.#entries.get(key);
    if (entry === undefined) {
      this.#misses++;
      return undefined;
    }
    this.#entries.delete(key);
    if (entry.expiresAtMs <= this.#now()) {
      this.#bytes -= entry.bytes;
      this.#misses++;
      return undefined;
    }
    this.#entries.set(key, entry);
    this.#hits++;
    return entry.value;
  }

  set(parts: CacheKeyParts, value: V): void {
    const key = cacheKey(parts);
    const bytes = key.length * 2 + this.#sizeOf(value) + CACHE_ENTRY_OVERHEAD_BYTES;
    this.#remove(key);
    if (bytes > this.#maxBytes) return;
    this.#entries.set(key, { value, bytes, expiresAtMs: this.#now() + this.#ttlMs });
    this.#bytes += bytes;
    this.#evictToBound();
  }

  clear(): void {
    this.#entries.clear();
    this.#bytes = 0;
  }

  stats(): ResultCacheStats {
    return {
      entries: this.#entries.size,
      bytes: this.#bytes,
      hits: this.#hits,
      misses: this.#misses,
      evictions: this.#evictions,
    };
  }

  #remove(key: string): void {
    const old = this.#entries.get(key);
    if (old === undefined) return;
    this.#entries.delete(key);
    this.#bytes -= old.bytes;
  }

  #evictToBound(): void {
    while (this.#bytes > this.#maxBytes) {
      const oldest = this.#entries.keys().next();
      if (oldest.done === true) break;
      this.#remove(oldest.value);
      this.#evictions++;
    }
  }
}
