// `mkdir -p` that ends. Node's `mkdir(dir, { recursive: true })` never settles for a path under a
// filesystem that answers ENOENT for a directory it will not create while its parent exists (procfs:
// `--data-dir /proc/x` kept a libuv thread spinning and the edge agent's start waiting, forever).
// This walks up to the nearest existing ancestor and creates each missing level itself, so every
// refusal is an error.
import { mkdir, stat } from "node:fs/promises";
import { dirname, resolve } from "node:path";

/** Creates `dir` and its missing parents; rejects with the filesystem's error when one cannot be made. */
export async function makeDirs(dir: string): Promise<void> {
  const missing: string[] = [];
  for (let at = resolve(dir); ; at = dirname(at)) {
    const s = await stat(at).catch((err: unknown) => {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw err;
    });
    if (s?.isDirectory() === true) break;
    if (s !== undefined)
      throw Object.assign(new Error(`ENOTDIR: not a directory, mkdir '${at}'`), {
        code: "ENOTDIR",
        path: at,
      });
    missing.push(at);
    if (dirname(at) === at) break;
  }
  for (const d of missing.reverse()) {
    try {
      await mkdir(d);
    } catch (err) {
      // Made meanwhile by someone else: fine if it is a directory.
      if ((err as NodeJS.ErrnoException).code !== "EEXIST" || !(await stat(d)).isDirectory()) throw err;
    }
  }
}
