// The stand-in over real HTTP: OpenAI's client reads it as it reads any OpenAI-compatible server,
// bad requests get OpenAI-style error JSON, scripted faults are served and counted, and the CLI
// command starts it, prints its URL and stops on SIGTERM.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import OpenAI from "openai";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { classificationMessages, classificationResponseFormat } from "../llm/prompt.ts";
import { startStandin } from "./server.ts";
import type { Standin } from "./server.ts";
import { GoldTeacher } from "./teacher.ts";

const GOLD = new Map([
  ["how do i say hello in french", "translate"],
  ["will it rain tomorrow", "weather"],
]);
const LABELS = ["translate", "weather", "oos"];

let s: Standin;
let client: OpenAI;

beforeAll(async () => {
  s = await startStandin({ teacher: new GoldTeacher({ gold: GOLD }), port: 0, requireApiKey: "k1" });
  client = new OpenAI({ baseURL: s.url, apiKey: "k1", maxRetries: 0 });
});
afterAll(async () => {
  await s?.close();
});
beforeEach(() => {
  s.setFaults({});
  s.resetStats();
});

async function post(
  path: string,
  body: string,
  headers: Record<string, string> = { authorization: "Bearer k1" },
) {
  const res = await fetch(`${s.origin}${path}`, {
    method: "POST",
    body,
    headers: { "content-type": "application/json", ...headers },
  });
  return {
    status: res.status,
    json: (await res.json()) as { error?: { type: string; message: string; param: string | null } },
  };
}

describe("LLM stand-in", () => {
  it("answers a classification prompt through the openai client, naming itself a stand-in", async () => {
    const c = await client.chat.completions.create({
      model: "gpt-test",
      messages: classificationMessages("intent", "Will it  rain tomorrow", LABELS),
      response_format: classificationResponseFormat(LABELS),
    });
    expect(JSON.parse(c.choices[0]?.message.content ?? "")).toEqual({ label: "weather" });
    expect(c.model).toBe("tiergate-standin:gpt-test");
    expect(c.system_fingerprint).toContain("standin");
    expect(c.usage?.prompt_tokens).toBeGreaterThan(0);
    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toContain("tiergate-standin");
  });

  it("reads the label set from any prompt shape's json_schema and falls back to oos", async () => {
    const c = await client.chat.completions.create({
      model: "m",
      messages: [{ role: "user", content: "how do I say hello in French" }],
      response_format: classificationResponseFormat(["weather", "translate"]),
    });
    expect(JSON.parse(c.choices[0]?.message.content ?? "")).toEqual({ label: "translate" });
    const unknown = await client.chat.completions.create({
      model: "m",
      messages: [{ role: "user", content: "no idea" }],
      response_format: classificationResponseFormat(LABELS),
    });
    expect(JSON.parse(unknown.choices[0]?.message.content ?? "")).toEqual({ label: "oos" });
  });

  it("gives other chats a canned reply that says it is a stand-in", async () => {
    const c = await client.chat.completions.create({
      model: "m",
      messages: [{ role: "user", content: "hi" }],
    });
    expect(c.choices[0]?.message.content).toContain("not a real LLM");
  });

  it("rejects stream: true, bad JSON, missing fields and bad keys with OpenAI-style errors", async () => {
    const stream = await post(
      "/v1/chat/completions",
      JSON.stringify({ model: "m", stream: true, messages: [{ role: "user", content: "x" }] }),
    );
    expect(stream.status).toBe(400);
    expect(stream.json.error).toMatchObject({ type: "invalid_request_error", param: "stream" });
    const notJson = await post("/v1/chat/completions", "{nope");
    expect(notJson.status).toBe(400);
    expect(notJson.json.error?.type).toBe("invalid_request_error");
    const missing = await post("/v1/chat/completions", JSON.stringify({ model: "m" }));
    expect(missing.status).toBe(400);
    expect(missing.json.error?.param).toBe("messages");
    const noKey = await post("/v1/chat/completions", JSON.stringify({ model: "m", messages: [] }), {});
    expect(noKey.status).toBe(401);
    const wrongKey = await post("/v1/chat/completions", "{}", { authorization: "Bearer k2" });
    expect(wrongKey.json.error?.type).toBe("authentication_error");
    const huge = await post(
      "/v1/chat/completions",
      JSON.stringify({ model: "m", messages: [{ role: "user", content: "x".repeat(1_100_000) }] }),
    );
    expect(huge.status).toBe(413);
    const badFault = await post("/_standin/faults", JSON.stringify({ sequence: ["418"] }));
    expect(badFault.status).toBe(400);
    expect(s.stats()).toMatchObject({ badRequests: 5, unauthorized: 2, completions: 0 });
  });

  it("serves a fault script set through the admin endpoint, then answers normally, and counts it", async () => {
    const set = await post("/_standin/faults", JSON.stringify({ sequence: ["429:3", "503"] }));
    expect(set.status).toBe(200);
    const body = JSON.stringify({ model: "m", messages: [{ role: "user", content: "hi" }] });
    const first = await fetch(`${s.url}/chat/completions`, {
      method: "POST",
      body,
      headers: { authorization: "Bearer k1" },
    });
    expect(first.status).toBe(429);
    expect(first.headers.get("retry-after")).toBe("3");
    expect(((await first.json()) as { error: { type: string } }).error.type).toBe("rate_limit_error");
    const second = await post("/v1/chat/completions", body);
    expect(second.status).toBe(503);
    const third = await post("/v1/chat/completions", body);
    expect(third.status).toBe(200);
    const stats = (await (await fetch(`${s.origin}/_standin/stats`)).json()) as Record<string, unknown>;
    expect(stats).toMatchObject({
      chatRequests: 3,
      completions: 1,
      faults: { "429": 1, "503": 1 },
      inFlight: 0,
    });
  });
});

describe("standin command", () => {
  it("prints its URL, answers, and stops cleanly on SIGTERM", async () => {
    // The command module itself, as the CLI dispatcher runs it.
    const mod = fileURLToPath(new URL("../commands/standin.ts", import.meta.url));
    const script =
      `const { standinCommand } = await import(${JSON.stringify(mod)});` +
      `process.exitCode = await standinCommand.run(process.argv.slice(1), {` +
      `stdout: (t) => process.stdout.write(t), stderr: (t) => process.stderr.write(t) });`;
    const args = ["--input-type=module", "-e", script, "--", "--port", "0", "--error-rate", "0.1"];
    const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
    try {
      let out = "";
      child.stdout.setEncoding("utf8");
      const url = await new Promise<string>((resolve, reject) => {
        child.stdout.on("data", (chunk: string) => {
          out += chunk;
          const m = /listening on (http:\/\/\S+\/v1)/.exec(out);
          if (m?.[1] !== undefined) resolve(m[1]);
        });
        child.once("exit", (code) => reject(new Error(`exited ${String(code)} before listening: ${out}`)));
      });
      expect(out).toContain("not a real LLM");
      const c = await new OpenAI({ baseURL: url, apiKey: "any", maxRetries: 0 }).chat.completions.create({
        model: "m",
        messages: classificationMessages("intent", "what's the weather like", ["weather", "oos"]),
        response_format: classificationResponseFormat(["weather", "oos"]),
      });
      expect(c.model).toBe("tiergate-standin:m");
      child.kill("SIGTERM");
      const [code] = (await once(child, "exit")) as [number | null];
      expect(code).toBe(0);
      expect(out).toContain("stopped (SIGTERM)");
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  });
});
