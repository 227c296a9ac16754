// The edge cascade against a real nats-server and the real ONNX models (nano, small): confident
// requests stay on the device, unsure ones are escalated with their edge attempts, deadline and trace
// context, and with NATS gone the answer is degraded or refused as the task's policy says.
import { setTimeout as sleep } from "node:timers/promises";
import { beforeAll, describe, expect, it } from "vitest";
import { DEADLINE_HEADER } from "@tiergate/edge-agent";
import { InferResultSchema, TRACEPARENT_HEADER } from "@tiergate/shared";
import { makeTempDir, startNatsServer, waitFor } from "../index.ts";
import { CLOUD_ANSWER, CLOUD_LABEL, startResponder } from "./responder.ts";
import {
  CONFIDENT_INPUT,
  captureWire,
  contentMessages,
  edgeModels,
  PIN_INPUT,
  postInfer,
  startInProcessAgent,
  STRICT_TASK,
  TASK,
  testSubjects,
  UNSURE_INPUT,
  writePolicy,
} from "./support.ts";

/** Long enough for a message in flight to show up on the capture. */
const SETTLE_MS = 300;

beforeAll(async () => {
  await edgeModels();
}, 900_000);

describe("edge cascade with the cloud reachable", () => {
  it("answers a confident request at the edge with no message on NATS, and escalates an unsure one", async () => {
    await using nats = await startNatsServer();
    await using dir = await makeTempDir("edge-cascade");
    const subjects = testSubjects();
    await using agent = await startInProcessAgent({
      policyFile: await writePolicy(dir.path),
      dataDir: dir.path,
      natsUrl: nats.url,
      subjects,
    });
    await waitFor(() => fetchReady(agent.address), { message: "agent connected to NATS" });
    await using wire = await captureWire(nats.url);

    const confident = await postInfer(agent.address, { task: TASK, input: CONFIDENT_INPUT });
    expect(confident.status).toBe(200);
    const edge = InferResultSchema.parse(confident.json);
    expect(edge).toMatchObject({ status: "answered", label: "balance", degraded: false, cached: false });
    expect(edge.servedBy).toMatchObject({ tier: "nano", where: "edge", kind: "model" });
    expect(edge.answer).toBe("Your balance is in the app (nano).");
    expect(edge.attempts[0]).toMatchObject({ tier: "nano", accepted: true });
    expect(edge.attempts[0]?.confidence).toBeGreaterThanOrEqual(edge.attempts[0]?.threshold ?? 1);
    expect(edge.timings.steps.map((s) => s.step)).toEqual(["parse", "tier:nano"]);
    await sleep(SETTLE_MS);
    expect(contentMessages(wire.messages, subjects)).toEqual([]);
    expect(wire.messages.some((m) => m.data.includes(CONFIDENT_INPUT))).toBe(false);

    await using responder = await startResponder(nats.url, subjects);
    // The app's trace context travels from its HTTP request into the escalation's NATS headers.
    const traceId = "0af7651916cd43dd8448eb211c80319c";
    const unsure = await postInfer(
      agent.address,
      { task: TASK, input: UNSURE_INPUT, id: "unsure-1", deadlineMs: 5_000 },
      { [TRACEPARENT_HEADER]: `00-${traceId}-b7ad6b7169203331-01` },
    );
    expect(unsure.status).toBe(200);
    const cloud = InferResultSchema.parse(unsure.json);
    expect(cloud).toMatchObject({
      id: "unsure-1",
      status: "answered",
      label: CLOUD_LABEL,
      answer: CLOUD_ANSWER,
      degraded: false,
    });
    expect(cloud.servedBy).toMatchObject({ where: "cloud", tier: "medium" });
    expect(cloud.attempts.map((a) => [a.tier, a.where, a.accepted])).toEqual([
      ["nano", "edge", false],
      ["small", "edge", false],
      ["medium", "cloud", true],
    ]);
    expect(cloud.timings.steps.map((s) => s.step)).toEqual(["parse", "tier:nano", "tier:small", "escalate"]);

    expect(responder.received).toHaveLength(1);
    const got = responder.received[0];
    expect(got?.request).toMatchObject({
      id: "unsure-1",
      task: TASK,
      input: UNSURE_INPUT,
      deviceId: "dev-1",
    });
    expect(got?.request.edgeAttempts.map((a) => a.tier)).toEqual(["nano", "small"]);
    expect(Number(got?.headers[DEADLINE_HEADER])).toBe(got?.request.deadlineAt);
    expect(got?.request.deadlineAt).toBeGreaterThan(Date.now());
    expect(got?.headers[TRACEPARENT_HEADER]).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
    expect(cloud.traceId).toBe(traceId);

    const metrics = await (await fetch(`${agent.address}/metrics`)).text();
    expect(metrics).toMatch(/tiergate_edge_requests_total\{task="intent",outcome="served",tier="nano"\} 1/);
    expect(metrics).toMatch(
      /tiergate_edge_requests_total\{task="intent",outcome="escalated",tier="medium"\} 1/,
    );
    expect(metrics).toMatch(/tiergate_edge_tier_confidence_count\{task="intent",tier="small"\} 1/);
  });

  it("retries an escalation whose coordinator never answered, with the same id, within the deadline", async () => {
    await using nats = await startNatsServer();
    await using dir = await makeTempDir("edge-retry");
    const subjects = testSubjects();
    await using agent = await startInProcessAgent({
      policyFile: await writePolicy(dir.path),
      dataDir: dir.path,
      natsUrl: nats.url,
      subjects,
    });
    await waitFor(() => fetchReady(agent.address), { message: "agent connected to NATS" });
    await using responder = await startResponder(nats.url, subjects, { dropFirstDelivery: true });
    const res = await postInfer(agent.address, {
      task: TASK,
      input: UNSURE_INPUT,
      id: "retry-1",
      deadlineMs: 2_000,
    });
    expect(res.json).toMatchObject({
      id: "retry-1",
      status: "answered",
      label: CLOUD_LABEL,
      degraded: false,
    });
    expect(responder.received.map((r) => r.request.id)).toEqual(["retry-1", "retry-1"]);
  });

  it("never sends a neverEscalate label: it is answered locally or refused", async () => {
    await using nats = await startNatsServer();
    await using dir = await makeTempDir("edge-private");
    const subjects = testSubjects();
    // pin_change is confident at nano; with no tier accepting (threshold 1) it would escalate.
    const policyFile = await writePolicy(dir.path, { neverEscalate: ["pin_change"] });
    const policy = JSON.parse(await (await import("node:fs/promises")).readFile(policyFile, "utf8")) as {
      tasks: Record<string, { tiers: { accept: Record<string, number | string> }[] }>;
    };
    for (const task of Object.values(policy.tasks))
      for (const t of task.tiers) t.accept = { rule: "max-prob", threshold: 1 };
    await (await import("node:fs/promises")).writeFile(policyFile, JSON.stringify(policy));
    await using agent = await startInProcessAgent({
      policyFile,
      dataDir: dir.path,
      natsUrl: nats.url,
      subjects,
    });
    await waitFor(() => fetchReady(agent.address), { message: "agent connected to NATS" });
    await using responder = await startResponder(nats.url, subjects);
    await using wire = await captureWire(nats.url);

    const local = await postInfer(agent.address, { task: TASK, input: PIN_INPUT });
    expect(local.json).toMatchObject({ status: "answered", label: "pin_change", degraded: true });
    const refused = await postInfer(agent.address, { task: STRICT_TASK, input: PIN_INPUT });
    expect(refused.json).toMatchObject({ status: "refused", error: { code: "PRIVACY_BLOCKED" } });
    await sleep(SETTLE_MS);
    expect(responder.received).toEqual([]);
    expect(contentMessages(wire.messages, subjects)).toEqual([]);
  });
});

describe("edge cascade with the cloud unreachable", () => {
  it("degrades or refuses as the task says, within the deadline, and recovers when NATS returns", async () => {
    await using nats = await startNatsServer();
    await using dir = await makeTempDir("edge-offline");
    const subjects = testSubjects();
    await using agent = await startInProcessAgent({
      policyFile: await writePolicy(dir.path),
      dataDir: dir.path,
      natsUrl: nats.url,
      subjects,
    });
    await waitFor(() => fetchReady(agent.address), { message: "agent connected to NATS" });

    await nats.stop();
    await waitFor(async () => (await readyz(agent.address)).nats !== "connected", {
      message: "agent saw NATS go",
    });
    const deadlineMs = 800;
    const started = Date.now();
    const degraded = await postInfer(agent.address, { task: TASK, input: UNSURE_INPUT, deadlineMs });
    const refused = await postInfer(agent.address, { task: STRICT_TASK, input: UNSURE_INPUT, deadlineMs });
    expect(Date.now() - started).toBeLessThan(2 * deadlineMs);
    const d = InferResultSchema.parse(degraded.json);
    expect(d).toMatchObject({ status: "answered", degraded: true });
    expect(d.servedBy?.where).toBe("edge");
    expect(d.label).toBeDefined();
    const r = InferResultSchema.parse(refused.json);
    expect(r).toMatchObject({ status: "refused", degraded: false, error: { code: "UNAVAILABLE" } });
    // The confident path does not care.
    expect((await postInfer(agent.address, { task: TASK, input: CONFIDENT_INPUT })).json).toMatchObject({
      label: "balance",
      degraded: false,
    });

    await nats.restart();
    await waitFor(async () => (await readyz(agent.address)).nats === "connected", {
      timeoutMs: 15_000,
      message: "reconnect",
    });
    await using responder = await startResponder(nats.url, subjects);
    const back = await postInfer(agent.address, {
      task: STRICT_TASK,
      input: UNSURE_INPUT,
      deadlineMs: 5_000,
    });
    expect(back.json).toMatchObject({ status: "answered", label: CLOUD_LABEL, degraded: false });
    expect(responder.received).toHaveLength(1);
  });

  it("does not escalate when the deadline is shorter than the expected round trip", async () => {
    await using nats = await startNatsServer();
    await using dir = await makeTempDir("edge-deadline");
    const subjects = testSubjects();
    await using agent = await startInProcessAgent({
      policyFile: await writePolicy(dir.path),
      dataDir: dir.path,
      natsUrl: nats.url,
      subjects,
    });
    await waitFor(() => fetchReady(agent.address), { message: "agent connected to NATS" });
    await using responder = await startResponder(nats.url, subjects);
    const res = await postInfer(agent.address, { task: STRICT_TASK, input: UNSURE_INPUT, deadlineMs: 1 });
    expect(res.json).toMatchObject({ status: "refused", error: { code: "DEADLINE_EXCEEDED" } });
    expect(responder.received).toEqual([]);
  });
});

async function readyz(base: string): Promise<{ ready: boolean; nats: string }> {
  return (await (await fetch(`${base}/readyz`)).json()) as { ready: boolean; nats: string };
}

async function fetchReady(base: string): Promise<boolean> {
  const r = await readyz(base);
  return r.ready && r.nats === "connected";
}
