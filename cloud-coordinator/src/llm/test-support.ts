// Test helpers for the LLM tier and the stand-in: endpoint options, an injected clock and a sleep
// recorder (the clock advances by what was slept, so nothing in a test waits on wall time).
import { createServer } from "node:net";
import type { LlmEndpointOptions, Sleep } from "./types.ts";

export function endpointOptions(
  name: string,
  baseURL: string,
  over: Partial<LlmEndpointOptions> = {},
): LlmEndpointOptions {
  return {
    name,
    baseURL,
    apiKey: "test-key",
    model: `model-${name}`,
    timeoutMs: 5_000,
    maxRetries: 1,
    maxConcurrency: 4,
    circuitBreaker: { failureThreshold: 5, resetMs: 30_000 },
    pricing: { inputPerMTokUsd: 0.15, outputPerMTokUsd: 0.6 },
    ...over,
  };
}

export class ManualClock {
  t: number;
  constructor(start = 1_700_000_000_000) {
    this.t = start;
  }
  now(): number {
    return this.t;
  }
  advance(ms: number): void {
    this.t += ms;
  }
}

/** A Sleep that records each wait and advances `clock` instead of waiting. */
export function sleepRecorder(clock: ManualClock): { sleep: Sleep; waits: number[] } {
  const waits: number[] = [];
  const sleep: Sleep = (ms, signal) => {
    signal?.throwIfAborted();
    waits.push(ms);
    clock.advance(ms);
    return Promise.resolve();
  };
  return { sleep, waits };
}

/** A loopback port with nothing listening on it (bound, read, closed). */
export async function closedPort(): Promise<number> {
  return await new Promise<number>((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
