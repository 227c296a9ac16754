// Chunks of concurrent batch jobs through the cascade together. BullMQ hands a worker its next jobs
// in the replies of its completions, several of which often arrive in one socket read, so the jobs
// start in the same turn of the event loop; their chunks then share one `Cascade.runMany` (one model
// call, one set of spans and metric updates) instead of one each. Each chunk is answered as soon as
// its own items are: a job whose items the model answered does not wait for the LLM calls of the
// others. A chunk that arrives alone runs alone, once the promise callbacks of its turn have run.
import type { CascadeOutcome, CascadeRequest, OnOutcome } from "../escalation/cascade.ts";

/** What the gather needs of the cascade: `Cascade.runMany`. */
export type RunMany = (reqs: readonly CascadeRequest[], onOutcome?: OnOutcome) => Promise<CascadeOutcome[]>;

type Waiting = {
  reqs: readonly CascadeRequest[];
  /** Index of its first request in the shared run. */
  from: number;
  outcomes: CascadeOutcome[];
  left: number;
  resolve: (outcomes: CascadeOutcome[]) => void;
  reject: (err: unknown) => void;
};

export class ChunkGather {
  readonly #runMany: RunMany;
  #waiting: Waiting[] = [];

  constructor(runMany: RunMany) {
    this.#runMany = runMany;
  }

  /** `reqs` through the cascade, with the chunks of this turn of the event loop: outcomes in order. */
  run(reqs: readonly CascadeRequest[]): Promise<CascadeOutcome[]> {
    if (reqs.length === 0) return Promise.resolve([]);
    return new Promise<CascadeOutcome[]>((resolve, reject) => {
      const w: Waiting = {
        reqs,
        from: 0,
        outcomes: new Array<CascadeOutcome>(reqs.length),
        left: reqs.length,
        resolve,
        reject,
      };
      this.#waiting.push(w);
      // A nextTick queued from a promise callback runs once every promise callback of this turn has:
      // the jobs started from one socket read are all here by then. (setImmediate also waited for the
      // rest of the event loop's turn; with few jobs in flight each such wait is throughput lost.)
      if (this.#waiting.length === 1) process.nextTick(() => this.#flush());
    });
  }

  #flush(): void {
    const group = this.#waiting;
    this.#waiting = [];
    if (group.length === 1) {
      const [w] = group as [Waiting];
      this.#runMany(w.reqs).then(w.resolve, w.reject);
      return;
    }
    // Which chunk each request of the shared run belongs to.
    const owner: Waiting[] = [];
    for (const w of group) {
      w.from = owner.length;
      for (let k = 0; k < w.reqs.length; k++) owner.push(w);
    }
    const onOutcome: OnOutcome = (i, outcome) => {
      const w = owner[i];
      if (w === undefined || w.left === 0) return;
      w.outcomes[i - w.from] = outcome;
      if (--w.left === 0) w.resolve(w.outcomes);
    };
    this.#runMany(
      group.flatMap((w) => w.reqs),
      onOutcome,
    ).then(
      // Every outcome was told already; this only guards against one that was not.
      (all) => {
        for (const w of group) if (w.left > 0) w.resolve(all.slice(w.from, w.from + w.reqs.length));
      },
      (err: unknown) => {
        for (const w of group) if (w.left > 0) w.reject(err);
      },
    );
  }
}
