// Turns V8's Maglev tier off in the daemon. Maglev compiles hot functions on V8's worker threads,
// in zones of malloc'd memory. glibc keeps what each of those threads frees in that thread's arena
// (freeing a large block also raises its mmap and trim thresholds), so the first seconds of load
// left 10-20 MB of free but resident memory in two or three worker-thread arenas: the largest part
// of what load added to the agent's RSS, for compilations long finished. Without Maglev, hot code
// goes from Sparkplug to TurboFan, as before Node 22; edge req/s under bench:edge was no lower.
// `--no-maglev` is read each time V8 decides how to tier up a function, so setting it before the
// daemon's modules load is enough (the node binary cannot be given flags by the bin).
import v8 from "node:v8";

/** What is set; node options that name Maglev themselves (`--maglev...`, `--no-maglev...`) win. */
export const MAGLEV_OFF_FLAG = "--no-maglev";

export type MaglevOptions = {
  /** Node options already in force (default: process.execArgv and NODE_OPTIONS). */
  nodeOptions?: readonly string[];
};

export type MaglevSetting = { type: "off" } | { type: "left-alone"; reason: string };

/** Turns Maglev off unless the node options say something about it; see the file header. */
export function turnMaglevOff(options: MaglevOptions = {}): MaglevSetting {
  const nodeOptions = options.nodeOptions ?? [
    ...process.execArgv,
    ...(process.env["NODE_OPTIONS"] ?? "").split(/\s+/),
  ];
  const given = nodeOptions.find((o) => /^--(no-)?maglev/.test(o.replaceAll("_", "-")));
  if (given !== undefined) return { type: "left-alone", reason: `${given} given` };
  v8.setFlagsFromString(MAGLEV_OFF_FLAG);
  return { type: "off" };
}
