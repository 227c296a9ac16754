// A redis-server restart in the middle of a run of batches: every batch still completes (BullMQ keeps
// its jobs in Redis's append-only file; clients reconnect; a job that failed meanwhile is retried and
// skips the items it had already answered).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../index.ts";
import { API_KEY, TASK, pickTexts, startFixture, type Fixture, FIXTURE_TIMEOUT_MS } from "./fixture.ts";

const BATCHES = 12;
const ITEMS = 3;
let f: Fixture;
let url: string;
let texts: string[];

beforeAll(async () => {
  f = await startFixture({}, { redisAppendonly: true, llmLatencyMs: 60 });
  texts = (await pickTexts(f.mediumDir, f.gold, 20)).unsure;
  const c = await f.startCoordinator({
    subjectPrefix: "rr",
    keyPrefix: "rr:",
    escalations: false,
    forceOffPeak: true,
    listen: { host: "127.0.0.1", port: 0 },
  });
  url = c.url ?? "";
}, FIXTURE_TIMEOUT_MS);
afterAll(async () => {
  await f?.[Symbol.asyncDispose]();
});

describe("batches across a redis-server restart", () => {
  it("completes every batch", async () => {
    for (let b = 0; b < BATCHES; b++) {
      const items = Array.from({ length: ITEMS }, (_, i) => ({
        id: `rr-${b}-${i}`,
        task: TASK,
        input: texts[(b + i) % texts.length],
      }));
      const res = await fetch(`${url}/v1/batches`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${API_KEY}` },
        body: JSON.stringify({ batchId: `rr-${b}`, items }),
      });
      expect(res.status).toBe(202);
    }
    const store = await f.batchStore("rr:");
    const statuses = async (): Promise<string[]> =>
      await Promise.all(
        Array.from({ length: BATCHES }, async (_, b) => (await store.meta(`rr-${b}`))?.status ?? "missing"),
      );
    await waitFor(async () => (await statuses()).includes("completed"), {
      message: "a first batch to complete",
    });
    expect((await statuses()).filter((s) => s === "completed").length).toBeLessThan(BATCHES);

    await f.redis.restart();

    await waitFor(async () => (await statuses()).every((s) => s === "completed"), {
      timeoutMs: 60_000,
      message: "every batch to complete",
    });
    for (let b = 0; b < BATCHES; b++) {
      const view = await store.view(`rr-${b}`);
      expect(view?.results.map((r) => r.id)).toEqual(Array.from({ length: ITEMS }, (_, i) => `rr-${b}-${i}`));
      expect(view?.results.every((r) => r.status === "answered")).toBe(true);
    }
  });
});
