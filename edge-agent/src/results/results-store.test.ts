import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ResultsStore } from "./results-store.ts";

type V = { status: string; n: number };
const decode = (json: unknown): V | undefined => {
  const v = json as Partial<V> | null;
  return v !== null && typeof v === "object" && typeof v.status === "string" && typeof v.n === "number"
    ? { status: v.status, n: v.n }
    : undefined;
};

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "tg-results-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("ResultsStore", () => {
  it("serves the newest value per id, also after a restart without close (crash)", async () => {
    const store = await ResultsStore.open<V>({ dir, decode });
    await store.put("a", { status: "deferred", n: 1 });
    await store.put("b", { status: "deferred", n: 2 });
    await store.put("a", { status: "answered", n: 3 });
    expect(store.get("a")).toEqual({ status: "answered", n: 3 });
    const again = await ResultsStore.open<V>({ dir, decode });
    expect(again.get("a")).toEqual({ status: "answered", n: 3 });
    expect(again.get("b")).toEqual({ status: "deferred", n: 2 });
    expect(again.get("missing")).toBeUndefined();
    await again.close();
    await store.close();
  });

  it("drops the oldest ids beyond maxEntries", async () => {
    const store = await ResultsStore.open<V>({ dir, decode, maxEntries: 3 });
    for (let i = 0; i < 5; i++) await store.put(`id${i}`, { status: "answered", n: i });
    expect(store.size).toBe(3);
    expect(store.get("id0")).toBeUndefined();
    expect(store.get("id4")).toEqual({ status: "answered", n: 4 });
    await store.close();
    const again = await ResultsStore.open<V>({ dir, decode, maxEntries: 3 });
    expect(again.size).toBe(3);
    await again.close();
  });

  it("compacts a log that is mostly overwritten values and keeps every live value", async () => {
    const store = await ResultsStore.open<V>({ dir, decode, compactMinBytes: 2_000 });
    for (let round = 0; round < 50; round++) {
      await Promise.all(["x", "y"].map((id) => store.put(id, { status: "answered", n: round })));
    }
    await store.close();
    const files = await readdir(dir);
    expect(files.length).toBeGreaterThanOrEqual(1);
    const again = await ResultsStore.open<V>({ dir, decode });
    expect(again.get("x")).toEqual({ status: "answered", n: 49 });
    expect(again.get("y")).toEqual({ status: "answered", n: 49 });
    expect(again.recovery.records).toBeLessThan(60);
    await again.close();
  });

  it("drops stored values that no longer decode", async () => {
    const store = await ResultsStore.open<unknown>({ dir, decode: (j) => j });
    await store.put("bad", { status: 1 });
    await store.put("good", { status: "answered", n: 1 });
    await store.close();
    const again = await ResultsStore.open<V>({ dir, decode });
    expect(again.recovery.dropped).toBe(1);
    expect(again.get("good")).toEqual({ status: "answered", n: 1 });
    await again.close();
  });
});
