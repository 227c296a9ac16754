// CLINC150 (Larson et al., EMNLP-IJCNLP 2019; CC BY 3.0) test + oos_test, as the demo replays it.
// Read from data/clinc150/data_full.json in the repository.
import { readFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";

export const CLINC150_FILE = resolve(
  dirname(fileURLToPath(import.meta.url)),
  "../../../data/clinc150/data_full.json",
);
export const CLINC150_ATTRIBUTION =
  'CLINC150 (Larson et al., "An Evaluation Dataset for Intent Classification and Out-of-Scope Prediction", ' +
  "EMNLP-IJCNLP 2019), licensed CC BY 3.0; test + oos_test splits.";
export const OUT_OF_SCOPE = "oos";
/** Seed of the order the demo replays rows in (a fixed shuffle keeps every run comparable). */
export const DEFAULT_SHUFFLE_SEED = 20190;

const RowSchema = z.tuple([z.string(), z.string()]);
const DataFileSchema = z.looseObject({ test: z.array(RowSchema), oos_test: z.array(RowSchema) });

export type DemoRow = { id: string; text: string; gold: string };

/** mulberry32: a seeded PRNG, uniform in [0, 1). */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fisher–Yates with a seeded PRNG; returns a new array. */
export function shuffled<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  const random = seeded(seed);
  for (let i = out.length - 1; i > 0; i -= 1) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

/** Parses data_full.json text into test + oos_test rows in a fixed shuffled order, at most `limit`. */
export function parseClinc150(text: string, options: { limit?: number; seed?: number } = {}): DemoRow[] {
  const data = DataFileSchema.parse(JSON.parse(text));
  const rows = [...data.test, ...data.oos_test].map(([t, gold], i) => ({ id: `clinc-${i}`, text: t, gold }));
  const ordered = shuffled(rows, options.seed ?? DEFAULT_SHUFFLE_SEED);
  return options.limit === undefined ? ordered : ordered.slice(0, options.limit);
}

export async function loadClinc150(
  options: { file?: string; limit?: number; seed?: number } = {},
): Promise<DemoRow[]> {
  const file = options.file ?? CLINC150_FILE;
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    throw new Error(`cannot read CLINC150 from ${file} (it ships in the repository under data/clinc150)`, {
      cause: err,
    });
  }
  return parseClinc150(text, options);
}
