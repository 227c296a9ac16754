// Typed errors of the LLM tier: shared TiergateError codes, plus what one failed attempt was, so
// the tier can decide between retry, backoff, fallback and giving up without matching messages.
import { ErrorCode, TiergateError } from "@tiergate/shared";
import type { AttemptOutcome } from "./types.ts";

export { ErrorCode, TiergateError };

/** How one attempt failed, with what the tier needs to act on it. */
export type AttemptFailure = {
  outcome: Exclude<AttemptOutcome, "ok">;
  /** Server-requested wait (Retry-After / retry-after-ms), when given. */
  retryAfterMs?: number;
  /** HTTP status, when there was a response. */
  status?: number;
  error: TiergateError;
};

const OUTCOME_CODE = {
  rate_limited: ErrorCode.LLM_RATE_LIMITED,
  server_error: ErrorCode.LLM_ERROR,
  connection: ErrorCode.UNAVAILABLE,
  timeout: ErrorCode.LLM_TIMEOUT,
  malformed: ErrorCode.LLM_MALFORMED,
  rejected: ErrorCode.LLM_ERROR,
} as const satisfies Record<AttemptFailure["outcome"], ErrorCode>;

export function attemptFailure(
  outcome: AttemptFailure["outcome"],
  message: string,
  extra: { cause?: unknown; retryAfterMs?: number | undefined; status?: number | undefined } = {},
): AttemptFailure {
  const options: { cause?: unknown; retryAfterMs?: number } = {};
  if (extra.cause !== undefined) options.cause = extra.cause;
  if (extra.retryAfterMs !== undefined) options.retryAfterMs = extra.retryAfterMs;
  const failure: AttemptFailure = {
    outcome,
    error: new TiergateError(OUTCOME_CODE[outcome], message, options),
  };
  if (extra.retryAfterMs !== undefined) failure.retryAfterMs = extra.retryAfterMs;
  if (extra.status !== undefined) failure.status = extra.status;
  return failure;
}

/** Thrown by providers so the tier gets the classified failure. */
export class AttemptError extends Error {
  override readonly name = "AttemptError";
  readonly failure: AttemptFailure;
  constructor(failure: AttemptFailure) {
    super(failure.error.message, { cause: failure.error });
    this.failure = failure;
  }
}
