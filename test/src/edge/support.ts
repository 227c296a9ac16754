// Shared set-up for the edge agent's integration tests: a policy over the real CLINC150 models, the
// agent in-process (EdgeAgent, real NATS + ONNX) or as a process (the CLI, for crash tests), and a
// wire capture that records every message on the server.
import { randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { connect, type Msg, type NatsConnection } from "@nats-io/transport-node";
import { trace } from "@opentelemetry/api";
import { EdgeAgent } from "@tiergate/edge-agent";
import { createSubjects, loadModel, silentLogger, type Subjects } from "@tiergate/shared";
import { ensureModels, REPO_ROOT } from "../models/ensure-models.ts";

export const EDGE_BIN = resolve(REPO_ROOT, "edge-agent/bin/tiergate-edge.mjs");
export const TASK = "intent";
/** Same models, but refuses instead of degrading when the cloud cannot answer. */
export const STRICT_TASK = "intent-strict";
/** Confidently "balance" for the nano model. */
export const CONFIDENT_INPUT = "what is my bank account balance";
/** Neither model is sure of this (small calls it `oos`, a reject label): it needs the cloud. */
export const UNSURE_INPUT = "blorp the quizzical vantablack trombone";
/** Personal data in an utterance no edge model is sure of, so it is escalated (redacted). */
export const PII_INPUT =
  "zorp flibber glank: my email is bob@example.com, phone +1 415-555-2671 and card 4111 1111 1111 1111";
/** Confident `transfer`: an "answer now, upgrade later" label in the test policy. */
export const UPGRADE_INPUT = "i want to transfer money to my savings account";
/** Confident `pin_change` at the edge. */
export const PIN_INPUT = "how do i change my pin";
/** A template answer for the confident label. */
export const BALANCE_ANSWER = "Your balance is in the app ({tier}).";

export type PolicyOptions = {
  batchMaxAgeMs?: number;
  batchMaxItems?: number;
  cache?: boolean;
  neverEscalate?: string[];
  /** Use the int8-quantized models. */
  int8?: boolean;
};

/**
 * Trains nano and small into <repo>/models when missing (minutes, once) and returns their dirs; with
 * `int8`, the int8-quantized variants.
 */
export async function edgeModels(int8 = false): Promise<{ nano: string; small: string }> {
  const models = await ensureModels({ presets: ["nano", "small"], quantize: int8 });
  const dir = (p: string): string => {
    const m = models.find((x) => x.preset === p);
    return (int8 ? m?.int8Dir : m?.dir) ?? join(REPO_ROOT, "models", int8 ? `${p}-int8` : p);
  };
  return { nano: dir("nano"), small: dir("small") };
}

export async function writePolicy(dir: string, options: PolicyOptions = {}): Promise<string> {
  const { nano, small } = await edgeModels(options.int8 ?? false);
  const tiers = [
    // nano: a target precision, turned into a threshold by its manifest (≈0.90); small: a fixed threshold.
    { name: "nano", where: "edge", model: nano, accept: { rule: "max-prob", targetPrecision: 0.97 } },
    { name: "small", where: "edge", model: small, accept: { rule: "max-prob", threshold: 0.95 } },
  ];
  const task = {
    maxInputBytes: 512,
    defaultDeadlineMs: 2_000,
    tiers,
    rejectLabels: ["oos"],
    actions: { balance: { type: "template", template: BALANCE_ANSWER } },
    upgradeLabels: ["transfer"],
  };
  const policy = {
    version: "1.0",
    tasks: {
      [TASK]: { ...task, onCloudUnavailable: "degrade" },
      [STRICT_TASK]: { ...task, onCloudUnavailable: "refuse" },
    },
    privacy: {
      redact: ["email", "phone", "card", "iban", "ip"],
      neverEscalate:
        options.neverEscalate === undefined
          ? {}
          : { [TASK]: options.neverEscalate, [STRICT_TASK]: options.neverEscalate },
    },
    cache: { enabled: options.cache ?? false },
    batch: { maxItems: options.batchMaxItems ?? 256, maxAgeMs: options.batchMaxAgeMs ?? 50 },
  };
  const file = join(dir, "policy.json");
  await writeFile(file, JSON.stringify(policy, null, 2));
  return file;
}

/** Subjects under a fresh prefix, so tests sharing a server never see each other. */
export function testSubjects(): Subjects {
  return createSubjects({ prefix: `t${randomBytes(4).toString("hex")}` });
}

export type InProcessAgentOptions = {
  policyFile: string;
  dataDir: string;
  natsUrl: string;
  subjects: Subjects;
  deviceId?: string;
};

/** The agent in this process, over a real NATS server and the real ONNX models. */
export async function startInProcessAgent(
  options: InProcessAgentOptions,
): Promise<EdgeAgent & AsyncDisposable> {
  const agent = await EdgeAgent.start({
    deviceId: options.deviceId ?? "dev-1",
    policyFile: options.policyFile,
    dataDir: options.dataDir,
    listen: { type: "tcp", host: "127.0.0.1", port: 0 },
    subjects: options.subjects,
    connect: () => connect({ servers: options.natsUrl, maxReconnectAttempts: -1, reconnectTimeWait: 100 }),
    loadModel: (dir) => loadModel(dir),
    logger: silentLogger,
    tracer: trace.getTracer("edge-test"),
    heartbeatIntervalMs: 3_600_000,
    watchPolicy: false,
    processMetrics: false,
  });
  return Object.assign(agent, { [Symbol.asyncDispose]: () => agent.close() });
}

export type Captured = { subject: string; data: string; headers: Record<string, string[]> };

/** Records every message the server routes (`>`), with headers, until disposed. */
export async function captureWire(url: string): Promise<{ messages: Captured[] } & AsyncDisposable> {
  const nc: NatsConnection = await connect({ servers: url });
  const messages: Captured[] = [];
  nc.subscribe(">", {
    callback: (_err, msg: Msg) => {
      const headers: Record<string, string[]> = {};
      for (const [k, v] of msg.headers ?? []) headers[k] = v;
      messages.push({ subject: msg.subject, data: new TextDecoder().decode(msg.data), headers });
    },
  });
  await nc.flush();
  return { messages, [Symbol.asyncDispose]: () => nc.close() };
}

/**
 * Messages that could carry request content: everything but the JetStream API traffic of the
 * agent's results consumer (`$JS.API...`), replies to inboxes and heartbeats. Tests also check that
 * no message at all contains the input text.
 */
export function contentMessages(messages: readonly Captured[], subjects: Subjects): Captured[] {
  return messages.filter(
    (m) =>
      !m.subject.startsWith("$JS.") &&
      !m.subject.startsWith("_INBOX.") &&
      subjects.parse(m.subject)?.kind !== "heartbeat",
  );
}

export async function postInfer(
  base: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${base}/v1/infer`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}
