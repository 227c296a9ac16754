// A counting semaphore with a bounded FIFO queue: at most `limit` holders, at most `maxQueue`
// waiters; a full queue refuses at once so the caller can fall back instead of piling up.

export class Semaphore {
  readonly limit: number;
  readonly maxQueue: number;
  #active = 0;
  readonly #waiters: Array<{ grant: () => void }> = [];

  constructor(limit: number, maxQueue: number) {
    if (!Number.isInteger(limit) || limit < 1)
      throw new RangeError(`limit must be an integer ≥ 1, got ${limit}`);
    this.limit = limit;
    this.maxQueue = maxQueue;
  }

  get active(): number {
    return this.#active;
  }
  get queued(): number {
    return this.#waiters.length;
  }

  /**
   * Resolves with a release function once a slot is free; resolves `undefined` at once when the
   * queue is full; rejects with the signal's reason if it aborts while waiting.
   */
  async acquire(signal?: AbortSignal): Promise<(() => void) | undefined> {
    signal?.throwIfAborted();
    if (this.#active < this.limit) {
      this.#active++;
      return this.#releaser();
    }
    if (this.#waiters.length >= this.maxQueue) return undefined;
    return await new Promise<() => void>((resolve, reject) => {
      const waiter = {
        grant: () => {
          signal?.removeEventListener("abort", onAbort);
          this.#active++;
          resolve(this.#releaser());
        },
      };
      const onAbort = (): void => {
        const i = this.#waiters.indexOf(waiter);
        if (i >= 0) this.#waiters.splice(i, 1);
        reject(signal?.reason instanceof Error ? signal.reason : new Error("aborted"));
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }

  #releaser(): () => void {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.#active--;
      this.#waiters.shift()?.grant();
    };
  }
}
