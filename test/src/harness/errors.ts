// Typed errors of the test harness: decide with `instanceof HarnessError` and `code`, never by message text.

export const HarnessErrorCode = {
  /** The server binary is not installed (or the given path is not executable). */
  BinaryMissing: "HARNESS_BINARY_MISSING",
  /** The process exited before it became ready; the message carries its log. */
  EarlyExit: "HARNESS_EARLY_EXIT",
  /** The process did not become ready in time; it was killed and the message carries its log. */
  ReadyTimeout: "HARNESS_READY_TIMEOUT",
  /** `waitFor` gave up. */
  WaitTimeout: "HARNESS_WAIT_TIMEOUT",
} as const;
export type HarnessErrorCode = (typeof HarnessErrorCode)[keyof typeof HarnessErrorCode];

export class HarnessError extends Error {
  override readonly name = "HarnessError";
  readonly code: HarnessErrorCode;
  /** The process log (stdout and stderr, last lines) when a process was involved. */
  readonly log: string | undefined;

  constructor(code: HarnessErrorCode, message: string, options?: { cause?: unknown; log?: string }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.log = options?.log;
  }
}
