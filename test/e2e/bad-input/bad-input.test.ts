// Bad-input corpora against the real edge agent and coordinator HTTP APIs: every case gets its
// typed error (status + code), prompt-injection texts are classified like any text and change
// nothing, and both processes are alive and healthy afterwards.
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parsePolicy } from "@tiergate/shared";
import { DEFAULT_POLICY_FILE, type HttpService, type Stack } from "../../../deploy/local/stack.ts";
import { isProcessAlive } from "../../src/harness/util.ts";
import {
  E2E_API_KEY,
  errorCodeOf,
  fullStackMissing,
  inferResultOf,
  postJson,
  send,
  STACK_TIMEOUT_MS,
  startE2eStack,
  TASK,
} from "../support.ts";
import { cloudCases, edgeCases, injections, type BadInputCase } from "./cases.ts";

const policy = parsePolicy(readFileSync(DEFAULT_POLICY_FILE, "utf8"), { file: DEFAULT_POLICY_FILE }).policy;
const MAX_INPUT_BYTES = policy.tasks[TASK]?.maxInputBytes ?? 4096;
const missing = fullStackMissing();
const AUTH = { authorization: `Bearer ${E2E_API_KEY}` };
const CONTROL_TEXT = "what is my account balance";

async function call(service: HttpService, c: BadInputCase, auth: Record<string, string>) {
  const headers: Record<string, string> = { ...(c.noAuth === true ? {} : auth), ...c.headers };
  const body = c.raw ?? (c.json === undefined ? undefined : JSON.stringify(c.json));
  if (body !== undefined && c.contentType !== null)
    headers["content-type"] = c.contentType ?? "application/json";
  return await send(service.url + c.path, {
    method: c.method ?? "POST",
    headers,
    ...(body === undefined ? {} : { body }),
  });
}

let stack: Stack | undefined;

function suite(
  api: "edge" | "cloud",
  cases: BadInputCase[],
  auth: Record<string, string>,
  pick: (s: Stack) => HttpService,
) {
  const service = (): HttpService => pick(stack as Stack);

  it(`has at least 30 cases for the ${api} API`, () => {
    expect(cases.length).toBeGreaterThanOrEqual(30);
  });

  const checked = cases.filter((c) => c.knownGap === undefined);
  const gaps = cases.filter((c) => c.knownGap !== undefined);
  it.each(checked)(`${api}: $name → $status $code`, async (c) => {
    const r = await call(service(), c, auth);
    expect({ status: r.status, code: errorCodeOf(r.body) }, r.text.slice(0, 300)).toEqual({
      status: c.status,
      code: c.code,
    });
  });

  // Expected failures: each names a gap that is not closed yet (see BadInputCase.knownGap).
  if (gaps.length > 0) {
    it.fails.each(gaps)(`${api}: $name → $status $code (known gap: $knownGap)`, async (c) => {
      const r = await call(service(), c, auth);
      expect({ status: r.status, code: errorCodeOf(r.body) }).toEqual({ status: c.status, code: c.code });
    });
  }

  it(`${api}: prompt-injection texts are plain inputs and change nothing`, async () => {
    const url = `${service().url}/v1/infer`;
    const before = inferResultOf((await postJson(url, { task: TASK, input: CONTROL_TEXT }, auth)).body);
    expect(before?.status).toBe("answered");
    for (const text of injections) {
      const r = await postJson(url, { task: TASK, input: text }, auth);
      const result = inferResultOf(r.body);
      expect(result, `${text} → ${r.status} ${r.text.slice(0, 300)}`).toBeDefined();
      expect(["answered", "refused"]).toContain(result?.status);
      expect(result?.task).toBe(TASK);
      if (result?.status === "refused") expect(result.error?.code).toBeTypeOf("string");
    }
    const after = inferResultOf((await postJson(url, { task: TASK, input: CONTROL_TEXT }, auth)).body);
    expect([after?.status, after?.label]).toEqual([before?.status, before?.label]);
  });

  it(`${api}: the process is alive and healthy after all of it`, async () => {
    expect(isProcessAlive(service().pid)).toBe(true);
    expect((await send(`${service().url}/healthz`, { method: "GET" })).status).toBe(200);
    const r = await postJson(
      `${service().url}/v1/infer`,
      { task: TASK, input: "set a timer for ten minutes" },
      auth,
    );
    expect(inferResultOf(r.body)?.status).toBe("answered");
  });
}

const skipped = missing === undefined ? "" : ` (skipped: ${missing})`;

describe.skipIf(missing !== undefined)(`bad input${skipped}`, () => {
  beforeAll(async () => {
    stack = await startE2eStack({ deviceIds: ["bad-input-edge"], coordinators: 1 });
  }, STACK_TIMEOUT_MS);
  afterAll(async () => {
    await stack?.stop();
  });

  describe("edge agent HTTP API", () => {
    suite("edge", edgeCases(MAX_INPUT_BYTES), {}, (s) => s.edges[0] as HttpService);
  });

  describe("coordinator HTTP API", () => {
    suite("cloud", cloudCases(MAX_INPUT_BYTES, E2E_API_KEY), AUTH, (s) => s.coordinators[0] as HttpService);
  });
});
