// Bounds V8's young generation in the daemon. Under load V8 doubles the new space each time enough
// objects survive scavenges, up to a maximum it sizes from the machine's memory (64 MB semi-spaces,
// 128 MB of new space, on a 24 GB box): that was a third of the agent's RSS after the benchmark's
// load, for objects that live one request. `--max-semi-space-size` would bound it, but V8 reads it
// only when the heap is created, and the daemon is started as `node bin/tiergate-edge.mjs start`.
// `--semi-space-growth-factor` is read each time the new space grows, so setting it to 1 once the
// new space has reached the bound stops the growth from inside the process.
import { PerformanceObserver } from "node:perf_hooks";
import v8 from "node:v8";
import { nodeOptionsInForce } from "./v8-flags.ts";

/** New space (both semi-spaces) the daemon lets V8 grow to (the default grows to 128 MB). */
export const DEFAULT_MAX_NEW_SPACE_MB = 16;
/** Node options that size the young generation themselves: with one of these, nothing is changed. */
export const YOUNG_GENERATION_FLAGS = [
  "--max-semi-space-size",
  "--min-semi-space-size",
  "--semi-space-growth-factor",
  "--max-young-generation-size",
];

export type YoungGenerationCapOptions = {
  maxNewSpaceMb?: number;
  /** Node options already in force (default: process.execArgv and NODE_OPTIONS). */
  nodeOptions?: readonly string[];
};

export type YoungGenerationCap =
  { type: "capping"; maxNewSpaceBytes: number; stop: () => void } | { type: "left-alone"; reason: string };

function newSpaceBytes(): number {
  return v8.getHeapSpaceStatistics().find((s) => s.space_name === "new_space")?.space_size ?? 0;
}

/** Stops the new space growing past `maxNewSpaceMb` (checked after each GC); see the file header. */
export function capYoungGeneration(options: YoungGenerationCapOptions = {}): YoungGenerationCap {
  const given = nodeOptionsInForce(options.nodeOptions).find((o) =>
    YOUNG_GENERATION_FLAGS.some((f) => o.startsWith(f)),
  );
  if (given !== undefined) return { type: "left-alone", reason: `${given} given` };
  const maxNewSpaceBytes = (options.maxNewSpaceMb ?? DEFAULT_MAX_NEW_SPACE_MB) * 1024 * 1024;
  let done = false;
  const observer = new PerformanceObserver(() => check());
  const stop = (): void => {
    done = true;
    observer.disconnect();
  };
  const check = (): void => {
    if (done || newSpaceBytes() < maxNewSpaceBytes) return;
    v8.setFlagsFromString("--semi-space-growth-factor=1");
    stop();
  };
  check();
  if (!done) observer.observe({ entryTypes: ["gc"] });
  return { type: "capping", maxNewSpaceBytes, stop };
}
