// A batch runs its items through the cloud tiers together (a chunk at a time: one cache lookup, one
// model call, the LLM for the unsure ones), and each item must still get what it would get sent on
// its own: the same tier, label, confidence, cost and cache behaviour. An item the policy refuses
// gets a refused result of its own; an item whose LLM call fails retries the job, and the retry
// runs only the items without a stored result.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { STORE_CHUNK, type Coordinator } from "@tiergate/cloud-coordinator";
import {
  BatchResultSchema,
  toTiergateError,
  type BatchResult,
  type BatchSubmission,
  type InferResult,
} from "@tiergate/shared";
import { waitFor } from "../index.ts";
import { API_KEY, TASK, pickTexts, startFixture, type Fixture, FIXTURE_TIMEOUT_MS } from "./fixture.ts";

let f: Fixture;
/** Runs requests one at a time (its own result cache). */
let single: Coordinator;
/** Runs batches (its own result cache); HTTP API. */
let batches: Coordinator;
let texts: { confident: string[]; unsure: string[] };

beforeAll(async () => {
  f = await startFixture();
  texts = await pickTexts(f.mediumDir, f.gold, 20);
  single = await f.startCoordinator({
    subjectPrefix: "bc1",
    keyPrefix: "bc1:",
    escalations: false,
    batches: false,
  });
  batches = await f.startCoordinator({
    subjectPrefix: "bc2",
    keyPrefix: "bc2:",
    escalations: false,
    forceOffPeak: true,
    listen: { host: "127.0.0.1", port: 0 },
  });
}, FIXTURE_TIMEOUT_MS);
afterAll(async () => {
  await f?.[Symbol.asyncDispose]();
});

type Item = { id: string; task: string; input: string };

async function runBatch(batchId: string, items: Item[]): Promise<BatchResult> {
  const res = await fetch(`${batches.url ?? ""}/v1/batches`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${API_KEY}` },
    body: JSON.stringify({ batchId, items }),
  });
  expect(res.status, await res.clone().text()).toBe(202);
  return await waitFor(
    async () => {
      const r = await fetch(`${batches.url ?? ""}/v1/batches/${batchId}`, {
        headers: { authorization: `Bearer ${API_KEY}` },
      });
      const view = BatchResultSchema.parse(await r.json());
      return (view.status === "completed" || view.status === "failed") && view;
    },
    { timeoutMs: 60_000, message: `batch ${batchId} to finish` },
  );
}

/** A result without what differs from run to run (timings, durations, trace id). */
function comparable(r: InferResult): unknown {
  const { timings: _t, traceId: _id, attempts, ...rest } = r;
  return { ...rest, attempts: attempts.map(({ durationMs: _d, ...a }) => a) };
}

async function mediumCalls(): Promise<number> {
  const metric = await batches.metrics.registry
    .getSingleMetric("tiergate_coordinator_tier_calls_total")
    ?.get();
  return metric?.values.filter((v) => v.labels["tier"] === "medium").reduce((n, v) => n + v.value, 0) ?? 0;
}

describe("batch items through the cascade together", () => {
  it("gives every item the answer it gets on its own, across chunks and repeats", async () => {
    // More than one chunk (64 items); texts the model is sure of, unsure of (LLM) and out of scope;
    // repeats within a chunk and across chunks (the result cache answers them); one input over the
    // task's maxInputBytes; one blank input (the model refuses it, and only it).
    const pool = [
      ...texts.confident.slice(0, 10),
      ...texts.unsure.slice(0, 10),
      ...[...f.gold.keys()].slice(0, 60),
    ];
    const inputs = [...pool.slice(0, 70), pool[3], pool[12], pool[0], "x".repeat(5000), "   ", pool[69]];
    const items: Item[] = inputs.map((input, i) => ({ id: `bc-${i}`, task: TASK, input: input ?? "" }));

    const alone = new Map<string, InferResult | { code: string }>();
    for (const item of items) {
      try {
        alone.set(item.id, await single.cascade.run({ ...item, deadlineAt: Date.now() + 60_000 }));
      } catch (err) {
        alone.set(item.id, { code: toTiergateError(err).code });
      }
    }
    const view = await runBatch("bc-same", items);

    expect(view.status).toBe("completed");
    expect(view.results.map((r) => r.id)).toEqual(items.map((i) => i.id));
    for (const r of view.results) {
      const expected = alone.get(r.id);
      if (expected !== undefined && "code" in expected) {
        expect(r.status, r.id).toBe("refused");
        expect(r.error?.code, r.id).toBe(expected.code);
      } else {
        expect(comparable(r), r.id).toEqual(comparable(expected as InferResult));
      }
    }
    // The repeats came from the cache, at no cost; the LLM answered some items, the model others.
    for (const id of ["bc-70", "bc-71", "bc-72", "bc-75"]) {
      const r = view.results.find((x) => x.id === id);
      expect(r?.cached, id).toBe(true);
      expect(r?.costUsd, id).toBe(0);
    }
    expect(view.results.find((r) => r.id === "bc-73")?.error?.code).toBe("INPUT_TOO_LARGE");
    expect(view.results.find((r) => r.id === "bc-74")?.error?.code).toBe("VALIDATION_FAILED");
    const kinds = new Set(view.results.map((r) => r.servedBy?.kind));
    expect(kinds).toContain("llm");
    expect(kinds).toContain("model");
  });

  it("retries after an LLM failure and runs only the items without a result", async () => {
    // Texts the first test did not use, so that the result cache does not answer them.
    const used = new Set([
      ...texts.confident.slice(0, 10),
      ...texts.unsure.slice(0, 10),
      ...[...f.gold.keys()].slice(0, 60),
    ]);
    const confident = texts.confident.filter((t) => !used.has(t));
    const unsure = texts.unsure.filter((t) => !used.has(t));
    const items: Item[] = [confident[0], confident[1], unsure[0], confident[2]].map((input, i) => ({
      id: `bc-retry-${i}`,
      task: TASK,
      input: input ?? "",
    }));
    expect(items.every((i) => i.input !== "")).toBe(true);
    const mediumBefore = await mediumCalls();
    f.standin.resetStats();
    // The unsure item's LLM call and both its retries fail: the job fails once and is retried.
    f.standin.setFaults({ sequence: ["500", "500", "500"] });
    try {
      const view = await runBatch("bc-retry", items);
      expect(view.status).toBe("completed");
      expect(view.results.map((r) => r.id)).toEqual(items.map((i) => i.id));
      expect(view.results.every((r) => r.status === "answered")).toBe(true);
      expect(view.results[2]?.servedBy?.kind).toBe("llm");
      // The results of the first run were kept: a re-run would have found them in the result cache.
      expect(view.results.map((r) => r.cached)).toEqual([false, false, false, false]);
      // Four items through the medium model on the first run, only the unsure one on the retry.
      expect((await mediumCalls()) - mediumBefore).toBe(5);
      expect(f.standin.stats().chatRequests).toBe(4);
    } finally {
      f.standin.setFaults({});
    }
  });
});

describe("a burst of submissions", () => {
  it("stores more than a chunk's worth at once, runs each batch once and answers repeats as duplicates", async () => {
    // Submitted together, the burst is stored in chunks of STORE_CHUNK, all in flight at once; the
    // repeats of three ids land in other chunks than their first submission.
    const { store, scheduler } = await f.batchClient("bc2:");
    try {
      const n = STORE_CHUNK * 2 + 50;
      const inputs = [...f.gold.keys()];
      const sub = (i: number): BatchSubmission => ({
        batchId: `burst-${i}`,
        source: "api",
        submittedAt: Date.now(),
        items: [{ id: `burst-${i}-0`, task: TASK, input: inputs[i % inputs.length] ?? "" }],
      });
      const repeats = [1, STORE_CHUNK + 1, n - 1];
      const before = batches.batchesCompleted;
      const outcomes = await Promise.all(
        [...Array.from({ length: n }, (_, i) => i), ...repeats].map(
          async (i) => await scheduler.submit(sub(i)),
        ),
      );
      expect(outcomes.filter((o) => o.type === "accepted")).toHaveLength(n);
      expect(outcomes.slice(n).map((o) => [o.batchId, o.type])).toEqual(
        repeats.map((i) => [`burst-${i}`, "duplicate"]),
      );
      await waitFor(() => batches.batchesCompleted >= before + n, {
        timeoutMs: 60_000,
        message: "the burst to run",
      });
      const views = await Promise.all(outcomes.slice(0, n).map(async (o) => await store.view(o.batchId)));
      for (const [i, view] of views.entries()) {
        expect(view?.status, `burst-${i}`).toBe("completed");
        expect(
          view?.results.map((r) => [r.id, r.status]),
          `burst-${i}`,
        ).toEqual([[`burst-${i}-0`, "answered"]]);
      }
      // A repeat that had become a job of its own would have run (and completed) too.
      await new Promise((r) => setTimeout(r, 200));
      expect(batches.batchesCompleted).toBe(before + n);
    } finally {
      await scheduler.close();
    }
  });
});
