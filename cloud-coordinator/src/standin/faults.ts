// Injected failures of the LLM stand-in, set at start or at run time (POST /_standin/faults).
// A `sequence` is served first, one token per chat request, then the `rate*` dice are rolled.
// Tokens: "ok" · "429" · "429:<seconds>" (Retry-After) · "429:<n>ms" (retry-after-ms) · "500" /
// "502" / "503" (any 5xx) · "timeout" (hold the response until the client gives up or `holdMs`)
// · "malformed" (200, content is not valid JSON) · "malformed-body" (200, body is not JSON) ·
// "reset" (drop the connection).
import { z } from "zod";

export const DEFAULT_RETRY_AFTER_S = 1;
export const DEFAULT_HOLD_MS = 60_000;
export const DEFAULT_FAULT_SEED = 1;

export type Fault =
  | { type: "ok" }
  | { type: "rate_limited"; retryAfterS?: number; retryAfterMs?: number }
  | { type: "server_error"; status: number }
  | { type: "timeout" }
  | { type: "malformed" }
  | { type: "malformed_body" }
  | { type: "reset" };

const TOKEN_PATTERN = /^(ok|timeout|malformed|malformed-body|reset|429(?::(\d+(?:\.\d+)?)(ms)?)?|5\d\d)$/;

export function parseFaultToken(token: string): Fault | undefined {
  const m = TOKEN_PATTERN.exec(token.trim());
  if (!m) return undefined;
  const head = m[1] ?? "";
  if (head === "ok") return { type: "ok" };
  if (head === "timeout") return { type: "timeout" };
  if (head === "malformed") return { type: "malformed" };
  if (head === "malformed-body") return { type: "malformed_body" };
  if (head === "reset") return { type: "reset" };
  if (head.startsWith("429")) {
    if (m[2] === undefined) return { type: "rate_limited" };
    return m[3] === "ms"
      ? { type: "rate_limited", retryAfterMs: Number(m[2]) }
      : { type: "rate_limited", retryAfterS: Number(m[2]) };
  }
  return { type: "server_error", status: Number(head) };
}

const rate = z.number().min(0).max(1).default(0);
/** The fields without the cross-field check, for schemas that extend them. */
export const FaultFieldsSchema = z.strictObject({
  sequence: z
    .array(z.string().refine((t) => parseFaultToken(t) !== undefined, { message: "unknown fault token" }))
    .default([]),
  rate429: rate,
  rate500: rate,
  rateTimeout: rate,
  rateMalformed: rate,
  retryAfterS: z.number().min(0).default(DEFAULT_RETRY_AFTER_S),
  holdMs: z.int().min(1).default(DEFAULT_HOLD_MS),
  seed: z.int().default(DEFAULT_FAULT_SEED),
});
export function ratesAddUp(c: {
  rate429: number;
  rate500: number;
  rateTimeout: number;
  rateMalformed: number;
}): boolean {
  return c.rate429 + c.rate500 + c.rateTimeout + c.rateMalformed <= 1;
}
export const RATES_MESSAGE = "the fault rates add up to more than 1";
export const FaultConfigSchema = FaultFieldsSchema.refine(ratesAddUp, { message: RATES_MESSAGE });
export type FaultConfig = z.infer<typeof FaultConfigSchema>;
export type FaultConfigInput = z.input<typeof FaultConfigSchema>;

/** mulberry32: a small seeded PRNG, uniform in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class FaultPlan {
  #config: FaultConfig;
  #queue: Fault[];
  #random: () => number;

  constructor(config: FaultConfig) {
    this.#config = config;
    this.#queue = config.sequence.map((t) => parseFaultToken(t) ?? { type: "ok" });
    this.#random = seededRandom(config.seed);
  }

  get config(): FaultConfig {
    return this.#config;
  }
  get pending(): number {
    return this.#queue.length;
  }

  /** The fault for the next chat request. */
  next(): Fault {
    const scripted = this.#queue.shift();
    if (scripted !== undefined) return scripted;
    const c = this.#config;
    const r = this.#random();
    if (r < c.rate429) return { type: "rate_limited" };
    if (r < c.rate429 + c.rate500) return { type: "server_error", status: 500 };
    if (r < c.rate429 + c.rate500 + c.rateTimeout) return { type: "timeout" };
    if (r < c.rate429 + c.rate500 + c.rateTimeout + c.rateMalformed) return { type: "malformed" };
    return { type: "ok" };
  }
}

/** Stats key of a fault, e.g. "429", "500", "timeout". */
export function faultKey(f: Fault): string {
  switch (f.type) {
    case "rate_limited":
      return "429";
    case "server_error":
      return String(f.status);
    case "malformed_body":
      return "malformed-body";
    default:
      return f.type;
  }
}
