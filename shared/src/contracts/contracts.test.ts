import { describe, expect, it } from "vitest";
import type { z } from "zod";
import { ErrorCode, TiergateError, errorHeaders } from "../errors.ts";
import { BatchResultSchema, BatchSubmissionSchema, DeviceResultSchema, MAX_BATCH_ITEMS } from "./batch.ts";
import type { BatchSubmission, BatchResult, DeviceResult } from "./batch.ts";
import { decode, decodeReply, encode, encodeErrorReply, validate } from "./codec.ts";
import type { TierAttempt } from "./common.ts";
import { EscalationReplySchema, EscalationRequestSchema } from "./escalation.ts";
import type { EscalationReply, EscalationRequest } from "./escalation.ts";
import { HeartbeatSchema } from "./heartbeat.ts";
import type { Heartbeat } from "./heartbeat.ts";
import { InferRequestSchema, InferResultSchema } from "./infer.ts";
import type { InferRequest, InferResult } from "./infer.ts";

const nano: TierAttempt = {
  tier: "nano",
  where: "edge",
  kind: "model",
  model: "intent-nano",
  modelVersion: "2025.01.1",
  label: "greeting",
  confidence: 0.41,
  threshold: 0.8,
  accepted: false,
  durationMs: 0.087,
};
const llm: TierAttempt = {
  tier: "llm",
  where: "cloud",
  kind: "llm",
  model: "gpt-4o-mini",
  label: "greeting",
  confidence: 0.97,
  accepted: true,
  durationMs: 412.5,
  costUsd: 0.00012,
  usage: { promptTokens: 310, completionTokens: 9 },
};
const failed: TierAttempt = {
  tier: "medium",
  where: "cloud",
  kind: "model",
  accepted: false,
  durationMs: 3,
  error: { code: ErrorCode.MODEL_LOAD_FAILED, message: "no session" },
};

const request: InferRequest = {
  task: "intent",
  input: "hello there\twhat's up?\r\n",
  mode: "realtime",
  id: "req-1",
  deadlineMs: 250,
  callbackUrl: "https://app.example/cb",
};
const answered: InferResult = {
  id: "req-1",
  task: "intent",
  status: "answered",
  label: "greeting",
  answer: "Hi!",
  confidence: 0.97,
  servedBy: { tier: "llm", where: "cloud", kind: "llm", model: "gpt-4o-mini" },
  degraded: false,
  cached: false,
  attempts: [nano, failed, llm],
  costUsd: 0.00012,
  timings: {
    totalMs: 420.1,
    steps: [
      { step: "tier:nano", durationMs: 0.087 },
      { step: "escalate", durationMs: 419 },
    ],
  },
  policyVersion: "1.0",
  traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
};
const refused: InferResult = {
  id: "req-2",
  task: "intent",
  status: "refused",
  degraded: false,
  cached: false,
  attempts: [nano],
  costUsd: 0,
  timings: { totalMs: 0.2, steps: [] },
  error: { code: ErrorCode.PRIVACY_BLOCKED, message: "label never escalates" },
};
const deferred: InferResult = { ...refused, id: "req-3", status: "deferred", resultUrl: "/v1/results/req-3" };
delete (deferred as { error?: unknown }).error;

const escalation: EscalationRequest = {
  id: "req-1",
  task: "intent",
  input: "mail me at [EMAIL]",
  deviceId: "dev-1",
  deadlineAt: 1_760_000_000_000,
  edgeAttempts: [nano],
  policyVersion: "1.0",
  redactions: { email: 1 },
};
const reply: EscalationReply = { id: "req-1", result: answered };
const submission: BatchSubmission = {
  batchId: "b-1",
  deviceId: "dev-1",
  source: "edge",
  items: [
    { id: "req-3", task: "intent", input: "later please", edgeAttempts: [nano] },
    { id: "req-4", task: "intent", input: "and this", redactions: { phone: 2 } },
  ],
  submittedAt: 1_760_000_000_000,
  policyVersion: "1.0",
};
const batchResult: BatchResult = {
  batchId: "b-1",
  status: "completed",
  itemCount: 2,
  results: [answered, refused],
  scheduledFor: 1_760_000_100_000,
  startedAt: 1_760_000_100_001,
  completedAt: 1_760_000_100_500,
};
const deviceResult: DeviceResult = {
  deviceId: "dev-1",
  batchId: "b-1",
  requestId: "req-1",
  result: answered,
};
const heartbeat: Heartbeat = {
  deviceId: "dev-1",
  sentAt: 1_760_000_000_000,
  uptimeMs: 12_345.6,
  policyVersion: "1.0",
  models: [{ tier: "nano", model: "intent-nano", version: "2025.01.1" }],
  counters: { served: 10, escalated: 2 },
  outboxDepth: 0,
  rttMs: null,
};

const roundTrips: [string, z.ZodType, unknown][] = [
  ["InferRequest", InferRequestSchema, request],
  ["InferResult answered", InferResultSchema, answered],
  ["InferResult refused", InferResultSchema, refused],
  ["InferResult deferred", InferResultSchema, deferred],
  ["EscalationRequest", EscalationRequestSchema, escalation],
  ["EscalationReply", EscalationReplySchema, reply],
  ["BatchSubmission", BatchSubmissionSchema, submission],
  ["BatchResult", BatchResultSchema, batchResult],
  ["DeviceResult", DeviceResultSchema, deviceResult],
  ["Heartbeat", HeartbeatSchema, heartbeat],
  ["Heartbeat with rtt", HeartbeatSchema, { ...heartbeat, rttMs: 1.5, agentVersion: "0.1.0" }],
];

describe("every contract round-trips", () => {
  it.each(roundTrips)("%s: decode(encode(v)) equals v", (_name, schema, value) => {
    const bytes = encode(value);
    expect(bytes).toBeInstanceOf(Uint8Array);
    expect(decode(schema, bytes)).toEqual(value);
    expect(decode(schema, new TextDecoder().decode(bytes))).toEqual(value);
  });

  it("applies the request's default mode", () => {
    expect(decode(InferRequestSchema, '{"task":"intent","input":"hi"}')).toEqual({
      task: "intent",
      input: "hi",
      mode: "realtime",
    });
  });
});

const tooMany = {
  ...submission,
  items: Array.from({ length: MAX_BATCH_ITEMS + 1 }, (_, i) => ({ id: `r${i}`, task: "t", input: "x" })),
};

// [name, schema, payload, expected code, field path named in the message]
const invalid: [string, z.ZodType, string | Uint8Array, ErrorCode, string?][] = [
  ["not JSON", InferRequestSchema, "{task:", ErrorCode.INVALID_JSON],
  ["empty payload", InferRequestSchema, "", ErrorCode.INVALID_JSON],
  ["invalid UTF-8", InferRequestSchema, new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]), ErrorCode.INVALID_JSON],
  ["JSON null", InferRequestSchema, "null", ErrorCode.VALIDATION_FAILED],
  ["an array", InferRequestSchema, "[]", ErrorCode.VALIDATION_FAILED],
  ["missing task", InferRequestSchema, '{"input":"hi"}', ErrorCode.VALIDATION_FAILED, "task"],
  ["non-string input", InferRequestSchema, '{"task":"t","input":42}', ErrorCode.VALIDATION_FAILED, "input"],
  ["empty input", InferRequestSchema, '{"task":"t","input":""}', ErrorCode.VALIDATION_FAILED, "input"],
  [
    "control char",
    InferRequestSchema,
    '{"task":"t","input":"a\\u0007b"}',
    ErrorCode.VALIDATION_FAILED,
    "input",
  ],
  [
    "lone surrogate",
    InferRequestSchema,
    '{"task":"t","input":"a\\ud800b"}',
    ErrorCode.VALIDATION_FAILED,
    "input",
  ],
  ["unknown field", InferRequestSchema, '{"task":"t","input":"a","x":1}', ErrorCode.VALIDATION_FAILED],
  [
    "bad mode",
    InferRequestSchema,
    '{"task":"t","input":"a","mode":"now"}',
    ErrorCode.VALIDATION_FAILED,
    "mode",
  ],
  [
    "id with dot",
    InferRequestSchema,
    '{"task":"t","input":"a","id":"a.b"}',
    ErrorCode.VALIDATION_FAILED,
    "id",
  ],
  ["task with *", InferRequestSchema, '{"task":"*","input":"a"}', ErrorCode.VALIDATION_FAILED, "task"],
  [
    "deadline 0",
    InferRequestSchema,
    '{"task":"t","input":"a","deadlineMs":0}',
    ErrorCode.VALIDATION_FAILED,
    "deadlineMs",
  ],
  [
    "deadline 1.5",
    InferRequestSchema,
    '{"task":"t","input":"a","deadlineMs":1.5}',
    ErrorCode.VALIDATION_FAILED,
    "deadlineMs",
  ],
  [
    "ftp callback",
    InferRequestSchema,
    '{"task":"t","input":"a","callbackUrl":"ftp://x/y"}',
    ErrorCode.VALIDATION_FAILED,
    "callbackUrl",
  ],
  [
    "answered without label",
    InferResultSchema,
    JSON.stringify({ ...refused, status: "answered", error: undefined }),
    ErrorCode.VALIDATION_FAILED,
    "label",
  ],
  [
    "refused without error",
    InferResultSchema,
    JSON.stringify({ ...refused, error: undefined }),
    ErrorCode.VALIDATION_FAILED,
    "error",
  ],
  [
    "confidence 1.2",
    InferResultSchema,
    JSON.stringify({ ...answered, confidence: 1.2 }),
    ErrorCode.VALIDATION_FAILED,
    "confidence",
  ],
  [
    "attempt with unknown kind",
    InferResultSchema,
    JSON.stringify({ ...answered, attempts: [{ ...nano, kind: "oracle" }] }),
    ErrorCode.VALIDATION_FAILED,
    "attempts[0].kind",
  ],
  [
    "reply id mismatch",
    EscalationReplySchema,
    JSON.stringify({ id: "other", result: answered }),
    ErrorCode.VALIDATION_FAILED,
    "result.id",
  ],
  [
    "escalation without deadline",
    EscalationRequestSchema,
    JSON.stringify({ ...escalation, deadlineAt: undefined }),
    ErrorCode.VALIDATION_FAILED,
    "deadlineAt",
  ],
  [
    "empty batch",
    BatchSubmissionSchema,
    JSON.stringify({ ...submission, items: [] }),
    ErrorCode.VALIDATION_FAILED,
    "items",
  ],
  ["batch too large", BatchSubmissionSchema, JSON.stringify(tooMany), ErrorCode.VALIDATION_FAILED, "items"],
  [
    "edge batch without device",
    BatchSubmissionSchema,
    JSON.stringify({ ...submission, deviceId: undefined }),
    ErrorCode.VALIDATION_FAILED,
    "deviceId",
  ],
  [
    "duplicate item ids",
    BatchSubmissionSchema,
    JSON.stringify({ ...submission, items: [submission.items[0], submission.items[0]] }),
    ErrorCode.VALIDATION_FAILED,
    "items[1].id",
  ],
  [
    "bad batch status",
    BatchResultSchema,
    JSON.stringify({ ...batchResult, status: "lost" }),
    ErrorCode.VALIDATION_FAILED,
    "status",
  ],
  [
    "device result id mismatch",
    DeviceResultSchema,
    JSON.stringify({ ...deviceResult, requestId: "x" }),
    ErrorCode.VALIDATION_FAILED,
    "result.id",
  ],
  [
    "negative outbox depth",
    HeartbeatSchema,
    JSON.stringify({ ...heartbeat, outboxDepth: -1 }),
    ErrorCode.VALIDATION_FAILED,
    "outboxDepth",
  ],
];

describe("invalid messages give a typed error, not a crash", () => {
  it.each(invalid)("%s → %s", (_name, schema, payload, code, path) => {
    let thrown: unknown;
    try {
      decode(schema, payload, { what: "message" });
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(TiergateError);
    const err = thrown as TiergateError;
    expect(err.code).toBe(code);
    expect(err.cause).toBeDefined();
    if (code === ErrorCode.VALIDATION_FAILED) {
      expect(err.details?.length).toBeGreaterThan(0);
      if (path !== undefined) expect(err.message).toContain(`at ${path}`);
    }
  });

  it("refuses payloads over maxBytes with INPUT_TOO_LARGE", () => {
    expect(() => decode(InferRequestSchema, encode(request), { maxBytes: 10 })).toThrow(
      expect.objectContaining({ code: ErrorCode.INPUT_TOO_LARGE }),
    );
  });

  it("validate() checks an already-parsed value", () => {
    expect(validate(InferRequestSchema, { task: "t", input: "x" }).mode).toBe("realtime");
    expect(() => validate(InferRequestSchema, { task: "t" }, "request")).toThrow(/invalid request/);
  });
});

describe("replies", () => {
  it("decodeReply returns the body when no error header is set", () => {
    expect(decodeReply(EscalationReplySchema, encode(reply), () => undefined)).toEqual(reply);
  });

  it("an error reply becomes the typed error, and its body is still parseable JSON", () => {
    const { headers, data } = encodeErrorReply(
      new TiergateError(ErrorCode.CIRCUIT_OPEN, "llm endpoint open", { retryAfterMs: 2000 }),
    );
    expect(headers).toEqual(
      errorHeaders(new TiergateError(ErrorCode.CIRCUIT_OPEN, "llm endpoint open", { retryAfterMs: 2000 })),
    );
    let thrown: unknown;
    try {
      decodeReply(EscalationReplySchema, data, (k) => headers[k]);
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(TiergateError);
    expect((thrown as TiergateError).code).toBe(ErrorCode.CIRCUIT_OPEN);
    expect((thrown as TiergateError).retryAfterMs).toBe(2000);
    expect(JSON.parse(new TextDecoder().decode(data))).toEqual({
      error: { code: "CIRCUIT_OPEN", message: "llm endpoint open", retryAfterMs: 2000 },
    });
  });
});
