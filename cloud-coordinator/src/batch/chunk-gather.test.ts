import { describe, expect, it } from "vitest";
import type { CascadeOutcome, CascadeRequest, OnOutcome } from "../escalation/cascade.ts";
import { ChunkGather } from "./chunk-gather.ts";

const req = (id: string): CascadeRequest => ({ id, task: "t", input: id, deadlineAt: Date.now() + 60_000 });
const answer = (id: string): CascadeOutcome => ({ type: "failed", error: new Error(`answer of ${id}`) });
const idOf = (o: CascadeOutcome | undefined): string =>
  o?.type === "failed" ? String((o.error as Error).message) : "";

/** A stand-in for `Cascade.runMany` whose runs are settled by the test. */
function fakeRunMany() {
  const runs: { reqs: readonly CascadeRequest[]; onOutcome: OnOutcome | undefined; done: () => void }[] = [];
  const runMany = (reqs: readonly CascadeRequest[], onOutcome?: OnOutcome): Promise<CascadeOutcome[]> =>
    new Promise((resolve) =>
      runs.push({ reqs, onOutcome, done: () => resolve(reqs.map((r) => answer(r.id))) }),
    );
  return { runs, runMany };
}

describe("ChunkGather", () => {
  it("runs the chunks of one turn as one run and gives each chunk its own outcomes in order", async () => {
    const { runs, runMany } = fakeRunMany();
    const gather = new ChunkGather(runMany);
    const a = gather.run([req("a1"), req("a2")]);
    const b = gather.run([req("b1")]);
    await new Promise((r) => setImmediate(r));
    expect(runs.map((r) => r.reqs.map((q) => q.id))).toEqual([["a1", "a2", "b1"]]);
    runs[0]?.done();
    expect((await a).map(idOf)).toEqual(["answer of a1", "answer of a2"]);
    expect((await b).map(idOf)).toEqual(["answer of b1"]);
  });

  it("answers a chunk once its own outcomes are told, before the shared run ends", async () => {
    const { runs, runMany } = fakeRunMany();
    const gather = new ChunkGather(runMany);
    let bDone = false;
    const a = gather.run([req("a1")]);
    const b = gather.run([req("b1"), req("b2")]).then((o) => ((bDone = true), o));
    await new Promise((r) => setImmediate(r));
    const run = runs[0];
    run?.onOutcome?.(2, answer("b2"));
    run?.onOutcome?.(1, answer("b1"));
    expect((await b).map(idOf)).toEqual(["answer of b1", "answer of b2"]);
    expect(bDone).toBe(true);
    run?.onOutcome?.(0, answer("a1"));
    expect((await a).map(idOf)).toEqual(["answer of a1"]);
  });

  it("runs a chunk that comes alone on its own, and later turns in runs of their own", async () => {
    const { runs, runMany } = fakeRunMany();
    const gather = new ChunkGather(runMany);
    const a = gather.run([req("a1")]);
    await new Promise((r) => setImmediate(r));
    const b = gather.run([req("b1")]);
    await new Promise((r) => setImmediate(r));
    expect(runs.map((r) => [r.reqs.map((q) => q.id), r.onOutcome === undefined])).toEqual([
      [["a1"], true],
      [["b1"], true],
    ]);
    for (const r of runs) r.done();
    expect((await a).map(idOf)).toEqual(["answer of a1"]);
    expect((await b).map(idOf)).toEqual(["answer of b1"]);
  });

  it("rejects the chunks still waiting when the shared run fails", async () => {
    const runMany = (_reqs: readonly CascadeRequest[], onOutcome?: OnOutcome): Promise<CascadeOutcome[]> => {
      onOutcome?.(0, answer("a1"));
      return Promise.reject(new Error("boom"));
    };
    const gather = new ChunkGather(runMany);
    const a = gather.run([req("a1")]);
    const b = gather.run([req("b1")]);
    expect((await a).map(idOf)).toEqual(["answer of a1"]);
    await expect(b).rejects.toThrow("boom");
  });
});
