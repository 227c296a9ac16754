// The local stack itself: every part it starts is stopped and its temp dir removed, and logs are kept
// only when asked. (The full stack with models is exercised by the fault and bad-input tests.)
import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { Redis } from "ioredis";
import { describe, expect, it } from "vitest";
import { Stack, STANDIN_API_KEY } from "../../deploy/local/stack.ts";
import { isProcessAlive } from "../src/harness/util.ts";

describe("local stack (infrastructure only)", () => {
  it("starts nats-server and redis-server, then stops both and removes its dirs", async () => {
    const stack = await Stack.start({ infraOnly: true });
    const pids = [stack.nats?.pid ?? -1, stack.redis?.pid ?? -1];
    expect(pids.every((pid) => pid > 0 && isProcessAlive(pid))).toBe(true);
    expect(stack.nats?.url).toMatch(/^nats:\/\/127\.0\.0\.1:\d+$/);
    expect(existsSync(stack.dir)).toBe(true);
    const kept = await stack.stop();
    expect(kept).toBeUndefined();
    expect(pids.some((pid) => isProcessAlive(pid))).toBe(false);
    expect(existsSync(stack.dir)).toBe(false);
    expect(existsSync(stack.logDir)).toBe(false);
  });

  it("keeps the logs when asked and says where", async () => {
    const stack = await Stack.start({ infraOnly: true, keepLogs: true });
    const kept = await stack.stop();
    try {
      expect(kept).toBe(stack.logDir);
      expect((await readdir(stack.logDir)).sort()).toEqual(["nats-server.log", "redis-server.log"]);
    } finally {
      const { rm } = await import("node:fs/promises");
      await rm(stack.logDir, { recursive: true, force: true });
    }
  });

  it("restarts redis-server with its data (append-only) and nats-server on the same port", async () => {
    await using stack = await Stack.start({ infraOnly: true });
    const natsPort = stack.nats?.port;
    await stack.nats?.restart();
    expect(stack.nats?.port).toBe(natsPort);
    expect(stack.nats?.running).toBe(true);
    const redis = new Redis(stack.redis?.url ?? "", { maxRetriesPerRequest: null, lazyConnect: true });
    try {
      await redis.connect();
      await redis.set("tiergate:stack-test", "kept");
      await stack.redis?.restart();
      expect(await redis.get("tiergate:stack-test")).toBe("kept");
    } finally {
      redis.disconnect();
    }
  });

  it("starts the LLM stand-in and writes a policy copy whose LLM endpoints point at it", async () => {
    await using stack = await Stack.start({ coordinators: 0, deviceIds: [] });
    const models = (await (
      await fetch(`${stack.standin?.url ?? ""}/v1/models`, {
        headers: { authorization: `Bearer ${STANDIN_API_KEY}` },
      })
    ).json()) as { data: unknown[] };
    expect(models.data.length).toBeGreaterThan(0);
    const policy = JSON.parse(await readFile(stack.policyFile, "utf8")) as {
      llm: { endpoints: Record<string, { baseURL: string }> };
    };
    const urls = Object.values(policy.llm.endpoints).map((e) => e.baseURL);
    expect(urls.length).toBeGreaterThan(0);
    expect(new Set(urls)).toEqual(new Set([`${stack.standin?.url ?? ""}/v1`]));
  });
});
