// The agent as a process (`tiergate-edge start`): a SIGKILL while the outbox holds 1,000 requests
// loses none and duplicates none, every deferred result can then be fetched, and bad input never
// takes the process down.
import { spawnSync } from "node:child_process";
import { request } from "node:http";
import { createServer, type AddressInfo, type Socket } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { beforeAll, describe, expect, it } from "vitest";
import { BatchSubmissionSchema, decode, encode, type DeviceResult, type Subjects } from "@tiergate/shared";
import {
  freePort,
  makeTempDir,
  startNatsServer,
  startProcess,
  waitFor,
  type ProcessHandle,
} from "../index.ts";
import {
  CONFIDENT_INPUT,
  EDGE_BIN,
  edgeModels,
  postInfer,
  TASK,
  testSubjects,
  writePolicy,
} from "./support.ts";

const REQUESTS = 1_000;
const CONCURRENCY = 50;
const DEVICE = "crash-dev";

beforeAll(async () => {
  await edgeModels();
}, 900_000);

type AgentProcess = { handle: ProcessHandle; base: string };

async function startAgent(args: {
  policyFile: string;
  dataDir: string;
  natsUrl: string;
  subjects: Subjects;
}): Promise<AgentProcess> {
  const port = await freePort();
  const handle = await startProcess({
    name: "tiergate-edge",
    command: process.execPath,
    args: [
      EDGE_BIN,
      "start",
      ...["--policy", args.policyFile, "--device-id", DEVICE, "--nats", args.natsUrl],
      ...[
        "--listen",
        `127.0.0.1:${port}`,
        "--data-dir",
        args.dataDir,
        "--subject-prefix",
        args.subjects.prefix,
      ],
    ],
    readiness: /edge agent ready/,
    readyTimeoutMs: 60_000,
  });
  return { handle, base: `http://127.0.0.1:${port}` };
}

/**
 * POST with node:http: the server may answer 413 and close before a 2 MB body is written, so the
 * answer counts even when the write fails afterwards (fetch would report only EPIPE).
 */
function rawPost(url: string, contentType: string, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const headers = { "content-type": contentType, "content-length": Buffer.byteLength(body) };
    let answered = false;
    const req = request(url, { method: "POST", headers }, (res) => {
      answered = true;
      let text = "";
      res.on("data", (chunk: Buffer) => (text += chunk.toString("utf8")));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
      res.on("error", reject);
    });
    req.on("error", (err) => {
      // EPIPE/ECONNRESET while writing a body the server already refused: its answer still counts.
      if (!answered) setTimeout(() => (answered ? undefined : reject(err)), 1_000);
    });
    req.end(body);
  });
}

async function inChunks<T>(n: number, size: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (let start = 0; start < n; start += size) {
    out.push(
      ...(await Promise.all(Array.from({ length: Math.min(size, n - start) }, (_, k) => fn(start + k)))),
    );
  }
  return out;
}

describe("edge agent process", () => {
  it("delivers every outbox request exactly once after a SIGKILL, and serves every result", async () => {
    await using dir = await makeTempDir("edge-crash");
    const subjects = testSubjects();
    const natsPort = await freePort();
    const natsUrl = `nats://127.0.0.1:${natsPort}`;
    const policyFile = await writePolicy(dir.path, { batchMaxAgeMs: 50, batchMaxItems: 256 });
    // NATS is not there yet: everything waits in the durable outbox.
    const agent = await startAgent({ policyFile, dataDir: `${dir.path}/data`, natsUrl, subjects });
    await using _agent = agent.handle;

    const ids = Array.from({ length: REQUESTS }, (_, i) => `req-${i}`);
    const accepted = await inChunks(REQUESTS, CONCURRENCY, (i) =>
      postInfer(agent.base, { task: TASK, input: `request number ${i} please`, mode: "batch", id: ids[i] }),
    );
    expect(accepted.filter((r) => r.status !== 200 || r.json.status !== "deferred")).toEqual([]);
    const ready = (await (await fetch(`${agent.base}/readyz`)).json()) as {
      outboxDepth: number;
      nats: string;
    };
    expect(ready).toMatchObject({ outboxDepth: REQUESTS });
    expect(ready.nats).not.toBe("connected");

    agent.handle.kill("SIGKILL");
    expect((await agent.handle.waitForExit()).signal).toBe("SIGKILL");
    await using nats = await startNatsServer({ port: natsPort });
    await agent.handle.restart();

    // The cloud side: read the batch stream the agent created and count every item by id.
    const nc = await connect({ servers: nats.url });
    try {
      const jsm = await jetstreamManager(nc);
      await waitFor(async () => (await jsm.streams.info(subjects.streams.batch.name)).state.messages > 0, {
        timeoutMs: 30_000,
        message: "first batch on JetStream",
      });
      const seen = new Map<string, number>();
      const countItems = async (): Promise<number> => {
        seen.clear();
        const consumer = await jetstream(nc).consumers.get(subjects.streams.batch.name);
        const messages = await consumer.fetch({ max_messages: 10_000, expires: 1_000 });
        let n = 0;
        for await (const m of messages) {
          const batch = decode(BatchSubmissionSchema, m.data);
          expect(batch).toMatchObject({ deviceId: DEVICE, source: "edge" });
          for (const item of batch.items) {
            seen.set(item.id, (seen.get(item.id) ?? 0) + 1);
            n++;
          }
          if (m.info.pending === 0) break;
        }
        return n;
      };
      await waitFor(async () => (await countItems()) >= REQUESTS, {
        timeoutMs: 30_000,
        message: "all items on JetStream",
      });
      await waitFor(
        async () =>
          ((await (await fetch(`${agent.base}/readyz`)).json()) as { outboxDepth: number }).outboxDepth === 0,
      );
      // Kill it once more after delivery and restart: nothing is sent twice.
      agent.handle.kill("SIGKILL");
      await agent.handle.waitForExit();
      await agent.handle.restart();
      await sleep(500);
      expect(await countItems()).toBe(REQUESTS);
      expect([...seen.keys()].sort()).toEqual([...ids].sort());
      expect([...seen.values()].every((c) => c === 1)).toBe(true);

      // Results come back on the device's results subject; every one can be fetched.
      const js = jetstream(nc);
      for (const id of ids) {
        const msg: DeviceResult = {
          deviceId: DEVICE,
          requestId: id,
          result: {
            id,
            task: TASK,
            status: "answered",
            label: "cloud",
            answer: `answer for ${id}`,
            degraded: false,
            cached: false,
            attempts: [],
            costUsd: 0,
            timings: { totalMs: 1, steps: [] },
          },
        };
        await js.publish(subjects.results(DEVICE), encode(msg), { msgID: `result-${id}` });
      }
      const fetchAll = async (): Promise<number> => {
        const results = await inChunks(REQUESTS, CONCURRENCY, async (i) => {
          const res = await fetch(`${agent.base}/v1/results/${ids[i]}`);
          return (await res.json()) as { status?: string; answer?: string };
        });
        return results.filter((r, i) => r.status === "answered" && r.answer === `answer for ${ids[i]}`)
          .length;
      };
      await waitFor(async () => (await fetchAll()) === REQUESTS, {
        timeoutMs: 30_000,
        message: "every result fetchable",
      });
    } finally {
      await nc.close();
    }
    // Graceful stop: SIGTERM, exit code 0.
    expect(await agent.handle.stop()).toEqual({ code: 0, signal: null });
  });

  it("refuses a data directory it cannot create, saying why, instead of waiting on it", async () => {
    // Node's recursive mkdir never settles under /proc; the agent's start used to wait on it forever.
    await using dir = await makeTempDir("edge-bad-data-dir");
    const dataDir = `/proc/tiergate-test-${process.pid}`;
    const run = spawnSync(
      process.execPath,
      [
        EDGE_BIN,
        "start",
        "--policy",
        await writePolicy(dir.path),
        "--device-id",
        DEVICE,
        "--listen",
        "127.0.0.1:0",
      ],
      {
        env: { ...process.env, TIERGATE_DATA_DIR: dataDir, TIERGATE_NATS_URL: "nats://127.0.0.1:1" },
        encoding: "utf8",
        timeout: 30_000,
      },
    );
    expect(run.signal).toBeNull(); // ended by itself, not by the timeout
    expect(run.status).toBe(1);
    expect(run.stderr).toContain(`cannot create outbox dir ${dataDir}/outbox: ENOENT`);
  });

  it("stops at once on SIGTERM while a NATS server does not answer its connection", async () => {
    // A server that accepts and never speaks: the client waits for its INFO until its 20 s timeout.
    const sockets = new Set<Socket>();
    const silent = createServer((socket) => void sockets.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const { port } = silent.address() as AddressInfo;
    try {
      await using dir = await makeTempDir("edge-silent-nats");
      const agent = await startAgent({
        policyFile: await writePolicy(dir.path),
        dataDir: `${dir.path}/data`,
        natsUrl: `nats://127.0.0.1:${port}`,
        subjects: testSubjects(),
      });
      await waitFor(() => sockets.size > 0, { timeoutMs: 10_000, message: "a connection attempt" });
      // Before: the stop waited for that attempt to time out, and was killed here after 8 s.
      expect(await agent.handle.stop({ timeoutMs: 8_000 })).toEqual({ code: 0, signal: null });
    } finally {
      for (const s of sockets) s.destroy();
      silent.close();
    }
  });

  it("answers bad input with typed 4xx errors and stays up", async () => {
    await using dir = await makeTempDir("edge-bad-input");
    await using nats = await startNatsServer();
    const agent = await startAgent({
      policyFile: await writePolicy(dir.path),
      dataDir: `${dir.path}/data`,
      natsUrl: nats.url,
      subjects: testSubjects(),
    });
    await using _agent = agent.handle;
    const cases: { name: string; body: string; contentType?: string; status: number; code: string }[] = [
      { name: "invalid JSON", body: "{not json", status: 400, code: "INVALID_JSON" },
      { name: "empty body", body: "", status: 400, code: "INVALID_JSON" },
      { name: "missing task", body: JSON.stringify({ input: "hi" }), status: 400, code: "VALIDATION_FAILED" },
      {
        name: "unknown task",
        body: JSON.stringify({ task: "nope", input: "hi" }),
        status: 400,
        code: "UNKNOWN_TASK",
      },
      {
        name: "non-string input",
        body: JSON.stringify({ task: TASK, input: 42 }),
        status: 400,
        code: "VALIDATION_FAILED",
      },
      {
        name: "control characters",
        body: JSON.stringify({ task: TASK, input: "a\u0000b" }),
        status: 400,
        code: "VALIDATION_FAILED",
      },
      {
        name: "input over maxInputBytes",
        body: JSON.stringify({ task: TASK, input: "a".repeat(513) }),
        status: 413,
        code: "INPUT_TOO_LARGE",
      },
      {
        name: "body over the body limit",
        body: JSON.stringify({ task: TASK, input: "a".repeat(2_000_000) }),
        status: 413,
        code: "INPUT_TOO_LARGE",
      },
      {
        name: "unknown field",
        body: JSON.stringify({ task: TASK, input: "hi", extra: 1 }),
        status: 400,
        code: "VALIDATION_FAILED",
      },
      {
        name: "bad mode",
        body: JSON.stringify({ task: TASK, input: "hi", mode: "later" }),
        status: 400,
        code: "VALIDATION_FAILED",
      },
      {
        name: "not JSON content type",
        body: "hello",
        contentType: "text/plain",
        status: 415,
        code: "UNSUPPORTED_MEDIA_TYPE",
      },
    ];
    for (const c of cases) {
      const res = await rawPost(`${agent.base}/v1/infer`, c.contentType ?? "application/json", c.body);
      const json = JSON.parse(res.body) as { error?: { code?: string; message?: string } };
      expect({ name: c.name, status: res.status, code: json.error?.code }).toEqual({
        name: c.name,
        status: c.status,
        code: c.code,
      });
      expect(json.error?.message).toBeTruthy();
    }
    const badId = await fetch(`${agent.base}/v1/results/${encodeURIComponent("a b")}`);
    expect(badId.status).toBe(400);
    expect((await fetch(`${agent.base}/v1/results/unknown-id`)).status).toBe(404);
    expect((await fetch(`${agent.base}/nope`)).status).toBe(404);

    expect(agent.handle.running).toBe(true);
    expect((await fetch(`${agent.base}/healthz`)).status).toBe(200);
    const ok = await postInfer(agent.base, { task: TASK, input: CONFIDENT_INPUT });
    expect(ok.json).toMatchObject({ status: "answered", label: "balance" });
    const metrics = await (await fetch(`${agent.base}/metrics`)).text();
    expect(metrics).toMatch(/tiergate_edge_bad_requests_total\{code="VALIDATION_FAILED"\} 5/);
  });
});
