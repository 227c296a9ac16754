// The demo's off-peak batch: submitted to the coordinator's `POST /v1/batches`, then polled on
// `GET /v1/batches/:id` until it completes. Item latency is submission to completion.
import { setTimeout as sleep } from "node:timers/promises";
import { BatchResultSchema, type BatchResult } from "@tiergate/shared";
import type { DemoRow } from "./dataset.ts";
import { outcomeFromResult, PATH_BATCH, type Outcome } from "./outcome.ts";

export const BATCH_POLL_INTERVAL_MS = 250;
export const DEFAULT_BATCH_TIMEOUT_MS = 120_000;
export const DEFAULT_BATCH_ITEMS = 200;

export type BatchRunOptions = {
  coordinatorUrl: string;
  apiKey: string;
  rows: readonly DemoRow[];
  task: string;
  batchId: string;
  timeoutMs?: number;
};

export type BatchRun = { result: BatchResult; outcomes: Outcome[]; waitMs: number };

async function json(response: Response, what: string): Promise<unknown> {
  const text = await response.text();
  if (!response.ok) throw new Error(`${what} answered HTTP ${response.status}: ${text.slice(0, 500)}`);
  return JSON.parse(text) as unknown;
}

export async function runBatch(options: BatchRunOptions): Promise<BatchRun> {
  const headers = { "content-type": "application/json", authorization: `Bearer ${options.apiKey}` };
  const started = performance.now();
  const items = options.rows.map((row) => ({ id: row.id, task: options.task, input: row.text }));
  await json(
    await fetch(`${options.coordinatorUrl}/v1/batches`, {
      method: "POST",
      headers,
      body: JSON.stringify({ batchId: options.batchId, items }),
    }),
    "POST /v1/batches",
  );
  const deadline = Date.now() + (options.timeoutMs ?? DEFAULT_BATCH_TIMEOUT_MS);
  for (;;) {
    const body = await json(
      await fetch(`${options.coordinatorUrl}/v1/batches/${encodeURIComponent(options.batchId)}`, { headers }),
      "GET /v1/batches/:id",
    );
    const result = BatchResultSchema.parse(body);
    if (result.status === "completed" || result.status === "failed") {
      const waitMs = performance.now() - started;
      const gold = new Map(options.rows.map((r) => [r.id, r.gold]));
      const outcomes = result.results.map((r) =>
        outcomeFromResult(
          { id: r.id, gold: gold.get(r.id) ?? "", via: "cloud-batch", latencyMs: waitMs, httpStatus: 200 },
          r,
          PATH_BATCH,
        ),
      );
      return { result, outcomes, waitMs };
    }
    if (Date.now() > deadline)
      throw new Error(`batch ${options.batchId} still ${result.status} after the timeout`);
    await sleep(BATCH_POLL_INTERVAL_MS);
  }
}
