// One endpoint's circuit breaker: closed → open after `failureThreshold` consecutive failures →
// half-open once `resetMs` has passed, letting ONE probe through → closed on its success, open
// again on its failure. Neutral outcomes (429, the caller's own abort) release a probe unjudged.
import type { BreakerState, Clock } from "./types.ts";

export type CircuitBreakerOptions = {
  failureThreshold: number;
  resetMs: number;
  clock: Clock;
  onChange?: (state: BreakerState["type"]) => void;
};

export class CircuitBreaker {
  #state: BreakerState = { type: "closed", failures: 0 };
  readonly #opts: CircuitBreakerOptions;

  constructor(options: CircuitBreakerOptions) {
    this.#opts = options;
  }

  get state(): BreakerState {
    return { ...this.#state };
  }

  /** True when a request may go now; in half-open this claims the single probe. */
  tryAcquire(): boolean {
    const s = this.#state;
    switch (s.type) {
      case "closed":
        return true;
      case "open":
        if (this.#opts.clock.now() - s.openedAt < this.#opts.resetMs) return false;
        this.#set({ type: "half-open", probeInFlight: true });
        return true;
      case "half-open":
        if (s.probeInFlight) return false;
        this.#set({ type: "half-open", probeInFlight: true });
        return true;
    }
  }

  success(): void {
    if (this.#state.type === "closed" && this.#state.failures === 0) return;
    this.#set({ type: "closed", failures: 0 });
  }

  failure(): void {
    const s = this.#state;
    if (s.type === "closed") {
      const failures = s.failures + 1;
      if (failures >= this.#opts.failureThreshold)
        this.#set({ type: "open", openedAt: this.#opts.clock.now() });
      else this.#state = { type: "closed", failures };
      return;
    }
    this.#set({ type: "open", openedAt: this.#opts.clock.now() });
  }

  /** The request ended without saying whether the endpoint is healthy. */
  release(): void {
    if (this.#state.type === "half-open") this.#state = { type: "half-open", probeInFlight: false };
  }

  #set(next: BreakerState): void {
    const changed = next.type !== this.#state.type;
    this.#state = next;
    if (changed) this.#opts.onChange?.(next.type);
  }
}
