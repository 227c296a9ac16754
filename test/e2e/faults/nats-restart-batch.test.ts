// nats-server restarted during batch intake: batch-mode requests sent to an edge agent while the
// server goes down and comes back (same port, same JetStream store) are all answered, each exactly
// once (one message per request id on the device's results stream).
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EdgeService, Stack } from "../../../deploy/local/stack.ts";
import { fullStackMissing, Ledger, STACK_TIMEOUT_MS, startE2eStack } from "../support.ts";
import { collectDeferred, resultsPerRequest, runLoad } from "../traffic.ts";

const LOAD_MS = 15_000;
const STOP_AT_MS = 5_000;
const DOWN_MS = 3_000;
const DEVICE = "edge-intake";
const missing = fullStackMissing();

describe.skipIf(missing !== undefined)(
  `fault: nats-server restarted during batch intake${missing === undefined ? "" : ` (skipped: ${missing})`}`,
  () => {
    let stack: Stack | undefined;
    beforeAll(async () => {
      stack = await startE2eStack({ deviceIds: [DEVICE], coordinators: 1, offPeakNow: true });
    }, STACK_TIMEOUT_MS);
    afterAll(async () => {
      await stack?.stop();
    });

    it(
      "answers every batch request exactly once",
      async () => {
        const s = stack as Stack;
        const edge = s.edges[0] as EdgeService;
        const nats = s.nats;
        if (nats === undefined) throw new Error("no nats-server");
        const ledger = new Ledger();
        const deferred: string[] = [];
        const load = runLoad({
          url: `${edge.url}/v1/infer`,
          ledger,
          ratePerSecond: 20,
          durationMs: LOAD_MS,
          idPrefix: "intake",
          mode: "batch",
          onSettled: (id, how) => {
            if (how === "deferred") deferred.push(id);
          },
        });
        await sleep(STOP_AT_MS);
        await nats.stop();
        await sleep(DOWN_MS);
        await nats.restart();
        await load;
        expect(deferred.length).toBe(ledger.size);
        expect(await collectDeferred(edge.url, deferred, ledger, 90_000)).toEqual([]);
        expect(ledger.problems()).toEqual({ lost: [], duplicated: [], unknown: [] });
        expect(Object.keys(ledger.counts()).filter((how) => how.startsWith("untyped"))).toEqual([]);
        expect(ledger.counts()["answered:cloud"] ?? 0).toBeGreaterThan(ledger.size / 2);
        const perRequest = await resultsPerRequest(nats.url, DEVICE);
        expect(deferred.filter((id) => perRequest.get(id) !== 1)).toEqual([]);
      },
      LOAD_MS + 150_000,
    );
  },
);
