// The LLM stand-in answering 429s (with Retry-After), 500s, timeouts and malformed JSON: every
// escalation is answered (after retries or from the fallback) or refused with a typed error, each
// request id once; once the faults stop, the LLM tier answers again.
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EdgeService, HttpService, Stack } from "../../../deploy/local/stack.ts";
import {
  E2E_API_KEY,
  fullStackMissing,
  Ledger,
  postJson,
  send,
  STACK_TIMEOUT_MS,
  startE2eStack,
  TASK,
} from "../support.ts";
import { runLoad, settlement } from "../traffic.ts";

const LOAD_MS = 20_000;
const LLM_TIMEOUT_MS = 800;
const BREAKER_RESET_MS = 2_000;
const AUTH = { authorization: `Bearer ${E2E_API_KEY}` };
const FAULTS = {
  rate429: 0.15,
  rate500: 0.15,
  rateTimeout: 0.1,
  rateMalformed: 0.15,
  retryAfterS: 0,
  holdMs: 5_000,
};
/** Codes a failed escalation may end with: each says what went wrong. */
const TYPED_LLM_CODES = [
  "LLM_RATE_LIMITED",
  "LLM_ERROR",
  "LLM_MALFORMED",
  "LLM_TIMEOUT",
  "CIRCUIT_OPEN",
  "DEADLINE_EXCEEDED",
  "UNAVAILABLE",
];
const missing = fullStackMissing();

describe.skipIf(missing !== undefined)(
  `fault: the LLM returns 429, 500, timeouts and malformed JSON${missing === undefined ? "" : ` (skipped: ${missing})`}`,
  () => {
    let stack: Stack | undefined;
    beforeAll(async () => {
      stack = await startE2eStack({
        deviceIds: ["edge-llm"],
        coordinators: 1,
        patchPolicy: (policy) => {
          for (const endpoint of Object.values(policy.llm.endpoints)) {
            endpoint.timeoutMs = LLM_TIMEOUT_MS;
            endpoint.circuitBreaker.resetMs = BREAKER_RESET_MS;
          }
        },
      });
    }, STACK_TIMEOUT_MS);
    afterAll(async () => {
      await stack?.stop();
    });

    it(
      "answers or refuses with a typed error every request, then recovers",
      async () => {
        const s = stack as Stack;
        const edge = s.edges[0] as EdgeService;
        const coordinator = s.coordinators[0] as HttpService;
        const standin = s.standin as HttpService;
        const set = await postJson(`${standin.url}/_standin/faults`, FAULTS);
        expect(set.status, set.text).toBeLessThan(300);

        const cloud = new Ledger();
        const viaEdge = new Ledger();
        await Promise.all([
          runLoad({
            url: `${coordinator.url}/v1/infer`,
            ledger: cloud,
            headers: AUTH,
            ratePerSecond: 4,
            durationMs: LOAD_MS,
            idPrefix: "cloud",
            oosOnly: true,
            deadlineMs: 8_000,
          }),
          runLoad({
            url: `${edge.url}/v1/infer`,
            ledger: viaEdge,
            ratePerSecond: 4,
            durationMs: LOAD_MS,
            idPrefix: "edge",
            oosOnly: true,
          }),
        ]);
        for (const ledger of [cloud, viaEdge]) {
          expect(ledger.problems()).toEqual({ lost: [], duplicated: [], unknown: [] });
          const hows = Object.keys(ledger.counts());
          expect(hows.filter((h) => h.startsWith("untyped"))).toEqual([]);
          const refusals = hows
            .filter((h) => h.startsWith("refused:"))
            .map((h) => h.slice("refused:".length));
          expect(
            refusals.filter((code) => !TYPED_LLM_CODES.includes(code) && code !== "REFUSED_BY_POLICY"),
          ).toEqual([]);
        }
        expect(
          Object.entries(cloud.counts()).filter(([h]) => h.startsWith("answered")).length,
        ).toBeGreaterThan(0);

        // Every kind of fault was really served.
        const stats = (await send(`${standin.url}/_standin/stats`, { method: "GET" })).body as {
          faults?: Record<string, number>;
        };
        for (const kind of ["429", "500", "timeout", "malformed"])
          expect(stats.faults?.[kind] ?? 0, kind).toBeGreaterThan(0);

        // Faults off: after the breaker's reset the LLM tier answers again.
        expect((await send(`${standin.url}/_standin/faults`, { method: "DELETE" })).status).toBeLessThan(300);
        await sleep(BREAKER_RESET_MS + 500);
        let recovered = "";
        for (let i = 0; i < 20 && recovered !== "answered:cloud"; i += 1) {
          recovered = settlement(
            await postJson(
              `${coordinator.url}/v1/infer`,
              { task: TASK, input: "how do i ride a unicycle backwards", deadlineMs: 8_000 },
              AUTH,
            ),
          );
          if (recovered !== "answered:cloud") await sleep(500);
        }
        expect(recovered).toBe("answered:cloud");
      },
      LOAD_MS + 90_000,
    );
  },
);
