import { existsSync } from "node:fs";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { describe, expect, it } from "vitest";
import { HarnessError, HarnessErrorCode } from "./errors.ts";
import { startNatsServer } from "./nats-server.ts";
import { isProcessAlive } from "./util.ts";

const STREAM = "HARNESS_TEST";
const SUBJECT = "harness.test.jobs";

async function withConnection<T>(url: string, fn: (nc: NatsConnection) => Promise<T>): Promise<T> {
  const nc = await connect({ servers: url });
  try {
    return await fn(nc);
  } finally {
    await nc.close();
  }
}

describe("startNatsServer", () => {
  it("serves publish/subscribe on its url", async () => {
    await using nats = await startNatsServer();
    expect(nats.url).toBe(`nats://127.0.0.1:${nats.port}`);
    const received = await withConnection(nats.url, async (nc) => {
      const sub = nc.subscribe("harness.pubsub", { max: 1 });
      nc.publish("harness.pubsub", "hello");
      for await (const msg of sub) return msg.string();
      return undefined;
    });
    expect(received).toBe("hello");
  });

  it("runs JetStream: a msgID published twice is stored once and can be consumed", async () => {
    await using nats = await startNatsServer();
    await withConnection(nats.url, async (nc) => {
      const jsm = await jetstreamManager(nc);
      await jsm.streams.add({ name: STREAM, subjects: [SUBJECT] });
      const js = jetstream(nc);
      const first = await js.publish(SUBJECT, "job-1", { msgID: "job-1" });
      const second = await js.publish(SUBJECT, "job-1", { msgID: "job-1" });
      expect(first.duplicate).toBe(false);
      expect(second.duplicate).toBe(true);
      expect(second.seq).toBe(first.seq);
      expect((await jsm.streams.info(STREAM)).state.messages).toBe(1);

      const consumer = await js.consumers.get(STREAM);
      const msg = await consumer.next({ expires: 5_000 });
      expect(msg?.string()).toBe("job-1");
      expect(msg?.headers?.get("Nats-Msg-Id")).toBe("job-1");
    });
  });

  it("keeps JetStream data on the same port across restart() and after a SIGKILL", async () => {
    await using nats = await startNatsServer();
    const { port, url } = nats;
    const pidBefore = nats.pid;
    await withConnection(url, async (nc) => {
      const jsm = await jetstreamManager(nc);
      await jsm.streams.add({ name: STREAM, subjects: [SUBJECT] });
      await jetstream(nc).publish(SUBJECT, "kept", { msgID: "kept-1" });
    });

    await nats.restart();
    expect(nats.port).toBe(port);
    expect(nats.pid).not.toBe(pidBefore);
    expect(isProcessAlive(pidBefore)).toBe(false);

    nats.kill("SIGKILL");
    const status = await nats.waitForExit();
    expect(status.signal).toBe("SIGKILL");
    await nats.restart();

    await withConnection(url, async (nc) => {
      const msg = await (await jetstream(nc).consumers.get(STREAM)).next({ expires: 5_000 });
      expect(msg?.string()).toBe("kept");
    });
  });

  it("leaves no process and no store dir after dispose", async () => {
    let pid: number;
    let storeDir: string;
    {
      await using nats = await startNatsServer({ monitoringPort: true });
      pid = nats.pid;
      storeDir = nats.storeDir;
      expect(isProcessAlive(pid)).toBe(true);
      expect(existsSync(storeDir)).toBe(true);
      const varz = await fetch(`${String(nats.monitoringUrl)}/varz`);
      expect(((await varz.json()) as { port: number }).port).toBe(nats.port);
    }
    expect(() => process.kill(pid, 0)).toThrow(expect.objectContaining({ code: "ESRCH" }));
    expect(existsSync(storeDir)).toBe(false);
  });

  it("says how to install nats-server when the binary is missing", async () => {
    const err = await startNatsServer({ binary: "/nonexistent/nats-server" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HarnessError);
    expect((err as HarnessError).code).toBe(HarnessErrorCode.BinaryMissing);
    expect((err as HarnessError).message).toContain("apt-get update && apt-get install -y nats-server");
    expect((err as HarnessError).message).toContain("npm run bootstrap");
  });

  it("reports the server's own log when it exits early", async () => {
    const err = await startNatsServer({ args: ["--no-such-flag"] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HarnessError);
    expect((err as HarnessError).code).toBe(HarnessErrorCode.EarlyExit);
    // nats-server's own complaint about the flag, carried in the error
    expect((err as HarnessError).message).toMatch(/no-such-flag/);
    expect((err as HarnessError).log).toMatch(/flag provided but not defined/);
  });
});
