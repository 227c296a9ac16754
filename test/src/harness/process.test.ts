import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { HarnessError, HarnessErrorCode } from "./errors.ts";
import { startProcess } from "./process.ts";
import { liveChildPids } from "./registry.ts";
import { freePort, isProcessAlive, makeTempDir, waitFor } from "./util.ts";

const NODE = process.execPath;
const FIXTURE = fileURLToPath(new URL("./fixtures/start-then-die.ts", import.meta.url));

/** Runs the fixture in a child node, reads the pids/dirs it printed, and waits for it to end. */
async function runFixture(how: "throw" | "exit" | "wait"): Promise<{ pids: number[]; dirs: string[] }> {
  const child = spawn(NODE, [FIXTURE, how], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on("data", () => undefined);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const line = await waitFor(() => out.split("\n").find((l) => l.startsWith("{")), {
    timeoutMs: 30_000,
    message: "the fixture's pid line",
  });
  if (how === "wait") child.kill("SIGTERM");
  await exited;
  return JSON.parse(line) as { pids: number[]; dirs: string[] };
}

describe("startProcess", () => {
  it("waits for a log line, keeps the log, and stops with SIGTERM", async () => {
    await using proc = await startProcess({
      command: NODE,
      args: [
        "-e",
        "console.log('warming up'); setTimeout(() => console.log('listening on 42'), 100); setInterval(() => {}, 1000)",
      ],
      readiness: /listening on \d+/,
    });
    expect(proc.running).toBe(true);
    expect(proc.logs()).toContain("warming up");
    expect(proc.logs()).toContain("listening on 42");
    expect(await proc.stop()).toEqual({ code: null, signal: "SIGTERM" });
    expect(proc.running).toBe(false);
  });

  it("escalates to SIGKILL when SIGTERM is ignored", async () => {
    await using proc = await startProcess({
      command: NODE,
      args: [
        "-e",
        "process.on('SIGTERM', () => console.log('ignoring SIGTERM')); console.log('up'); setInterval(() => {}, 1000)",
      ],
      readiness: /^up$/,
    });
    const status = await proc.stop({ timeoutMs: 300 });
    expect(status.signal).toBe("SIGKILL");
    expect(proc.logs()).toContain("ignoring SIGTERM");
    expect(isProcessAlive(proc.pid)).toBe(false);
  });

  it("kills a process that is never ready and says so with its log", async () => {
    const err = await startProcess({
      command: NODE,
      args: ["-e", "console.log('still booting'); setInterval(() => {}, 1000)"],
      readiness: () => false,
      readyTimeoutMs: 5_000, // long enough for a loaded CI machine to start node and print
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HarnessError);
    expect((err as HarnessError).code).toBe(HarnessErrorCode.ReadyTimeout);
    expect((err as HarnessError).log).toContain("still booting");
    expect(liveChildPids()).toEqual([]);
  });

  it("gives the install hint when the command does not exist", async () => {
    const err = await startProcess({
      command: "tiergate-no-such-binary",
      installHint: "install it with X",
    }).catch((e: unknown) => e);
    expect((err as HarnessError).code).toBe(HarnessErrorCode.BinaryMissing);
    expect((err as HarnessError).message).toContain("install it with X");
  });
});

describe("helpers", () => {
  it("freePort gives a bindable port and makeTempDir removes its folder", async () => {
    const port = await freePort();
    expect(port).toBeGreaterThan(0);
    let path: string;
    {
      await using dir = await makeTempDir("helpers");
      path = dir.path;
      expect(existsSync(path)).toBe(true);
    }
    expect(existsSync(path)).toBe(false);
  });

  it("waitFor returns the first truthy value and times out with the message", async () => {
    let calls = 0;
    expect(await waitFor(() => (++calls >= 3 ? "done" : undefined), { intervalMs: 1 })).toBe("done");
    const err = await waitFor(() => false, { timeoutMs: 50, message: "never" }).catch((e: unknown) => e);
    expect((err as HarnessError).code).toBe(HarnessErrorCode.WaitTimeout);
    expect((err as HarnessError).message).toContain("never");
  });
});

describe("registry: nothing is left behind when a test process dies", () => {
  it.each(["throw", "exit", "wait"] as const)("after the parent dies by %s", async (how) => {
    const { pids, dirs } = await runFixture(how);
    expect(pids).toHaveLength(2);
    await waitFor(() => pids.every((pid) => !isProcessAlive(pid)), {
      timeoutMs: 5_000,
      message: `servers ${pids.join(", ")} to be gone`,
    });
    for (const dir of dirs) expect(existsSync(dir)).toBe(false);
  });
});
