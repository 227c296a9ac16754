import { describe, expect, it } from "vitest";
import { createSubjects, silentLogger } from "@tiergate/shared";
import { RttEstimator } from "../escalation/rtt.ts";
import { EdgeMetrics } from "../metrics/metrics.ts";
import { NatsLink } from "./link.ts";

describe("NatsLink", () => {
  it("closes at once while it waits to reconnect, not after the pause", async () => {
    let attempts = 0;
    const link = new NatsLink({
      connect: () => {
        attempts++;
        return Promise.reject(new Error("connection refused"));
      },
      subjects: createSubjects(),
      deviceId: "dev",
      logger: silentLogger,
      metrics: new EdgeMetrics({ defaultMetrics: false }),
      rtt: new RttEstimator(),
      onResult: async () => {},
      reconnectDelayMs: 600_000, // a close that waited for the pause would time this test out
    });
    link.start();
    await new Promise((r) => setTimeout(r, 50));
    expect(attempts).toBe(1);
    await link.close();
    expect(link.state).toBe("closed");
    expect(attempts).toBe(1); // and it does not try again after closing
  });
});
