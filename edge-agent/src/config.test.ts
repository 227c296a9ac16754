import { describe, expect, it } from "vitest";
import { ConfigError, DEFAULT_NATS_URL, resolveConfig } from "./config.ts";

const cwd = "/srv";

describe("resolveConfig", () => {
  it("applies defaults and resolves paths against the working directory", () => {
    const c = resolveConfig({ policy: "p.yaml", "device-id": "dev-1" }, {}, cwd);
    expect(c).toMatchObject({
      policyFile: "/srv/p.yaml",
      deviceId: "dev-1",
      natsUrl: DEFAULT_NATS_URL,
      listen: { type: "tcp", host: "127.0.0.1", port: 8787 },
      dataDir: "/srv/tiergate-edge-data/dev-1",
      logLevel: "info",
      subjectPrefix: "",
    });
  });

  it("takes flags over environment variables over defaults", () => {
    const env = {
      TIERGATE_POLICY: "/etc/env.yaml",
      TIERGATE_DEVICE_ID: "env-dev",
      TIERGATE_LISTEN: "0.0.0.0:9000",
      TIERGATE_LOG_LEVEL: "debug",
    };
    const c = resolveConfig({ "device-id": "flag-dev", listen: "[::1]:0" }, env, cwd);
    expect(c.policyFile).toBe("/etc/env.yaml");
    expect(c.deviceId).toBe("flag-dev");
    expect(c.listen).toEqual({ type: "tcp", host: "::1", port: 0 });
    expect(c.logLevel).toBe("debug");
  });

  it("listens on a Unix socket when asked", () => {
    const c = resolveConfig({ policy: "p", "device-id": "d", socket: "run/edge.sock" }, {}, cwd);
    expect(c.listen).toEqual({ type: "socket", path: "/srv/run/edge.sock" });
  });

  it.each([
    [{}, ["--policy FILE is required", "--device-id ID is required"]],
    [
      { policy: "p", "device-id": "bad.id" },
      ["--device-id (TIERGATE_DEVICE_ID): device id contains the forbidden character"],
    ],
    [{ policy: "p", "device-id": "d", listen: "nohost" }, ["--listen (TIERGATE_LISTEN): expected HOST:PORT"]],
    [
      { policy: "p", "device-id": "d", listen: "h:1", socket: "/s" },
      ["--listen and --socket: give one, not both"],
    ],
    [
      { policy: "p", "device-id": "d", nats: "http://x" },
      ["--nats (TIERGATE_NATS_URL): expected nats://HOST:PORT"],
    ],
    [{ policy: "p", "device-id": "d", "log-level": "loud" }, ["--log-level (TIERGATE_LOG_LEVEL)"]],
    [
      { policy: "p", "device-id": "d", "heartbeat-interval-ms": "5" },
      ["--heartbeat-interval-ms (TIERGATE_HEARTBEAT_INTERVAL_MS)"],
    ],
  ] as const)("refuses %j naming the setting", (flags, messages) => {
    let error: unknown;
    try {
      resolveConfig(flags, {}, cwd);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    for (const m of messages) expect((error as Error).message).toContain(m);
  });
});
