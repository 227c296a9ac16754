import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TiergateError } from "@tiergate/shared";
import { loadSplits, parseClinc, parseJsonl } from "./data.ts";

describe("JSONL data", () => {
  it("reads {text, label} lines and skips blank ones", () => {
    const rows = parseJsonl('{"text":"hi","label":"greet"}\n\n{"text":"bye","label":"leave"}\n', "f.jsonl");
    expect(rows).toEqual([
      { text: "hi", label: "greet" },
      { text: "bye", label: "leave" },
    ]);
  });

  it.each([
    ['{"text":"a","label":"x"}\n{"text":"b","label":"x"}\n{"text":"c"\n', 3, "not JSON"],
    ['{"text":"a","label":"x"}\n{"text":"","label":"x"}\n', 2, "expected"],
    ['{"text":"a","label":"x","extra":1}\n', 1, "expected"],
    ['{"text":"a","label":"x"}\n\n["a","x"]\n', 3, "expected"],
  ])("names the malformed line (%#)", (text, line, what) => {
    let caught: unknown;
    try {
      parseJsonl(text, "data.jsonl");
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(TiergateError);
    const err = caught as TiergateError;
    expect(err.code).toBe("VALIDATION_FAILED");
    expect(err.message).toContain(`data.jsonl:${line}:`);
    expect(err.message).toContain(what);
    expect(err.details?.[0]?.path).toEqual(["line", line]);
  });

  it("refuses a file that is not CLINC150", () => {
    expect(() => parseClinc('{"train": 1}', "x.json")).toThrow(TiergateError);
  });
});

describe("loadSplits", () => {
  let dir = "";
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "tg-data-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("holds out a seeded validation share when no --val file is given", async () => {
    const file = join(dir, "d.jsonl");
    const lines = Array.from({ length: 200 }, (_, i) =>
      JSON.stringify({ text: `t ${i}`, label: `l${i % 2}` }),
    );
    await writeFile(file, lines.join("\n"));
    const a = await loadSplits(file, { format: "jsonl", seed: 7 });
    const b = await loadSplits(file, { format: "jsonl", seed: 7 });
    expect(a.train.length + a.val.length).toBe(200);
    expect(a.val.length).toBeGreaterThan(5);
    expect(a.val).toEqual(b.val);
    expect(a.dataSha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it("gives a typed error for a missing file", async () => {
    await expect(loadSplits(join(dir, "nope.jsonl"), { format: "jsonl", seed: 1 })).rejects.toMatchObject({
      code: "NOT_FOUND",
    });
  });
});
