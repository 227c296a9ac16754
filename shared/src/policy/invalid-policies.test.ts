// Table-driven: each invalid policy must be refused with the file name and the bad field's path.
import { describe, expect, it } from "vitest";
import { POLICY_ERROR_CODES, PolicyError } from "./errors.ts";
import { parsePolicy } from "./load.ts";

type Doc = Record<string, unknown>;

function valid(): Doc {
  return {
    version: "1.0",
    tasks: {
      intent: {
        tiers: [
          {
            name: "nano",
            where: "edge",
            model: "m/nano",
            accept: { rule: "max-prob", targetPrecision: 0.97 },
          },
          { name: "medium", where: "cloud", model: "m/medium", accept: { rule: "margin", threshold: 0.6 } },
          { name: "llm", where: "cloud", llm: { endpoints: ["primary"] } },
        ],
        rejectLabels: ["oos"],
        actions: { balance: { type: "template", template: "Balance ({confidence})" } },
      },
    },
    privacy: { customPatterns: [{ name: "employee_id", pattern: "EMP-[0-9]{6}", flags: "gi" }] },
    batch: { offPeak: { timeZone: "Europe/Berlin", windows: [{ start: "22:00", end: "06:00" }] } },
    costs: { nano: { perRequestUsd: 0 } },
    llm: {
      endpoints: {
        primary: {
          baseURL: "http://127.0.0.1:8089/v1",
          apiKey: "env:OPENAI_API_KEY",
          model: "gpt-4o-mini",
          pricing: { inputPerMTokUsd: 0.15, outputPerMTokUsd: 0.6 },
        },
      },
    },
  };
}

/** A fresh valid policy document with the field at `path` set to `value` (deleted when undefined). */
function set(path: (string | number)[], value: unknown): Doc {
  const doc = valid();
  let node = doc as Record<string | number, unknown>;
  for (const key of path.slice(0, -1)) {
    node[key] ??= {};
    node = node[key] as Record<string | number, unknown>;
  }
  const last = path.at(-1)!;
  if (value === undefined) delete node[last];
  else node[last] = value;
  return doc;
}

/** The medium (cloud) tier moved before the nano (edge) tier. */
function cloudFirst(): Doc {
  const doc = valid();
  const task = (doc.tasks as Record<string, Doc>).intent!;
  const [nano, medium, llm] = task.tiers as Doc[];
  task.tiers = [medium, nano, llm];
  return doc;
}

const FILE = "deploy/policies/bad.yaml";

// [what, document, expected "path: reason" fragment (regex on the line after "FILE: ")]
const CASES: [string, Doc, RegExp][] = [
  ["missing version", set(["version"], undefined), /^version: /],
  ["malformed version", set(["version"], "one"), /^version: must be "MAJOR\.MINOR"/],
  ["unknown top-level field", { ...valid(), extra: 1 }, /^extra: unknown field/],
  ["no tasks", set(["tasks"], {}), /^tasks: declare at least one task/],
  [
    "bad task id",
    set(["tasks"], { "Intent Detection": valid().tasks }),
    /^tasks\.Intent Detection: invalid key/,
  ],
  [
    "unknown field in a tier",
    set(["tasks", "intent", "tiers", 0, "modle"], "x"),
    /^tasks\.intent\.tiers\[0\]\.modle: unknown field/,
  ],
  ["bad where", set(["tasks", "intent", "tiers", 0, "where"], "fog"), /^tasks\.intent\.tiers\[0\]\.where: /],
  [
    "threshold above 1",
    set(["tasks", "intent", "tiers", 1, "accept", "threshold"], 1.5),
    /^tasks\.intent\.tiers\[1\]\.accept\.threshold: .*<=1/,
  ],
  [
    "targetPrecision too low",
    set(["tasks", "intent", "tiers", 0, "accept", "targetPrecision"], 0.3),
    /^tasks\.intent\.tiers\[0\]\.accept\.targetPrecision: .*>=0\.5/,
  ],
  [
    "both threshold and targetPrecision",
    set(["tasks", "intent", "tiers", 1, "accept", "targetPrecision"], 0.9),
    /^tasks\.intent\.tiers\[1\]\.accept: give exactly one of threshold or targetPrecision/,
  ],
  [
    "unknown accept rule",
    set(["tasks", "intent", "tiers", 1, "accept", "rule"], "vibes"),
    /^tasks\.intent\.tiers\[1\]\.accept\.rule: /,
  ],
  [
    "tier with model and llm",
    set(["tasks", "intent", "tiers", 1, "llm"], { endpoints: ["primary"] }),
    /^tasks\.intent\.tiers\[1\]: give exactly one of model or llm/,
  ],
  [
    "tier with neither model nor llm",
    set(["tasks", "intent", "tiers", 1, "model"], undefined),
    /^tasks\.intent\.tiers\[1\]: give exactly one of model or llm/,
  ],
  [
    "model tier without accept",
    set(["tasks", "intent", "tiers", 1, "accept"], undefined),
    /^tasks\.intent\.tiers\[1\]\.accept: a model tier needs an acceptance rule/,
  ],
  [
    "llm tier at the edge",
    set(["tasks", "intent", "tiers", 2, "where"], "edge"),
    /^tasks\.intent\.tiers\[2\]\.where: an llm tier must be where: cloud/,
  ],
  [
    "edge tier after a cloud tier",
    cloudFirst(),
    /^tasks\.intent\.tiers\[1\]\.where: edge tier after cloud tier 0/,
  ],
  [
    "duplicate tier name",
    set(["tasks", "intent", "tiers", 1, "name"], "nano"),
    /^tasks\.intent\.tiers\[1\]\.name: duplicate tier name "nano"/,
  ],
  [
    "unknown llm endpoint",
    set(["tasks", "intent", "tiers", 2, "llm", "endpoints"], ["primary", "nowhere"]),
    /^tasks\.intent\.tiers\[2\]\.llm\.endpoints\[1\]: unknown endpoint "nowhere"/,
  ],
  [
    "inline API key",
    set(["llm", "endpoints", "primary", "apiKey"], "sk-proj-abc123"),
    /^llm\.endpoints\.primary\.apiKey: secrets are not written inline: .*env:NAME/,
  ],
  [
    "baseURL not a URL",
    set(["llm", "endpoints", "primary", "baseURL"], "localhost:8089"),
    /^llm\.endpoints\.primary\.baseURL: must be an http\(s\) URL/,
  ],
  [
    "baseURL with credentials",
    set(["llm", "endpoints", "primary", "baseURL"], "http://u:p@host/v1"),
    /^llm\.endpoints\.primary\.baseURL: must not carry credentials/,
  ],
  [
    "negative price",
    set(["llm", "endpoints", "primary", "pricing", "inputPerMTokUsd"], -1),
    /^llm\.endpoints\.primary\.pricing\.inputPerMTokUsd: /,
  ],
  [
    "window not HH:MM",
    set(["batch", "offPeak", "windows", 0, "start"], "10pm"),
    /^batch\.offPeak\.windows\[0\]\.start: must be a 24-hour time/,
  ],
  [
    "window 24:00",
    set(["batch", "offPeak", "windows", 0, "end"], "24:00"),
    /^batch\.offPeak\.windows\[0\]\.end: must be a 24-hour time/,
  ],
  [
    "empty window",
    set(["batch", "offPeak", "windows", 0, "end"], "22:00"),
    /^batch\.offPeak\.windows\[0\]\.end: must differ from start/,
  ],
  [
    "unknown weekday",
    set(["batch", "offPeak", "windows", 0, "days"], ["monday"]),
    /^batch\.offPeak\.windows\[0\]\.days\[0\]: /,
  ],
  [
    "unknown time zone",
    set(["batch", "offPeak", "timeZone"], "Europe/Atlantis"),
    /^batch\.offPeak\.timeZone: unknown IANA time zone/,
  ],
  ["zero batch concurrency", set(["batch", "concurrency"], 0), /^batch\.concurrency: /],
  ["fractional maxItems", set(["batch", "maxItems"], 2.5), /^batch\.maxItems: /],
  [
    "cost for an unknown tier",
    set(["costs", "huge"], { perRequestUsd: 1 }),
    /^costs\.huge: unknown tier "huge"/,
  ],
  [
    "cost for an llm tier",
    set(["costs", "llm"], { perRequestUsd: 1 }),
    /^costs\.llm: an llm tier is priced by llm\.endpoints/,
  ],
  [
    "invalid custom regex",
    set(["privacy", "customPatterns", 0, "pattern"], "EMP-[0-9"),
    /^privacy\.customPatterns\[0\]\.pattern: invalid regular expression/,
  ],
  [
    "bad regex flag",
    set(["privacy", "customPatterns", 0, "flags"], "gx"),
    /^privacy\.customPatterns\[0\]\.flags: regex flags may only be/,
  ],
  ["unknown redact kind", set(["privacy", "redact"], ["email", "ssn"]), /^privacy\.redact\[1\]: /],
  [
    "neverEscalate for an unknown task",
    set(["privacy", "neverEscalate"], { sentiment: ["x"] }),
    /^privacy\.neverEscalate\.sentiment: unknown task "sentiment"/,
  ],
  [
    "unknown action type",
    set(["tasks", "intent", "actions", "balance"], { type: "shell", cmd: "rm" }),
    /^tasks\.intent\.actions\.balance\.type: /,
  ],
  [
    "unknown template placeholder",
    set(["tasks", "intent", "actions", "balance", "template"], "Hi {user}"),
    /^tasks\.intent\.actions\.balance\.template: unknown placeholder \{user\}/,
  ],
  [
    "onCloudUnavailable unknown",
    set(["tasks", "intent", "onCloudUnavailable"], "panic"),
    /^tasks\.intent\.onCloudUnavailable: /,
  ],
  ["maxInputBytes zero", set(["tasks", "intent", "maxInputBytes"], 0), /^tasks\.intent\.maxInputBytes: /],
  ["cache ttl as a string", set(["cache", "ttlMs"], "10m"), /^cache\.ttlMs: .*expected number/],
];

describe("invalid policies are refused with the file and the field path", () => {
  it("has at least 15 cases", () => expect(CASES.length).toBeGreaterThanOrEqual(15));

  it.each(CASES)("%s", (_what, doc, expected) => {
    let error: unknown;
    try {
      parsePolicy(JSON.stringify(doc), { file: FILE });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(PolicyError);
    const policyError = error as PolicyError;
    expect(policyError.code).toBe(POLICY_ERROR_CODES.POLICY_INVALID);
    expect(policyError.file).toBe(FILE);
    const lines = policyError.message.split("\n");
    expect(lines.every((l) => l.startsWith(`${FILE}: `))).toBe(true);
    const rests = lines.map((l) => l.slice(FILE.length + 2));
    expect(
      rests.some((r) => expected.test(r)),
      `got:\n${policyError.message}`,
    ).toBe(true);
  });

  it("the valid base document is accepted (so each case fails for its own reason)", () => {
    expect(parsePolicy(JSON.stringify(valid()), { file: FILE }).policy.tasks.intent?.tiers).toHaveLength(3);
  });
});
