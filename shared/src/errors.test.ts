import { describe, expect, it } from "vitest";
import { z } from "zod";
import {
  ERROR_HEADER_CODE,
  ERROR_HEADER_MESSAGE,
  ErrorBodySchema,
  ErrorCode,
  INTERNAL_ERROR_MESSAGE,
  MAX_ERROR_HEADER_MESSAGE_CHARS,
  TiergateError,
  errorBody,
  errorFromHeaders,
  errorHeaders,
  fromErrorBody,
  httpStatusFor,
  isRetryable,
  toTiergateError,
} from "./errors.ts";

// Every code must have a row: a new code that is not added here fails typecheck.
const TABLE: Record<ErrorCode, [status: number, retryable: boolean]> = {
  BAD_REQUEST: [400, false],
  INVALID_JSON: [400, false],
  VALIDATION_FAILED: [400, false],
  INVALID_ID: [400, false],
  UNKNOWN_TASK: [400, false],
  UNAUTHORIZED: [401, false],
  FORBIDDEN: [403, false],
  NOT_FOUND: [404, false],
  BATCH_NOT_FOUND: [404, false],
  DUPLICATE: [409, false],
  INPUT_TOO_LARGE: [413, false],
  UNSUPPORTED_MEDIA_TYPE: [415, false],
  REFUSED_BY_POLICY: [422, false],
  PRIVACY_BLOCKED: [422, false],
  RATE_LIMITED: [429, true],
  LLM_RATE_LIMITED: [429, true],
  INTERNAL: [500, false],
  MODEL_NOT_FOUND: [500, false],
  MODEL_INTEGRITY: [500, false],
  MODEL_LOAD_FAILED: [500, false],
  POLICY_INVALID: [500, false],
  POLICY_VERSION_UNSUPPORTED: [500, false],
  STORAGE_FAILED: [500, true],
  LLM_ERROR: [502, true],
  LLM_MALFORMED: [502, true],
  UNAVAILABLE: [503, true],
  CIRCUIT_OPEN: [503, true],
  SHUTTING_DOWN: [503, true],
  OUTBOX_FULL: [503, true],
  DEADLINE_EXCEEDED: [504, true],
  LLM_TIMEOUT: [504, true],
};

describe("error codes", () => {
  it("the table covers every code and only codes", () => {
    expect(Object.keys(TABLE).sort()).toEqual(Object.values(ErrorCode).sort());
  });

  it.each(Object.entries(TABLE) as [ErrorCode, [number, boolean]][])(
    "%s → HTTP %j (status, retryable)",
    (code, [status, retryable]) => {
      expect(httpStatusFor(code)).toBe(status);
      expect(isRetryable(code)).toBe(retryable);
      const err = new TiergateError(code, "x");
      expect(err.httpStatus).toBe(status);
      expect(err.retryable).toBe(retryable);
    },
  );
});

describe("TiergateError", () => {
  it("is an Error with name, code and cause", () => {
    const cause = new Error("root");
    const err = new TiergateError(ErrorCode.UNAVAILABLE, "cloud unreachable", { cause });
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe("TiergateError");
    expect(err.code).toBe("UNAVAILABLE");
    expect(err.cause).toBe(cause);
    expect(err.details).toBeUndefined();
  });
});

describe("toTiergateError", () => {
  const zodError = z.strictObject({ task: z.string() }).safeParse({ task: 1 }).error;
  const jsonError = (() => {
    try {
      JSON.parse("{");
    } catch (e) {
      return e;
    }
    return undefined;
  })();
  const timeout = new DOMException("timed out", "TimeoutError");
  const cases: [string, unknown, ErrorCode][] = [
    ["a TiergateError", new TiergateError(ErrorCode.DUPLICATE, "dup"), ErrorCode.DUPLICATE],
    ["a ZodError", zodError, ErrorCode.VALIDATION_FAILED],
    ["a JSON SyntaxError", jsonError, ErrorCode.INVALID_JSON],
    ["a TimeoutError", timeout, ErrorCode.DEADLINE_EXCEEDED],
    ["a plain Error", new Error("boom"), ErrorCode.INTERNAL],
    ["a string", "boom", ErrorCode.INTERNAL],
    ["an object", { weird: true }, ErrorCode.INTERNAL],
    ["undefined", undefined, ErrorCode.INTERNAL],
  ];
  it.each(cases)("converts %s", (_name, thrown, code) => {
    const err = toTiergateError(thrown);
    expect(err).toBeInstanceOf(TiergateError);
    expect(err.code).toBe(code);
    if (!(thrown instanceof TiergateError)) expect(err.cause).toBe(thrown);
  });

  it("keeps a TiergateError as is and uses the fallback code for others", () => {
    const original = new TiergateError(ErrorCode.LLM_TIMEOUT, "slow");
    expect(toTiergateError(original)).toBe(original);
    expect(toTiergateError(new Error("x"), ErrorCode.LLM_ERROR).code).toBe(ErrorCode.LLM_ERROR);
  });

  it("names the field path of a ZodError and keeps the issues as details", () => {
    const err = toTiergateError(zodError);
    expect(err.message).toContain("task");
    expect(err.details).toEqual([expect.objectContaining({ path: ["task"] })]);
  });
});

const samples: TiergateError[] = [
  new TiergateError(ErrorCode.UNKNOWN_TASK, 'unknown task "x"'),
  new TiergateError(ErrorCode.VALIDATION_FAILED, "bad", {
    details: [{ path: ["items", 0, "input"], message: "input is empty", code: "custom" }],
  }),
  new TiergateError(ErrorCode.RATE_LIMITED, "slow down", { retryAfterMs: 1500 }),
  new TiergateError(ErrorCode.INTERNAL, "db password wrong"),
];

describe("HTTP body", () => {
  it.each(samples.map((e) => [e.code, e] as const))("%s round-trips through JSON", (_code, err) => {
    const body = JSON.parse(JSON.stringify(errorBody(err, { exposeInternal: true }))) as unknown;
    expect(ErrorBodySchema.safeParse(body).success).toBe(true);
    const back = fromErrorBody(body);
    expect(back).toBeInstanceOf(TiergateError);
    expect(back.code).toBe(err.code);
    expect(back.message).toBe(err.message);
    expect(back.details).toEqual(err.details);
    expect(back.retryAfterMs).toBe(err.retryAfterMs);
  });

  it("hides INTERNAL messages unless asked", () => {
    const body = errorBody(new TiergateError(ErrorCode.INTERNAL, "db password wrong"));
    expect(body.error.message).toBe(INTERNAL_ERROR_MESSAGE);
    expect(errorBody(new TiergateError(ErrorCode.NOT_FOUND, "no such id")).error.message).toBe("no such id");
  });

  it.each([null, "text", { error: { code: "NOPE", message: "x" } }, { error: { code: "INTERNAL" } }, {}])(
    "a malformed body %j becomes INTERNAL, not a crash",
    (json) => {
      const err = fromErrorBody(json);
      expect(err.code).toBe(ErrorCode.INTERNAL);
      expect(err.message).toMatch(/malformed error body/);
    },
  );
});

describe("NATS headers", () => {
  const getter = (record: Record<string, string>) => (key: string) => record[key];

  it.each(samples.map((e) => [e.code, e] as const))("%s round-trips through headers", (_code, err) => {
    const back = errorFromHeaders(getter(errorHeaders(err)));
    expect(back).toBeInstanceOf(TiergateError);
    expect(back?.code).toBe(err.code);
    expect(back?.message).toBe(err.message);
    expect(back?.details).toEqual(err.details);
    expect(back?.retryAfterMs).toBe(err.retryAfterMs);
  });

  it("no code header means no error, whether absent or empty (nats.js returns '')", () => {
    expect(errorFromHeaders(() => undefined)).toBeUndefined();
    expect(errorFromHeaders(() => "")).toBeUndefined();
  });

  it("keeps header values on one line and bounded", () => {
    const err = new TiergateError(ErrorCode.LLM_ERROR, `line1\r\nline2 ${"x".repeat(5000)}`);
    const headers = errorHeaders(err);
    const message = headers[ERROR_HEADER_MESSAGE] ?? "";
    expect(message).not.toMatch(/[\r\n]/);
    expect(message.length).toBeLessThanOrEqual(MAX_ERROR_HEADER_MESSAGE_CHARS);
    expect(message.startsWith("line1 line2")).toBe(true);
  });

  it("an unknown code becomes INTERNAL naming it; garbage details are ignored", () => {
    const err = errorFromHeaders(
      getter({
        [ERROR_HEADER_CODE]: "FROM_THE_FUTURE",
        [ERROR_HEADER_MESSAGE]: "hm",
        "Tg-Error-Details": "{nope",
      }),
    );
    expect(err?.code).toBe(ErrorCode.INTERNAL);
    expect(err?.message).toContain("FROM_THE_FUTURE");
    const withBadDetails = errorFromHeaders(
      getter({ [ERROR_HEADER_CODE]: "NOT_FOUND", "Tg-Error-Details": "{nope" }),
    );
    expect(withBadDetails?.code).toBe(ErrorCode.NOT_FOUND);
    expect(withBadDetails?.details).toBeUndefined();
  });
});
