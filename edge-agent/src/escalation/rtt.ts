// Round-trip-time estimate to the coordinators (RFC 6298 style: smoothed RTT plus four deviations)
// and the decision whether an escalation can still finish before the request's deadline.

export const DEFAULT_RTT_ALPHA = 0.125;
export const DEFAULT_RTT_BETA = 0.25;
/** Assumed before the first sample. */
export const DEFAULT_INITIAL_RTT_MS = 50;
/** Never plan with less than this (timer and scheduling jitter). */
export const MIN_ESCALATION_BUDGET_MS = 5;

export type RttEstimatorOptions = { alpha?: number; beta?: number; initialRttMs?: number };
export type RttSnapshot = { srttMs: number; rttVarMs: number; estimateMs: number; samples: number };

export class RttEstimator {
  readonly #alpha: number;
  readonly #beta: number;
  #srtt: number;
  #rttVar: number;
  #samples = 0;

  constructor(options: RttEstimatorOptions = {}) {
    this.#alpha = options.alpha ?? DEFAULT_RTT_ALPHA;
    this.#beta = options.beta ?? DEFAULT_RTT_BETA;
    this.#srtt = options.initialRttMs ?? DEFAULT_INITIAL_RTT_MS;
    this.#rttVar = this.#srtt / 2;
  }

  /** Adds one measured round trip (ms). Non-finite or negative samples are ignored. */
  observe(rttMs: number): void {
    if (!Number.isFinite(rttMs) || rttMs < 0) return;
    if (this.#samples === 0) {
      this.#srtt = rttMs;
      this.#rttVar = rttMs / 2;
    } else {
      this.#rttVar = (1 - this.#beta) * this.#rttVar + this.#beta * Math.abs(this.#srtt - rttMs);
      this.#srtt = (1 - this.#alpha) * this.#srtt + this.#alpha * rttMs;
    }
    this.#samples++;
  }

  /** A round trip that is unlikely to be exceeded: srtt + 4·rttvar. */
  get estimateMs(): number {
    return Math.max(MIN_ESCALATION_BUDGET_MS, this.#srtt + 4 * this.#rttVar);
  }

  snapshot(): RttSnapshot {
    return {
      srttMs: this.#srtt,
      rttVarMs: this.#rttVar,
      estimateMs: this.estimateMs,
      samples: this.#samples,
    };
  }
}

export type EscalationDecision =
  { type: "escalate"; timeoutMs: number } | { type: "skip"; reason: "disconnected" | "deadline" };

/**
 * Escalate only when connected and the time left covers the expected round trip; the request then
 * waits at most what is left of the deadline.
 */
export function decideEscalation(input: {
  connected: boolean;
  remainingMs: number;
  rttEstimateMs: number;
}): EscalationDecision {
  if (!input.connected) return { type: "skip", reason: "disconnected" };
  if (input.remainingMs < Math.max(MIN_ESCALATION_BUDGET_MS, input.rttEstimateMs))
    return { type: "skip", reason: "deadline" };
  return { type: "escalate", timeoutMs: Math.floor(input.remainingMs) };
}
