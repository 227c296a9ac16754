import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { turnMaglevOff } from "./maglev.ts";

const MODULE = fileURLToPath(new URL("./maglev.ts", import.meta.url));

/** A fresh Node process: whether V8 would tier up to Maglev before and after turnMaglevOff. */
async function maglevInChild(
  execArgv: string[] = [],
): Promise<{ before: boolean; after: boolean; type: string }> {
  const script = `
    const { turnMaglevOff } = await import(${JSON.stringify(MODULE)});
    const before = %IsMaglevEnabled();
    const { type } = turnMaglevOff();
    console.log(JSON.stringify({ before, after: %IsMaglevEnabled(), type }));`;
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ["--allow-natives-syntax", ...execArgv, "--input-type=module", "-e", script],
    { env: { ...process.env, NODE_OPTIONS: "" } },
  );
  return JSON.parse(stdout) as { before: boolean; after: boolean; type: string };
}

describe("turnMaglevOff", () => {
  it("turns Maglev off in a running process", async () => {
    expect(await maglevInChild()).toEqual({ before: true, after: false, type: "off" });
  });

  it("leaves Maglev as node's flags set it when they name it", async () => {
    expect(await maglevInChild(["--maglev"])).toEqual({ before: true, after: true, type: "left-alone" });
    expect(turnMaglevOff({ nodeOptions: ["--no_maglev"] })).toEqual({
      type: "left-alone",
      reason: "--no_maglev given",
    });
    expect(turnMaglevOff({ nodeOptions: ["--maglev-inlining"] }).type).toBe("left-alone");
  });
});
