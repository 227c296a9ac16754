// Gathers concurrent single-text calls into one model run. The first call of a turn of the event
// loop that finds the batcher idle runs at once, alone: there may be nobody to wait for, and waiting
// would only add latency (a setImmediate costs a nano decision a third more). The turn's later calls,
// such as the other requests of one poll of the sockets, queue into a batch that closes when it
// reaches `maxBatchSize` or when `maxWaitMs` has passed since its first text; waits under 1 ms (the
// default) use setImmediate, the end of the turn, longer ones setTimeout. The runtime's native run is
// synchronous, so the first call's run is over before the others arrive: the turn, not a run in
// flight, is what makes them wait (running each at once, alone, cost the edge agent half its
// requests/s at 64 connections).
import { ErrorCode, TiergateError } from "../errors.ts";
import type { Classification } from "./confidence.ts";
import { checkTexts } from "./runtime.ts";

export const DEFAULT_MICRO_BATCH_MAX_WAIT_MS = 0.2;
export const DEFAULT_MICRO_BATCH_MAX_SIZE = 256;

export interface MicroBatcherOptions {
  maxWaitMs?: number;
  maxBatchSize?: number;
}

/** What the batcher needs from a runtime: `ModelRuntime` fits. */
export interface BatchClassifier {
  classify(texts: readonly string[]): Promise<Classification[]>;
}

interface Pending {
  text: string;
  resolve: (c: Classification) => void;
  reject: (e: unknown) => void;
}

export class MicroBatcher {
  readonly #model: BatchClassifier;
  readonly #maxWaitMs: number;
  readonly #maxBatchSize: number;
  #queue: Pending[] = [];
  #timer: NodeJS.Immediate | NodeJS.Timeout | undefined;
  readonly #inFlight = new Set<Promise<unknown>>();
  #closed = false;
  /** A call ran at once in this turn of the event loop: the turn's later calls gather. */
  #ranThisTurn = false;
  readonly #endTurn = (): void => {
    this.#ranThisTurn = false;
  };
  /** Batches run so far (for metrics and tests). */
  batches = 0;

  constructor(model: BatchClassifier, options: MicroBatcherOptions = {}) {
    this.#model = model;
    this.#maxWaitMs = Math.max(0, options.maxWaitMs ?? DEFAULT_MICRO_BATCH_MAX_WAIT_MS);
    this.#maxBatchSize = Math.max(1, Math.floor(options.maxBatchSize ?? DEFAULT_MICRO_BATCH_MAX_SIZE));
  }

  /** Classifies one text together with whatever else arrives within the wait. */
  classify(text: string): Promise<Classification> {
    if (typeof text !== "string" || text.trim() === "") {
      try {
        checkTexts([text]);
      } catch (err) {
        return Promise.reject(err instanceof Error ? err : new Error(String(err)));
      }
    }
    if (this.#closed)
      return Promise.reject(new TiergateError(ErrorCode.SHUTTING_DOWN, "micro-batcher is closed"));
    if (this.#queue.length === 0 && this.#inFlight.size === 0 && !this.#ranThisTurn) {
      this.#ranThisTurn = true;
      setImmediate(this.#endTurn);
      return this.#alone(text);
    }
    return new Promise<Classification>((resolve, reject) => {
      this.#queue.push({ text, resolve, reject });
      if (this.#queue.length >= this.#maxBatchSize) this.#flush();
      else this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#timer !== undefined) return;
    this.#timer =
      this.#maxWaitMs < 1
        ? setImmediate(() => this.#flush())
        : setTimeout(() => this.#flush(), this.#maxWaitMs);
  }

  #flush(): void {
    if (this.#timer !== undefined) {
      clearImmediate(this.#timer as NodeJS.Immediate);
      clearTimeout(this.#timer as NodeJS.Timeout);
      this.#timer = undefined;
    }
    while (this.#queue.length > 0) {
      const batch = this.#queue.splice(0, this.#maxBatchSize);
      this.batches++;
      const run = this.#run(batch);
      this.#inFlight.add(run);
      void run.finally(() => this.#inFlight.delete(run));
    }
  }

  /** An idle batcher's call: straight to the model, without the queue's promise and closures. */
  #alone(text: string): Promise<Classification> {
    this.batches++;
    let call: Promise<Classification[]>;
    try {
      call = this.#model.classify([text]);
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    const run = call.then((results) => {
      const r = results[0];
      if (r === undefined) throw new TiergateError(ErrorCode.INTERNAL, "model returned too few results");
      return r;
    });
    const settled: Promise<unknown> = run.then(
      () => this.#inFlight.delete(settled),
      () => this.#inFlight.delete(settled),
    );
    this.#inFlight.add(settled);
    return run;
  }

  async #run(batch: Pending[]): Promise<void> {
    try {
      const results = await this.#model.classify(batch.map((p) => p.text));
      batch.forEach((p, i) => {
        const r = results[i];
        if (r === undefined)
          p.reject(new TiergateError(ErrorCode.INTERNAL, "model returned too few results"));
        else p.resolve(r);
      });
    } catch (err) {
      for (const p of batch) p.reject(err);
    }
  }

  /** Runs what is queued, waits for every batch in flight, then refuses new calls. */
  async close(): Promise<void> {
    this.#flush();
    this.#closed = true;
    await Promise.all([...this.#inFlight]);
  }
}
