// Replays rows through edge agents' `POST /v1/infer` at a steady rate with a bound on requests in
// flight, round-robin over the agents. Each request's latency is measured on the client side.
import { setTimeout as sleep } from "node:timers/promises";
import type { DemoRow } from "./dataset.ts";
import { outcomeFromHttp, PATH_ERROR, type Outcome } from "./outcome.ts";

export const DEFAULT_RATE_PER_SECOND = 40;
export const DEFAULT_CONCURRENCY = 32;
/** Client-side cut-off for one request: far above any policy deadline, so only a hang trips it. */
export const REQUEST_TIMEOUT_MS = 30_000;
export const DEMO_TASK = "intent";

export type ReplayTarget = { name: string; url: string };

export type ReplayOptions = {
  rows: readonly DemoRow[];
  targets: readonly ReplayTarget[];
  ratePerSecond?: number;
  concurrency?: number;
  task?: string;
  onOutcome?: (outcome: Outcome) => void;
  signal?: AbortSignal;
};

export async function inferOnce(target: ReplayTarget, row: DemoRow, task: string): Promise<Outcome> {
  const started = performance.now();
  const base = { id: row.id, gold: row.gold, via: target.name };
  try {
    const response = await fetch(`${target.url}/v1/infer`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ task, input: row.text, id: row.id, mode: "realtime" }),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    const text = await response.text();
    const latencyMs = performance.now() - started;
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    return outcomeFromHttp({ ...base, latencyMs }, response.status, body);
  } catch (err) {
    const name = err instanceof Error ? err.name : "Error";
    return {
      ...base,
      path: PATH_ERROR,
      tier: undefined,
      kind: undefined,
      label: undefined,
      degraded: false,
      costUsd: 0,
      llmCostUsd: undefined,
      latencyMs: performance.now() - started,
      httpStatus: 0,
      errorCode: name === "TimeoutError" ? "CLIENT_TIMEOUT" : "CLIENT_CONNECTION_FAILED",
    };
  }
}

/** Sends every row once; resolves with one outcome per row, in completion order. */
export async function replay(options: ReplayOptions): Promise<Outcome[]> {
  const rate = options.ratePerSecond ?? DEFAULT_RATE_PER_SECOND;
  const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
  if (options.targets.length === 0) throw new Error("replay needs at least one target");
  if (!(rate > 0) || !(concurrency > 0)) throw new Error("rate and concurrency must be positive");
  const task = options.task ?? DEMO_TASK;
  const outcomes: Outcome[] = [];
  const inFlight = new Set<Promise<void>>();
  const start = performance.now();
  for (const [i, row] of options.rows.entries()) {
    if (options.signal?.aborted === true) break;
    const due = start + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    while (inFlight.size >= concurrency) await Promise.race(inFlight);
    const target = options.targets[i % options.targets.length] as ReplayTarget;
    const p: Promise<void> = inferOnce(target, row, task).then((outcome) => {
      outcomes.push(outcome);
      options.onOutcome?.(outcome);
      inFlight.delete(p);
    });
    inFlight.add(p);
  }
  await Promise.all(inFlight);
  return outcomes;
}
