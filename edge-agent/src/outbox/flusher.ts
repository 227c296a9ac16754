// Moves outbox items to the cloud in batches: a batch leaves when `maxItems` are waiting or the oldest
// waited `maxAgeMs`. Batches go one at a time, in order; a failed publish is retried with capped
// exponential backoff (the same sealed batch, so the same message id).
import type { Outbox, OutboxBatch } from "./outbox.ts";

export const DEFAULT_FLUSH_RETRY_MIN_MS = 100;
export const DEFAULT_FLUSH_RETRY_MAX_MS = 5_000;

export type PublishBatch = (batch: OutboxBatch) => Promise<void>;

export type OutboxFlusherOptions = {
  outbox: Outbox;
  publish: PublishBatch;
  maxItems: number;
  maxAgeMs: number;
  /** Payload bytes per batch (stay under the NATS max_payload). */
  maxBytes?: number;
  retryMinMs?: number;
  retryMaxMs?: number;
  now?: () => number;
  /** Told about each failed publish (it will be retried). */
  onError?: (err: unknown, batch: OutboxBatch) => void;
  /** Told about each delivered batch. */
  onDelivered?: (batch: OutboxBatch) => void;
};

export class OutboxFlusher {
  readonly #outbox: Outbox;
  readonly #publish: PublishBatch;
  readonly #retryMinMs: number;
  readonly #retryMaxMs: number;
  readonly #now: () => number;
  readonly #onError: ((err: unknown, batch: OutboxBatch) => void) | undefined;
  readonly #onDelivered: ((batch: OutboxBatch) => void) | undefined;
  #maxItems: number;
  #maxAgeMs: number;
  readonly #maxBytes: number;
  #running: Promise<void> | undefined;
  #again = false;
  #force = false;
  #timer: NodeJS.Timeout | undefined;
  #timerAtMs = Infinity;
  #failures = 0;
  #retryUntilMs = 0;
  #closed = false;
  #delivered = 0;

  constructor(options: OutboxFlusherOptions) {
    this.#outbox = options.outbox;
    this.#publish = options.publish;
    this.#maxItems = options.maxItems;
    this.#maxAgeMs = options.maxAgeMs;
    this.#maxBytes = options.maxBytes ?? Infinity;
    this.#retryMinMs = options.retryMinMs ?? DEFAULT_FLUSH_RETRY_MIN_MS;
    this.#retryMaxMs = options.retryMaxMs ?? DEFAULT_FLUSH_RETRY_MAX_MS;
    this.#now = options.now ?? Date.now;
    this.#onError = options.onError;
    this.#onDelivered = options.onDelivered;
    this.#outbox.onAppend(() => this.kick());
  }

  /** Items delivered since start. */
  get delivered(): number {
    return this.#delivered;
  }

  configure(options: { maxItems: number; maxAgeMs: number }): void {
    this.#maxItems = options.maxItems;
    this.#maxAgeMs = options.maxAgeMs;
    this.kick();
  }

  /** Looks at the outbox again (after an append, a reconnect, or to start). */
  kick(): void {
    if (this.#closed) return;
    if (this.#running !== undefined) {
      this.#again = true;
      return;
    }
    this.#running = this.#run().finally(() => {
      this.#running = undefined;
      if (this.#again) {
        this.#again = false;
        this.kick();
      }
    });
  }

  /** A reconnect: retry at once instead of waiting out the backoff. */
  retryNow(): void {
    this.#retryUntilMs = 0;
    this.kick();
  }

  /**
   * Sends everything now, ignoring the thresholds, until the outbox is empty or `timeoutMs` passed.
   * Resolves true when it is empty (what stays is kept on disk for the next start).
   */
  async flush(timeoutMs: number): Promise<boolean> {
    const until = this.#now() + timeoutMs;
    this.#force = true;
    try {
      while (this.#outbox.depth > 0 && this.#now() < until && !this.#closed) {
        this.#retryUntilMs = Math.min(this.#retryUntilMs, this.#now());
        this.kick();
        await this.#running;
        if (this.#outbox.depth > 0) await sleep(Math.min(this.#retryMinMs, Math.max(0, until - this.#now())));
      }
    } finally {
      this.#force = false;
    }
    return this.#outbox.depth === 0;
  }

  /** Stops timers and waits for a publish in flight. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#clearTimer();
    await this.#running;
  }

  async #run(): Promise<void> {
    while (!this.#closed) {
      const now = this.#now();
      if (now < this.#retryUntilMs) {
        this.#schedule(this.#retryUntilMs);
        return;
      }
      const oldest = this.#outbox.oldestUnsealedMs();
      const ready =
        this.#outbox.hasSealedBatch() ||
        this.#outbox.unsealedCount >= this.#maxItems ||
        (oldest !== undefined && (this.#force || now - oldest >= this.#maxAgeMs));
      if (!ready) {
        if (oldest !== undefined) this.#schedule(oldest + this.#maxAgeMs);
        return;
      }
      const batch = await this.#outbox.nextBatch(this.#maxItems, this.#maxBytes);
      if (batch === undefined) return;
      try {
        await this.#publish(batch);
      } catch (err) {
        this.#failures++;
        const backoff = Math.min(this.#retryMaxMs, this.#retryMinMs * 2 ** Math.min(this.#failures - 1, 20));
        this.#retryUntilMs = this.#now() + backoff;
        this.#onError?.(err, batch);
        continue;
      }
      this.#failures = 0;
      await this.#outbox.ack(batch);
      this.#delivered += batch.items.length;
      this.#onDelivered?.(batch);
    }
  }

  #schedule(atMs: number): void {
    if (this.#timer !== undefined && this.#timerAtMs <= atMs) return;
    this.#clearTimer();
    this.#timerAtMs = atMs;
    this.#timer = setTimeout(
      () => {
        this.#timer = undefined;
        this.#timerAtMs = Infinity;
        this.kick();
      },
      Math.max(0, atMs - this.#now()),
    );
    this.#timer.unref();
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAtMs = Infinity;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export type { OutboxBatch };
