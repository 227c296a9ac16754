// Running the agent: policy reload (a good file takes effect, a bad one keeps the old policy and is
// counted), heartbeats on the device subject, and the optional result callback.
import { createServer } from "node:http";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { connect } from "@nats-io/transport-node";
import { jetstream } from "@nats-io/jetstream";
import { trace } from "@opentelemetry/api";
import { beforeAll, describe, expect, it } from "vitest";
import { EdgeAgent } from "@tiergate/edge-agent";
import {
  decode,
  encode,
  ErrorCode,
  HeartbeatSchema,
  loadModel,
  silentLogger,
  TiergateError,
  type DeviceResult,
  type Heartbeat,
} from "@tiergate/shared";
import { makeTempDir, startNatsServer, waitFor } from "../index.ts";
import { CONFIDENT_INPUT, edgeModels, postInfer, TASK, testSubjects, writePolicy } from "./support.ts";

beforeAll(async () => {
  await edgeModels();
}, 900_000);

describe("edge agent operations", () => {
  it("rejects a start that cannot load a model or open its data dir with that error, and the data dir then starts", async () => {
    await using dir = await makeTempDir("edge-failed-start");
    const policyFile = await writePolicy(dir.path);
    const options = {
      deviceId: "fail-dev",
      policyFile,
      dataDir: join(dir.path, "data"),
      listen: { type: "tcp" as const, host: "127.0.0.1", port: 0 },
      subjects: testSubjects(),
      connect: () => connect({ servers: "nats://127.0.0.1:1" }),
      loadModel: (d: string) => loadModel(d),
      logger: silentLogger,
      tracer: trace.getTracer("edge-test"),
      heartbeatIntervalMs: 3_600_000,
      watchPolicy: false,
      processMetrics: false,
    };
    // The stores open while the models load: a model that fails after they opened closes them.
    const noModel = (d: string) =>
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new TiergateError(ErrorCode.MODEL_NOT_FOUND, `no model in ${d}`)), 50),
      );
    await expect(EdgeAgent.start({ ...options, loadModel: noModel })).rejects.toMatchObject({
      code: ErrorCode.MODEL_NOT_FOUND,
    });
    await expect(EdgeAgent.start({ ...options, dataDir: join(policyFile, "under-a-file") })).rejects.toThrow(
      /outbox/,
    );
    const agent = await EdgeAgent.start(options);
    try {
      expect((await postInfer(agent.address, { task: TASK, input: CONFIDENT_INPUT })).json.answer).toBe(
        "Your balance is in the app (nano).",
      );
    } finally {
      await agent.close();
    }
  });

  it("reloads a changed policy, keeps the old one when the new one is bad, and sends heartbeats", async () => {
    await using nats = await startNatsServer();
    await using dir = await makeTempDir("edge-ops");
    const subjects = testSubjects();
    const policyFile = await writePolicy(dir.path);
    const agent = await EdgeAgent.start({
      deviceId: "ops-dev",
      policyFile,
      dataDir: dir.path,
      listen: { type: "tcp", host: "127.0.0.1", port: 0 },
      subjects,
      connect: () => connect({ servers: nats.url }),
      loadModel: (d) => loadModel(d),
      logger: silentLogger,
      tracer: trace.getTracer("edge-test"),
      heartbeatIntervalMs: 200,
      processMetrics: false,
    });
    try {
      const nc = await connect({ servers: nats.url });
      const beats: Heartbeat[] = [];
      nc.subscribe(subjects.heartbeat("ops-dev"), {
        callback: (_e, m) => void beats.push(decode(HeartbeatSchema, m.data)),
      });
      await waitFor(() => beats.length >= 2, { message: "two heartbeats" });
      expect(beats[0]).toMatchObject({ deviceId: "ops-dev", outboxDepth: 0 });
      expect(beats[0]?.models.map((m) => m.tier)).toEqual(["nano", "small", "nano", "small"]);
      await nc.close();

      const before = await postInfer(agent.address, { task: TASK, input: CONFIDENT_INPUT });
      expect(before.json.answer).toBe("Your balance is in the app (nano).");
      const oldVersion = agent.state.policyVersion;

      const policy = JSON.parse(await readFile(policyFile, "utf8")) as {
        tasks: Record<string, { actions: Record<string, unknown> }>;
      };
      for (const task of Object.values(policy.tasks))
        task.actions["balance"] = { type: "template", template: "New: {label}." };
      await writeFile(policyFile, JSON.stringify(policy));
      await waitFor(() => agent.state.policyVersion !== oldVersion, {
        message: "policy reloaded from the file change",
      });
      expect((await postInfer(agent.address, { task: TASK, input: CONFIDENT_INPUT })).json.answer).toBe(
        "New: balance.",
      );

      const good = agent.state.policyVersion;
      await writeFile(policyFile, '{"version": "1.0", "tasks": {}}');
      await agent.reloadPolicy(); // what SIGHUP does
      expect(agent.state.policyVersion).toBe(good);
      expect((await postInfer(agent.address, { task: TASK, input: CONFIDENT_INPUT })).json.answer).toBe(
        "New: balance.",
      );
      const metrics = await (await fetch(`${agent.address}/metrics`)).text();
      expect(metrics).toMatch(/tiergate_edge_policy_reloads_total\{result="changed"\} 1/);
      expect(metrics).toMatch(/tiergate_edge_policy_reloads_total\{result="rejected"\} [1-9]/);
    } finally {
      await agent.close();
    }
  });

  it("POSTs a deferred result to the caller's callback URL when it arrives", async () => {
    await using nats = await startNatsServer();
    await using dir = await makeTempDir("edge-callback");
    const subjects = testSubjects();
    const posted: unknown[] = [];
    const server = createServer((req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => (body += c.toString()));
      req.on("end", () => {
        posted.push(JSON.parse(body));
        res.end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as { port: number }).port;
    const agent = await EdgeAgent.start({
      deviceId: "cb-dev",
      policyFile: await writePolicy(dir.path),
      dataDir: dir.path,
      listen: { type: "tcp", host: "127.0.0.1", port: 0 },
      subjects,
      connect: () => connect({ servers: nats.url }),
      loadModel: (d) => loadModel(d),
      logger: silentLogger,
      tracer: trace.getTracer("edge-test"),
      heartbeatIntervalMs: 3_600_000,
      watchPolicy: false,
      processMetrics: false,
    });
    try {
      const res = await postInfer(agent.address, {
        task: TASK,
        input: "later please",
        mode: "batch",
        id: "cb-1",
        callbackUrl: `http://127.0.0.1:${port}/hook`,
      });
      expect(res.json).toMatchObject({ status: "deferred" });
      const nc = await connect({ servers: nats.url });
      const result: DeviceResult = {
        deviceId: "cb-dev",
        requestId: "cb-1",
        result: {
          id: "cb-1",
          task: TASK,
          status: "answered",
          label: "later",
          degraded: false,
          cached: false,
          attempts: [],
          costUsd: 0,
          timings: { totalMs: 1, steps: [] },
        },
      };
      const natsState = async () =>
        ((await (await fetch(`${agent.address}/readyz`)).json()) as { nats: string }).nats;
      await waitFor(async () => (await natsState()) === "connected", {
        message: "agent connected (streams exist)",
      });
      await jetstream(nc).publish(subjects.results("cb-dev"), encode(result), { msgID: "cb-1" });
      await waitFor(() => posted.length === 1, { message: "callback POST" });
      expect(posted[0]).toMatchObject({ id: "cb-1", status: "answered", label: "later" });
      expect(await (await fetch(`${agent.address}/v1/results/cb-1`)).json()).toMatchObject({
        status: "answered",
      });
      await nc.close();
    } finally {
      await agent.close();
      server.close();
    }
  });
});
