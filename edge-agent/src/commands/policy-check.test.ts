// Spawns the real binary with the project's Node, as an operator would run it.
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const REPO = resolve(import.meta.dirname, "../../..");
const NODE = join(REPO, "node_modules/.bin/node");
const BIN = join(REPO, "edge-agent/bin/tiergate-edge.mjs");
const EXAMPLE = "deploy/policies/example.yaml";

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(NODE, [BIN, ...args], {
      cwd: REPO,
      env: { PATH: process.env.PATH },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe("tiergate-edge policy check", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "tg-cli-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("accepts the example policy", async () => {
    const r = await cli("policy", "check", EXAMPLE);
    expect(r).toMatchObject({ code: 0, stderr: "" });
    expect(r.stdout).toMatch(
      /^OK deploy\/policies\/example\.yaml \(version 1\.0, 1 task, tag 1\.0\+[0-9a-f]{12}\)\n$/,
    );
  });

  it("prints every problem with file and field path and exits 1", async () => {
    const bad = join(dir, "bad.yaml");
    await writeFile(
      bad,
      [
        'version: "1.0"',
        "tasks:",
        "  intent:",
        "    tiers:",
        "      - { name: nano, where: edge, model: m, accept: { rule: max-prob, threshold: 2 } }",
        "cache: { ttlMs: -1 }",
        "",
      ].join("\n"),
    );
    const r = await cli("policy", "check", EXAMPLE, bad);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("OK deploy/policies/example.yaml");
    expect(r.stderr.trim().split("\n")).toEqual([
      expect.stringMatching(
        new RegExp(`^${bad}: tasks\\.intent\\.tiers\\[0\\]\\.accept\\.threshold: .*\\(line 5`),
      ),
      expect.stringMatching(new RegExp(`^${bad}: cache\\.ttlMs: .*\\(line 6`)),
    ]);
  });

  it("with --check-env, names unset secret variables", async () => {
    const r = await cli("policy", "check", "--check-env", EXAMPLE);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `${EXAMPLE}: llm.endpoints.standin.apiKey: environment variable TIERGATE_LLM_API_KEY is not set`,
    );
  });

  it("has --help at the top and on the command", async () => {
    const top = await cli("--help");
    expect(top.code).toBe(0);
    expect(top.stdout).toMatch(/Commands:\n(?:\s+.*\n)*?\s+policy check\s+validate/);
    const sub = await cli("policy", "check", "--help");
    expect(sub.code).toBe(0);
    expect(sub.stdout).toContain("Usage: tiergate-edge policy check");
  });

  it.each([
    [["frobnicate"], /unknown command: frobnicate/],
    [[], /no command given/],
    [["policy", "check"], /give at least one FILE/],
    [["policy", "check", "--bogus", EXAMPLE], /Unknown option '--bogus'/],
  ])("usage error %j exits 2", async (args, message) => {
    const r = await cli(...args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toContain("Usage: tiergate-edge");
  });
});
