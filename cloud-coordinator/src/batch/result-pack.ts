// A chunk's results in little space. Results of one chunk share most of their fields (task, servedBy,
// the tier attempts' model, version, threshold and cost, often the model call's duration), so a
// multi-item chunk is stored as its first result plus, for each of the others, only the leaves that
// differ from it. Generic over the JSON shape: a field added to InferResult needs nothing here.
// Packing is lossless for JSON values (what a result is); `unpack(pack(xs))` deep-equals `xs`.
import type { InferResult, ServedBy, TierAttempt } from "@tiergate/shared";

/** A value as JSON keeps it. */
type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
/**
 * How an item differs from the first: per key, `[value]` replaces it, `[]` removes it, and an object
 * holds the differences inside it (arrays of the same length are compared index by index).
 */
export type Patch = { [key: string]: Patch | [Json] | [] };
export type PackedResults = { first: unknown; rest: Patch[] };

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** The differences of `b` from `a`, or undefined where there are none. */
function diff(a: unknown, b: unknown): Patch | undefined {
  let out: Patch | undefined;
  if (Array.isArray(a)) {
    const arr = b as unknown[];
    for (let i = 0; i < arr.length; i++) {
      const d = leafDiff(a[i], arr[i]);
      if (d !== undefined) (out ??= {})[i] = d;
    }
    return out;
  }
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  for (const k in y) {
    const v = y[k];
    if (v === undefined) continue;
    const d = leafDiff(x[k], v);
    if (d !== undefined) (out ??= {})[k] = d;
  }
  for (const k in x) if (x[k] !== undefined && y[k] === undefined) (out ??= {})[k] = [];
  return out;
}

function leafDiff(a: unknown, b: unknown): Patch | [Json] | undefined {
  if (a === b) return undefined;
  if (typeof b !== "object" || b === null || typeof a !== "object" || a === null) return [b as Json];
  if (Array.isArray(a) ? Array.isArray(b) && a.length === b.length : isRecord(b)) {
    const d = diff(a, b);
    // An empty object/array that equals its counterpart: nothing to say.
    return d;
  }
  return [b as Json];
}

function apply(base: unknown, patch: Patch): unknown {
  if (Array.isArray(base)) {
    const out: unknown[] = base.slice();
    for (const k in patch) out[Number(k)] = applyLeaf(base[Number(k)], patch[k]);
    return out;
  }
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const k in patch) {
    if (k === "__proto__") continue;
    const p = patch[k];
    if (Array.isArray(p) && p.length === 0) delete out[k];
    else out[k] = applyLeaf(out[k], p);
  }
  return out;
}

function applyLeaf(base: unknown, p: Patch | [Json] | [] | undefined): unknown {
  if (p === undefined) return base;
  if (Array.isArray(p)) return p[0];
  return typeof base === "object" && base !== null ? apply(base, p) : undefined;
}

/** `results` (JSON objects, two or more) as the first and each other's differences from it. */
export function packResults(results: readonly object[]): PackedResults {
  const [first] = results;
  return { first, rest: results.slice(1).map((r) => diff(first, r) ?? {}) };
}

/** The results `packResults` was given, or what of them is readable in a damaged record. */
export function unpackResults(packed: unknown): unknown[] {
  if (!isRecord(packed) || !isRecord(packed["first"]) || !Array.isArray(packed["rest"])) return [];
  const first = packed["first"];
  return [first, ...packed["rest"].map((p) => (isRecord(p) ? apply(first, p as Patch) : undefined))];
}

// A result repeats parts of its own attempts: `servedBy` is the accepted attempt's tier, where, kind,
// model and version; `confidence` is that attempt's; and a cascade's `timings.steps` are one
// `tier:<name>` step per attempt with the attempt's duration. A stored result leaves those out with
// a marker where they are exactly that, and leaves out `degraded` and `cached` where they are false,
// as they nearly always are (~220 of a typical 1-item job's ~740 bytes, which BullMQ stores twice:
// the job's hash and its events stream). The markers' keys cannot occur in a result (its schema is
// strict), and `expandResult(compactResult(r))` deep-equals `r`.
const SERVED_BY_ATTEMPT = "~servedBy";
const CONFIDENCE_OF_SERVED_BY = "~confidence";
const STEPS_OF_ATTEMPTS = "~steps";

function servedByOf(a: TierAttempt): ServedBy {
  const s: ServedBy = { tier: a.tier, where: a.where, kind: a.kind };
  if (a.model !== undefined) s.model = a.model;
  if (a.modelVersion !== undefined) s.version = a.modelVersion;
  return s;
}

/** `r` as stored: what it repeats of its attempts replaced by markers (`r` itself when nothing is). */
export function compactResult(r: InferResult): object {
  const { servedBy: sb, attempts } = r;
  const out: Record<string, unknown> = { ...r };
  let changed = false;
  if (sb !== undefined) {
    const i = attempts.findIndex(
      (a) =>
        a.tier === sb.tier &&
        a.where === sb.where &&
        a.kind === sb.kind &&
        a.model === sb.model &&
        a.modelVersion === sb.version,
    );
    if (i >= 0) {
      delete out["servedBy"];
      out[SERVED_BY_ATTEMPT] = i;
      changed = true;
      if (r.confidence !== undefined && r.confidence === attempts[i]?.confidence) {
        delete out["confidence"];
        out[CONFIDENCE_OF_SERVED_BY] = 1;
      }
    }
  }
  // False is what a stored result without them means.
  if (r.degraded === false) {
    delete out["degraded"];
    changed = true;
  }
  if (r.cached === false) {
    delete out["cached"];
    changed = true;
  }
  const { steps } = r.timings;
  if (
    steps.length > 0 &&
    steps.length === attempts.length &&
    steps.every((s, k) => s.step === `tier:${attempts[k]?.tier}` && s.durationMs === attempts[k]?.durationMs)
  ) {
    out["timings"] = { totalMs: r.timings.totalMs };
    out[STEPS_OF_ATTEMPTS] = 1;
    changed = true;
  }
  return changed ? out : r;
}

/** A stored result as `compactResult` was given it (one stored before compaction as it is). */
export function expandResult(stored: unknown): unknown {
  if (!isRecord(stored)) return stored;
  const hasMarker =
    SERVED_BY_ATTEMPT in stored ||
    CONFIDENCE_OF_SERVED_BY in stored ||
    STEPS_OF_ATTEMPTS in stored ||
    !("degraded" in stored) ||
    !("cached" in stored);
  if (!hasMarker) return stored;
  const attempts = Array.isArray(stored["attempts"]) ? (stored["attempts"] as TierAttempt[]) : [];
  const {
    [SERVED_BY_ATTEMPT]: servedBy,
    [CONFIDENCE_OF_SERVED_BY]: confidence,
    [STEPS_OF_ATTEMPTS]: steps,
    ...out
  } = stored;
  if (servedBy !== undefined) {
    const a = attempts[servedBy as number];
    if (a === undefined) return undefined; // damaged: the result is dropped, as a bad one is
    out["servedBy"] = servedByOf(a);
    if (confidence === 1 && a.confidence !== undefined) out["confidence"] = a.confidence;
  }
  out["degraded"] ??= false;
  out["cached"] ??= false;
  if (steps !== undefined) {
    out["timings"] = {
      ...(isRecord(out["timings"]) ? out["timings"] : {}),
      steps: attempts.map((a) => ({ step: `tier:${a.tier}`, durationMs: a.durationMs })),
    };
  }
  return out;
}

// What a stored job result (return value) calls each field: one character instead of the contract's
// name (~180 of a 1-item job's ~560 bytes). Every byte of a return value is copied several times on
// the way (serialised twice by BullMQ, sent, stored in the job's hash and the events stream, read
// back), and the key names were a third of it. One mapping for every object in a stored result
// (results, attempts, patches, the envelope); a name not in it is kept as it is. No contract key is a
// single character (checked by a test), so a stored key of one character is always a short name, and
// records written before short names read back unchanged.
export const STORED_SHORT_NAMES: Readonly<Record<string, string>> = {
  // InferResult
  id: "i",
  task: "t",
  status: "s",
  label: "l",
  answer: "n",
  confidence: "c",
  servedBy: "b",
  degraded: "D",
  cached: "H",
  attempts: "a",
  costUsd: "u",
  timings: "g",
  error: "e",
  policyVersion: "p",
  traceId: "x",
  resultUrl: "r",
  // TierAttempt, ServedBy, TokenUsage, ErrorInfo, Timings, StepTiming
  tier: "T",
  where: "w",
  kind: "k",
  model: "m",
  modelVersion: "v",
  version: "V",
  threshold: "h",
  accepted: "A",
  durationMs: "d",
  usage: "U",
  promptTokens: "P",
  completionTokens: "C",
  code: "o",
  message: "M",
  totalMs: "z",
  steps: "y",
  step: "Y",
  // compactResult's markers
  [SERVED_BY_ATTEMPT]: "B",
  [CONFIDENCE_OF_SERVED_BY]: "K",
  [STEPS_OF_ATTEMPTS]: "S",
  // the job result's envelope and PackedResults
  items: "N",
  startedAt: "F",
  completedAt: "L",
  results: "R",
  packed: "Q",
  first: "f",
  rest: "q",
};
const LONG_NAMES: Readonly<Record<string, string>> = Object.fromEntries(
  Object.entries(STORED_SHORT_NAMES).map(([long, short]) => [short, long]),
);

function renamed(value: unknown, names: Readonly<Record<string, string>>): unknown {
  if (typeof value !== "object" || value === null) return value;
  if (Array.isArray(value)) return value.map((v) => renamed(v, names));
  const out: Record<string, unknown> = {};
  for (const k in value) {
    const v = (value as Record<string, unknown>)[k];
    if (v === undefined) continue;
    const name = names[k] ?? k;
    if (name === "__proto__") continue;
    out[name] = renamed(v, names);
  }
  return out;
}

/** A JSON value with every field of a stored job result under its one-character name. */
export function shortNames(value: unknown): unknown {
  return renamed(value, STORED_SHORT_NAMES);
}

/** `shortNames` undone; a value with the contract's names (an older record) comes back as it is. */
export function longNames(value: unknown): unknown {
  return renamed(value, LONG_NAMES);
}
