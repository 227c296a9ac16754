// What the e2e suites share: whether the whole stack can run here (the CLIs' `start` commands exist),
// a stack with trained models, raw HTTP calls, and a tally of answers by request id.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { ErrorBodySchema, InferResultSchema, type InferResult } from "@tiergate/shared";
import { ensureStackModels } from "../../deploy/local/models.ts";
import {
  COORDINATOR_BIN,
  DEFAULT_POLICY_FILE,
  EDGE_BIN,
  REPO_ROOT,
  Stack,
  type StackOptions,
} from "../../deploy/local/stack.ts";

/** Training every preset on a cold machine can take minutes; later suites reuse the models. */
export const MODELS_TIMEOUT_MS = 600_000;
export const STACK_TIMEOUT_MS = MODELS_TIMEOUT_MS + 180_000;
export const E2E_API_KEY = "tiergate-e2e-key-0123456789abcdef";
export const TASK = "intent";

function hasStartCommand(bin: string): boolean {
  const node = join(REPO_ROOT, "node_modules/.bin/node");
  const r = spawnSync(node, [bin, "start", "--help"], { cwd: REPO_ROOT, encoding: "utf8", timeout: 30_000 });
  return r.status === 0;
}

/** Why the full stack cannot run yet (a CLI without `start`), or undefined when it can. */
export function fullStackMissing(): string | undefined {
  const missing = [COORDINATOR_BIN, EDGE_BIN].filter((bin) => !hasStartCommand(bin));
  return missing.length === 0 ? undefined : `no \`start\` command in ${missing.join(", ")} yet`;
}

/** Trains missing models (once, shared by every suite through a lock) and starts a stack. */
export async function startE2eStack(options: StackOptions = {}): Promise<Stack> {
  await ensureStackModels({ policyFile: DEFAULT_POLICY_FILE });
  return await Stack.start({ apiKey: E2E_API_KEY, ...options });
}

export type RawResponse = { status: number; body: unknown; text: string };

export async function send(
  url: string,
  init: {
    method?: string;
    body?: string | Uint8Array;
    headers?: Record<string, string>;
    timeoutMs?: number;
  } = {},
): Promise<RawResponse> {
  const response = await fetch(url, {
    method: init.method ?? "POST",
    headers: init.headers ?? {},
    ...(init.body === undefined ? {} : { body: init.body }),
    signal: AbortSignal.timeout(init.timeoutMs ?? 30_000),
  });
  const text = await response.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: response.status, body, text };
}

export async function postJson(
  url: string,
  value: unknown,
  headers: Record<string, string> = {},
): Promise<RawResponse> {
  return await send(url, {
    body: JSON.stringify(value),
    headers: { "content-type": "application/json", ...headers },
  });
}

/** The typed error code of an error body, or undefined when the body is not one. */
export function errorCodeOf(body: unknown): string | undefined {
  const parsed = ErrorBodySchema.safeParse(body);
  return parsed.success ? parsed.data.error.code : undefined;
}

export function inferResultOf(body: unknown): InferResult | undefined {
  const parsed = InferResultSchema.safeParse(body);
  return parsed.success ? parsed.data : undefined;
}

/**
 * Counts what happened to each request id: answered (a result), refused with a typed error, or
 * nothing. `check()` lists every id that was not settled exactly once.
 */
export class Ledger {
  readonly #sent = new Set<string>();
  readonly #settled = new Map<string, string[]>();

  sent(id: string): void {
    this.#sent.add(id);
  }

  settle(id: string, how: string): void {
    this.#settled.set(id, [...(this.#settled.get(id) ?? []), how]);
  }

  get size(): number {
    return this.#sent.size;
  }

  counts(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const hows of this.#settled.values()) for (const how of hows) out[how] = (out[how] ?? 0) + 1;
    return out;
  }

  /** Ids never settled, settled twice, or settled without being sent. */
  problems(): { lost: string[]; duplicated: string[]; unknown: string[] } {
    const lost = [...this.#sent].filter((id) => !this.#settled.has(id));
    const duplicated = [...this.#settled].filter(([, hows]) => hows.length > 1).map(([id]) => id);
    const unknown = [...this.#settled.keys()].filter((id) => !this.#sent.has(id));
    return { lost, duplicated, unknown };
  }
}
