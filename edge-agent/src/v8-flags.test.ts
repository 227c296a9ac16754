import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { DEFAULT_HEAP_GROWING_PERCENT, setDaemonV8Flags } from "./v8-flags.ts";

const MODULE = fileURLToPath(new URL("./v8-flags.ts", import.meta.url));

type Child = { maglevBefore: boolean; maglevAfter: boolean; types: string[]; growingFactors: number[] };

/**
 * A fresh Node process that calls setDaemonV8Flags, then runs a full GC: whether V8 would tier up
 * to Maglev before and after, and the factor V8 traced for the old generation's next limit.
 */
async function inChild(execArgv: string[] = []): Promise<Child> {
  const script = `
    const { setDaemonV8Flags } = await import(${JSON.stringify(MODULE)});
    const maglevBefore = %IsMaglevEnabled();
    const types = setDaemonV8Flags().map((s) => s.type);
    const maglevAfter = %IsMaglevEnabled();
    globalThis.gc();
    console.log("RESULT " + JSON.stringify({ maglevBefore, maglevAfter, types }));`;
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [
      ...["--allow-natives-syntax", "--expose-gc", "--trace-gc-verbose"],
      ...execArgv,
      ...["--input-type=module", "-e", script],
    ],
    { env: { ...process.env, NODE_OPTIONS: "" } },
  );
  const line = stdout.split("\n").find((l) => l.startsWith("RESULT ")) ?? "RESULT {}";
  const growingFactors = [...stdout.matchAll(/\[HeapController\] factor ([\d.]+)/g)].map((m) => Number(m[1]));
  return { ...(JSON.parse(line.slice("RESULT ".length)) as Omit<Child, "growingFactors">), growingFactors };
}

describe("setDaemonV8Flags", () => {
  it("turns Maglev off and lets the old generation grow by the set percent after a full GC", async () => {
    const r = await inChild();
    expect(r).toMatchObject({ maglevBefore: true, maglevAfter: false, types: ["set", "set"] });
    expect(r.growingFactors.length).toBeGreaterThan(0);
    expect(r.growingFactors.at(-1)).toBe(1 + DEFAULT_HEAP_GROWING_PERCENT / 100);
  });

  it("leaves a flag as node's options set it when they name it", async () => {
    const r = await inChild(["--maglev", "--heap-growing-percent=200"]);
    expect(r).toMatchObject({ maglevBefore: true, maglevAfter: true, types: ["left-alone", "left-alone"] });
    expect(r.growingFactors.at(-1)).toBe(3);
    expect(setDaemonV8Flags({ nodeOptions: ["--no_maglev", "--heap_growing_percent=10"] })).toEqual([
      { type: "left-alone", flag: "--no-maglev", reason: "--no-maglev given" },
      {
        type: "left-alone",
        flag: `--heap-growing-percent=${DEFAULT_HEAP_GROWING_PERCENT}`,
        reason: "--heap-growing-percent=10 given",
      },
    ]);
  });
});
