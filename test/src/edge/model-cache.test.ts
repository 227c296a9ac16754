// The edge agent's start-up caches: ONNX Runtime's optimized copy of each model, weights in a file
// of their own (loadModel's cacheDir), which must classify exactly as model.onnx does and be rebuilt
// when damaged, and the bundle the bin runs only while every file it was made from is unchanged.
import { createHash } from "node:crypto";
import { readdir, readFile, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { loadModel } from "@tiergate/shared";
import { makeTempDir } from "../index.ts";
import { REPO_ROOT } from "../models/ensure-models.ts";
import { edgeModels } from "./support.ts";

const TEXTS = [
  "what is my bank account balance",
  "set a timer for ten minutes",
  "blorp the quizzical vantablack trombone",
  "how do i change my pin",
  "i want to transfer money to my savings account",
];

beforeAll(async () => {
  await edgeModels();
}, 900_000);

describe("loadModel with a cache directory", () => {
  it("writes the optimized graph and its weights on the first load and classifies from them as from model.onnx", async () => {
    const { small } = await edgeModels();
    await using dir = await makeTempDir("model-cache");
    const plain = await loadModel(small);
    const first = await loadModel(small, { cacheDir: dir.path });
    const entries = await readdir(dir.path);
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatch(/^[0-9a-f]{40}$/);
    const entry = join(dir.path, entries[0] ?? "");
    expect((await readdir(entry)).sort()).toEqual(["model.onnx", "model.onnx.data", "sha256.json"]);
    const cached = await loadModel(small, { cacheDir: dir.path });
    const [a, b, c] = await Promise.all([plain, first, cached].map((m) => m.classify(TEXTS)));
    expect(b).toEqual(a);
    expect(c).toEqual(a);
    await Promise.all([plain, first, cached].map((m) => m.close()));
  });

  it("rebuilds a damaged cache entry instead of loading it", async () => {
    const { nano } = await edgeModels();
    await using dir = await makeTempDir("model-cache-damaged");
    const plain = await loadModel(nano);
    await (await loadModel(nano, { cacheDir: dir.path })).close();
    const entry = join(dir.path, (await readdir(dir.path))[0] ?? "");
    const weights = join(entry, "model.onnx.data");
    const bad = await readFile(weights);
    const middle = bad.length >> 1;
    bad[middle] = (bad[middle] ?? 0) ^ 0xff;
    await writeFile(weights, bad);
    const reloaded = await loadModel(nano, { cacheDir: dir.path });
    expect(await reloaded.classify(TEXTS)).toEqual(await plain.classify(TEXTS));
    const rebuilt = await readFile(weights);
    expect(rebuilt.equals(bad)).toBe(false);
    const sums = JSON.parse(await readFile(join(entry, "sha256.json"), "utf8")) as Record<string, string>;
    expect(sums["model.onnx.data"]).toBe(createHash("sha256").update(rebuilt).digest("hex"));
    await Promise.all([plain.close(), reloaded.close()]);
  });
});

describe("the bin's bundle check", () => {
  it("runs the bundle only while every input keeps its size and mtime", async () => {
    const { freshBundle } = (await import(
      pathToFileURL(join(REPO_ROOT, "edge-agent/bin/fresh-bundle.mjs")).href
    )) as { freshBundle: (packageUrl: URL, env: Record<string, string>) => string | undefined };
    await using dir = await makeTempDir("fresh-bundle");
    const pkg = pathToFileURL(`${dir.path}/`);
    expect(freshBundle(pkg, {})).toBeUndefined(); // no dist/
    const source = join(dir.path, "a.ts");
    await writeFile(source, "export const a = 1;\n");
    const { mkdir, stat } = await import("node:fs/promises");
    await mkdir(join(dir.path, "dist"));
    const s = await stat(source);
    const manifest = { entry: "cli.mjs", inputs: [["a.ts", s.size, s.mtimeMs]] };
    await writeFile(join(dir.path, "dist", "inputs.json"), JSON.stringify(manifest));
    expect(freshBundle(pkg, {})).toBe(new URL("dist/cli.mjs", pkg).href);
    expect(freshBundle(pkg, { TIERGATE_EDGE_FROM_SOURCE: "1" })).toBeUndefined();
    await utimes(source, s.atime, new Date(s.mtimeMs + 1_000));
    expect(freshBundle(pkg, {})).toBeUndefined();
  });
});
