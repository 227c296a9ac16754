import { describe, expect, it } from "vitest";
import { startCommand } from "./start.ts";
import { StartSettingsSchema, resolveApiKeys, settingsInput } from "../config/settings.ts";
import { limiterFor } from "../batch/worker.ts";

function io(): {
  out: string[];
  err: string[];
  stdout: (t: string) => void;
  stderr: (t: string) => void;
  env: Record<string, string>;
  cwd: string;
} {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    stdout: (t) => void out.push(t),
    stderr: (t) => void err.push(t),
    env: {},
    cwd: process.cwd(),
  };
}

describe("tiergate-coordinator start", () => {
  it("prints its help with exit 0", async () => {
    const i = io();
    expect(await startCommand.run(["--help"], i)).toBe(0);
    expect(i.out.join("")).toMatch(/--policy FILE[\s\S]*--now-off-peak/);
  });

  it("names every bad flag and exits 2 without starting anything", async () => {
    const i = io();
    expect(
      await startCommand.run(["--nats", "http://x", "--listen", "nowhere", "--log-level", "loud"], i),
    ).toBe(2);
    const text = i.err.join("");
    expect(text).toMatch(/--policy: required/);
    expect(text).toMatch(/--nats: must be a NATS URL/);
    expect(text).toMatch(/--redis: required/);
    expect(text).toMatch(/--listen: must be HOST:PORT/);
    expect(text).toMatch(/--log-level/);
  });

  it("refuses an unknown flag with exit 2", async () => {
    const i = io();
    expect(await startCommand.run(["--frobnicate"], i)).toBe(2);
    expect(i.err.join("")).toMatch(/frobnicate/);
  });
});

describe("start settings", () => {
  it("parses flags with defaults and a HOST:PORT listen address", () => {
    const s = StartSettingsSchema.parse(
      settingsInput({
        policy: "p.yaml",
        nats: "nats://127.0.0.1:4222",
        redis: "redis://127.0.0.1:6379",
        listen: "[::1]:8080",
        "now-off-peak": true,
      }),
    );
    expect(s.listen).toEqual({ host: "::1", port: 8080 });
    expect(s.nowOffPeak).toBe(true);
    expect(s.apiKeys).toBe("env:TIERGATE_API_KEYS");
    expect(s.logLevel).toBe("info");
  });

  it.each([
    ["an inline key", { apiKeys: "sk-123" }],
    ["a port over 65535", { listen: "127.0.0.1:70000" }],
  ])("refuses %s", (_what, extra) => {
    const r = StartSettingsSchema.safeParse({
      policy: "p",
      nats: "nats://h:1",
      redis: "redis://h:2",
      ...extra,
    });
    expect(r.success).toBe(false);
  });

  it("reads API keys from the environment and refuses short or missing ones", () => {
    expect(resolveApiKeys("env:K", { K: "aaaaaaaaaaaaaaaa,bbbbbbbbbbbbbbbb" })).toHaveLength(2);
    expect(() => resolveApiKeys("env:K", { K: "short" })).toThrow(/at least 16/);
    expect(() => resolveApiKeys("env:K", {})).toThrow(/K/);
  });
});

describe("limiterFor", () => {
  it.each([
    [50, { max: 50, duration: 1000 }],
    [0.5, { max: 1, duration: 2000 }],
    [2.5, { max: 3, duration: 1200 }],
  ])("%d/s → %j", (rate, expected) => {
    expect(limiterFor(rate)).toEqual(expected);
  });
});
