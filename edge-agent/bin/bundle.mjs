#!/usr/bin/env node
// Bundles tiergate-edge into dist/ (one ES module for everything the agent loads before ready, plus
// a chunk per lazily imported part), so that `tiergate-edge start` loads one file instead of ~500:
// resolving, reading and instantiating each module was most of the ~360 ms of module loading on the
// way to ready, and the bundle also leaves ~10 MB less resident.
//
// bin/tiergate-edge.mjs runs the bundle only while it is fresh: dist/inputs.json lists the files the
// bundle was made from with their sizes and mtimes (what came from a node_modules directory as that
// directory's hidden lockfile: inputFiles in fresh-bundle.mjs), and one that differs (an edited
// source, another install) sends the agent back to the TypeScript sources. Native modules
// (onnxruntime-node), the OpenTelemetry SDK (its instrumentations hook `require`) and what fastify
// loads only on demand stay in node_modules.
//
// Usage: node edge-agent/bin/bundle.mjs   (needs rolldown, which the workspace's vitest brings)
import { mkdir, rename, rm, stat, writeFile } from "node:fs/promises";
import { dirname, isAbsolute, join, relative } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { inputFiles } from "./fresh-bundle.mjs";

const PACKAGE_DIR = join(dirname(fileURLToPath(import.meta.url)), "..");
export const DIST_DIR = join(PACKAGE_DIR, "dist");
export const ENTRY_FILE = "cli.mjs";
export const INPUTS_FILE = "inputs.json";
const EXTERNAL = [
  /^onnxruntime-node$/,
  /^@opentelemetry\/sdk-node$/,
  /\.node$/,
  // What fastify requires only when asked for (schema compilers with ajv, pino for its logger,
  // light-my-request for inject): bundled, it was half of the bundle to read and parse at each start.
  /^@fastify\/ajv-compiler$/,
  /^@fastify\/fast-json-stringify-compiler$/,
  /^pino$/,
  /^light-my-request$/,
];

// What a bundled CommonJS package requires as it loads but uses only on paths the agent never takes:
// for that importer only, the require gets a stand-in that requires the module on first use. Node's
// http2, https and tls (fastify's server.js, for its http2 and https options) and prom-client's
// Pushgateway (with http, https and zlib) were ~10-15 ms of the main thread's ~450 ms to ready.
// semver (47 modules, for fastify's check of a plugin's declared fastify version) and prom-client's
// AggregatorRegistry (it loads node:cluster, child_process and dgram as it loads) are the same case.
const LAZY_REQUIRES = [
  { importer: /[\\/]fastify[\\/]lib[\\/]server\.js$/, source: /^node:(http2|https)$/ },
  { importer: /[\\/]prom-client[\\/]index\.js$/, source: /^\.\/lib\/(pushgateway|cluster)$/ },
  { importer: /[\\/]fastify[\\/]lib[\\/]plugin-utils\.js$/, source: /^semver$/ },
];
const LAZY_PREFIX = "\0lazy-require:";

/** The stand-in: a function proxy, so that a module used as an object or as a class both work. */
function lazyModule(id) {
  return `let loaded;
const load = () => (loaded ??= require(${JSON.stringify(id)}));
module.exports = new Proxy(function lazyRequire() {}, {
  get: (_, key) => Reflect.get(load(), key),
  has: (_, key) => Reflect.has(load(), key),
  apply: (_, self, args) => Reflect.apply(load(), self, args),
  construct: (_, args) => Reflect.construct(load(), args),
});
`;
}

/** @type {import("rolldown").Plugin} */
const lazyRequires = {
  name: "tiergate-lazy-requires",
  async resolveId(source, importer, options) {
    if (
      importer === undefined ||
      !LAZY_REQUIRES.some((l) => l.importer.test(importer) && l.source.test(source))
    )
      return null;
    const real = await this.resolve(source, importer, { ...options, skipSelf: true });
    return real === null ? null : `${LAZY_PREFIX}${real.id}`;
  },
  load(id) {
    return id.startsWith(LAZY_PREFIX) ? lazyModule(id.slice(LAZY_PREFIX.length)) : null;
  },
};

/**
 * One copy of the OpenTelemetry API: prom-client requires its CommonJS build, the agent imports its
 * ES module build, and bundled both were ~80 modules to load where ~40 do. The API keeps its state
 * on a global either way, so the two behaved as one; now they are one.
 * @type {import("rolldown").Plugin}
 */
const oneOtelApi = {
  name: "tiergate-one-otel-api",
  async resolveId(source, importer, options) {
    if (source !== "@opentelemetry/api" || options.kind !== "require-call") return null;
    return this.resolve(source, importer, { kind: "import-statement", skipSelf: true });
  },
};

const { rolldown } = await import("rolldown").catch((cause) => {
  throw new Error("bundle.mjs needs rolldown (npm ci installs it with vitest)", { cause });
});

const started = performance.now();
// A source edited while the bundle is built may be in it as it was before: such a file is recorded
// with mtime -1, so the bundle counts as stale (the bin runs the sources; the next build redoes it).
const buildStartedMs = Date.now();
const tmp = `${DIST_DIR}.tmp-${process.pid}`;
await rm(tmp, { recursive: true, force: true });
const bundle = await rolldown({
  input: { cli: join(PACKAGE_DIR, "src", "cli.ts") },
  platform: "node",
  external: EXTERNAL,
  plugins: [lazyRequires, oneOtelApi],
  // The workspace packages' TypeScript sources, as Node and vitest resolve them.
  resolve: { conditionNames: ["source", "node", "import", "default"] },
  transform: { target: "esnext" },
  logLevel: "warn",
});
const { output } = await bundle.write({
  dir: tmp,
  format: "esm",
  entryFileNames: "[name].mjs",
  chunkFileNames: "chunks/[name]-[hash].mjs",
  // ASCII only and no comments: a module's source with one non-Latin-1 character is decoded and
  // kept as a two-byte string, and comments are only more to read and scan at each start.
  charset: "ascii",
  comments: false,
});
await bundle.close();

// This script is an input too: a bundle made with other options or stand-ins is stale.
const files = new Set([fileURLToPath(import.meta.url)]);
for (const chunk of output)
  if (chunk.type === "chunk")
    for (const id of chunk.moduleIds) if (isAbsolute(id) && !id.includes("\0")) files.add(id);
const inputs = await Promise.all(
  inputFiles([...files]).map(async (file) => {
    const s = await stat(file);
    return [relative(PACKAGE_DIR, file), s.size, s.mtimeMs >= buildStartedMs ? -1 : s.mtimeMs];
  }),
);
await writeFile(join(tmp, INPUTS_FILE), `${JSON.stringify({ entry: ENTRY_FILE, inputs })}\n`);
await mkdir(dirname(DIST_DIR), { recursive: true });
await rm(DIST_DIR, { recursive: true, force: true });
await rename(tmp, DIST_DIR);
process.stdout.write(
  `tiergate-edge bundle: ${relative(process.cwd(), DIST_DIR) || "."} from ${inputs.length} files in ${Math.round(performance.now() - started)} ms\n`,
);
