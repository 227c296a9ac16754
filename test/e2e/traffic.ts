// Load for the fault tests: CLINC150 texts sent at a modest steady rate, every answer recorded in a
// Ledger by request id, and deferred (batch-mode) results collected once the cloud answers them.
import { setTimeout as sleep } from "node:timers/promises";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { createSubjects, DeviceResultSchema } from "@tiergate/shared";
import { loadClinc150, type DemoRow } from "../src/demo/dataset.ts";
import {
  errorCodeOf,
  inferResultOf,
  postJson,
  send,
  TASK,
  type Ledger,
  type RawResponse,
} from "./support.ts";

export const RESULT_POLL_INTERVAL_MS = 250;

/** How one answer settles a request: "answered:<where>", "refused:<code>", "deferred", or "untyped:<status>". */
export function settlement(r: RawResponse): string {
  const result = inferResultOf(r.body);
  if (result !== undefined) {
    if (result.status === "answered") return `answered:${result.servedBy?.where ?? "?"}`;
    if (result.status === "refused") return `refused:${result.error?.code ?? "?"}`;
    return "deferred";
  }
  const code = errorCodeOf(r.body);
  return code === undefined ? `untyped:${r.status}` : `refused:${code}`;
}

let rowsCache: DemoRow[] | undefined;
export async function rows(): Promise<DemoRow[]> {
  rowsCache ??= await loadClinc150();
  return rowsCache;
}

export type LoadOptions = {
  url: string;
  ledger: Ledger;
  ratePerSecond: number;
  durationMs: number;
  idPrefix: string;
  mode?: "realtime" | "batch";
  headers?: Record<string, string>;
  deadlineMs?: number;
  /** Only out-of-scope rows (they always escalate). */
  oosOnly?: boolean;
  /** Called with every settlement (e.g. to note what happened after a kill). */
  onSettled?: (id: string, how: string, sentAtMs: number) => void;
};

/** Sends requests at a steady rate for `durationMs`; resolves when every one has an HTTP answer. */
export async function runLoad(options: LoadOptions): Promise<void> {
  const all = await rows();
  const pool = options.oosOnly === true ? all.filter((r) => r.gold === "oos") : all;
  const inFlight = new Set<Promise<void>>();
  const start = Date.now();
  for (let i = 0; Date.now() - start < options.durationMs; i += 1) {
    const due = start + (i * 1000) / options.ratePerSecond;
    if (due > Date.now()) await sleep(due - Date.now());
    const row = pool[i % pool.length] as DemoRow;
    const id = `${options.idPrefix}-${i}`;
    options.ledger.sent(id);
    const sentAt = Date.now();
    const body = {
      task: TASK,
      input: row.text,
      id,
      mode: options.mode ?? "realtime",
      ...(options.deadlineMs === undefined ? {} : { deadlineMs: options.deadlineMs }),
    };
    const p = postJson(options.url, body, options.headers ?? {})
      .then(settlement, (err: unknown) => `untyped:${err instanceof Error ? err.name : "error"}`)
      .then((how) => {
        if (how !== "deferred") options.ledger.settle(id, how);
        options.onSettled?.(id, how, sentAt);
      })
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
  }
  await Promise.all(inFlight);
}

/** Polls the edge's GET /v1/results/:id for each id until it holds a final (answered/refused) result. */
export async function collectDeferred(
  edgeUrl: string,
  ids: readonly string[],
  ledger: Ledger,
  timeoutMs: number,
): Promise<string[]> {
  const pending = new Set(ids);
  const deadline = Date.now() + timeoutMs;
  while (pending.size > 0 && Date.now() < deadline) {
    for (const id of [...pending]) {
      const r = await send(`${edgeUrl}/v1/results/${id}`, { method: "GET" });
      const how = r.status === 404 ? "deferred" : settlement(r);
      if (how !== "deferred") {
        ledger.settle(id, how);
        pending.delete(id);
      }
    }
    if (pending.size > 0) await sleep(RESULT_POLL_INTERVAL_MS);
  }
  return [...pending];
}

/** Counts the messages per request id on the device's JetStream results stream (duplicates show as > 1). */
export async function resultsPerRequest(natsUrl: string, deviceId: string): Promise<Map<string, number>> {
  const nc = await connect({ servers: natsUrl });
  try {
    const subjects = createSubjects();
    const jsm = await jetstreamManager(nc);
    const info = await jsm.streams.info(subjects.streams.results.name);
    const counts = new Map<string, number>();
    const subject = subjects.results(deviceId);
    for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq += 1) {
      const msg = await jsm.streams.getMessage(subjects.streams.results.name, { seq }).catch(() => null);
      if (msg === null || msg.subject !== subject) continue;
      const parsed = DeviceResultSchema.safeParse(msg.json());
      if (parsed.success) counts.set(parsed.data.requestId, (counts.get(parsed.data.requestId) ?? 0) + 1);
    }
    return counts;
  } finally {
    await nc.close();
  }
}
