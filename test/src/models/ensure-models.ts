// Trains the CLINC150 models (nano, small, medium + int8 variants) into <repo>/models when they are
// missing or stale: unreadable or tampered, trained on other data, or with other preset settings.
// Used by integration tests, the demo and `npm run models`. CLINC150: Larson et al., EMNLP-IJCNLP
// 2019, CC BY 3.0 (data/clinc150/PROVENANCE.md).
import { existsSync } from "node:fs";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { MANIFEST_FILE, MODEL_FILE, ROW_MAP_FILE, TOKEN_ROWS_FILE, readManifest } from "@tiergate/shared";
import { MANIFEST_FORMAT_VERSION, sha256Hex } from "@tiergate/shared/internal";
import type { ModelManifest } from "@tiergate/shared";
import { dataSha256 } from "../../../cloud-coordinator/src/training/data.ts";
import { DEFAULT_SEED, trainModel } from "../../../cloud-coordinator/src/training/pipeline.ts";
import { PRESETS, PRESET_NAMES } from "../../../cloud-coordinator/src/training/presets.ts";
import type { PresetName } from "../../../cloud-coordinator/src/training/presets.ts";

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
export const DEFAULT_MODELS_DIR = join(REPO_ROOT, "models");
export const CLINC150_DATA_FILE = resolve(REPO_ROOT, "data/clinc150/data_full.json");
export { PRESET_NAMES };
export type { PresetName };

/** How often a process waiting for another one's training looks again. */
export const LOCK_POLL_MS = 500;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** One trainer per preset across processes (tests in parallel, the demo): a lock folder holding the owner's pid. */
async function withLock<T>(lock: string, fn: () => Promise<T>): Promise<T> {
  for (;;) {
    try {
      await mkdir(lock);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const owner = Number(await readFile(join(lock, "pid"), "utf8").catch(() => "NaN"));
      if (Number.isInteger(owner) && owner !== process.pid && !alive(owner)) {
        await rm(lock, { recursive: true, force: true });
        continue;
      }
      await sleep(LOCK_POLL_MS);
    }
  }
  try {
    await writeFile(join(lock, "pid"), String(process.pid));
    return await fn();
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
}

export interface EnsureModelsOptions {
  presets?: readonly PresetName[];
  /** Default <repo>/models; each preset goes to <dir>/<preset> and <dir>/<preset>-int8. */
  dir?: string;
  data?: string;
  /** Also keep the int8 variants (default true). */
  quantize?: boolean;
  seed?: number;
  log?: (line: string) => void;
}

export interface EnsuredModel {
  preset: PresetName;
  dir: string;
  int8Dir?: string;
  trained: boolean;
}

/** The manifest's formatVersion (the graph's version), read before the schema would refuse an old one. */
async function graphVersion(dir: string): Promise<unknown> {
  try {
    const raw = JSON.parse(await readFile(join(dir, MANIFEST_FILE), "utf8")) as { formatVersion?: unknown };
    return raw.formatVersion;
  } catch {
    return undefined;
  }
}

/** Why `dir` cannot be reused for `preset`, or undefined when it is fresh. */
export async function staleReason(dir: string, preset: PresetName, dataHash: string, seed: number): Promise<string | undefined> {
  if (!existsSync(join(dir, MANIFEST_FILE))) return "missing";
  const graph = await graphVersion(dir);
  if (graph !== MANIFEST_FORMAT_VERSION) return `graph version ${String(graph)}, want ${MANIFEST_FORMAT_VERSION}`;
  let manifest: ModelManifest;
  try {
    manifest = await readManifest(dir);
    if (sha256Hex(await readFile(join(dir, MODEL_FILE))) !== manifest.onnx.sha256) return "model.onnx does not match its sha256";
    if (sha256Hex(await readFile(join(dir, ROW_MAP_FILE))) !== manifest.rowMap.sha256) return "row-map.bin does not match its sha256";
    if (sha256Hex(await readFile(join(dir, TOKEN_ROWS_FILE))) !== manifest.tokenRows.sha256) return "token-rows.txt does not match its sha256";
  } catch (err) {
    return `unreadable (${err instanceof Error ? err.message : String(err)})`;
  }
  const p = PRESETS[preset];
  if (manifest.preset !== preset) return `preset ${manifest.preset}`;
  if (manifest.training.dataSha256 !== dataHash) return "trained on other data";
  if (manifest.training.seed !== seed) return `seed ${manifest.training.seed}`;
  if (JSON.stringify(manifest.featurizer) !== JSON.stringify(p.featurizer)) return "featurizer settings changed";
  const t = manifest.training;
  const same =
    t.dim === p.dim &&
    t.hidden === p.hidden &&
    t.epochs === p.epochs &&
    t.learningRate === p.learningRate &&
    t.labelSmoothing === p.labelSmoothing &&
    t.minCount === p.minCount;
  if (!same) return "preset settings changed";
  return undefined;
}

export async function ensureModels(options: EnsureModelsOptions = {}): Promise<EnsuredModel[]> {
  const presets = options.presets ?? PRESET_NAMES;
  const dir = options.dir ?? DEFAULT_MODELS_DIR;
  const data = options.data ?? CLINC150_DATA_FILE;
  const quantize = options.quantize ?? true;
  const seed = options.seed ?? DEFAULT_SEED;
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const dataHash = await dataSha256([data]);
  const out: EnsuredModel[] = [];
  for (const preset of presets) {
    const target = join(dir, preset);
    const int8 = `${target}-int8`;
    const stale = async () =>
      (await staleReason(target, preset, dataHash, seed)) ??
      (quantize ? await staleReason(int8, preset, dataHash, seed) : undefined);
    let trained = false;
    if ((await stale()) !== undefined) {
      await mkdir(dir, { recursive: true });
      trained = await withLock(join(dir, `.${preset}.lock`), async () => {
        const reason = await stale();
        if (reason === undefined) return false; // another process trained it while we waited
        log(`models: training ${preset} (${reason}) into ${target}`);
        // Train beside the target and rename into place, so a reader never sees a half-written model.
        const tmp = join(dir, `.${preset}.tmp-${process.pid}`);
        await rm(tmp, { recursive: true, force: true });
        await rm(`${tmp}-int8`, { recursive: true, force: true });
        await trainModel({ data, format: "clinc", preset, out: tmp, seed, quantize, log });
        await rm(target, { recursive: true, force: true });
        await rename(tmp, target);
        if (quantize) {
          await rm(int8, { recursive: true, force: true });
          await rename(`${tmp}-int8`, int8);
        }
        return true;
      });
    }
    out.push({ preset, dir: target, ...(quantize ? { int8Dir: int8 } : {}), trained });
  }
  return out;
}
