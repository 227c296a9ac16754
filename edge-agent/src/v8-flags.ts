// V8 flags the daemon sets on itself, before its modules load: the bin cannot give node flags, and
// V8 flags are refused in NODE_OPTIONS. Each is read by V8 whenever it applies (tiering a function
// up, sizing the heap after a GC), so setting it at run time is enough. Node flags that name one
// win (`node --maglev bin/tiergate-edge.mjs start ...`).
//
// - `--no-maglev`: Maglev compiles hot functions on V8's worker threads, in zones of malloc'd
//   memory. glibc keeps what each of those threads frees in that thread's arena (freeing a large
//   block also raises its mmap and trim thresholds), so the first seconds of load left 10-20 MB of
//   free but resident memory in two or three worker-thread arenas: the largest part of what load
//   added to RSS, for compilations long finished. Without Maglev, hot code goes from Sparkplug to
//   TurboFan, as before Node 22; edge req/s under bench:edge was no lower.
// - `--heap-growing-percent`: after a full GC V8 lets the old generation grow to up to 4x what
//   survived (16 MB live after start: a 69 MB limit) before the next one, and under load it fills
//   with promoted request garbage at ~0.5 MB/s, all resident. 1.5x keeps the limit near 25-35 MB;
//   a full GC of this heap is a few ms, mostly concurrent, every 15-30 s under load.
import v8 from "node:v8";

/** Old-generation limit after a full GC, in percent above what survived (V8's own: up to 300). */
export const DEFAULT_HEAP_GROWING_PERCENT = 50;

/** The flags, each with the pattern of node options that name it. */
export const DAEMON_V8_FLAGS = [
  { flag: "--no-maglev", namedBy: /^--(no-)?maglev/ },
  { flag: `--heap-growing-percent=${DEFAULT_HEAP_GROWING_PERCENT}`, namedBy: /^--heap-growing-percent/ },
] as const;

export type V8FlagsOptions = {
  /** Node options already in force (default: process.execArgv and NODE_OPTIONS). */
  nodeOptions?: readonly string[];
};

export type V8FlagSetting =
  { type: "set"; flag: string } | { type: "left-alone"; flag: string; reason: string };

/** The node options in force (execArgv and NODE_OPTIONS), with V8's `_` spelled `-`. */
export function nodeOptionsInForce(given?: readonly string[]): string[] {
  return (given ?? [...process.execArgv, ...(process.env["NODE_OPTIONS"] ?? "").split(/\s+/)]).map((o) =>
    o.replaceAll("_", "-"),
  );
}

/** Sets DAEMON_V8_FLAGS, but none that the node options name; see the file header. */
export function setDaemonV8Flags(options: V8FlagsOptions = {}): V8FlagSetting[] {
  const nodeOptions = nodeOptionsInForce(options.nodeOptions);
  return DAEMON_V8_FLAGS.map(({ flag, namedBy }): V8FlagSetting => {
    const given = nodeOptions.find((o) => namedBy.test(o));
    if (given !== undefined) return { type: "left-alone", flag, reason: `${given} given` };
    v8.setFlagsFromString(flag);
    return { type: "set", flag };
  });
}
