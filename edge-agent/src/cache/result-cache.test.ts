import { describe, expect, it } from "vitest";
import { CACHE_ENTRY_OVERHEAD_BYTES, cacheKey, normaliseInput, ResultCache } from "./result-cache.ts";

const base = { task: "intent", policyVersion: "p1", modelVersion: "m1" };

describe("normaliseInput", () => {
  it.each([
    ["  What IS   my\tbalance \n", "what is my balance"],
    ["Ｆｕｌｌｗｉｄｔｈ", "fullwidth"],
    ["already normal", "already normal"],
  ])("%j → %j", (input, expected) => expect(normaliseInput(input)).toBe(expected));
});

describe("ResultCache", () => {
  it("hits on the same normalised text and misses on another task, policy or model version", () => {
    const cache = new ResultCache<string>();
    cache.set({ ...base, input: "Hello  World" }, "greeting");
    expect(cache.get({ ...base, input: " hello world " })).toBe("greeting");
    expect(cache.get({ ...base, task: "other", input: "hello world" })).toBeUndefined();
    expect(cache.get({ ...base, policyVersion: "p2", input: "hello world" })).toBeUndefined();
    expect(cache.get({ ...base, modelVersion: "m2", input: "hello world" })).toBeUndefined();
    expect(cache.stats()).toMatchObject({ hits: 1, misses: 3, entries: 1 });
  });

  it("expires entries after their TTL", () => {
    let now = 1_000;
    const cache = new ResultCache<string>({ ttlMs: 100, now: () => now });
    cache.set({ ...base, input: "a" }, "A");
    now += 99;
    expect(cache.get({ ...base, input: "a" })).toBe("A");
    now += 1;
    expect(cache.get({ ...base, input: "a" })).toBeUndefined();
    expect(cache.stats()).toMatchObject({ entries: 0, bytes: 0 });
  });

  it("evicts the least recently used entry to stay within its byte bound", () => {
    const entryBytes = (input: string) =>
      cacheKey({ ...base, input }).length * 2 + 10 + CACHE_ENTRY_OVERHEAD_BYTES;
    const cache = new ResultCache<string>({ maxBytes: entryBytes("a") * 2, sizeOf: () => 10 });
    cache.set({ ...base, input: "a" }, "A");
    cache.set({ ...base, input: "b" }, "B");
    expect(cache.get({ ...base, input: "a" })).toBe("A"); // a is now the most recent
    cache.set({ ...base, input: "c" }, "C");
    expect(cache.get({ ...base, input: "b" })).toBeUndefined();
    expect(cache.get({ ...base, input: "a" })).toBe("A");
    expect(cache.get({ ...base, input: "c" })).toBe("C");
    expect(cache.stats()).toMatchObject({ entries: 2, evictions: 1 });
    expect(cache.stats().bytes).toBeLessThanOrEqual(entryBytes("a") * 2);
  });

  it("never stores a value larger than the whole bound, and replacing a key keeps the byte count right", () => {
    const cache = new ResultCache<string>({ maxBytes: 500 });
    cache.set({ ...base, input: "big" }, "x".repeat(1_000));
    expect(cache.stats().entries).toBe(0);
    cache.set({ ...base, input: "k" }, "1");
    const once = cache.stats().bytes;
    cache.set({ ...base, input: "k" }, "2");
    expect(cache.stats().bytes).toBe(once);
    cache.configure({ ttlMs: 1000, maxBytes: 1 });
    expect(cache.stats()).toMatchObject({ entries: 0, bytes: 0 });
  });
});
