// Off-peak batches end to end: an edge batch published to JetStream outside the window (by the
// injected clock) is delayed to the next window start in the policy's zone, then runs and publishes
// one DeviceResult per item on the device's results subject; a repeated batch id runs once; inside
// the window a batch runs at once; a batch with a callbackUrl is POSTed there when it is done.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import { Queue } from "bullmq";
import {
  BATCH_EVENTS_MAX_LEN,
  type BatchStore,
  DEFAULT_BATCH_QUEUE,
  type Coordinator,
} from "@tiergate/cloud-coordinator";
import { DeviceResultSchema, createSubjects, decode, encode, type BatchSubmission } from "@tiergate/shared";
import { waitFor } from "../index.ts";
import { TASK, pickTexts, startFixture, type Fixture, FIXTURE_TIMEOUT_MS } from "./fixture.ts";

const PREFIX = "bat";
const KEYS = "bat:";
const subjects = createSubjects({ prefix: PREFIX });
let f: Fixture;
let js: JetStreamClient;
let jsm: JetStreamManager;
let store: BatchStore;
let queue: Queue;
let coordinator: Coordinator;
/** The coordinator's clock: tests move it. */
let fakeNow = 0;

beforeAll(async () => {
  f = await startFixture();
  const nc = await f.connectNats();
  js = jetstream(nc);
  jsm = await jetstreamManager(nc);
  store = await f.batchStore(KEYS);
  // Reads jobs only: it must not write the queue's meta record (the coordinator's settings).
  queue = new Queue("tg-batches", {
    connection: await f.connectRedis(true),
    prefix: `${KEYS}bull`,
    skipMetasUpdate: true,
  });
  coordinator = await f.startCoordinator({
    subjectPrefix: PREFIX,
    keyPrefix: KEYS,
    escalations: false,
    clock: { now: () => fakeNow },
  });
}, FIXTURE_TIMEOUT_MS);
afterAll(async () => {
  await queue?.close();
  await f?.[Symbol.asyncDispose]();
});

function submission(batchId: string, deviceId: string, n: number): BatchSubmission {
  const texts = [...f.gold.keys()].slice(100, 100 + n);
  return {
    batchId,
    deviceId,
    source: "edge",
    submittedAt: fakeNow,
    items: texts.map((input, i) => ({ id: `${batchId}-item-${i}`, task: TASK, input })),
  };
}

/** Every DeviceResult stored for `deviceId` (read by sequence: works on any nats-server 2.9+). */
async function deviceResults(deviceId: string): Promise<{ requestId: string; msgId: string | undefined }[]> {
  const stream = subjects.streams.results.name;
  const { state } = await jsm.streams.info(stream);
  const out: { requestId: string; msgId: string | undefined }[] = [];
  for (let seq = state.first_seq; seq <= state.last_seq && state.messages > 0; seq++) {
    const m = await jsm.streams.getMessage(stream, { seq }).catch(() => null);
    if (m === null || m.subject !== subjects.results(deviceId)) continue;
    const r = decode(DeviceResultSchema, m.data);
    out.push({ requestId: r.requestId, msgId: m.header.get("Nats-Msg-Id") || undefined });
  }
  return out;
}

describe("edge batches", () => {
  it("outside the window: delayed to the next window start in the policy's zone, then run", async () => {
    // 21:59:59 in Berlin (CEST): the 22:00 window opens in one second.
    fakeNow = Date.parse("2024-06-01T19:59:59.000Z");
    const sub = submission("b-outside", "dev-out", 4);
    await js.publish(subjects.batch("dev-out"), encode(sub), { msgID: sub.batchId });

    const delayed = await waitFor(async () => await store.view(sub.batchId), {
      message: "the batch to be stored",
    });
    expect(delayed.status).toBe("delayed");
    expect(delayed.scheduledFor).toBe(Date.parse("2024-06-01T20:00:00.000Z"));
    // The status record is written first (its SET NX decides whether the batch id is new), the job
    // right after: wait for the job too.
    const job = await waitFor(async () => await queue.getJob(sub.batchId), { message: "the batch's job" });
    expect(job.opts.delay).toBe(1000);

    const done = await waitFor(
      async () => (await store.view(sub.batchId))?.status === "completed" && (await store.view(sub.batchId)),
      {
        timeoutMs: 30_000,
        message: "the batch to complete",
      },
    );
    expect(done.results.map((r) => r.id)).toEqual(sub.items.map((i) => i.id));
    expect(done.results.every((r) => r.status === "answered" && r.servedBy?.where === "cloud")).toBe(true);
    // What the stored form leaves out where it repeats the accepted attempt, read back whole.
    for (const r of done.results) {
      const by = r.attempts.find((a) => a.accepted);
      expect(r.servedBy).toEqual({
        tier: by?.tier,
        where: by?.where,
        kind: by?.kind,
        model: by?.model,
        version: by?.modelVersion,
      });
      expect(r.confidence).toBe(by?.confidence);
      expect(r.timings.steps.map((t) => t.step)).toContain(`tier:${by?.tier}`);
    }
    expect(done.startedAt).toBeGreaterThanOrEqual(fakeNow);

    const published = await waitFor(
      async () => {
        const r = await deviceResults("dev-out");
        return r.length === sub.items.length && r;
      },
      { message: "one result per item on the device's subject" },
    );
    expect(published.map((p) => p.requestId).sort()).toEqual(sub.items.map((i) => i.id).sort());
    expect(published.every((p) => p.msgId === p.requestId)).toBe(true);
  });

  it("runs a repeated batch id once", async () => {
    const sub = submission("b-outside", "dev-out", 4);
    const before = await store.view(sub.batchId);
    // A different message id gets past JetStream's own de-duplication: the coordinator must catch it.
    await js.publish(subjects.batch("dev-out"), encode(sub), { msgID: `${sub.batchId}-again` });
    await waitFor(
      async () => {
        const c = await jsm.consumers.info(subjects.streams.batch.name, subjects.batchConsumer);
        return c.num_pending === 0 && c.num_ack_pending === 0 && c.delivered.stream_seq >= 2;
      },
      { message: "the repeated batch to be consumed" },
    );
    const after = await store.view(sub.batchId);
    expect(after?.completedAt).toBe(before?.completedAt);
    expect(await deviceResults("dev-out")).toHaveLength(sub.items.length);
  });

  it("inside the window: runs at once", async () => {
    // 23:00 in Berlin.
    fakeNow = Date.parse("2024-06-01T21:00:00.000Z");
    const sub = submission("b-inside", "dev-in", 2);
    await js.publish(subjects.batch("dev-in"), encode(sub), { msgID: sub.batchId });
    const first = await waitFor(async () => await store.view(sub.batchId), {
      message: "the batch to be stored",
    });
    expect(["queued", "running", "completed"]).toContain(first.status);
    expect(first.scheduledFor).toBe(fakeNow);
    const job = await waitFor(async () => await queue.getJob(sub.batchId), { message: "the batch's job" });
    expect(job.opts.delay ?? 0).toBe(0);
    await waitFor(async () => (await deviceResults("dev-in")).length === 2, {
      timeoutMs: 30_000,
      message: "results",
    });
    expect(coordinator.metrics).toBeDefined();
  });

  it("shows a batch still running after the running mark as running, then completed", async () => {
    // 23:00 in Berlin. Texts the medium model is unsure of go to the LLM stand-in, slowed down.
    fakeNow = Date.parse("2024-06-01T21:00:00.000Z");
    // Not texts the other tests send (their answers are cached).
    const used = new Set([...f.gold.keys()].slice(100, 110));
    const unsure = (await pickTexts(f.mediumDir, f.gold, 20)).unsure.filter((t) => !used.has(t));
    const sub: BatchSubmission = {
      ...submission("b-slow", "dev-slow", 0),
      items: unsure.slice(0, 2).map((input, i) => ({ id: `b-slow-item-${i}`, task: TASK, input })),
    };
    f.standin.setLatency(500);
    try {
      await js.publish(subjects.batch("dev-slow"), encode(sub), { msgID: sub.batchId });
      const running = await waitFor(
        async () => (await store.view(sub.batchId))?.status === "running" && (await store.view(sub.batchId)),
        { timeoutMs: 30_000, message: "the batch to show running" },
      );
      expect(running.results).toEqual([]);
      expect(running.startedAt).toBe(fakeNow);
      await waitFor(async () => (await store.view(sub.batchId))?.status === "completed", {
        timeoutMs: 30_000,
        message: "the batch to complete",
      });
    } finally {
      f.standin.setLatency(0);
    }
  });

  it("refuses a malformed batch message without stopping the intake", async () => {
    await js.publish(subjects.batch("dev-bad"), encode({ batchId: "x", items: [] }));
    const sub = submission("b-after-bad", "dev-in2", 1);
    await js.publish(subjects.batch("dev-in2"), encode(sub), { msgID: sub.batchId });
    await waitFor(async () => (await deviceResults("dev-in2")).length === 1, {
      timeoutMs: 30_000,
      message: "results after a bad message",
    });
  });

  it("POSTs the finished batch to its callbackUrl, trying again after a 503", async () => {
    fakeNow = Date.parse("2024-06-01T21:00:00.000Z");
    const received: { batchId: string | undefined; body: unknown }[] = [];
    let calls = 0;
    const server = createServer((req, res) => {
      let text = "";
      req.on("data", (c: Buffer) => (text += c.toString("utf8")));
      req.on("end", () => {
        calls++;
        if (calls === 1) {
          res.writeHead(503).end();
          return;
        }
        const id = req.headers["x-tiergate-batch-id"];
        received.push({ batchId: typeof id === "string" ? id : undefined, body: JSON.parse(text) });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const port = (server.address() as AddressInfo).port;
      const sub = { ...submission("b-callback", "dev-cb", 3), callbackUrl: `http://127.0.0.1:${port}/done` };
      await js.publish(subjects.batch("dev-cb"), encode(sub), { msgID: sub.batchId });
      await waitFor(() => received.length === 1, { timeoutMs: 30_000, message: "the callback" });
      expect(calls).toBe(2);
      const [got] = received;
      expect(got?.batchId).toBe("b-callback");
      expect(got?.body).toEqual(await store.view(sub.batchId));
      expect((got?.body as { status: string }).status).toBe("completed");
      expect((got?.body as { results: { id: string }[] }).results.map((r) => r.id)).toEqual(
        sub.items.map((i) => i.id),
      );
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe("the queue's Redis footprint", () => {
  it("bounds BullMQ's events stream, which holds each completed job's results, to BATCH_EVENTS_MAX_LEN", async () => {
    // BullMQ trims the stream (XTRIM MAXLEN ~) to the length recorded in the queue's meta key.
    const redis = await f.connectRedis();
    const meta = `${KEYS}bull:${DEFAULT_BATCH_QUEUE}:meta`;
    await waitFor(async () => (await redis.hget(meta, "opts.maxLenEvents")) !== null, {
      message: "the queue's meta record",
    });
    expect(Number(await redis.hget(meta, "opts.maxLenEvents"))).toBe(BATCH_EVENTS_MAX_LEN);
    expect(BATCH_EVENTS_MAX_LEN).toBeLessThan(10_000); // BullMQ's default, ~450 MB of 45 KB results
  });
});
