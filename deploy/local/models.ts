// Makes sure the models a policy names exist before the stack starts: fresh ones are reused, missing
// or stale ones are trained on CLINC150 with progress on stderr (test/src/models' ensureModels).
// Several processes (parallel test files, a demo) may ask at once: a lock dir makes them take turns.
import { mkdir, readFile, rm, stat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { makeDirs, parsePolicy } from "@tiergate/shared";
import { ensureModels, PRESET_NAMES, type PresetName } from "../../test/src/models/ensure-models.ts";

export const LOCK_NAME = ".ensure-models.lock";
export const LOCK_POLL_MS = 500;
/** A lock older than this is left over from a killed process (training all presets takes minutes). */
export const LOCK_STALE_MS = 15 * 60_000;

export type EnsureStackModelsOptions = {
  policyFile: string;
  /** Overrides the folder of the policy's model paths. */
  modelsDir?: string;
  log?: (line: string) => void;
};

/** The model directories a policy's tiers name, after `modelsDir` is applied. */
export async function policyModelDirs(options: EnsureStackModelsOptions): Promise<string[]> {
  const { policy } = parsePolicy(await readFile(options.policyFile, "utf8"), { file: options.policyFile });
  const dirs = new Set<string>();
  for (const task of Object.values(policy.tasks)) {
    for (const tier of task.tiers) {
      if (tier.model === undefined) continue;
      dirs.add(options.modelsDir === undefined ? tier.model : join(options.modelsDir, basename(tier.model)));
    }
  }
  return [...dirs];
}

async function withLock<T>(dir: string, work: () => Promise<T>): Promise<T> {
  await makeDirs(dir);
  const lock = join(dir, LOCK_NAME);
  for (;;) {
    try {
      await mkdir(lock);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const age = Date.now() - (await stat(lock).catch(() => ({ mtimeMs: Date.now() }))).mtimeMs;
      if (age > LOCK_STALE_MS) await rm(lock, { recursive: true, force: true });
      else await sleep(LOCK_POLL_MS);
    }
  }
  try {
    return await work();
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
}

/**
 * Trains the policy's models that are missing or stale, grouped by folder; returns their dirs.
 * Model dirs must be named after a preset (nano, small, medium), optionally with `-int8`.
 */
export async function ensureStackModels(options: EnsureStackModelsOptions): Promise<string[]> {
  const dirs = await policyModelDirs(options);
  const byFolder = new Map<string, Set<PresetName>>();
  for (const dir of dirs) {
    const preset = basename(dir).replace(/-int8$/, "");
    if (!(PRESET_NAMES as readonly string[]).includes(preset)) {
      throw new Error(`cannot train ${dir}: its name is not a preset (${PRESET_NAMES.join(", ")})`);
    }
    const folder = dirname(dir);
    byFolder.set(folder, (byFolder.get(folder) ?? new Set()).add(preset as PresetName));
  }
  const log = options.log ?? ((line: string) => void process.stderr.write(`${line}\n`));
  for (const [folder, presets] of byFolder) {
    await withLock(folder, async () => await ensureModels({ presets: [...presets], dir: folder, log }));
  }
  return dirs;
}
