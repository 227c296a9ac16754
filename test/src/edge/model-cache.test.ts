// The edge agent's start-up caches: ONNX Runtime's optimized ORT-format copy of each model
// (loadModel's cacheDir), which must classify exactly as model.onnx does and be rebuilt when damaged,
// and the bundle the bin runs only while every file it was made from is unchanged.
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
  it("writes the ORT-format copy on the first load and classifies from it as from model.onnx", async () => {
    const { small } = await edgeModels();
    await using dir = await makeTempDir("model-cache");
    const plain = await loadModel(small);
    const first = await loadModel(small, { cacheDir: dir.path });
    const files = (await readdir(dir.path)).sort();
    expect(files).toHaveLength(2);
    expect(files[0]).toMatch(/^[0-9a-f]{40}\.ort$/);
    expect(files[1]).toBe(`${files[0] ?? ""}.sha256`);
    const cached = await loadModel(small, { cacheDir: dir.path });
    const [a, b, c] = await Promise.all([plain, first, cached].map((m) => m.classify(TEXTS)));
    expect(b).toEqual(a);
    expect(c).toEqual(a);
    await Promise.all([plain, first, cached].map((m) => m.close()));
  });

  it("rebuilds a damaged cache file instead of loading it", async () => {
    const { nano } = await edgeModels();
    await using dir = await makeTempDir("model-cache-damaged");
    const plain = await loadModel(nano);
    await (await loadModel(nano, { cacheDir: dir.path })).close();
    const ort = join(dir.path, (await readdir(dir.path)).find((f) => f.endsWith(".ort")) ?? "");
    const good = await readFile(ort);
    const bad = Buffer.from(good);
    const middle = bad.length >> 1;
    bad[middle] = (bad[middle] ?? 0) ^ 0xff;
    await writeFile(ort, bad);
    const reloaded = await loadModel(nano, { cacheDir: dir.path });
    expect(await reloaded.classify(TEXTS)).toEqual(await plain.classify(TEXTS));
    // Rebuilt (ONNX Runtime's serialization is not byte-for-byte stable, so not compared with `good`).
    const rebuilt = await readFile(ort);
    expect(rebuilt.equals(bad)).toBe(false);
    expect(await readFile(`${ort}.sha256`, "latin1")).toBe(
      createHash("sha256").update(rebuilt).digest("hex"),
    );
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
