// Reads a policy file (YAML or JSON; a valid JSON policy skips the YAML 1.2 parser), validates it once,
// and returns it with a version tag that caches key on. Every problem is reported, not just the first.
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { dirname, isAbsolute, resolve } from "node:path";
import { LineCounter, parseDocument, type Document } from "yaml";
import type { z } from "zod";
import { ONE_SHOT_PARSE } from "../contracts/codec.ts";
import { POLICY_ERROR_CODES, PolicyError, type PolicyIssue } from "./errors.ts";
import { PolicySchema, SUPPORTED_POLICY_MAJORS, policyMajor, type Policy } from "./schema.ts";

export type LoadedPolicy = {
  /**
   * The validated policy with defaults applied. Relative `tiers[].model` paths are resolved IN PLACE
   * to absolute paths, against the directory of the policy file (or `baseDir`).
   */
  policy: Policy;
  /** The file it came from, as given; undefined for text parsed without a file name. */
  file: string | undefined;
  /** Directory that relative paths were resolved against. */
  baseDir: string;
  /** sha256 (hex) of the canonical JSON of the validated policy, before path resolution. */
  sha256: string;
  /** `${version}+${sha256.slice(0, 12)}`: changes whenever the meaning of the policy changes. */
  versionTag: string;
};

export type ParsePolicyOptions = {
  /** Named in every error message; its directory is the base for relative model paths. */
  file?: string;
  /** Base for relative model paths; default: the file's directory, else the working directory. */
  baseDir?: string;
};

export async function loadPolicyFile(file: string): Promise<LoadedPolicy> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new PolicyError(POLICY_ERROR_CODES.POLICY_INVALID, `cannot read the policy file: ${reason}`, {
      file,
      cause: err,
    });
  }
  return parsePolicy(text, { file });
}

export function parsePolicy(text: string, options: ParsePolicyOptions = {}): LoadedPolicy {
  // JSON is YAML, but the YAML parser's first document costs ~10-20 ms (most of an edge agent's
  // policy load at start): a JSON policy that is valid as it stands skips it. Anything else, and every
  // policy with a problem, takes the YAML path below, whose errors carry lines and columns.
  const json = plainJsonObject(text);
  if (json !== undefined) {
    checkMajor(json, options.file);
    const result = PolicySchema.safeParse(json, ONE_SHOT_PARSE);
    if (result.success) return loaded(result.data, options);
  }
  return parseYamlPolicy(text, options);
}

function parseYamlPolicy(text: string, options: ParsePolicyOptions): LoadedPolicy {
  const { file } = options;
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const issues = doc.errors.map((e): PolicyIssue => {
      const pos = lineCounter.linePos(e.pos[0]);
      return {
        path: "",
        message: `syntax error: ${e.message.split("\n")[0] ?? e.code}`,
        line: pos.line,
        column: pos.col,
      };
    });
    throw new PolicyError(POLICY_ERROR_CODES.POLICY_INVALID, "syntax error", { file, issues });
  }
  const data: unknown = doc.toJS();
  checkMajor(data, file);

  const result = PolicySchema.safeParse(data, ONE_SHOT_PARSE);
  if (!result.success) {
    const issues = flattenIssues(result.error.issues).map((i) => withPosition(i, doc, lineCounter));
    throw new PolicyError(POLICY_ERROR_CODES.POLICY_INVALID, "invalid policy", {
      file,
      issues,
      cause: result.error,
    });
  }
  return loaded(result.data, options);
}

/** The validated policy with its version tag and its model paths resolved. */
function loaded(policy: Policy, options: ParsePolicyOptions): LoadedPolicy {
  const { file } = options;
  const sha256 = createHash("sha256").update(canonicalJson(policy)).digest("hex");
  const baseDir = resolve(options.baseDir ?? (file !== undefined ? dirname(file) : process.cwd()));
  for (const task of Object.values(policy.tasks)) {
    for (const tier of task.tiers) {
      if (tier.model !== undefined && !isAbsolute(tier.model)) tier.model = resolve(baseDir, tier.model);
    }
  }
  return { policy, file, baseDir, sha256, versionTag: `${policy.version}+${sha256.slice(0, 12)}` };
}

/** A JSON string token, and the ':' after it when it is a key. */
const JSON_STRING = /"(?:[^"\\]|\\.)*"[ \t\n\r]*(:)?/g;

/**
 * `text`'s value when it is a JSON object with no key repeated within an object, else undefined.
 * JSON.parse keeps the last of repeated keys where the YAML parser refuses them, so the keys in the
 * text are counted against those parsed: in valid JSON every '"' outside a string opens one, so
 * JSON_STRING's matches are its strings in order, and the keys are those followed by ':'.
 */
export function plainJsonObject(text: string): Record<string, unknown> | undefined {
  if (!/^\s*\{/.test(text)) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  let keysInText = 0;
  for (const m of text.matchAll(JSON_STRING)) if (m[1] !== undefined) keysInText++;
  return keysInText === countKeys(value) ? (value as Record<string, unknown>) : undefined;
}

function countKeys(value: unknown): number {
  if (typeof value !== "object" || value === null) return 0;
  let n = 0;
  if (Array.isArray(value)) for (const v of value) n += countKeys(v);
  else for (const [, v] of Object.entries(value)) n += 1 + countKeys(v);
  return n;
}

/** A clear refusal for a file written for another major version, before its fields are judged. */
function checkMajor(data: unknown, file: string | undefined): void {
  if (typeof data !== "object" || data === null || !("version" in data)) return;
  const version = data.version;
  if (typeof version !== "string") return;
  const major = policyMajor(version);
  if (major === undefined || (SUPPORTED_POLICY_MAJORS as readonly number[]).includes(major)) return;
  const supported = SUPPORTED_POLICY_MAJORS.map((m) => `${m}.x`).join(", ");
  throw new PolicyError(POLICY_ERROR_CODES.POLICY_VERSION_UNSUPPORTED, "unsupported version", {
    file,
    issues: [
      {
        path: "version",
        segments: ["version"],
        message: `policy version "${version}" (major ${major}) is not supported by this tiergate; supported: ${supported}`,
      },
    ],
  });
}

type Segment = PropertyKey;

/** `["tasks","intent","tiers",0]` → `tasks.intent.tiers[0]`. */
export function formatPath(path: readonly Segment[]): string {
  let out = "";
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else out += (out === "" ? "" : ".") + String(seg);
  }
  return out;
}

type RawIssue = { path: Segment[]; message: string };

function flattenIssues(issues: readonly z.core.$ZodIssue[], prefix: Segment[] = []): RawIssue[] {
  const out: RawIssue[] = [];
  for (const issue of issues) {
    const path = [...prefix, ...issue.path];
    if (issue.code === "invalid_key") {
      const inner = issue.issues.map((i) => i.message).join("; ");
      out.push({ path, message: `invalid key: ${inner}` });
    } else if (issue.code === "invalid_element") {
      out.push(...flattenIssues(issue.issues, path));
    } else if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) out.push({ path: [...path, key], message: "unknown field" });
    } else {
      out.push({ path, message: issue.message });
    }
  }
  return out;
}

/** Adds the line of the deepest node on the path that exists in the document. */
function withPosition(issue: RawIssue, doc: Document, lineCounter: LineCounter): PolicyIssue {
  const segments = issue.path.map((s) => (typeof s === "number" ? s : String(s)));
  const base: PolicyIssue = { path: formatPath(issue.path), segments, message: issue.message };
  for (let n = issue.path.length; n >= 0; n--) {
    const node: unknown = n === 0 ? doc.contents : doc.getIn(issue.path.slice(0, n), true);
    const range = (node as { range?: [number, number, number] } | undefined)?.range;
    if (range) {
      const pos = lineCounter.linePos(range[0]);
      return { ...base, line: pos.line, column: pos.col };
    }
  }
  return base;
}

/** JSON with object keys sorted, so equal policies hash equally whatever their key order or comments. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v === null || typeof v !== "object" || Array.isArray(v)) return v;
    const sorted: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) sorted[k] = (v as Record<string, unknown>)[k];
    return sorted;
  });
}

// ── secrets ──
const ENV_REF = /^env:([A-Za-z_][A-Za-z0-9_]*)$/;

/** Resolves an `env:NAME` reference against `env`; an unset or empty variable is a typed error naming it. */
export function resolveSecret(
  ref: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
): string {
  const m = ENV_REF.exec(ref);
  if (!m?.[1]) {
    throw new PolicyError(
      POLICY_ERROR_CODES.POLICY_INVALID,
      "secret reference must be env:NAME (the value itself is never written in the policy)",
    );
  }
  const name = m[1];
  const value = env[name];
  if (value === undefined || value === "") {
    throw new PolicyError(
      POLICY_ERROR_CODES.POLICY_INVALID,
      `environment variable ${name} is not set (the policy refers to it as ${ref})`,
    );
  }
  return value;
}
