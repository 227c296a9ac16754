// redis-server restarted during batch processing (append-only, so queued jobs survive): every
// batch submitted to the coordinator's API completes with exactly one result per item.
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BatchResultSchema, type BatchResult } from "@tiergate/shared";
import type { HttpService, Stack } from "../../../deploy/local/stack.ts";
import {
  E2E_API_KEY,
  fullStackMissing,
  postJson,
  send,
  STACK_TIMEOUT_MS,
  startE2eStack,
  TASK,
} from "../support.ts";
import { rows } from "../traffic.ts";

const BATCHES = 8;
const ITEMS_PER_BATCH = 100;
/** The stand-in answers slowly so that the batches are still running when Redis goes down. */
const STANDIN_LATENCY_MS = 40;
const DOWN_MS = 2_000;
const AUTH = { authorization: `Bearer ${E2E_API_KEY}` };
const missing = fullStackMissing();

async function view(coordinator: HttpService, id: string): Promise<BatchResult | undefined> {
  const r = await send(`${coordinator.url}/v1/batches/${id}`, { method: "GET", headers: AUTH }).catch(
    () => undefined,
  );
  const parsed = BatchResultSchema.safeParse(r?.body);
  return parsed.success ? parsed.data : undefined;
}

describe.skipIf(missing !== undefined)(
  `fault: redis-server restarted during batch processing${missing === undefined ? "" : ` (skipped: ${missing})`}`,
  () => {
    let stack: Stack | undefined;
    beforeAll(async () => {
      stack = await startE2eStack({
        deviceIds: [],
        coordinators: 1,
        offPeakNow: true,
        standinArgs: ["--latency-ms", String(STANDIN_LATENCY_MS)],
      });
    }, STACK_TIMEOUT_MS);
    afterAll(async () => {
      await stack?.stop();
    });

    it("completes every job with one result per item", async () => {
      const s = stack as Stack;
      const coordinator = s.coordinators[0] as HttpService;
      const redis = s.redis;
      if (redis === undefined) throw new Error("no redis-server");
      const all = await rows();
      const submitted = new Map<string, string[]>();
      for (let b = 0; b < BATCHES; b += 1) {
        const batchId = `redis-restart-${b}`;
        const items = all.slice(b * ITEMS_PER_BATCH, (b + 1) * ITEMS_PER_BATCH).map((row, i) => ({
          id: `${batchId}-${i}`,
          task: TASK,
          input: row.text,
        }));
        const r = await postJson(`${coordinator.url}/v1/batches`, { batchId, items }, AUTH);
        expect(r.status, r.text).toBe(202);
        submitted.set(
          batchId,
          items.map((i) => i.id),
        );
      }
      // Wait until work is under way, then take Redis away and bring it back with its data.
      const first = [...submitted.keys()][0] as string;
      for (let i = 0; i < 100; i += 1) {
        const v = await view(coordinator, first);
        if (v !== undefined && v.status !== "queued" && v.status !== "delayed") break;
        await sleep(50);
      }
      const beforeStop = await Promise.all(
        [...submitted.keys()].map(async (id) => (await view(coordinator, id))?.status),
      );
      await redis.stop();
      // The restart really lands mid-processing: some batches were not finished when Redis went away.
      expect(beforeStop.filter((status) => status !== "completed").length).toBeGreaterThan(0);
      await sleep(DOWN_MS);
      await redis.restart();

      const deadline = Date.now() + 150_000;
      const done = new Map<string, BatchResult>();
      while (done.size < submitted.size && Date.now() < deadline) {
        for (const id of submitted.keys()) {
          if (done.has(id)) continue;
          const v = await view(coordinator, id);
          if (v?.status === "completed" || v?.status === "failed") done.set(id, v);
        }
        await sleep(500);
      }
      expect([...submitted.keys()].filter((id) => done.get(id)?.status !== "completed")).toEqual([]);
      for (const [id, items] of submitted) {
        const ids = (done.get(id)?.results ?? []).map((r) => r.id);
        expect(ids.length, id).toBe(items.length);
        expect(new Set(ids)).toEqual(new Set(items));
      }
    }, 240_000);
  },
);
