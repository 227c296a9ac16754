import { appendFile, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { encodeRecord } from "../storage/record-log.ts";
import { OutboxFlusher } from "./flusher.ts";
import { Outbox, type OutboxBatch } from "./outbox.ts";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "tg-outbox-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const texts = (batch: OutboxBatch | undefined) => batch?.items.map((i) => i.payload.toString()) ?? [];

describe("Outbox", () => {
  it("keeps undelivered items across a crash and re-forms the same sealed batch with the same id", async () => {
    const box = await Outbox.open({ dir });
    await Promise.all(Array.from({ length: 10 }, (_, i) => box.append(Buffer.from(`r${i}`))));
    const first = await box.nextBatch(4);
    expect(texts(first)).toEqual(["r0", "r1", "r2", "r3"]);
    // Crash before the batch was acknowledged: no close(), just open the directory again.
    const after = await Outbox.open({ dir });
    expect(after.depth).toBe(10);
    const replay = await after.nextBatch(6); // a different size now, but the sealed batch wins
    expect(replay?.id).toBe(first?.id);
    expect(texts(replay)).toEqual(texts(first));
    await after.ack(replay as OutboxBatch);
    const next = await after.nextBatch(100);
    expect(texts(next)).toEqual(["r4", "r5", "r6", "r7", "r8", "r9"]);
    expect(next?.id).not.toBe(first?.id);
    await after.close();
    await box.close();
  });

  it("never hands out a delivered item again, even after restart", async () => {
    const box = await Outbox.open({ dir });
    for (let i = 0; i < 5; i++) await box.append(Buffer.from(`r${i}`));
    await box.ack((await box.nextBatch(3)) as OutboxBatch);
    await box.close();
    const again = await Outbox.open({ dir });
    expect(again.depth).toBe(2);
    expect(texts(await again.nextBatch(10))).toEqual(["r3", "r4"]);
    await again.close();
  });

  it("recovers from a torn record at the end of the log", async () => {
    const box = await Outbox.open({ dir });
    await box.append(Buffer.from("kept"));
    await box.close();
    const logDir = join(dir, "log");
    const [segment] = await readdir(logDir);
    const torn = encodeRecord(1, 2, Date.now(), Buffer.from("lost in the crash"));
    await appendFile(join(logDir, segment ?? ""), torn.subarray(0, 11));
    const again = await Outbox.open({ dir });
    expect(again.recovery.truncatedBytes).toBe(11);
    expect(again.depth).toBe(1);
    await again.append(Buffer.from("new"));
    expect(texts(await again.nextBatch(10))).toEqual(["kept", "new"]);
    await again.close();
  });

  it("deletes fully delivered segments (compaction)", async () => {
    const box = await Outbox.open({ dir, maxSegmentBytes: 256 });
    for (let i = 0; i < 50; i++) await box.append(Buffer.alloc(32, i));
    const before = (await readdir(join(dir, "log"))).length;
    expect(before).toBeGreaterThan(5);
    for (let b = await box.nextBatch(20); b !== undefined; b = await box.nextBatch(20)) await box.ack(b);
    expect(box.depth).toBe(0);
    expect((await readdir(join(dir, "log"))).length).toBeLessThanOrEqual(1);
    await box.close();
  });

  it("cuts a batch at maxBytes, but always takes at least one item", async () => {
    const box = await Outbox.open({ dir });
    for (const n of [40, 40, 40, 200]) await box.append(Buffer.alloc(n));
    const sizes = async () => (await box.nextBatch(100, 100))?.items.map((i) => i.payload.length);
    const first = await box.nextBatch(100, 100);
    expect(first?.items.map((i) => i.payload.length)).toEqual([40, 40]);
    await box.ack(first as OutboxBatch);
    const second = await box.nextBatch(100, 100);
    expect(second?.items.map((i) => i.payload.length)).toEqual([40]);
    await box.ack(second as OutboxBatch);
    expect(await sizes()).toEqual([200]);
    await box.close();
  });

  it("refuses appends over its byte bound with OUTBOX_FULL and keeps what it holds", async () => {
    const box = await Outbox.open({ dir, maxPendingBytes: 10 });
    await box.append(Buffer.alloc(8));
    await expect(box.append(Buffer.alloc(8))).rejects.toMatchObject({ code: "OUTBOX_FULL" });
    expect(box.depth).toBe(1);
    await box.close();
  });
});

describe("OutboxFlusher", () => {
  it("sends a batch once maxItems wait, and the rest once the oldest is maxAgeMs old", async () => {
    const box = await Outbox.open({ dir });
    const sent: string[][] = [];
    const flusher = new OutboxFlusher({
      outbox: box,
      maxItems: 3,
      maxAgeMs: 50,
      publish: (b) => {
        sent.push(texts(b));
        return Promise.resolve();
      },
    });
    for (let i = 0; i < 4; i++) await box.append(Buffer.from(`r${i}`));
    await waitUntil(() => sent.length === 2 && box.depth === 0);
    expect(sent).toEqual([["r0", "r1", "r2"], ["r3"]]);
    expect(box.depth).toBe(0);
    await flusher.close();
    await box.close();
  });

  it("retries a failed batch with the same id until it goes through", async () => {
    const box = await Outbox.open({ dir });
    const ids: string[] = [];
    let failuresLeft = 3;
    const flusher = new OutboxFlusher({
      outbox: box,
      maxItems: 100,
      maxAgeMs: 1,
      retryMinMs: 5,
      publish: (b) => {
        ids.push(b.id);
        if (failuresLeft-- > 0) return Promise.reject(new Error("no responders"));
        return Promise.resolve();
      },
    });
    await box.append(Buffer.from("x"));
    await waitUntil(() => box.depth === 0);
    expect(ids).toHaveLength(4);
    expect(new Set(ids).size).toBe(1);
    await flusher.close();
    await box.close();
  });

  it("flush() sends everything regardless of thresholds, and reports false while the cloud is down", async () => {
    const box = await Outbox.open({ dir });
    let up = false;
    const flusher = new OutboxFlusher({
      outbox: box,
      maxItems: 1_000,
      maxAgeMs: 3_600_000,
      retryMinMs: 5,
      publish: () => (up ? Promise.resolve() : Promise.reject(new Error("down"))),
    });
    for (let i = 0; i < 10; i++) await box.append(Buffer.from(`r${i}`));
    expect(await flusher.flush(50)).toBe(false);
    expect(box.depth).toBe(10);
    up = true;
    expect(await flusher.flush(5_000)).toBe(true);
    await flusher.close();
    await box.close();
  });
});

async function waitUntil(cond: () => boolean, timeoutMs = 5_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > until) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 5));
  }
}
