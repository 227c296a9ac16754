// The tiergate LLM stand-in (offline, not a real LLM): an OpenAI-compatible HTTP server for
// tests, the demo and offline use. It answers classification prompts (a json_schema response
// format with a `label` enum) from a local Teacher, gives every other chat a canned reply that says
// what it is, reports token usage (≈ chars/4), and serves injected failures and latency that tests
// script at run time through its admin endpoints:
//   POST   /v1/chat/completions   OpenAI chat completions (stream: false only)
//   GET    /v1/models             the stand-in's model id plus any configured names
//   GET    /_standin/stats        counts of requests, answers and faults served; in-flight maximum
//   POST   /_standin/faults       replace the fault script/rates (FaultConfigSchema) and latency
//   DELETE /_standin/faults       clear faults
//   POST   /_standin/reset        clear faults and stats
// Admin endpoints are unauthenticated: bind the stand-in to loopback (the default).
import { timingSafeEqual } from "node:crypto";
import { createServer } from "node:http";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as delay } from "node:timers/promises";
import { z } from "zod";
import { extractClassificationText } from "../llm/prompt.ts";
import { NOOP_LOGGER } from "../llm/types.ts";
import type { Logger } from "../llm/types.ts";
import {
  FaultConfigSchema,
  FaultFieldsSchema,
  FaultPlan,
  RATES_MESSAGE,
  faultKey,
  ratesAddUp,
  seededRandom,
} from "./faults.ts";
import type { Fault, FaultConfig, FaultConfigInput } from "./faults.ts";
import {
  ChatRequestSchema,
  STANDIN_FINGERPRINT,
  STANDIN_MODEL_ID,
  STANDIN_MODEL_PREFIX,
  STANDIN_NAME,
  contentText,
  labelsOf,
  openAiError,
} from "./protocol.ts";
import type { ChatRequest, OpenAiErrorType } from "./protocol.ts";
import type { Teacher } from "./teacher.ts";

export const DEFAULT_STANDIN_HOST = "127.0.0.1";
export const DEFAULT_STANDIN_PORT = 8089;
export const DEFAULT_STANDIN_MAX_BODY_BYTES = 1_048_576;
export const DEFAULT_STANDIN_LATENCY_MS = 0;
export const DEFAULT_STANDIN_JITTER_MS = 0;
const CHARS_PER_TOKEN = 4;

export type StandinOptions = {
  teacher: Teacher;
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  latencyMs?: number;
  jitterMs?: number;
  faults?: FaultConfigInput;
  /** When set, only `Authorization: Bearer <this>` is accepted; otherwise any bearer token is. */
  requireApiKey?: string;
  maxBodyBytes?: number;
  seed?: number;
  logger?: Logger;
};

export type StandinStats = {
  requests: number;
  chatRequests: number;
  completions: number;
  classifications: number;
  badRequests: number;
  unauthorized: number;
  faults: Record<string, number>;
  inFlight: number;
  maxInFlight: number;
};

export type Standin = {
  readonly name: string;
  /** Base URL for OpenAI clients, ending in /v1. */
  readonly url: string;
  readonly origin: string;
  readonly port: number;
  stats(): StandinStats;
  resetStats(): void;
  setFaults(input: FaultConfigInput): FaultConfig;
  setLatency(latencyMs: number, jitterMs?: number): void;
  close(): Promise<void>;
};

const AdminFaultsSchema = FaultFieldsSchema.extend({
  latencyMs: z.number().min(0).optional(),
  jitterMs: z.number().min(0).optional(),
}).refine(ratesAddUp, { message: RATES_MESSAGE });

class HttpFailure extends Error {
  readonly status: number;
  readonly type: OpenAiErrorType;
  readonly param: string | null;
  constructor(status: number, type: OpenAiErrorType, message: string, param: string | null = null) {
    super(message);
    this.status = status;
    this.type = type;
    this.param = param;
  }
}

function emptyStats(): StandinStats {
  const s = {
    requests: 0,
    chatRequests: 0,
    completions: 0,
    classifications: 0,
    badRequests: 0,
    unauthorized: 0,
  };
  return { ...s, faults: {}, inFlight: 0, maxInFlight: 0 };
}

export async function startStandin(options: StandinOptions): Promise<Standin> {
  const log = options.logger ?? NOOP_LOGGER;
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_STANDIN_MAX_BODY_BYTES;
  const random = seededRandom(options.seed ?? 7);
  const lifetime = new AbortController();
  let latencyMs = options.latencyMs ?? DEFAULT_STANDIN_LATENCY_MS;
  let jitterMs = options.jitterMs ?? DEFAULT_STANDIN_JITTER_MS;
  let plan = new FaultPlan(FaultConfigSchema.parse(options.faults ?? {}));
  let stats = emptyStats();
  let counter = 0;

  const send = (
    res: ServerResponse,
    status: number,
    body: string,
    headers: Record<string, string> = {},
  ): void => {
    if (res.headersSent || res.destroyed) return;
    res.writeHead(status, { "content-type": "application/json", "x-tiergate-standin": "1", ...headers });
    res.end(body);
  };
  const fail = (res: ServerResponse, f: HttpFailure): void => {
    if (f.status === 400 || f.status === 413) stats.badRequests++;
    if (f.status === 401) stats.unauthorized++;
    send(res, f.status, openAiError(f.message, f.type, f.param));
  };

  const authorize = (req: IncomingMessage): void => {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? "");
    if (!m)
      throw new HttpFailure(401, "authentication_error", "missing `Authorization: Bearer <key>` header");
    if (options.requireApiKey !== undefined) {
      const a = Buffer.from(m[1] ?? "");
      const b = Buffer.from(options.requireApiKey);
      if (a.length !== b.length || !timingSafeEqual(a, b)) {
        throw new HttpFailure(401, "authentication_error", "incorrect API key for the tiergate LLM stand-in");
      }
    }
  };

  const readJson = async (req: IncomingMessage): Promise<unknown> => {
    const declared = Number(req.headers["content-length"] ?? 0);
    if (declared > maxBodyBytes)
      throw new HttpFailure(413, "invalid_request_error", `body over ${maxBodyBytes} bytes`);
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > maxBodyBytes)
        throw new HttpFailure(413, "invalid_request_error", `body over ${maxBodyBytes} bytes`);
      chunks.push(chunk);
    }
    try {
      return JSON.parse(Buffer.concat(chunks).toString("utf8")) as unknown;
    } catch (err) {
      throw new HttpFailure(
        400,
        "invalid_request_error",
        `body is not valid JSON: ${(err as Error).message}`,
      );
    }
  };

  const completion = (req: ChatRequest, content: string): string => {
    const promptChars = req.messages.reduce((n, m) => n + contentText(m.content).length, 0);
    const prompt = Math.max(1, Math.ceil(promptChars / CHARS_PER_TOKEN));
    const done = Math.max(1, Math.ceil(content.length / CHARS_PER_TOKEN));
    return JSON.stringify({
      id: `chatcmpl-standin-${++counter}`,
      object: "chat.completion",
      created: Math.floor(Date.now() / 1000),
      model: `${STANDIN_MODEL_PREFIX}${req.model}`,
      system_fingerprint: STANDIN_FINGERPRINT,
      choices: [
        {
          index: 0,
          message: { role: "assistant", content, refusal: null },
          logprobs: null,
          finish_reason: "stop",
        },
      ],
      usage: { prompt_tokens: prompt, completion_tokens: done, total_tokens: prompt + done },
    });
  };

  const answer = async (req: ChatRequest): Promise<{ content: string; label?: string }> => {
    const labels = labelsOf(req);
    const lastUser = [...req.messages].reverse().find((m) => m.role === "user");
    const text = contentText(lastUser?.content ?? null);
    if (labels === undefined) {
      return {
        content:
          `This is the ${STANDIN_NAME}. It answers only classification prompts (a json_schema response ` +
          `format with a "label" enum); your last message had ${text.length} characters.`,
      };
    }
    stats.classifications++;
    const label = await options.teacher.label(extractClassificationText(text), labels);
    return { content: JSON.stringify({ label }), label };
  };

  const hold = async (res: ServerResponse, holdMs: number): Promise<void> => {
    const closed = new Promise<void>((resolve) => res.once("close", resolve));
    await Promise.race([
      closed,
      delay(holdMs, undefined, { signal: lifetime.signal }).catch(() => undefined),
    ]);
    send(res, 504, openAiError("the stand-in held this request (injected timeout)", "server_error"));
  };

  const serveFault = async (req: ChatRequest, res: ServerResponse, fault: Fault): Promise<void> => {
    switch (fault.type) {
      case "ok": {
        const { content } = await answer(req);
        stats.completions++;
        send(res, 200, completion(req, content));
        return;
      }
      case "rate_limited": {
        const headers: Record<string, string> = {};
        if (fault.retryAfterMs !== undefined) headers["retry-after-ms"] = String(fault.retryAfterMs);
        else headers["retry-after"] = String(fault.retryAfterS ?? plan.config.retryAfterS);
        send(
          res,
          429,
          openAiError("rate limited by the tiergate LLM stand-in (injected)", "rate_limit_error"),
          headers,
        );
        return;
      }
      case "server_error":
        send(res, fault.status, openAiError("injected server error (tiergate LLM stand-in)", "server_error"));
        return;
      case "timeout":
        await hold(res, plan.config.holdMs);
        return;
      case "malformed": {
        const { label } = await answer(req);
        send(res, 200, completion(req, `{"label": "${label ?? "stand-in"}`));
        return;
      }
      case "malformed_body":
        send(res, 200, `{"id": "chatcmpl-standin-${++counter}", "object": "chat.compl`);
        return;
      case "reset":
        res.socket?.destroy();
        return;
    }
  };

  const chat = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    stats.chatRequests++;
    authorize(req);
    const parsed = ChatRequestSchema.safeParse(await readJson(req));
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const param = issue ? issue.path.map(String).join(".") : null;
      throw new HttpFailure(400, "invalid_request_error", z.prettifyError(parsed.error), param);
    }
    if (parsed.data.stream === true) {
      throw new HttpFailure(
        400,
        "invalid_request_error",
        "stream: true is not supported by the tiergate LLM stand-in",
        "stream",
      );
    }
    stats.inFlight++;
    stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight);
    const current = stats;
    res.once("close", () => current.inFlight--);
    const fault = plan.next();
    if (fault.type !== "ok") stats.faults[faultKey(fault)] = (stats.faults[faultKey(fault)] ?? 0) + 1;
    const wait = latencyMs + random() * jitterMs;
    if (wait > 0) await delay(wait, undefined, { signal: lifetime.signal });
    await serveFault(parsed.data, res, fault);
  };

  const admin = async (req: IncomingMessage, res: ServerResponse, path: string): Promise<void> => {
    if (path === "/_standin/stats" && req.method === "GET") return send(res, 200, JSON.stringify(stats));
    if (path === "/_standin/reset" && req.method === "POST") {
      plan = new FaultPlan(FaultConfigSchema.parse({}));
      stats = emptyStats();
      return send(res, 200, JSON.stringify({ ok: true }));
    }
    if (path === "/_standin/faults" && req.method === "DELETE") {
      plan = new FaultPlan(FaultConfigSchema.parse({}));
      return send(res, 200, JSON.stringify(plan.config));
    }
    if (path === "/_standin/faults" && req.method === "POST") {
      const parsed = AdminFaultsSchema.safeParse(await readJson(req));
      if (!parsed.success) throw new HttpFailure(400, "invalid_request_error", z.prettifyError(parsed.error));
      const { latencyMs: l, jitterMs: j, ...faults } = parsed.data;
      plan = new FaultPlan(FaultConfigSchema.parse(faults));
      if (l !== undefined) latencyMs = l;
      if (j !== undefined) jitterMs = j;
      return send(res, 200, JSON.stringify({ ...plan.config, latencyMs, jitterMs }));
    }
    throw new HttpFailure(404, "not_found_error", `no route ${req.method ?? "?"} ${path}`);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    if (!path.startsWith("/_standin/")) stats.requests++;
    try {
      if (path === "/v1/chat/completions" && req.method === "POST") return await chat(req, res);
      if (path === "/v1/models" && req.method === "GET") {
        authorize(req);
        const data = [{ id: STANDIN_MODEL_ID, object: "model", created: 0, owned_by: STANDIN_NAME }];
        return send(res, 200, JSON.stringify({ object: "list", data }));
      }
      if (path === "/healthz") return send(res, 200, JSON.stringify({ ok: true, name: STANDIN_NAME }));
      if (path.startsWith("/_standin/")) return await admin(req, res, path);
      throw new HttpFailure(404, "not_found_error", `no route ${req.method ?? "?"} ${path}`);
    } catch (err) {
      if (lifetime.signal.aborted) return void res.destroy();
      if (err instanceof HttpFailure) return fail(res, err);
      log.error("stand-in request failed", { path, err: String(err) });
      fail(res, new HttpFailure(500, "server_error", `stand-in error: ${(err as Error).message}`));
    }
  };

  const server = createServer((req, res) => void handle(req, res));
  const host = options.host ?? DEFAULT_STANDIN_HOST;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? DEFAULT_STANDIN_PORT, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const origin = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
  log.info("tiergate LLM stand-in listening (offline, not a real LLM)", {
    url: `${origin}/v1`,
    teacher: options.teacher.name,
  });

  return {
    name: STANDIN_NAME,
    url: `${origin}/v1`,
    origin,
    port,
    stats: () => structuredClone(stats),
    resetStats: () => {
      stats = emptyStats();
    },
    setFaults: (input) => {
      plan = new FaultPlan(FaultConfigSchema.parse(input));
      return plan.config;
    },
    setLatency: (l, j = 0) => {
      latencyMs = l;
      jitterMs = j;
    },
    close: async () => {
      lifetime.abort();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}
