// Typed errors shared by every tiergate package, and their encodings on the wire:
// HTTP (status + JSON body) and NATS (headers). Decide with `instanceof TiergateError` and `code`,
// never by matching message text.
//
// | code                       | HTTP | retryable | meaning                                              |
// |----------------------------|------|-----------|------------------------------------------------------|
// | BAD_REQUEST                | 400  | no        | malformed request that no finer code describes       |
// | INVALID_JSON               | 400  | no        | body is not JSON (or not UTF-8)                      |
// | VALIDATION_FAILED          | 400  | no        | JSON does not match the contract; `details` = issues |
// | INVALID_ID                 | 400  | no        | id or task name unusable in a subject                |
// | UNKNOWN_TASK               | 400  | no        | task not declared in the policy                      |
// | UNAUTHORIZED               | 401  | no        | missing or wrong API key                             |
// | FORBIDDEN                  | 403  | no        | key valid but not allowed to do this                 |
// | NOT_FOUND                  | 404  | no        | no such route or result                              |
// | BATCH_NOT_FOUND            | 404  | no        | no such batch id                                     |
// | DUPLICATE                  | 409  | no        | id already used (batch id, request id)               |
// | INPUT_TOO_LARGE            | 413  | no        | body or input over the configured size               |
// | UNSUPPORTED_MEDIA_TYPE     | 415  | no        | body is not application/json                         |
// | REFUSED_BY_POLICY          | 422  | no        | policy says refuse (e.g. no tier confident enough)   |
// | PRIVACY_BLOCKED            | 422  | no        | label/content may not leave the device               |
// | RATE_LIMITED               | 429  | yes       | caller over its rate; see `retryAfterMs`             |
// | LLM_RATE_LIMITED           | 429  | yes       | LLM provider said 429                                |
// | INTERNAL                   | 500  | no        | a bug or an unexpected throwable                     |
// | MODEL_NOT_FOUND            | 500  | no        | model directory/manifest missing                     |
// | MODEL_INTEGRITY            | 500  | no        | model.onnx sha256 differs from the manifest          |
// | MODEL_LOAD_FAILED          | 500  | no        | onnxruntime could not load the model                 |
// | POLICY_INVALID             | 500  | no        | policy file does not validate                        |
// | POLICY_VERSION_UNSUPPORTED | 500  | no        | policy major version unknown                         |
// | STORAGE_FAILED             | 500  | yes       | durable write (outbox, Redis) failed                 |
// | LLM_ERROR                  | 502  | yes       | LLM endpoint failed (5xx, connection)                |
// | LLM_MALFORMED              | 502  | yes       | LLM answer does not match the expected schema        |
// | UNAVAILABLE                | 503  | yes       | a dependency (cloud, NATS, Redis) is unreachable     |
// | CIRCUIT_OPEN               | 503  | yes       | endpoint's circuit breaker is open                   |
// | SHUTTING_DOWN              | 503  | yes       | process is draining; another instance may answer     |
// | OUTBOX_FULL                | 503  | yes       | durable outbox at its bound                          |
// | DEADLINE_EXCEEDED          | 504  | yes       | the request's deadline passed                        |
// | LLM_TIMEOUT                | 504  | yes       | LLM endpoint exceeded its `timeoutMs`                |
//
// "Retryable" means the same request, sent again unchanged later, may succeed.
import { z } from "zod";

export const ErrorCode = {
  BAD_REQUEST: "BAD_REQUEST",
  INVALID_JSON: "INVALID_JSON",
  VALIDATION_FAILED: "VALIDATION_FAILED",
  INVALID_ID: "INVALID_ID",
  UNKNOWN_TASK: "UNKNOWN_TASK",
  UNAUTHORIZED: "UNAUTHORIZED",
  FORBIDDEN: "FORBIDDEN",
  NOT_FOUND: "NOT_FOUND",
  BATCH_NOT_FOUND: "BATCH_NOT_FOUND",
  DUPLICATE: "DUPLICATE",
  INPUT_TOO_LARGE: "INPUT_TOO_LARGE",
  UNSUPPORTED_MEDIA_TYPE: "UNSUPPORTED_MEDIA_TYPE",
  REFUSED_BY_POLICY: "REFUSED_BY_POLICY",
  PRIVACY_BLOCKED: "PRIVACY_BLOCKED",
  RATE_LIMITED: "RATE_LIMITED",
  LLM_RATE_LIMITED: "LLM_RATE_LIMITED",
  INTERNAL: "INTERNAL",
  MODEL_NOT_FOUND: "MODEL_NOT_FOUND",
  MODEL_INTEGRITY: "MODEL_INTEGRITY",
  MODEL_LOAD_FAILED: "MODEL_LOAD_FAILED",
  POLICY_INVALID: "POLICY_INVALID",
  POLICY_VERSION_UNSUPPORTED: "POLICY_VERSION_UNSUPPORTED",
  STORAGE_FAILED: "STORAGE_FAILED",
  LLM_ERROR: "LLM_ERROR",
  LLM_MALFORMED: "LLM_MALFORMED",
  UNAVAILABLE: "UNAVAILABLE",
  CIRCUIT_OPEN: "CIRCUIT_OPEN",
  SHUTTING_DOWN: "SHUTTING_DOWN",
  OUTBOX_FULL: "OUTBOX_FULL",
  DEADLINE_EXCEEDED: "DEADLINE_EXCEEDED",
  LLM_TIMEOUT: "LLM_TIMEOUT",
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export const ErrorCodeSchema = z.enum(ErrorCode);

const HTTP_STATUS: Readonly<Record<ErrorCode, number>> = {
  BAD_REQUEST: 400,
  INVALID_JSON: 400,
  VALIDATION_FAILED: 400,
  INVALID_ID: 400,
  UNKNOWN_TASK: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  BATCH_NOT_FOUND: 404,
  DUPLICATE: 409,
  INPUT_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  REFUSED_BY_POLICY: 422,
  PRIVACY_BLOCKED: 422,
  RATE_LIMITED: 429,
  LLM_RATE_LIMITED: 429,
  INTERNAL: 500,
  MODEL_NOT_FOUND: 500,
  MODEL_INTEGRITY: 500,
  MODEL_LOAD_FAILED: 500,
  POLICY_INVALID: 500,
  POLICY_VERSION_UNSUPPORTED: 500,
  STORAGE_FAILED: 500,
  LLM_ERROR: 502,
  LLM_MALFORMED: 502,
  UNAVAILABLE: 503,
  CIRCUIT_OPEN: 503,
  SHUTTING_DOWN: 503,
  OUTBOX_FULL: 503,
  DEADLINE_EXCEEDED: 504,
  LLM_TIMEOUT: 504,
};

const RETRYABLE: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  ErrorCode.RATE_LIMITED,
  ErrorCode.LLM_RATE_LIMITED,
  ErrorCode.STORAGE_FAILED,
  ErrorCode.LLM_ERROR,
  ErrorCode.LLM_MALFORMED,
  ErrorCode.UNAVAILABLE,
  ErrorCode.CIRCUIT_OPEN,
  ErrorCode.SHUTTING_DOWN,
  ErrorCode.OUTBOX_FULL,
  ErrorCode.DEADLINE_EXCEEDED,
  ErrorCode.LLM_TIMEOUT,
]);

/** True when the same request, sent again unchanged later, may succeed. */
export function isRetryable(code: ErrorCode): boolean {
  return RETRYABLE.has(code);
}

/** The one mapping from error codes to HTTP status codes (see the table at the top of this file). */
export function httpStatusFor(code: ErrorCode): number {
  return HTTP_STATUS[code];
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === "string" && Object.hasOwn(HTTP_STATUS, value);
}

/** One problem with a field, e.g. a zod issue: `path` is the field path (`["items", 0, "input"]`). */
export const ErrorDetailSchema = z.strictObject({
  path: z.array(z.union([z.string(), z.number()])),
  message: z.string(),
  code: z.string().optional(),
});
export type ErrorDetail = z.infer<typeof ErrorDetailSchema>;

export interface TiergateErrorOptions {
  cause?: unknown;
  details?: readonly ErrorDetail[];
  /** For RATE_LIMITED / LLM_RATE_LIMITED: how long the caller should wait. */
  retryAfterMs?: number;
}

export class TiergateError extends Error {
  override readonly name = "TiergateError";
  readonly code: ErrorCode;
  readonly details: readonly ErrorDetail[] | undefined;
  readonly retryAfterMs: number | undefined;

  constructor(code: ErrorCode, message: string, options: TiergateErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details;
    this.retryAfterMs = options.retryAfterMs;
  }

  get retryable(): boolean {
    return isRetryable(this.code);
  }

  get httpStatus(): number {
    return httpStatusFor(this.code);
  }
}

export function isTiergateError(value: unknown): value is TiergateError {
  return value instanceof TiergateError;
}

/** Field paths of zod issues as plain JSON (symbols become strings). */
export function issuesToDetails(issues: readonly z.core.$ZodIssue[]): ErrorDetail[] {
  return issues.map((issue) => ({
    path: issue.path.map((key) => (typeof key === "symbol" ? String(key) : key)),
    message: issue.message,
    code: issue.code,
  }));
}

/** VALIDATION_FAILED from a ZodError, with a message naming every bad field's path. */
export function validationError(error: z.ZodError, what?: string): TiergateError {
  const pretty = z.prettifyError(error);
  const message = what === undefined ? pretty : `invalid ${what}:\n${pretty}`;
  return new TiergateError(ErrorCode.VALIDATION_FAILED, message, {
    cause: error,
    details: issuesToDetails(error.issues),
  });
}

/**
 * Converts anything thrown into a TiergateError at a boundary (NATS handler, HTTP handler, job
 * processor). TiergateErrors pass through; ZodError → VALIDATION_FAILED; JSON SyntaxError →
 * INVALID_JSON; TimeoutError (AbortSignal.timeout) → DEADLINE_EXCEEDED; the rest → `fallback`.
 * The original is kept as `cause`.
 */
export function toTiergateError(thrown: unknown, fallback: ErrorCode = ErrorCode.INTERNAL): TiergateError {
  if (thrown instanceof TiergateError) return thrown;
  if (thrown instanceof z.ZodError) return validationError(thrown);
  if (thrown instanceof SyntaxError) {
    return new TiergateError(ErrorCode.INVALID_JSON, `invalid JSON: ${thrown.message}`, { cause: thrown });
  }
  if (thrown instanceof Error) {
    if (thrown.name === "TimeoutError") {
      return new TiergateError(ErrorCode.DEADLINE_EXCEEDED, thrown.message, { cause: thrown });
    }
    return new TiergateError(fallback, thrown.message || thrown.name, { cause: thrown });
  }
  return new TiergateError(fallback, describe(thrown), { cause: thrown });
}

function describe(value: unknown): string {
  if (typeof value === "string") return value;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

// ── HTTP body ──

export const ErrorBodySchema = z.strictObject({
  error: z.strictObject({
    code: ErrorCodeSchema,
    message: z.string(),
    details: z.array(ErrorDetailSchema).optional(),
    retryAfterMs: z.number().int().nonnegative().optional(),
  }),
});
export type ErrorBody = z.infer<typeof ErrorBodySchema>;

/** Message shown instead of an INTERNAL error's own text unless `exposeInternal` is set. */
export const INTERNAL_ERROR_MESSAGE = "internal error";

export interface ErrorBodyOptions {
  /** Show INTERNAL errors' own messages (default false: they may reveal internals to callers). */
  exposeInternal?: boolean;
}

/** The JSON body of an HTTP error response: `{error: {code, message, details?, retryAfterMs?}}`. */
export function errorBody(err: TiergateError, options: ErrorBodyOptions = {}): ErrorBody {
  const hide = err.code === ErrorCode.INTERNAL && options.exposeInternal !== true;
  const error: ErrorBody["error"] = { code: err.code, message: hide ? INTERNAL_ERROR_MESSAGE : err.message };
  if (err.details !== undefined) error.details = [...err.details];
  if (err.retryAfterMs !== undefined) error.retryAfterMs = Math.max(0, Math.ceil(err.retryAfterMs));
  return { error };
}

/** Rebuilds the typed error from an HTTP error body; a body that is not one becomes INTERNAL. */
export function fromErrorBody(json: unknown): TiergateError {
  const parsed = ErrorBodySchema.safeParse(json);
  if (!parsed.success) {
    return new TiergateError(ErrorCode.INTERNAL, `malformed error body: ${describe(json)}`, {
      cause: parsed.error,
    });
  }
  const { code, message, details, retryAfterMs } = parsed.data.error;
  const options: TiergateErrorOptions = {};
  if (details !== undefined) options.details = details;
  if (retryAfterMs !== undefined) options.retryAfterMs = retryAfterMs;
  return new TiergateError(code, message, options);
}

// ── NATS headers ──
// Plain records and getters so that shared does not depend on a NATS client. With nats.js:
//   const h = headers(); for (const [k, v] of Object.entries(errorHeaders(err))) h.set(k, v);
//   const err = errorFromHeaders((k) => msg.headers?.get(k));

export const ERROR_HEADER_CODE = "Tg-Error-Code";
export const ERROR_HEADER_MESSAGE = "Tg-Error-Message";
export const ERROR_HEADER_DETAILS = "Tg-Error-Details";
export const ERROR_HEADER_RETRY_AFTER_MS = "Tg-Retry-After-Ms";
/** Longest error message carried in a header; longer ones are cut. */
export const MAX_ERROR_HEADER_MESSAGE_CHARS = 1024;
/** Largest JSON `details` carried in a header; larger ones are left out. */
export const MAX_ERROR_HEADER_DETAILS_CHARS = 8192;

/** Header values may not hold CR or LF (they would end the header). */
function headerSafe(value: string, maxChars: number): string {
  const oneLine = value.replace(/[\r\n]+/g, " ");
  return oneLine.length > maxChars ? `${oneLine.slice(0, maxChars - 1)}…` : oneLine;
}

export function errorHeaders(err: TiergateError): Record<string, string> {
  const out: Record<string, string> = {
    [ERROR_HEADER_CODE]: err.code,
    [ERROR_HEADER_MESSAGE]: headerSafe(err.message, MAX_ERROR_HEADER_MESSAGE_CHARS),
  };
  if (err.details !== undefined) {
    const json = JSON.stringify(err.details);
    if (json.length <= MAX_ERROR_HEADER_DETAILS_CHARS) out[ERROR_HEADER_DETAILS] = json;
  }
  if (err.retryAfterMs !== undefined) {
    out[ERROR_HEADER_RETRY_AFTER_MS] = String(Math.max(0, Math.ceil(err.retryAfterMs)));
  }
  return out;
}

/**
 * The typed error carried by a message's headers, or undefined when it carries none.
 * `get` returns a header's value; "" and undefined both mean absent (nats.js returns "").
 */
export function errorFromHeaders(get: (key: string) => string | undefined): TiergateError | undefined {
  const code = get(ERROR_HEADER_CODE);
  if (code === undefined || code === "") return undefined;
  const message = get(ERROR_HEADER_MESSAGE) ?? "";
  if (!isErrorCode(code)) {
    return new TiergateError(ErrorCode.INTERNAL, `unknown error code ${JSON.stringify(code)}: ${message}`);
  }
  const options: TiergateErrorOptions = {};
  const details = parseDetails(get(ERROR_HEADER_DETAILS));
  if (details !== undefined) options.details = details;
  const retryAfter = Number(get(ERROR_HEADER_RETRY_AFTER_MS) || Number.NaN);
  if (Number.isFinite(retryAfter) && retryAfter >= 0) options.retryAfterMs = retryAfter;
  return new TiergateError(code, message, options);
}

function parseDetails(raw: string | undefined): ErrorDetail[] | undefined {
  if (raw === undefined || raw === "") return undefined;
  try {
    const parsed = z.array(ErrorDetailSchema).safeParse(JSON.parse(raw));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
