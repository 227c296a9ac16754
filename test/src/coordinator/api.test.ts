// The cloud HTTP API over real HTTP: /v1/infer through the cloud tiers, batches, the OpenAI-compatible
// chat endpoint used through the real `openai` client, and the typed errors 400/401/413/429.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import OpenAI from "openai";
import { ErrorBodySchema, ErrorCode, InferResultSchema } from "@tiergate/shared";
import { waitFor } from "../index.ts";
import { API_KEY, TASK, pickTexts, startFixture, type Fixture, FIXTURE_TIMEOUT_MS } from "./fixture.ts";

let f: Fixture;
let url: string;
let limitedUrl: string;
let texts: { confident: string[]; unsure: string[] };

beforeAll(async () => {
  f = await startFixture();
  texts = await pickTexts(f.mediumDir, f.gold);
  const c = await f.startCoordinator({
    subjectPrefix: "api",
    keyPrefix: "api:",
    escalations: false,
    forceOffPeak: true,
    listen: { host: "127.0.0.1", port: 0 },
  });
  url = c.url ?? "";
  const limited = await f.startCoordinator({
    subjectPrefix: "api2",
    keyPrefix: "api2:",
    escalations: false,
    batches: false,
    listen: { host: "127.0.0.1", port: 0 },
    rateLimit: { perSecond: 0.5, burst: 3 },
  });
  limitedUrl = limited.url ?? "";
}, FIXTURE_TIMEOUT_MS);
afterAll(async () => {
  await f?.[Symbol.asyncDispose]();
});

async function post(
  path: string,
  body: unknown,
  key: string | null = API_KEY,
  base = url,
): Promise<Response> {
  return await fetch(`${base}${path}`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...(key === null ? {} : { authorization: `Bearer ${key}` }),
    },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

async function errorOf(
  res: Response,
): Promise<{ code: string; paths: string[]; retryAfterMs?: number | undefined }> {
  const body = ErrorBodySchema.parse(await res.json());
  return {
    code: body.error.code,
    paths: (body.error.details ?? []).map((d) => d.path.join(".")),
    retryAfterMs: body.error.retryAfterMs,
  };
}

describe("cloud HTTP API", () => {
  it("answers /v1/infer through the cloud tiers with the shared contract", async () => {
    const res = await post("/v1/infer", { task: TASK, input: texts.unsure[0] });
    expect(res.status).toBe(200);
    const r = InferResultSchema.parse(await res.json());
    expect(r.status).toBe("answered");
    expect(r.servedBy?.kind).toBe("llm");
    expect(r.costUsd).toBeGreaterThan(0);
  });

  it("takes a batch, reports it, and finishes it", async () => {
    const items = texts.confident.slice(0, 3).map((input, i) => ({ id: `api-item-${i}`, task: TASK, input }));
    const res = await post("/v1/batches", { batchId: "api-batch-1", items });
    expect(res.status).toBe(202);
    expect(await res.json()).toMatchObject({ batchId: "api-batch-1", itemCount: 3, duplicate: false });
    const done = await waitFor(
      async () => {
        const r = await fetch(`${url}/v1/batches/api-batch-1`, {
          headers: { authorization: `Bearer ${API_KEY}` },
        });
        const body = (await r.json()) as { status: string; results: unknown[] };
        return body.status === "completed" && body;
      },
      { timeoutMs: 30_000, message: "the API batch to complete" },
    );
    expect(done.results).toHaveLength(3);
    const again = await post("/v1/batches", { batchId: "api-batch-1", items });
    expect(await again.json()).toMatchObject({ duplicate: true, status: "completed" });
  });

  it("answers GET /v1/batches/:id for an unknown id with 404 BATCH_NOT_FOUND", async () => {
    const res = await fetch(`${url}/v1/batches/nope`, { headers: { authorization: `Bearer ${API_KEY}` } });
    expect(res.status).toBe(404);
    expect((await errorOf(res)).code).toBe(ErrorCode.BATCH_NOT_FOUND);
  });

  it("forwards OpenAI chat completions to the LLM tier (real openai client) and says what it cost", async () => {
    const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: API_KEY, maxRetries: 0 });
    const { data, response } = await client.chat.completions
      .create({ model: "anything", messages: [{ role: "user", content: "hello there" }], temperature: 0 })
      .withResponse();
    expect(data.choices[0]?.message.content).toBeTruthy();
    expect(Number(response.headers.get("x-tiergate-cost-usd"))).toBeGreaterThan(0);
    expect(response.headers.get("x-tiergate-endpoint")).toBe("standin");
    expect(response.headers.get("x-tiergate-cache")).toBe("miss");
    const second = await client.chat.completions
      .create({ model: "anything", messages: [{ role: "user", content: "hello there" }], temperature: 0 })
      .withResponse();
    expect(second.response.headers.get("x-tiergate-cache")).toBe("hit");
    expect(second.data.id).toBe(data.id);
  });

  it.each([
    ["no key", null, "UNAUTHORIZED"],
    ["a wrong key", "wrong-key-0123456789abc", "UNAUTHORIZED"],
  ])("refuses %s with 401", async (_what, key, code) => {
    const res = await post("/v1/infer", { task: TASK, input: "hi" }, key);
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toMatch(/Bearer/);
    expect((await errorOf(res)).code).toBe(code);
  });

  it.each([
    ["a missing field", { task: TASK }, ErrorCode.VALIDATION_FAILED, "input"],
    ["a wrong type", { task: TASK, input: 3 }, ErrorCode.VALIDATION_FAILED, "input"],
    ["an unknown field", { task: TASK, input: "x", colour: "red" }, ErrorCode.VALIDATION_FAILED, ""],
    ["an unknown task", { task: "nope", input: "x" }, ErrorCode.UNKNOWN_TASK, "task"],
    ["bad JSON", "{not json", ErrorCode.INVALID_JSON, undefined],
  ])("refuses %s with 400 naming the field", async (_what, body, code, path) => {
    const res = await post("/v1/infer", body);
    expect(res.status).toBe(400);
    const e = await errorOf(res);
    expect(e.code).toBe(code);
    if (path !== undefined) expect(e.paths).toContain(path);
  });

  it("refuses a batch item without input, naming items.N.input", async () => {
    const res = await post("/v1/batches", { items: [{ task: TASK, input: "ok" }, { task: TASK }] });
    expect(res.status).toBe(400);
    expect((await errorOf(res)).paths).toContain("items.1.input");
  });

  it("refuses an oversized body with 413 and keeps serving", async () => {
    const res = await post("/v1/infer", { task: TASK, input: "x".repeat(1_100_000) });
    expect(res.status).toBe(413);
    expect((await errorOf(res)).code).toBe(ErrorCode.INPUT_TOO_LARGE);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
  });

  it("limits each key's rate with 429 and Retry-After", async () => {
    const statuses: number[] = [];
    let limited: Response | undefined;
    for (let i = 0; i < 5; i++) {
      const res = await post("/v1/infer", { task: TASK, input: texts.confident[0] }, API_KEY, limitedUrl);
      statuses.push(res.status);
      if (res.status === 429) limited = res;
      else await res.body?.cancel();
    }
    expect(statuses.slice(0, 3)).toEqual([200, 200, 200]);
    expect(statuses.slice(3)).toEqual([429, 429]);
    expect(Number(limited?.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    const e = await errorOf(limited as Response);
    expect(e.code).toBe(ErrorCode.RATE_LIMITED);
    expect(e.retryAfterMs).toBeGreaterThan(0);
  });

  it("serves /healthz, /readyz and /metrics without a key", async () => {
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/tiergate_coordinator_tier_calls_total\{[^}]*tier="medium"/);
    expect(metrics).toMatch(/tiergate_coordinator_http_requests_total/);
  });
});
