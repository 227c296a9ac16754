// The edge agent's start-up caches: ONNX Runtime's optimized copy of each model, weights in a file
// of their own (loadModel's cacheDir), which must classify exactly as model.onnx does and be rebuilt
// when damaged, and the bundle the bin runs only while every file it was made from is unchanged.
import { createHash } from "node:crypto";
import { cp, readdir, readFile, stat, utimes, writeFile } from "node:fs/promises";
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

/** nano loaded without a cache, and its cache entry made in `cacheDir`, with its weights file. */
async function nanoCacheEntry(cacheDir: string) {
  const { nano } = await edgeModels();
  const plain = await loadModel(nano);
  await (await loadModel(nano, { cacheDir })).close();
  const entry = join(cacheDir, (await readdir(cacheDir))[0] ?? "");
  return { nano, plain, entry, weights: join(entry, "model.onnx.data") };
}

/** `bytes` with its middle byte's bits flipped (in place). */
function flipMiddleByte(bytes: Buffer): Buffer {
  const middle = bytes.length >> 1;
  bytes[middle] = (bytes[middle] ?? 0) ^ 0xff;
  return bytes;
}

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
    await using dir = await makeTempDir("model-cache-damaged");
    const { nano, plain, entry, weights } = await nanoCacheEntry(dir.path);
    const bad = flipMiddleByte(await readFile(weights));
    await writeFile(weights, bad);
    const reloaded = await loadModel(nano, { cacheDir: dir.path });
    expect(await reloaded.classify(TEXTS)).toEqual(await plain.classify(TEXTS));
    const rebuilt = await readFile(weights);
    expect(rebuilt.equals(bad)).toBe(false);
    const sums = JSON.parse(await readFile(join(entry, "sha256.json"), "utf8")) as Record<string, string>;
    expect(sums["model.onnx.data"]).toBe(createHash("sha256").update(rebuilt).digest("hex"));
    await Promise.all([plain.close(), reloaded.close()]);
  });

  it("catches a change that keeps the weights file's size and mtime", async () => {
    await using dir = await makeTempDir("model-cache-same-mtime");
    const { nano, plain, weights } = await nanoCacheEntry(dir.path);
    // A whole-second mtime (utimes cannot set nanoseconds back), recorded by a load that checks the
    // sha256s again because the file's identity changed.
    const second = new Date(Math.floor(Date.now() / 1000) * 1000 - 60_000);
    await utimes(weights, second, second);
    await (await loadModel(nano, { cacheDir: dir.path })).close();
    const recorded = await stat(weights, { bigint: true });
    const bad = flipMiddleByte(await readFile(weights));
    await writeFile(weights, bad);
    await utimes(weights, second, second); // size and mtime as recorded; ctime is not
    const tampered = await stat(weights, { bigint: true });
    expect([tampered.size, tampered.mtimeNs, tampered.ino]).toEqual([
      recorded.size,
      recorded.mtimeNs,
      recorded.ino,
    ]);
    const reloaded = await loadModel(nano, { cacheDir: dir.path });
    expect(await reloaded.classify(TEXTS)).toEqual(await plain.classify(TEXTS));
    expect((await readFile(weights)).equals(bad)).toBe(false); // rebuilt, not loaded
    await Promise.all([plain.close(), reloaded.close()]);
  });

  it("checks a copied entry's sha256s once, records the copy's identities and then loads it as it is", async () => {
    const { nano } = await edgeModels();
    await using first = await makeTempDir("model-cache-origin");
    await using second = await makeTempDir("model-cache-copy");
    const plain = await loadModel(nano);
    await (await loadModel(nano, { cacheDir: first.path })).close();
    const name = (await readdir(first.path))[0] ?? "";
    await cp(join(first.path, name), join(second.path, name), { recursive: true });
    const entry = join(second.path, name);
    const identity = async (): Promise<unknown> =>
      (JSON.parse(await readFile(join(entry, "sha256.json"), "utf8")) as { identity?: unknown }).identity;
    const copied = await identity();
    const inode = (await stat(join(entry, "model.onnx.data"))).ino;
    const loaded = await loadModel(nano, { cacheDir: second.path });
    expect(await loaded.classify(TEXTS)).toEqual(await plain.classify(TEXTS));
    expect((await stat(join(entry, "model.onnx.data"))).ino).toBe(inode); // the copy was used, not rebuilt
    const recorded = (await identity()) as Record<string, string>;
    expect(recorded).not.toEqual(copied);
    const s = await stat(join(entry, "model.onnx.data"), { bigint: true });
    expect(recorded["model.onnx.data"]).toBe(`${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`);
    await Promise.all([plain.close(), loaded.close()]);
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

  it("stands what comes from a node_modules directory with a hidden lockfile as that lockfile", async () => {
    const { inputFiles } = (await import(
      pathToFileURL(join(REPO_ROOT, "edge-agent/bin/fresh-bundle.mjs")).href
    )) as { inputFiles: (sources: string[]) => string[] };
    await using dir = await makeTempDir("bundle-inputs");
    const { mkdir } = await import("node:fs/promises");
    const withLock = join(dir.path, "a", "node_modules");
    const withoutLock = join(dir.path, "b", "node_modules");
    await mkdir(join(withLock, "pkg"), { recursive: true });
    await mkdir(join(withoutLock, "pkg"), { recursive: true });
    await writeFile(join(withLock, ".package-lock.json"), "{}");
    const sources = [
      join(withLock, "pkg", "index.js"),
      join(withLock, "pkg", "lib", "x.js"),
      join(withoutLock, "pkg", "index.js"),
      join(dir.path, "a", "src", "main.ts"),
    ];
    expect(inputFiles(sources)).toEqual(
      [
        join(withLock, ".package-lock.json"),
        join(withoutLock, "pkg", "index.js"),
        join(dir.path, "a", "src", "main.ts"),
      ].sort(),
    );
  });
});
