// The coordinator's Redis pieces against a real redis-server: the per-key rate limiter, the result
// cache and request-id deduplication (including taking over a claim whose owner died).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Redis } from "ioredis";
import { z } from "zod";
import { InstancePresence, RedisRateLimiter, RequestDedup, ResultCache } from "@tiergate/cloud-coordinator";
import { startRedisServer, type RedisServerHandle } from "../index.ts";

let server: RedisServerHandle;
let redis: Redis;

beforeAll(async () => {
  server = await startRedisServer();
  redis = new Redis(server.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
});
afterAll(async () => {
  await redis?.quit();
  await server?.[Symbol.asyncDispose]();
});

describe("RedisRateLimiter", () => {
  it("lets a burst through, then limits with a retry hint, per key", async () => {
    const limiter = new RedisRateLimiter({ redis, perSecond: 1, burst: 3, keyPrefix: "t1:" });
    const a = [];
    for (let i = 0; i < 5; i++) a.push(await limiter.consume("alice"));
    expect(a.map((d) => d.type)).toEqual(["allowed", "allowed", "allowed", "limited", "limited"]);
    const limited = a[3];
    expect(limited?.type === "limited" && limited.retryAfterMs).toBeGreaterThan(0);
    expect(limited?.type === "limited" && limited.retryAfterMs).toBeLessThanOrEqual(1000);
    expect((await limiter.consume("bob")).type).toBe("allowed");
  });

  it("is one budget across limiter instances (two coordinators)", async () => {
    const one = new RedisRateLimiter({ redis, perSecond: 1, burst: 4, keyPrefix: "t2:" });
    const two = new RedisRateLimiter({ redis, perSecond: 1, burst: 4, keyPrefix: "t2:" });
    const decisions = await Promise.all([1, 2, 3, 4, 5, 6].map((i) => (i % 2 ? one : two).consume("k")));
    expect(decisions.filter((d) => d.type === "allowed")).toHaveLength(4);
  });

  it("refills over time", async () => {
    const limiter = new RedisRateLimiter({ redis, perSecond: 20, burst: 1, keyPrefix: "t3:" });
    expect((await limiter.consume("k")).type).toBe("allowed");
    const second = await limiter.consume("k");
    expect(second.type).toBe("limited");
    await new Promise((r) => setTimeout(r, second.type === "limited" ? second.retryAfterMs + 5 : 0));
    expect((await limiter.consume("k")).type).toBe("allowed");
  });
});

describe("ResultCache", () => {
  const schema = z.strictObject({ label: z.string(), confidence: z.number() });
  const parts = { task: "intent", policyVersion: "1.0", modelVersion: "m1", text: "What is my balance" };

  it("stores, finds by normalised text and misses on another model version", async () => {
    const cache = new ResultCache({ redis, schema, keyPrefix: "t4:" });
    expect(await cache.get(parts)).toEqual({ type: "miss" });
    await cache.set(parts, { label: "balance", confidence: 0.97 });
    expect(await cache.get({ ...parts, text: "  what IS my   balance" })).toEqual({
      type: "hit",
      value: { label: "balance", confidence: 0.97 },
    });
    expect(await cache.get({ ...parts, modelVersion: "m2" })).toEqual({ type: "miss" });
  });

  it("expires entries after their TTL", async () => {
    const cache = new ResultCache({ redis, schema, keyPrefix: "t5:", ttlMs: 50 });
    await cache.set(parts, { label: "x", confidence: 1 });
    expect(await redis.pttl(cache.key(parts))).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 80));
    expect((await cache.get(parts)).type).toBe("miss");
  });

  it("drops an entry that no longer matches the schema", async () => {
    const cache = new ResultCache({ redis, schema, keyPrefix: "t6:" });
    await redis.set(cache.key(parts), JSON.stringify({ label: 3 }));
    expect((await cache.get(parts)).type).toBe("miss");
    expect(await redis.exists(cache.key(parts))).toBe(0);
  });
});

describe("RequestDedup", () => {
  it("runs an id once and answers repeats with the stored reply", async () => {
    await using _presence = await presenceOf("a", "t7i:");
    const a = new RequestDedup({ redis, instanceId: "a", keyPrefix: "t7:", instanceKeyPrefix: "t7i:" });
    const b = new RequestDedup({ redis, instanceId: "b", keyPrefix: "t7:", instanceKeyPrefix: "t7i:" });
    expect(await a.begin("r1", Date.now() + 1000)).toEqual({ type: "run" });
    // b waits while a (alive) works, then gets a's reply.
    const waiting = b.begin("r1", Date.now() + 5000);
    await new Promise((r) => setTimeout(r, 50));
    await a.complete("r1", '{"label":"x"}');
    expect(await waiting).toEqual({ type: "answered", reply: '{"label":"x"}' });
    expect(await b.begin("r1", Date.now() + 1000)).toEqual({ type: "answered", reply: '{"label":"x"}' });
  });

  it("takes over at once when the owner is dead (no presence key)", async () => {
    const dead = new RequestDedup({ redis, instanceId: "dead", keyPrefix: "t8:", instanceKeyPrefix: "t8i:" });
    const live = new RequestDedup({ redis, instanceId: "live", keyPrefix: "t8:", instanceKeyPrefix: "t8i:" });
    expect(await dead.begin("r2", Date.now() + 1000)).toEqual({ type: "run" });
    // Behind a live owner this would poll until the deadline and answer "timeout".
    expect(await live.begin("r2", Date.now() + 5000)).toEqual({ type: "run" });
  });

  it("times out behind a live owner, and a released id can run again", async () => {
    await using _p = await presenceOf("slow", "t9i:");
    const slow = new RequestDedup({ redis, instanceId: "slow", keyPrefix: "t9:", instanceKeyPrefix: "t9i:" });
    const other = new RequestDedup({
      redis,
      instanceId: "other",
      keyPrefix: "t9:",
      instanceKeyPrefix: "t9i:",
    });
    expect(await slow.begin("r3", Date.now() + 1000)).toEqual({ type: "run" });
    expect(await other.begin("r3", Date.now() + 60)).toEqual({ type: "timeout", owner: "slow" });
    await slow.release("r3");
    expect(await other.begin("r3", Date.now() + 60)).toEqual({ type: "run" });
  });
});

async function presenceOf(instanceId: string, keyPrefix: string): Promise<AsyncDisposable> {
  const presence = new InstancePresence({ redis, instanceId, keyPrefix, ttlMs: 300 });
  await presence.start(() => undefined);
  return { [Symbol.asyncDispose]: async () => await presence.close() };
}
