// What leaves the device: a capture of every message on the NATS server (`>`) while a request with an
// email address, a phone number and a card number is escalated and also sent in batch mode. None of
// them may appear on the wire; the redactions are counted by kind in the metrics.
import { setTimeout as sleep } from "node:timers/promises";
import { beforeAll, describe, expect, it } from "vitest";
import { InferResultSchema } from "@tiergate/shared";
import { makeTempDir, startNatsServer, waitFor } from "../index.ts";
import { startResponder } from "./responder.ts";
import {
  captureWire,
  edgeModels,
  PII_INPUT,
  postInfer,
  startInProcessAgent,
  TASK,
  testSubjects,
  writePolicy,
} from "./support.ts";

const EMAIL = "bob@example.com";
const PHONE = ["+1 415-555-2671", "415-555-2671", "4155552671"];
const CARD = ["4111 1111 1111 1111", "4111111111111111"];

beforeAll(async () => {
  await edgeModels();
}, 900_000);

describe("privacy on the wire", () => {
  it("redacts email, phone and card from escalations and outbox batches", async () => {
    await using nats = await startNatsServer();
    await using dir = await makeTempDir("edge-privacy");
    const subjects = testSubjects();
    await using agent = await startInProcessAgent({
      policyFile: await writePolicy(dir.path, { batchMaxAgeMs: 20 }),
      dataDir: dir.path,
      natsUrl: nats.url,
      subjects,
    });
    await waitFor(
      async () =>
        ((await (await fetch(`${agent.address}/readyz`)).json()) as { nats: string }).nats === "connected",
    );
    await using responder = await startResponder(nats.url, subjects);
    await using wire = await captureWire(nats.url);

    const escalated = InferResultSchema.parse(
      (await postInfer(agent.address, { task: TASK, input: PII_INPUT, deadlineMs: 5_000 })).json,
    );
    expect(escalated.servedBy?.where).toBe("cloud");
    const batched = await postInfer(agent.address, {
      task: TASK,
      input: PII_INPUT,
      mode: "batch",
      id: "pii-batch",
    });
    expect(batched.json).toMatchObject({ status: "deferred", resultUrl: "/v1/results/pii-batch" });
    await waitFor(() => agent.outboxDepth === 0, { message: "outbox flushed" });
    await sleep(200);

    const sent = responder.received[0]?.request;
    expect(sent?.input).toContain("[REDACTED:email]");
    expect(sent?.input).toContain("[REDACTED:phone]");
    expect(sent?.input).toContain("[REDACTED:card]");
    expect(sent?.redactions).toEqual({ email: 1, phone: 1, card: 1 });

    const onWire = wire.messages.map((m) => `${m.subject}\n${JSON.stringify(m.headers)}\n${m.data}`);
    expect(onWire.some((m) => m.includes("tg.v1.escalate."))).toBe(true);
    expect(onWire.some((m) => m.includes("tg.v1.batch.") && m.includes("pii-batch"))).toBe(true);
    for (const secret of [EMAIL, ...PHONE, ...CARD]) {
      expect(onWire.filter((m) => m.includes(secret))).toEqual([]);
    }

    const metrics = await (await fetch(`${agent.address}/metrics`)).text();
    for (const kind of ["email", "phone", "card"]) {
      expect(metrics).toContain(
        `tiergate_edge_egress_redactions_total{kind="${kind}",channel="escalation"} 1`,
      );
      expect(metrics).toContain(`tiergate_edge_egress_redactions_total{kind="${kind}",channel="batch"} 1`);
    }
  });
});
