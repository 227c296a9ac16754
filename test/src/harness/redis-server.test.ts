import { existsSync } from "node:fs";
import { Redis } from "ioredis";
import { describe, expect, it } from "vitest";
import { HarnessError, HarnessErrorCode } from "./errors.ts";
import { startRedisServer } from "./redis-server.ts";
import { isProcessAlive } from "./util.ts";

async function withClient<T>(url: string, fn: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    return await fn(redis);
  } finally {
    redis.disconnect();
  }
}

describe("startRedisServer", () => {
  it("round-trips SET/GET and runs with noeviction and no snapshots", async () => {
    await using redis = await startRedisServer();
    expect(redis.url).toBe(`redis://127.0.0.1:${redis.port}`);
    await withClient(redis.url, async (client) => {
      await client.set("harness:key", "value");
      expect(await client.get("harness:key")).toBe("value");
      expect(await client.config("GET", "maxmemory-policy")).toEqual(["maxmemory-policy", "noeviction"]);
      expect(await client.config("GET", "save")).toEqual(["save", ""]);
    });
  });

  it("keeps data across restart() on the same port with appendonly", async () => {
    await using redis = await startRedisServer({ appendonly: true });
    const { url, port } = redis;
    await withClient(url, async (client) => {
      await client.set("harness:durable", "kept");
    });
    await redis.restart();
    expect(redis.port).toBe(port);
    expect(await withClient(url, async (client) => await client.get("harness:durable"))).toBe("kept");
  });

  it("loses data across restart() without appendonly (the default)", async () => {
    await using redis = await startRedisServer();
    await withClient(redis.url, async (client) => {
      await client.set("harness:volatile", "gone");
    });
    await redis.restart();
    expect(await withClient(redis.url, async (client) => await client.get("harness:volatile"))).toBeNull();
  });

  it("leaves no process and no dir after dispose", async () => {
    let pid: number;
    let dir: string;
    {
      await using redis = await startRedisServer();
      pid = redis.pid;
      dir = redis.dir;
      expect(isProcessAlive(pid)).toBe(true);
    }
    expect(() => process.kill(pid, 0)).toThrow(expect.objectContaining({ code: "ESRCH" }));
    expect(existsSync(dir)).toBe(false);
  });

  it("says how to install redis-server when the binary is missing", async () => {
    const err = await startRedisServer({ binary: "/nonexistent/redis-server" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HarnessError);
    expect((err as HarnessError).code).toBe(HarnessErrorCode.BinaryMissing);
    expect((err as HarnessError).message).toContain("apt-get update && apt-get install -y redis-server");
  });

  it("reports the server's own log when it exits early", async () => {
    const err = await startRedisServer({ args: ["--no-such-option", "1"] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HarnessError);
    expect((err as HarnessError).code).toBe(HarnessErrorCode.EarlyExit);
    expect((err as HarnessError).log).toMatch(/no-such-option/);
  });
});
