import { describe, expect, it } from "vitest";
import { ErrorCode, TiergateError } from "./errors.ts";
import { MAX_ID_LENGTH } from "./contracts/common.ts";
import { createSubjects, subjects } from "./subjects.ts";

const FORBIDDEN_IDS: [string, string][] = [
  ["star", "*"],
  ["gt", ">"],
  ["dot", "a.b"],
  ["space", "a b"],
  ["tab", "\t"],
  ["newline", "a\nb"],
  ["empty", ""],
  ["129 chars", "a".repeat(MAX_ID_LENGTH + 1)],
  ["wildcard inside", "dev*1"],
  ["slash", "a/b"],
  ["backslash", "a\\b"],
  ["NUL", "a\u0000b"],
  ["non-breaking space", "a\u00a0b"],
];

const GOOD_IDS = [
  "intent",
  "dev-01",
  "A_b-9",
  "3f2c9a1e-8d7b-4c1e-9f00-1234567890ab",
  "a".repeat(MAX_ID_LENGTH),
  "é",
];

const builders = ["escalate", "batch", "results", "heartbeat", "resultsConsumer"] as const;

describe("subject builders", () => {
  it.each(builders.flatMap((b) => FORBIDDEN_IDS.map(([name, id]) => [b, name, id] as const)))(
    "%s refuses %s",
    (builder, _name, id) => {
      let thrown: unknown;
      try {
        subjects[builder](id);
      } catch (e) {
        thrown = e;
      }
      expect(thrown).toBeInstanceOf(TiergateError);
      expect((thrown as TiergateError).code).toBe(ErrorCode.INVALID_ID);
    },
  );

  it.each(GOOD_IDS)("accepts %j", (id) => {
    expect(subjects.escalate(id)).toBe(`tg.v1.escalate.${id}`);
    expect(subjects.batch(id)).toBe(`tg.v1.batch.${id}`);
    expect(subjects.results(id)).toBe(`tg.v1.results.${id}`);
    expect(subjects.heartbeat(id)).toBe(`tg.v1.hb.${id}`);
    expect(subjects.parse(subjects.batch(id))).toEqual({ kind: "batch", id });
  });

  it("has wildcards, streams, queue group and consumers", () => {
    expect(subjects.all).toEqual({
      escalate: "tg.v1.escalate.*",
      batch: "tg.v1.batch.*",
      results: "tg.v1.results.*",
      heartbeat: "tg.v1.hb.*",
    });
    expect(subjects.streams.batch).toEqual({ name: "TG_BATCH", subjects: ["tg.v1.batch.>"] });
    expect(subjects.streams.results).toEqual({ name: "TG_RESULTS", subjects: ["tg.v1.results.>"] });
    expect(subjects.escalationQueueGroup).toBe("tg-coordinators");
    expect(subjects.resultsConsumer("dev-1")).toBe("tg-results-dev-1");
  });

  it("parses only its own subjects", () => {
    expect(subjects.parse("tg.v1.escalate.intent")).toEqual({ kind: "escalate", id: "intent" });
    expect(subjects.parse("tg.v1.hb.dev-1")).toEqual({ kind: "heartbeat", id: "dev-1" });
    for (const other of [
      "tg.v1.other.x",
      "tg.v1.batch",
      "tg.v1.batch.a.b",
      "tg.v2.batch.a",
      "x.tg.v1.batch.a",
    ]) {
      expect(subjects.parse(other)).toBeUndefined();
    }
  });
});

describe("prefixed subjects (test isolation)", () => {
  const s = createSubjects({ prefix: "t42.run" });

  it("puts every name under the prefix", () => {
    expect(s.prefix).toBe("t42.run");
    expect(s.escalate("intent")).toBe("t42.run.tg.v1.escalate.intent");
    expect(s.all.batch).toBe("t42.run.tg.v1.batch.*");
    expect(s.streams.batch).toEqual({ name: "T42_RUN_TG_BATCH", subjects: ["t42.run.tg.v1.batch.>"] });
    expect(s.streams.results.name).toBe("T42_RUN_TG_RESULTS");
    expect(s.escalationQueueGroup).toBe("t42-run-tg-coordinators");
    expect(s.batchConsumer).toBe("t42-run-tg-coordinator-batches");
    expect(s.resultsConsumer("d1")).toBe("t42-run-tg-results-d1");
    expect(s.parse("t42.run.tg.v1.results.d1")).toEqual({ kind: "results", id: "d1" });
    expect(s.parse("tg.v1.results.d1")).toBeUndefined();
  });

  it.each(["a..b", "*", "a b", ".a", "a."])("refuses the prefix %j", (prefix) => {
    expect(() => createSubjects({ prefix })).toThrow(TiergateError);
  });
});
