import { ErrorCode, InferRequestSchema, TiergateError, validate } from "@tiergate/shared";
import { describe, expect, it } from "vitest";
import { commonShape, parseInferRequest } from "./request.ts";

const LONG_ID = "x".repeat(129);
class Body {
  task = "intent";
  input = "hello";
}
const nullProto = Object.assign(Object.create(null) as object, { task: "intent", input: "hello" });

// [name, body, whether the hand-written check answers it (else the schema does)]
const CASES: [string, unknown, boolean][] = [
  ["task and input", { task: "intent", input: "what is my balance" }, true],
  ["keys in another order", { input: "hi", mode: "batch", task: "intent" }, true],
  ["mode realtime", { task: "intent", input: "hi", mode: "realtime" }, true],
  ["id and deadline", { task: "intent", input: "hi", id: "req-1", deadlineMs: 3_600_000 }, true],
  ["tabs, newlines, emoji", { task: "intent", input: "a\tb\nc\r😀" }, true],
  ["callbackUrl", { task: "intent", input: "hi", callbackUrl: "https://example.com/cb" }, false],
  ["a key set to undefined", { task: "intent", input: "hi", id: undefined }, false],
  ["null prototype", nullProto, false],
  ["class instance", new Body(), false],
  // refused: the schema's typed error in every case
  ["null", null, false],
  ["a string", "intent", false],
  ["an array", ["intent", "hi"], false],
  ["empty object", {}, false],
  ["no input", { task: "intent" }, false],
  ["no task", { input: "hi" }, false],
  ["empty task", { task: "", input: "hi" }, false],
  ["task with a dot", { task: "a.b", input: "hi" }, false],
  ["task too long", { task: LONG_ID, input: "hi" }, false],
  ["task a number", { task: 7, input: "hi" }, false],
  ["empty input", { task: "intent", input: "" }, false],
  ["control character", { task: "intent", input: "a\u0001b" }, false],
  ["lone surrogate", { task: "intent", input: "a\ud800b" }, false],
  ["unknown mode", { task: "intent", input: "hi", mode: "later" }, false],
  ["null mode", { task: "intent", input: "hi", mode: null }, false],
  ["empty id", { task: "intent", input: "hi", id: "" }, false],
  ["id with a slash", { task: "intent", input: "hi", id: "a/b" }, false],
  ["zero deadline", { task: "intent", input: "hi", deadlineMs: 0 }, false],
  ["negative deadline", { task: "intent", input: "hi", deadlineMs: -5 }, false],
  ["fractional deadline", { task: "intent", input: "hi", deadlineMs: 1.5 }, false],
  ["deadline too long", { task: "intent", input: "hi", deadlineMs: 3_600_001 }, false],
  ["deadline a string", { task: "intent", input: "hi", deadlineMs: "100" }, false],
  ["NaN deadline", { task: "intent", input: "hi", deadlineMs: Number.NaN }, false],
  ["unknown key", { task: "intent", input: "hi", priority: 1 }, false],
  ["ftp callbackUrl", { task: "intent", input: "hi", callbackUrl: "ftp://example.com" }, false],
  ["__proto__ key", JSON.parse('{"task":"intent","input":"hi","__proto__":{"x":1}}') as unknown, false],
];

type Outcome = { value: unknown; keys: string[] } | { code: string; message: string; details: unknown };

function outcome(parse: () => unknown): Outcome {
  try {
    const value = parse();
    return { value, keys: Object.keys(value as object) };
  } catch (err) {
    if (!(err instanceof TiergateError)) throw err;
    return { code: err.code, message: err.message, details: err.details };
  }
}

describe("parseInferRequest", () => {
  it.each(CASES)("%s: the same request or typed error as InferRequestSchema", (_name, body, fast) => {
    const ours = outcome(() => parseInferRequest(body));
    expect(ours).toStrictEqual(outcome(() => validate(InferRequestSchema, body, "infer request")));
    expect(commonShape(body) !== undefined).toBe(fast);
    if ("code" in ours) {
      expect(ours.code).toBe(ErrorCode.VALIDATION_FAILED);
      expect(ours.message).toMatch(/^invalid infer request:/);
    }
  });

  it("returns a request of its own, with the default mode", () => {
    const body = { task: "intent", input: "hi" };
    const req = parseInferRequest(body);
    expect(req).toStrictEqual({ task: "intent", input: "hi", mode: "realtime" });
    expect(req).not.toBe(body);
  });
});
