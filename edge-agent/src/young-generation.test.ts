import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { capYoungGeneration } from "./young-generation.ts";

const MODULE = fileURLToPath(new URL("./young-generation.ts", import.meta.url));
const MB = 1024 * 1024;

/**
 * A fresh Node process that allocates like a server under load (many short-lived objects, some
 * surviving a few scavenges) and prints its new space's size; with `cap`, after capYoungGeneration.
 */
async function newSpaceAfterChurn(cap: boolean, execArgv: string[] = []): Promise<number> {
  const script = `
    const { capYoungGeneration } = await import(${JSON.stringify(MODULE)});
    const v8 = await import("node:v8");
    const result = ${cap} ? capYoungGeneration({ maxNewSpaceMb: 4 }) : { type: "off" };
    let live = [];
    for (let round = 0; round < 400; round++) {
      for (let i = 0; i < 5_000; i++) {
        live.push({ i, text: "request " + i });
        if (live.length > 20_000) live = [];
      }
      await new Promise((r) => setImmediate(r)); // lets the GC observer run, as an event loop would
    }
    const ns = v8.getHeapSpaceStatistics().find((s) => s.space_name === "new_space");
    console.log(JSON.stringify({ type: result.type, bytes: ns.space_size }));`;
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [...execArgv, "--input-type=module", "-e", script],
    { env: { ...process.env, NODE_OPTIONS: "" } },
  );
  const out = JSON.parse(stdout) as { type: string; bytes: number };
  return out.bytes;
}

describe("capYoungGeneration", () => {
  it("stops the new space growing near the bound where V8 alone grows it well past", async () => {
    const [capped, free] = await Promise.all([newSpaceAfterChurn(true), newSpaceAfterChurn(false)]);
    expect(free).toBeGreaterThanOrEqual(16 * MB);
    // Checked after GCs, between turns of the event loop: one doubling past the bound at most.
    expect(capped).toBeLessThanOrEqual(8 * MB);
  });

  it("leaves the young generation alone when the node options size it", () => {
    const r = capYoungGeneration({ nodeOptions: ["--max-semi-space-size=32"] });
    expect(r).toEqual({ type: "left-alone", reason: "--max-semi-space-size=32 given" });
    const u = capYoungGeneration({ nodeOptions: ["--semi_space_growth_factor=4"] });
    expect(u.type).toBe("left-alone");
  });
});
