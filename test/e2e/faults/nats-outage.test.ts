// An edge agent cut off from NATS for 60 seconds of traffic, then reconnected: realtime requests
// are answered from the edge (degraded when they would have escalated) or refused with a typed
// error; batch-mode requests wait in the durable outbox and are answered after the reconnect,
// each exactly once (counted by request id on the device's JetStream results stream).
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EdgeService, Stack } from "../../../deploy/local/stack.ts";
import { fullStackMissing, Ledger, STACK_TIMEOUT_MS, startE2eStack } from "../support.ts";
import { collectDeferred, resultsPerRequest, runLoad } from "../traffic.ts";

export const OUTAGE_MS = 60_000;
const BEFORE_MS = 5_000;
const AFTER_MS = 10_000;
const DEVICE = "edge-outage";
const missing = fullStackMissing();

describe.skipIf(missing !== undefined)(
  `fault: edge cut off from NATS for 60 s${missing === undefined ? "" : ` (skipped: ${missing})`}`,
  () => {
    let stack: Stack | undefined;
    beforeAll(async () => {
      stack = await startE2eStack({ deviceIds: [DEVICE], coordinators: 1, offPeakNow: true });
    }, STACK_TIMEOUT_MS);
    afterAll(async () => {
      await stack?.stop();
    });

    it(
      "answers or refuses every realtime request and delivers every batch request exactly once after the reconnect",
      async () => {
        const s = stack as Stack;
        const edge = s.edges[0] as EdgeService;
        const nats = s.nats;
        if (nats === undefined) throw new Error("no nats-server");
        const realtime = new Ledger();
        const batch = new Ledger();
        const batchIds: string[] = [];
        const duringOutage: string[] = [];
        let outage = false;
        const url = `${edge.url}/v1/infer`;
        const durationMs = BEFORE_MS + OUTAGE_MS + AFTER_MS;
        const loads = Promise.all([
          runLoad({
            url,
            ledger: realtime,
            ratePerSecond: 8,
            durationMs,
            idPrefix: "rt",
            onSettled: (_id, how) => {
              if (outage) duringOutage.push(how);
            },
          }),
          runLoad({
            url,
            ledger: batch,
            ratePerSecond: 2,
            durationMs,
            idPrefix: "bt",
            mode: "batch",
            onSettled: (id, how) => {
              if (how === "deferred") batchIds.push(id);
            },
          }),
        ]);
        await sleep(BEFORE_MS);
        await nats.stop();
        outage = true;
        await sleep(OUTAGE_MS);
        await nats.restart();
        outage = false;
        await loads;

        const notDelivered = await collectDeferred(edge.url, batchIds, batch, 90_000);
        expect(notDelivered).toEqual([]);
        for (const ledger of [realtime, batch]) {
          expect(ledger.problems()).toEqual({ lost: [], duplicated: [], unknown: [] });
          expect(Object.keys(ledger.counts()).filter((how) => how.startsWith("untyped"))).toEqual([]);
        }
        // The edge kept answering while it was cut off.
        expect(duringOutage.filter((how) => how === "answered:edge").length).toBeGreaterThan(0);
        expect(batchIds.length).toBe(batch.size);
        // Exactly once on the wire: one message per batch request on the device's results stream.
        const perRequest = await resultsPerRequest(nats.url, DEVICE);
        expect(batchIds.filter((id) => perRequest.get(id) !== 1)).toEqual([]);
      },
      BEFORE_MS + OUTAGE_MS + AFTER_MS + 150_000,
    );
  },
);
