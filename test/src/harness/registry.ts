// Every process and temp dir the harness starts, so that a crashed or interrupted test run leaves
// nothing behind: on exit (and on SIGINT/SIGTERM/SIGHUP) live children get SIGKILL, temp dirs go.
import type { ChildProcess } from "node:child_process";
import { rmSync } from "node:fs";

const children = new Set<ChildProcess>();
const tempDirs = new Set<string>();
const EXIT_SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
let hooksInstalled = false;

function killLeftovers(): void {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        child.kill("SIGKILL");
      } catch {
        // already gone
      }
    }
  }
  children.clear();
  for (const dir of tempDirs) {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // best effort at exit
    }
  }
  tempDirs.clear();
}

function onSignal(signal: NodeJS.Signals): void {
  killLeftovers();
  // When nobody else handles the signal, restore the default behaviour (terminate) by re-raising it.
  if (process.listenerCount(signal) === 1) {
    process.removeListener(signal, onSignal);
    process.kill(process.pid, signal);
  }
}

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on("exit", killLeftovers);
  for (const signal of EXIT_SIGNALS) process.on(signal, onSignal);
}

export function registerChild(child: ChildProcess): void {
  installHooks();
  children.add(child);
  child.once("exit", () => children.delete(child));
}

export function registerTempDir(path: string): void {
  installHooks();
  tempDirs.add(path);
}

export function unregisterTempDir(path: string): void {
  tempDirs.delete(path);
}

/** Pids of the children started by the harness that are still running (for leak checks in tests). */
export function liveChildPids(): number[] {
  return [...children].flatMap((child) =>
    child.pid !== undefined && child.exitCode === null && child.signalCode === null ? [child.pid] : [],
  );
}
