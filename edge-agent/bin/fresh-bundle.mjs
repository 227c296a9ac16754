// Whether dist/ (made by bin/bundle.mjs) may run: plain JavaScript, imported by the bin before
// anything else. Kept apart so that benchmarks and tests can ask the same question.
import { existsSync, readFileSync, statSync } from "node:fs";
import { join, sep } from "node:path";
import { fileURLToPath } from "node:url";

/** Set to "1" to run from the TypeScript sources even when the bundle is fresh. */
export const FROM_SOURCE_ENV = "TIERGATE_EDGE_FROM_SOURCE";

/**
 * The URL of the bundle's entry module when every file it was made from still has the size and mtime
 * it had then (dist/inputs.json); otherwise undefined. `packageUrl` is the edge-agent package's
 * directory, ending in "/".
 */
export function freshBundle(packageUrl = new URL("../", import.meta.url), env = process.env) {
  if (env[FROM_SOURCE_ENV] === "1") return undefined;
  const dist = new URL("dist/", packageUrl);
  let manifest;
  try {
    manifest = JSON.parse(readFileSync(new URL("inputs.json", dist), "utf8"));
  } catch {
    return undefined;
  }
  if (typeof manifest?.entry !== "string" || !Array.isArray(manifest.inputs)) return undefined;
  // Paths as strings: a URL per input (~470 of them) was a third of this check's time at each start.
  const packageDir = fileURLToPath(packageUrl);
  for (const [file, size, mtimeMs] of manifest.inputs) {
    const s = statSync(packageDir + file, { throwIfNoEntry: false });
    if (s === undefined || s.size !== size || s.mtimeMs !== mtimeMs) return undefined;
  }
  return new URL(manifest.entry, dist).href;
}

/**
 * The files whose size and mtime stand for a bundle's `sources` (absolute paths) in inputs.json: each
 * source, except that those inside a node_modules directory that has a hidden lockfile
 * (node_modules/.package-lock.json, which npm rewrites whenever it changes what is installed there:
 * ci, install, update, uninstall) are that one file. ~410 of the agent's ~470 sources are in
 * node_modules, and a stat each was ~10 ms of every start. Sorted, without repeats.
 */
export function inputFiles(sources) {
  const files = new Set();
  for (const file of sources) {
    const at = file.indexOf(`${sep}node_modules${sep}`);
    const lockfile = at < 0 ? undefined : join(file.slice(0, at), "node_modules", ".package-lock.json");
    files.add(lockfile !== undefined && existsSync(lockfile) ? lockfile : file);
  }
  return [...files].sort();
}
