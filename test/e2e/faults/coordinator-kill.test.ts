// One of two coordinators killed with SIGKILL under load: escalations in flight on the dead one are
// retried by the edge within their deadline and answered by the survivor (or answered degraded /
// refused with a typed error); every request id is settled exactly once.
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EdgeService, HttpService, Stack } from "../../../deploy/local/stack.ts";
import { fullStackMissing, Ledger, STACK_TIMEOUT_MS, startE2eStack } from "../support.ts";
import { runLoad } from "../traffic.ts";

const LOAD_MS = 20_000;
const KILL_AT_MS = 7_000;
/** After this long the dead coordinator's subscriptions are gone and only the survivor answers. */
const SETTLE_AFTER_KILL_MS = 3_000;
const missing = fullStackMissing();

describe.skipIf(missing !== undefined)(
  `fault: a coordinator killed under load${missing === undefined ? "" : ` (skipped: ${missing})`}`,
  () => {
    let stack: Stack | undefined;
    beforeAll(async () => {
      stack = await startE2eStack({ deviceIds: ["edge-kill"], coordinators: 2 });
    }, STACK_TIMEOUT_MS);
    afterAll(async () => {
      await stack?.stop();
    });

    it(
      "settles every request exactly once and keeps answering from the cloud after the kill",
      async () => {
        const s = stack as Stack;
        const edge = s.edges[0] as EdgeService;
        const victim = s.coordinators[0] as HttpService;
        const ledger = new Ledger();
        let killedAt = Number.POSITIVE_INFINITY;
        const afterKill: string[] = [];
        const load = runLoad({
          url: `${edge.url}/v1/infer`,
          ledger,
          ratePerSecond: 15,
          durationMs: LOAD_MS,
          idPrefix: "kill",
          oosOnly: true,
          onSettled: (_id, how, sentAt) => {
            if (sentAt > killedAt + SETTLE_AFTER_KILL_MS) afterKill.push(how);
          },
        });
        await sleep(KILL_AT_MS);
        victim.kill("SIGKILL");
        killedAt = Date.now();
        await load;
        expect((await victim.waitForExit()).signal).toBe("SIGKILL");
        expect(ledger.problems()).toEqual({ lost: [], duplicated: [], unknown: [] });
        expect(Object.keys(ledger.counts()).filter((how) => how.startsWith("untyped"))).toEqual([]);
        expect(afterKill.length).toBeGreaterThan(0);
        expect(afterKill.filter((how) => how === "answered:cloud").length).toBeGreaterThan(
          afterKill.length / 2,
        );
      },
      LOAD_MS + 60_000,
    );
  },
);
