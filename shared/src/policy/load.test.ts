import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { TiergateError } from "../errors.ts";
import { POLICY_ERROR_CODES, PolicyError } from "./errors.ts";
import { loadPolicyFile, parsePolicy, plainJsonObject, resolveSecret } from "./load.ts";

const EXAMPLE = resolve(import.meta.dirname, "../../../deploy/policies/example.yaml");
const REPO = resolve(import.meta.dirname, "../../..");

function policyError(fn: () => unknown): PolicyError {
  try {
    fn();
  } catch (err) {
    if (err instanceof PolicyError) return err;
    throw err;
  }
  throw new Error("expected a PolicyError");
}

describe("loadPolicyFile: the example policy", () => {
  it("loads, with defaults applied and model paths resolved against its directory", async () => {
    const loaded = await loadPolicyFile(EXAMPLE);
    const task = loaded.policy.tasks.intent;
    expect(task?.tiers.map((t) => t.name)).toEqual(["nano", "small", "medium", "llm"]);
    expect(task?.tiers[0]?.model).toBe(resolve(REPO, "models/nano"));
    expect(task?.rejectLabels).toEqual(["oos"]);
    expect(loaded.policy.batch.offPeak.timeZone).toBe("Europe/Berlin");
    expect(loaded.policy.llm.endpoints.standin?.apiKey).toBe("env:TIERGATE_LLM_API_KEY");
    expect(loaded.versionTag).toMatch(/^1\.0\+[0-9a-f]{12}$/);
  });

  it("gives the same version tag for the same meaning, another for a change", async () => {
    const a = await loadPolicyFile(EXAMPLE);
    const text = await import("node:fs/promises").then((fs) => fs.readFile(EXAMPLE, "utf8"));
    const reformatted = parsePolicy(`# a comment\n${text}\n# another\n`, { file: EXAMPLE });
    expect(reformatted.versionTag).toBe(a.versionTag);
    const changed = parsePolicy(text.replace("ttlMs: 600000", "ttlMs: 600001"), { file: EXAMPLE });
    expect(changed.versionTag).not.toBe(a.versionTag);
  });
});

describe("parsePolicy", () => {
  const MINIMAL = {
    version: "1.0",
    tasks: {
      t: { tiers: [{ name: "a", where: "edge", model: "m", accept: { rule: "margin", threshold: 0.5 } }] },
    },
  };

  it("reads JSON, applies defaults, and resolves paths against baseDir", () => {
    const loaded = parsePolicy(JSON.stringify(MINIMAL), { file: "p.json", baseDir: "/srv/tg" });
    expect(loaded.policy.tasks.t?.tiers[0]?.model).toBe("/srv/tg/m");
    expect(loaded.policy.tasks.t?.maxInputBytes).toBe(4096);
    expect(loaded.policy.cache).toEqual({ enabled: true, ttlMs: 600_000, maxBytes: 16 * 1024 * 1024 });
    expect(loaded.policy.privacy.redact).toEqual(["email", "phone", "card", "iban", "ip"]);
    expect(loaded.policy.batch.offPeak).toEqual({ timeZone: "UTC", windows: [] });
  });

  it("refuses an unknown major version with a clear message", () => {
    const err = policyError(() =>
      parsePolicy(JSON.stringify({ ...MINIMAL, version: "2.0", tiers: 7 }), { file: "v2.yaml" }),
    );
    expect(err.code).toBe(POLICY_ERROR_CODES.POLICY_VERSION_UNSUPPORTED);
    expect(err).toBeInstanceOf(TiergateError);
    expect(err.details).toEqual([{ path: ["version"], message: expect.stringContaining("2.0") as unknown }]);
    expect(err.message).toBe(
      'v2.yaml: version: policy version "2.0" (major 2) is not supported by this tiergate; supported: 1.x',
    );
  });

  it("accepts a newer minor of a known major", () => {
    expect(parsePolicy(JSON.stringify({ ...MINIMAL, version: "1.7" })).policy.version).toBe("1.7");
  });

  it("reports a YAML syntax error with its line and column", () => {
    const err = policyError(() =>
      parsePolicy('version: "1.0"\ntasks:\n  t: { tiers: [\n', { file: "broken.yaml" }),
    );
    expect(err.code).toBe(POLICY_ERROR_CODES.POLICY_INVALID);
    expect(err.issues[0]?.line).toBeGreaterThanOrEqual(3);
    expect(err.message).toMatch(/^broken\.yaml: syntax error: .+\(line \d+, column \d+\)/);
  });

  it.each([
    ["dup.yaml", 'version: "1.0"\nversion: "1.0"\ntasks: {}\n', 2],
    ["dup.json", '{\n  "version": "1.0",\n  "version": "1.0",\n  "tasks": {}\n}\n', 3],
  ])("reports a repeated key as a syntax error with its line (%s)", (file, text, line) => {
    const err = policyError(() => parsePolicy(text, { file }));
    expect(err.message).toMatch(
      new RegExp(`${file.replace(".", "\\.")}: syntax error: .*unique.*\\(line ${line}`, "i"),
    );
  });

  it("reads a JSON policy, which skips the YAML parser, to what the YAML parser makes of it", () => {
    const json = JSON.stringify({ ...MINIMAL, cache: { ttlMs: 5 } }, null, 2);
    expect(plainJsonObject(json)).toBeDefined(); // the JSON path
    const viaJson = parsePolicy(json, { file: "p.json" });
    const viaYaml = parsePolicy(`# a comment: not JSON any more\n${json}`, { file: "p.json" });
    expect(plainJsonObject(`# a comment\n${json}`)).toBeUndefined();
    expect(viaJson).toEqual(viaYaml);
  });

  it("gives a JSON policy's problems with their lines, as for YAML", () => {
    const text = JSON.stringify({ ...MINIMAL, cache: { ttlMs: 0 } }, null, 2);
    const err = policyError(() => parsePolicy(text, { file: "bad.json" }));
    expect(err.message).toMatch(/^bad\.json: cache\.ttlMs: .*\(line \d+, column \d+\)$/);
  });

  it("takes a text as plain JSON only when no object in it repeats a key", () => {
    expect(plainJsonObject('{"a": "x\\": y", "b": {"c": ":"}, "d": [{"e": 1}, {"e": 2}]}')).toEqual({
      a: 'x": y',
      b: { c: ":" },
      d: [{ e: 1 }, { e: 2 }],
    });
    expect(plainJsonObject('{"a": {"b": 1, "b": 2}}')).toBeUndefined();
    expect(plainJsonObject('{"a": 1, "\\u0061": 2}')).toBeUndefined(); // the same key, escaped
    expect(plainJsonObject('[{"a": 1}]')).toBeUndefined();
    expect(plainJsonObject("a: 1")).toBeUndefined();
    expect(plainJsonObject('{"a": 1,}')).toBeUndefined();
  });

  it("lists every problem, one line each, with the line of the bad field", () => {
    const text = [
      'version: "1.0"',
      "tasks:",
      "  t:",
      "    maxInputBytes: -1",
      "    tiers: []",
      "cache: { ttlMs: 0 }",
    ].join("\n");
    const err = policyError(() => parsePolicy(text, { file: "many.yaml" }));
    const lines = err.message.split("\n");
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^many\.yaml: tasks\.t\.maxInputBytes: .*\(line 4, column 20\)$/);
    expect(lines[1]).toMatch(/^many\.yaml: tasks\.t\.tiers: .*\(line 5/);
    expect(lines[2]).toMatch(/^many\.yaml: cache\.ttlMs: /);
  });
});

describe("resolveSecret", () => {
  it("returns the variable's value", () => {
    expect(resolveSecret("env:TG_KEY", { TG_KEY: "s3cret" })).toBe("s3cret");
  });
  it("names the missing variable", () => {
    const err = policyError(() => resolveSecret("env:TG_MISSING", {}));
    expect(err.code).toBe(POLICY_ERROR_CODES.POLICY_INVALID);
    expect(err.message).toContain("TG_MISSING");
  });
  it("refuses an inline value without echoing it", () => {
    const err = policyError(() => resolveSecret("sk-live-abcdef", {}));
    expect(err.message).not.toContain("sk-live");
  });
});
