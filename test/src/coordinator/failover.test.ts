// Two spawned coordinator processes share the escalations; one is killed with SIGKILL mid-load. A
// client that re-sends a request (same id) until its deadline, as the edge agent does, loses none.
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { NatsConnection } from "@nats-io/transport-node";
import {
  EscalationReplySchema,
  createSubjects,
  decodeReply,
  encode,
  isRetryable,
  TiergateError,
  type EscalationReply,
} from "@tiergate/shared";
import { startProcess, type ProcessHandle } from "../index.ts";
import { LLM_ENV, TASK, pickTexts, startFixture, type Fixture, FIXTURE_TIMEOUT_MS } from "./fixture.ts";

const BIN = fileURLToPath(
  new URL("../../../cloud-coordinator/bin/tiergate-coordinator.mjs", import.meta.url),
);
const PREFIX = "kill";
const subjects = createSubjects({ prefix: PREFIX });
const REQUESTS = 60;
const CONCURRENCY = 6;
const ATTEMPT_TIMEOUT_MS = 1000;
const DEADLINE_MS = 20_000;

let f: Fixture;
let nc: NatsConnection;
let texts: string[];

async function spawnCoordinator(id: string): Promise<ProcessHandle> {
  return await startProcess({
    command: process.execPath,
    args: [
      BIN,
      "start",
      ...["--policy", f.policyFile, "--nats", f.nats.url, "--redis", f.redis.url],
      ...["--no-http", "--subject-prefix", PREFIX, "--instance-id", id, "--log-level", "warn"],
    ],
    env: LLM_ENV,
    name: `coordinator ${id}`,
    readiness: /tiergate-coordinator ready/,
    readyTimeoutMs: 60_000,
  });
}

beforeAll(async () => {
  f = await startFixture();
  const picked = await pickTexts(f.mediumDir, f.gold, 10);
  texts = [...picked.confident, ...picked.unsure];
  nc = await f.connectNats();
}, FIXTURE_TIMEOUT_MS);
afterAll(async () => {
  await f?.[Symbol.asyncDispose]();
});

/** Sends one escalation and re-sends it (same id) on timeouts and retryable errors until the deadline. */
async function escalateWithRetry(
  id: string,
  input: string,
): Promise<{ reply: EscalationReply; attempts: number }> {
  const deadlineAt = Date.now() + DEADLINE_MS;
  const body = encode({ id, task: TASK, input, deviceId: "dev-k", deadlineAt, edgeAttempts: [] });
  for (let attempts = 1; ; attempts++) {
    try {
      const msg = await nc.request(subjects.escalate(TASK), body, { timeout: ATTEMPT_TIMEOUT_MS });
      return { reply: decodeReply(EscalationReplySchema, msg.data, (k) => msg.headers?.get(k)), attempts };
    } catch (err) {
      const retry = !(err instanceof TiergateError) || isRetryable(err.code);
      if (!retry || Date.now() >= deadlineAt) throw err;
      await sleep(50);
    }
  }
}

describe("coordinator failover", () => {
  it("loses no request when one of two coordinators is killed mid-load", async () => {
    await using a = await spawnCoordinator("k-a");
    await using b = await spawnCoordinator("k-b");
    const ids = Array.from({ length: REQUESTS }, (_, i) => `kill-req-${i}`);
    const results = new Map<string, { reply: EscalationReply; attempts: number }>();
    let next = 0;
    let killed = false;
    const worker = async (): Promise<void> => {
      while (next < ids.length) {
        const i = next++;
        const id = ids[i] ?? "";
        results.set(id, await escalateWithRetry(id, texts[i % texts.length] ?? ""));
        if (!killed && results.size >= REQUESTS / 3) {
          killed = true;
          a.kill("SIGKILL");
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    expect(killed).toBe(true);
    expect((await a.waitForExit()).signal).toBe("SIGKILL");
    expect(b.running).toBe(true);
    expect(results.size).toBe(REQUESTS);
    for (const [id, r] of results) {
      expect(r.reply.id).toBe(id);
      expect(r.reply.result.status).toBe("answered");
    }
    // The survivor stops gracefully on SIGTERM (reverse order of start) and exits 0.
    expect(await b.stop()).toEqual({ code: 0, signal: null });
  });
});
