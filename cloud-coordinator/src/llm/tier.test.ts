// The LLM tier against real stand-in servers over HTTP with the real `openai` client. Waits go
// through an injected sleep recorder and clock, so the tests assert what was waited, not wall time.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ErrorCode, TiergateError } from "@tiergate/shared";
import { startStandin } from "../standin/server.ts";
import type { Standin } from "../standin/server.ts";
import { GoldTeacher, loadClincGold } from "../standin/teacher.ts";
import { LlmTier } from "./tier.ts";
import type { LlmTierOptions } from "./tier.ts";
import { closedPort, endpointOptions, ManualClock, sleepRecorder } from "./test-support.ts";
import type { LlmEndpointOptions } from "./types.ts";

const LABELS = ["book_flight", "weather", "translate", "oos"] as const;

let gold: Map<string, string>;
let a: Standin;
let b: Standin;
let clock: ManualClock;
let rec: ReturnType<typeof sleepRecorder>;
/** A CLINC150 text whose gold label is "weather". */
let weatherText = "";

beforeAll(async () => {
  gold = await loadClincGold();
  weatherText = [...gold.entries()].find(([, l]) => l === "weather")?.[0] ?? "";
  const teacher = new GoldTeacher({ gold });
  [a, b] = await Promise.all([startStandin({ teacher, port: 0 }), startStandin({ teacher, port: 0 })]);
});
afterAll(async () => {
  await Promise.all([a?.close(), b?.close()]);
});
beforeEach(() => {
  for (const s of [a, b]) {
    s.setFaults({});
    s.setLatency(0);
    s.resetStats();
  }
  clock = new ManualClock();
  rec = sleepRecorder(clock);
});

function tier(endpoints: LlmEndpointOptions[], over: Partial<LlmTierOptions> = {}): LlmTier {
  return new LlmTier({ endpoints, clock, sleep: rec.sleep, random: () => 0.5, ...over });
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(TiergateError);
    return (err as TiergateError).code;
  }
  throw new Error("expected a TiergateError");
}

describe("LlmTier", () => {
  it("answers a classification with the teacher's gold label and a cost", async () => {
    const [text, label] = [...gold.entries()].find(([, l]) => l === "translate") ?? ["", ""];
    const result = await tier([endpointOptions("a", a.url)]).classify({
      task: "intent",
      text,
      labels: [...LABELS],
    });
    expect(result.label).toBe(label);
    expect(result.endpoint).toBe("a");
    expect(result.model).toBe("tiergate-standin:model-a");
    expect(result.attempts).toBe(1);
    expect(result.usage.promptTokens).toBeGreaterThan(0);
    expect(result.costUsd).toBeGreaterThan(0);
    expect(a.stats().classifications).toBe(1);
  });

  it("answers an unknown text with oos", async () => {
    const r = await tier([endpointOptions("a", a.url)]).classify({
      task: "t",
      text: "zq xv unknown",
      labels: [...LABELS],
    });
    expect(r.label).toBe("oos");
  });

  it("waits at least Retry-After (seconds) after a 429, then succeeds", async () => {
    a.setFaults({ sequence: ["429:2", "ok"] });
    const result = await tier([endpointOptions("a", a.url)]).classify({
      task: "t",
      text: weatherText,
      labels: [...LABELS],
    });
    expect(result.attempts).toBe(2);
    expect(rec.waits).toHaveLength(1);
    expect(rec.waits[0]).toBeGreaterThanOrEqual(2_000);
    expect(a.stats().faults).toEqual({ "429": 1 });
  });

  it("honours retry-after-ms", async () => {
    a.setFaults({ sequence: ["429:250ms"] });
    const result = await tier([endpointOptions("a", a.url)]).classify({
      task: "t",
      text: weatherText,
      labels: [...LABELS],
    });
    expect(result.attempts).toBe(2);
    expect(rec.waits).toEqual([250]);
  });

  it("falls back when Retry-After is past the deadline, without waiting", async () => {
    a.setFaults({ sequence: ["429:60"] });
    const t = tier([endpointOptions("a", a.url), endpointOptions("b", b.url)]);
    const result = await t.classify({
      task: "t",
      text: weatherText,
      labels: [...LABELS],
      deadlineAt: clock.now() + 5_000,
    });
    expect(result.endpoint).toBe("b");
    expect(rec.waits).toEqual([]);
  });

  it("falls back from an endpoint that is down to the next one", async () => {
    const down = `http://127.0.0.1:${await closedPort()}/v1`;
    const t = tier([endpointOptions("down", down, { maxRetries: 1 }), endpointOptions("b", b.url)]);
    const result = await t.classify({ task: "t", text: weatherText, labels: [...LABELS] });
    expect(result.endpoint).toBe("b");
    expect(result.attempts).toBe(3);
    expect(rec.waits).toHaveLength(1); // one jittered backoff before the retry on "down"
    expect(rec.waits[0]).toBeLessThan(100 * 2);
  });

  it("retries 5xx with backoff and reports LLM_ERROR when every endpoint fails", async () => {
    a.setFaults({ sequence: ["500", "503", "500"] });
    const t = tier([endpointOptions("a", a.url, { maxRetries: 2 })]);
    expect(await codeOf(t.classify({ task: "t", text: weatherText, labels: [...LABELS] }))).toBe(
      ErrorCode.LLM_ERROR,
    );
    expect(a.stats().chatRequests).toBe(3);
    expect(rec.waits).toHaveLength(2);
  });

  it("opens the circuit after N failures, skips the endpoint, then closes it after a successful probe", async () => {
    a.setFaults({ rate500: 1 });
    const breaker = { failureThreshold: 2, resetMs: 10_000 };
    const t = tier([
      endpointOptions("a", a.url, { maxRetries: 0, circuitBreaker: breaker }),
      endpointOptions("b", b.url),
    ]);
    const ask = () => t.classify({ task: "t", text: weatherText, labels: [...LABELS] });
    expect((await ask()).endpoint).toBe("b");
    expect((await ask()).endpoint).toBe("b");
    expect(t.status()[0]?.breaker.type).toBe("open");
    expect((await ask()).endpoint).toBe("b");
    expect(a.stats().chatRequests).toBe(2); // the third call never reached "a"

    a.setFaults({});
    clock.advance(9_999);
    expect((await ask()).endpoint).toBe("b");
    expect(a.stats().chatRequests).toBe(2);
    clock.advance(1);
    const probed = await ask();
    expect(probed.endpoint).toBe("a");
    expect(a.stats().chatRequests).toBe(3);
    expect(t.status()[0]?.breaker.type).toBe("closed");
  });

  it("re-opens on a failed probe and says CIRCUIT_OPEN when every circuit is open", async () => {
    a.setFaults({ rate500: 1 });
    const t = tier([
      endpointOptions("a", a.url, { maxRetries: 0, circuitBreaker: { failureThreshold: 1, resetMs: 1_000 } }),
    ]);
    const ask = () => t.classify({ task: "t", text: weatherText, labels: [...LABELS] });
    expect(await codeOf(ask())).toBe(ErrorCode.LLM_ERROR);
    expect(await codeOf(ask())).toBe(ErrorCode.CIRCUIT_OPEN);
    expect(a.stats().chatRequests).toBe(1);
    clock.advance(1_000);
    expect(await codeOf(ask())).toBe(ErrorCode.LLM_ERROR); // the probe failed
    expect(t.status()[0]?.breaker.type).toBe("open");
    expect(await codeOf(ask())).toBe(ErrorCode.CIRCUIT_OPEN);
    expect(a.stats().chatRequests).toBe(2);
  });

  it("retries a malformed answer once and succeeds", async () => {
    a.setFaults({ sequence: ["malformed", "ok"] });
    const r = await tier([endpointOptions("a", a.url, { maxRetries: 0 })]).classify({
      task: "t",
      text: weatherText,
      labels: [...LABELS],
    });
    expect(r.attempts).toBe(2);
    expect(r.label).toBe("weather");
  });

  it("turns a second malformed answer into LLM_MALFORMED", async () => {
    a.setFaults({ sequence: ["malformed", "malformed-body", "ok"] });
    const t = tier([endpointOptions("a", a.url), endpointOptions("b", b.url)]);
    expect(await codeOf(t.classify({ task: "t", text: weatherText, labels: [...LABELS] }))).toBe(
      ErrorCode.LLM_MALFORMED,
    );
    expect(a.stats().chatRequests).toBe(2);
    expect(b.stats().chatRequests).toBe(0);
  });

  it("cuts a hung endpoint at timeoutMs with LLM_TIMEOUT", async () => {
    a.setFaults({ sequence: ["timeout"] });
    const t = tier([endpointOptions("a", a.url, { timeoutMs: 300, maxRetries: 0 })]);
    expect(await codeOf(t.classify({ task: "t", text: weatherText, labels: [...LABELS] }))).toBe(
      ErrorCode.LLM_TIMEOUT,
    );
    expect(a.stats().faults).toEqual({ timeout: 1 });
  });

  it("falls back from a hung endpoint to the next one", async () => {
    a.setFaults({ sequence: ["timeout"] });
    const t = tier([
      endpointOptions("a", a.url, { timeoutMs: 300, maxRetries: 0 }),
      endpointOptions("b", b.url),
    ]);
    const r = await t.classify({ task: "t", text: weatherText, labels: [...LABELS] });
    expect(r.endpoint).toBe("b");
    expect(r.attempts).toBe(2);
  });

  it("keeps at most maxConcurrency requests in flight per endpoint", async () => {
    a.setLatency(100);
    const t = tier([endpointOptions("a", a.url, { maxConcurrency: 2 })]);
    const results = await Promise.all(
      Array.from({ length: 6 }, () => t.classify({ task: "t", text: weatherText, labels: [...LABELS] })),
    );
    expect(results.every((r) => r.label === "weather")).toBe(true);
    expect(a.stats().maxInFlight).toBe(2);
  });

  it("passes chat completions through with cost, and refuses stream: true", async () => {
    const t = tier([endpointOptions("a", a.url)]);
    const r = await t.chat({ model: "anything", messages: [{ role: "user", content: "hello there" }] });
    expect(r.completion.choices[0]?.message.content).toContain("stand-in");
    expect(r.model).toBe("tiergate-standin:model-a");
    expect(r.costUsd).toBeGreaterThan(0);
    const streaming = {
      model: "x",
      messages: [{ role: "user" as const, content: "hi" }],
      stream: true,
    } as never;
    expect(await codeOf(t.chat(streaming))).toBe(ErrorCode.BAD_REQUEST);
  });
});
