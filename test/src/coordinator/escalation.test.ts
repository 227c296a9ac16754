// Escalations over a real nats-server: the medium model answers what it is sure of, the LLM (the
// stand-in over HTTP) what it is not; the answer says which and what it cost. Bad requests come back
// as typed error headers; a repeated request id gets the same answer; two coordinators share load.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { headers as natsHeaders, type NatsConnection } from "@nats-io/transport-node";
import {
  ErrorCode,
  EscalationReplySchema,
  TiergateError,
  createSubjects,
  decodeReply,
  encode,
  type EscalationReply,
  type EscalationRequest,
} from "@tiergate/shared";
import {
  MEDIUM_COST_USD,
  MEDIUM_THRESHOLD,
  TASK,
  pickTexts,
  startFixture,
  type Fixture,
  FIXTURE_TIMEOUT_MS,
} from "./fixture.ts";

let f: Fixture;
let nc: NatsConnection;
let texts: { confident: string[]; unsure: string[] };
const subjects = createSubjects({ prefix: "esc" });
let seq = 0;

beforeAll(async () => {
  f = await startFixture();
  texts = await pickTexts(f.mediumDir, f.gold);
  nc = await f.connectNats();
  await f.startCoordinator({ subjectPrefix: "esc", batches: false, instanceId: "esc-a" });
}, FIXTURE_TIMEOUT_MS);
afterAll(async () => {
  await f?.[Symbol.asyncDispose]();
});

function request(input: string, extra: Partial<EscalationRequest> = {}): EscalationRequest {
  seq += 1;
  return {
    id: `req-${seq}`,
    task: TASK,
    input,
    deviceId: "dev-1",
    deadlineAt: Date.now() + 10_000,
    edgeAttempts: [],
    ...extra,
  };
}

async function escalate(
  body: unknown,
  hdrs: Record<string, string> = {},
  task = TASK,
): Promise<EscalationReply> {
  const h = natsHeaders();
  for (const [k, v] of Object.entries(hdrs)) h.set(k, v);
  const msg = await nc.request(subjects.escalate(task), encode(body), { timeout: 10_000, headers: h });
  return decodeReply(EscalationReplySchema, msg.data, (k) => msg.headers?.get(k));
}

describe("escalation", () => {
  it("has texts on both sides of the medium threshold to test with", () => {
    expect(texts.confident.length).toBeGreaterThan(0);
    expect(texts.unsure.length).toBeGreaterThan(0);
  });

  it("is answered by the medium model when it is confident, at the policy's cost", async () => {
    const text = texts.confident[0] ?? "";
    const reply = await escalate(request(text));
    const r = reply.result;
    expect(r.status).toBe("answered");
    expect(r.servedBy).toMatchObject({ tier: "medium", where: "cloud", kind: "model" });
    expect(r.servedBy?.version).toMatch(/medium/);
    expect(r.confidence).toBeGreaterThanOrEqual(MEDIUM_THRESHOLD);
    expect(r.attempts).toHaveLength(1);
    expect(r.attempts[0]).toMatchObject({ tier: "medium", accepted: true, threshold: MEDIUM_THRESHOLD });
    expect(r.costUsd).toBeCloseTo(MEDIUM_COST_USD, 12);
    expect(r.label).toBe(f.gold.get(text));
  });

  it("is answered by the LLM when the medium model is unsure, and says what the LLM cost", async () => {
    const text = texts.unsure[0] ?? "";
    const reply = await escalate(request(text));
    const r = reply.result;
    expect(r.servedBy).toMatchObject({ tier: "llm", where: "cloud", kind: "llm", version: "standin" });
    expect(r.attempts.map((a) => [a.tier, a.accepted])).toEqual([
      ["medium", false],
      ["llm", true],
    ]);
    expect(r.attempts[0]?.confidence).toBeLessThan(MEDIUM_THRESHOLD);
    const llm = r.attempts[1];
    expect(llm?.usage?.promptTokens).toBeGreaterThan(0);
    expect(llm?.costUsd).toBeGreaterThan(0);
    expect(r.costUsd).toBeCloseTo(MEDIUM_COST_USD + (llm?.costUsd ?? 0), 12);
    // The stand-in answers from CLINC150 gold labels.
    expect(r.label).toBe(f.gold.get(text));
  });

  it("keeps the edge's attempts and continues its trace", async () => {
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const edgeAttempt = {
      tier: "small",
      where: "edge" as const,
      kind: "model" as const,
      label: "x",
      confidence: 0.3,
      accepted: false,
      durationMs: 0.1,
    };
    const reply = await escalate(request(texts.confident[1] ?? "", { edgeAttempts: [edgeAttempt] }), {
      traceparent: `00-${traceId}-00f067aa0ba902b7-01`,
    });
    expect(reply.result.attempts[0]).toEqual(edgeAttempt);
    expect(reply.result.traceId).toBe(traceId);
  });

  it("answers a repeated request id with the same answer, once", async () => {
    const req = request(texts.unsure[1] ?? texts.unsure[0] ?? "");
    const calls = f.standin.stats().chatRequests;
    const first = await escalate(req);
    const again = await escalate(req);
    expect(again).toEqual(first);
    expect(f.standin.stats().chatRequests - calls).toBe(1);
  });

  it("calls the LLM once for a request id that arrives twice at the same time", async () => {
    // The second copy finds the id claimed and waits for the first one's reply; meanwhile its own
    // cascade may run the model, but not the LLM (it waits for the claim).
    const req = request(texts.unsure[4] ?? texts.unsure[0] ?? "");
    f.standin.setLatency(200);
    try {
      const calls = f.standin.stats().chatRequests;
      const [first, again] = await Promise.all([escalate(req), escalate(req)]);
      expect(again).toEqual(first);
      expect(first.result.servedBy?.kind).toBe("llm");
      expect(f.standin.stats().chatRequests - calls).toBe(1);
    } finally {
      f.standin.setLatency(0);
    }
  });

  it("serves a repeated text from the Redis cache at no cost", async () => {
    const text = texts.unsure[2] ?? texts.unsure[0] ?? "";
    await escalate(request(text));
    const r = (await escalate(request(`  ${text.toUpperCase()} `))).result;
    expect(r.cached).toBe(true);
    expect(r.costUsd).toBe(0);
    expect(r.attempts).toEqual([expect.objectContaining({ tier: "cache", kind: "cache", accepted: true })]);
    expect(r.servedBy?.kind).toBe("llm");
  });

  const refusals: [string, () => unknown, string, ErrorCode][] = [
    ["a body that is not JSON", () => "{nope", TASK, ErrorCode.INVALID_JSON],
    [
      "a missing field",
      () => ({ id: "x", task: TASK, deviceId: "d", deadlineAt: Date.now() + 5000, edgeAttempts: [] }),
      TASK,
      ErrorCode.VALIDATION_FAILED,
    ],
    ["an unknown task", () => ({ ...request("hello"), task: "nope" }), "nope", ErrorCode.UNKNOWN_TASK],
    [
      "a task sent on another task's subject",
      () => ({ ...request("hello"), task: "nope" }),
      TASK,
      ErrorCode.BAD_REQUEST,
    ],
    [
      "a task that only ends the subject's task",
      () => ({ ...request("hello"), task: TASK.slice(1) }),
      TASK,
      ErrorCode.BAD_REQUEST,
    ],
    [
      "a passed deadline",
      () => ({ ...request("hello"), deadlineAt: Date.now() - 1 }),
      TASK,
      ErrorCode.DEADLINE_EXCEEDED,
    ],
  ];
  it.each(refusals)("refuses %s with a typed error header", async (_what, body, task, code) => {
    const payload = body();
    const data = typeof payload === "string" ? new TextEncoder().encode(payload) : encode(payload);
    const msg = await nc.request(subjects.escalate(task), data, { timeout: 5000 });
    expect(msg.headers?.get("Tg-Error-Code")).toBe(code);
    let err: unknown;
    try {
      decodeReply(EscalationReplySchema, msg.data, (k) => msg.headers?.get(k));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TiergateError);
    expect((err as TiergateError).code).toBe(code);
    if (code === ErrorCode.VALIDATION_FAILED)
      expect((err as TiergateError).details?.map((d) => d.path.join("."))).toContain("input");
  });

  it("shares load with a second coordinator in the queue group", async () => {
    const second = await f.startCoordinator({ subjectPrefix: "esc", batches: false, instanceId: "esc-b" });
    const before = second.escalationsHandled;
    const all = [...texts.confident, ...texts.confident, ...texts.confident];
    const replies = await Promise.all(all.map((t) => escalate(request(t))));
    expect(replies.every((r) => r.result.status === "answered")).toBe(true);
    expect(second.escalationsHandled - before).toBeGreaterThan(0);
    expect(second.escalationsHandled - before).toBeLessThan(all.length);
  });
});
