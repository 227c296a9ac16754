// When a batch shows "running": once it has run a while without its first results stored. Jobs
// register when they start and cancel when they finish; one timer serves all of them, armed for the
// earliest mark due. A timer per job cost ~3-20 us of the worker's ~40 us on a 1-item job: a job
// that clears the last pending 20 ms timer makes Node drop that timer list, and the next job's
// setTimeout builds it and starts a libuv timer again.
import { performance } from "node:perf_hooks";

type Due = { at: number; mark: () => void };

export class RunningMarks {
  readonly #delayMs: number;
  readonly #now: () => number;
  /** In registration order, which is due order (one delay, a monotonic clock). */
  readonly #due = new Map<number, Due>();
  #next = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(delayMs: number, now: () => number = () => performance.now()) {
    this.#delayMs = Math.max(0, delayMs);
    this.#now = now;
  }

  /** Calls `mark` once `delayMs` from now unless the returned cancel is called first. */
  add(mark: () => void): () => void {
    const key = this.#next++;
    this.#due.set(key, { at: this.#now() + this.#delayMs, mark });
    this.#arm();
    return () => void this.#due.delete(key);
  }

  /** Marks not yet called nor cancelled. */
  get pending(): number {
    return this.#due.size;
  }

  /** Drops every pending mark and the timer. */
  close(): void {
    this.#due.clear();
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #arm(): void {
    if (this.#timer !== undefined) return;
    const first = this.#due.values().next().value;
    if (first === undefined) return;
    this.#timer = setTimeout(() => this.#fire(), Math.max(1, Math.ceil(first.at - this.#now())));
    // A pending mark never keeps the process alive on its own (its job does while it runs).
    this.#timer.unref();
  }

  #fire(): void {
    this.#timer = undefined;
    const now = this.#now();
    for (const [key, due] of this.#due) {
      if (due.at > now) break;
      this.#due.delete(key);
      try {
        due.mark();
      } catch {
        // a mark is best effort; the job's own results and completion are written regardless
      }
    }
    this.#arm();
  }
}
