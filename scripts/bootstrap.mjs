#!/usr/bin/env node
// Bootstrap: make a fresh clone runnable. Plain Node, no dependencies, runs on any Node >= 18,
// because it is what installs the project's own Node (the `node` devDependency).
//  1. installs missing system packages (nats-server, redis-server) with apt-get when root;
//  2. runs `npm ci` when node_modules is missing or older than package-lock.json;
//  3. builds the edge agent's bundle (edge-agent/dist/) when it is missing or older than its sources:
//     `tiergate-edge start` is ready in about two thirds of the time with it. Optional: if it cannot
//     be built the agent runs from its TypeScript sources, so a failure here is only a warning.
// Usage: node scripts/bootstrap.mjs [--help] [--check]
import { spawnSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
/** The project's own Node (the `node` devDependency). */
const PROJECT_NODE = join(ROOT, "node_modules", ".bin", "node");
const SYSTEM_PACKAGES = [
  { binary: "nats-server", debian: "nats-server", dirs: ["/usr/sbin", "/usr/bin", "/usr/local/bin"] },
  { binary: "redis-server", debian: "redis-server", dirs: ["/usr/bin", "/usr/sbin", "/usr/local/bin"] },
];

const args = process.argv.slice(2);
if (args.includes("--help") || args.includes("-h")) {
  console.log(`usage: node scripts/bootstrap.mjs [--check]

Installs what tiergate needs on this machine and does nothing when it is all there:
  - system packages ${SYSTEM_PACKAGES.map((p) => p.debian).join(", ")} (apt-get, as root)
  - node_modules (npm ci), when missing or older than package-lock.json
  - the edge agent's bundle (edge-agent/dist/), when missing or stale (optional: a failure to build
    it is a warning, and tiergate-edge then runs from its TypeScript sources)

  --check   only report what is missing; exit 1 if anything but the bundle is`);
  process.exit(0);
}
const checkOnly = args.includes("--check");

function findBinary(name, extraDirs) {
  const dirs = [...(process.env.PATH ?? "").split(delimiter), ...extraDirs];
  return dirs.map((d) => join(d, name)).find((p) => existsSync(p));
}

function run(cmd, cmdArgs) {
  console.error(`[bootstrap] $ ${cmd} ${cmdArgs.join(" ")}`);
  const r = spawnSync(cmd, cmdArgs, { stdio: "inherit", cwd: ROOT });
  if (r.status !== 0) {
    console.error(`[bootstrap] '${cmd} ${cmdArgs.join(" ")}' failed with exit code ${r.status ?? r.signal}`);
    process.exit(1);
  }
}

let missingAnything = false;
const missing = SYSTEM_PACKAGES.filter((p) => !findBinary(p.binary, p.dirs));
if (missing.length > 0) {
  const names = missing.map((p) => p.debian).join(" ");
  if (checkOnly) {
    console.error(`[bootstrap] missing system packages: ${names}`);
    missingAnything = true;
  } else if (typeof process.getuid === "function" && process.getuid() === 0) {
    run("apt-get", ["update", "-qq"]);
    run("apt-get", ["install", "-y", "-qq", ...missing.map((p) => p.debian)]);
  } else {
    console.error(
      `[bootstrap] missing system packages: ${names}\n` +
        `  install them with:  sudo apt-get update && sudo apt-get install -y ${names}\n` +
        `  (or put binaries named ${missing.map((p) => p.binary).join(", ")} on PATH)`,
    );
    process.exit(1);
  }
}

const lock = join(ROOT, "package-lock.json");
const installed = join(ROOT, "node_modules", ".package-lock.json");
const stale = !existsSync(installed) || statSync(installed).mtimeMs < statSync(lock).mtimeMs;
if (stale) {
  if (checkOnly) {
    console.error("[bootstrap] node_modules is missing or older than package-lock.json");
    missingAnything = true;
  } else {
    run("npm", ["ci", "--no-audit", "--no-fund"]);
  }
}
if (!checkOnly && !existsSync(PROJECT_NODE)) {
  console.error(
    "[bootstrap] node_modules/.bin/node is missing after npm ci: the `node` devDependency did not install",
  );
  process.exit(1);
}

// The edge bundle: fresh-bundle.mjs is plain JavaScript that any Node can import (the bin's own check).
const { freshBundle } = await import("../edge-agent/bin/fresh-bundle.mjs");
if (freshBundle(undefined, {}) === undefined) {
  if (checkOnly) {
    console.error(
      "[bootstrap] edge-agent/dist/ is missing or stale (optional: node edge-agent/bin/bundle.mjs)",
    );
  } else if (existsSync(PROJECT_NODE)) {
    const r = spawnSync(PROJECT_NODE, [join("edge-agent", "bin", "bundle.mjs")], {
      stdio: "inherit",
      cwd: ROOT,
    });
    if (r.status !== 0)
      console.error(
        `[bootstrap] warning: building the edge bundle failed (exit ${r.status ?? r.signal}); ` +
          "tiergate-edge will run from its TypeScript sources, which only makes it slower to start",
      );
  }
}
process.exit(missingAnything ? 1 : 0);
