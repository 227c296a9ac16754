// Where the stand-in's classification answers come from. A Teacher picks one label from the
// label set the client sent (the json_schema enum). Two teachers: gold labels from CLINC150 with
// a seeded, configurable error rate, and a local model (any `{classify(texts)}` runtime, e.g. the
// largest ONNX model through @tiergate/shared's model runtime).
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { ErrorCode, TiergateError } from "@tiergate/shared";
import { OUT_OF_SCOPE_LABEL } from "../llm/prompt.ts";

/** CLINC150 `data_full.json`, found from this file: <repo>/data/clinc150 (CC BY 3.0). */
export const DEFAULT_CLINC150_PATH = fileURLToPath(
  new URL("../../../data/clinc150/data_full.json", import.meta.url),
);
export const DEFAULT_TEACHER_ERROR_RATE = 0;
export const DEFAULT_TEACHER_SEED = 42;

export interface Teacher {
  readonly name: string;
  /** One of `labels` for `text`. */
  label(text: string, labels: readonly string[]): Promise<string>;
}

/** Lower-case, trimmed, whitespace collapsed: how texts are looked up. */
export function normalizeText(text: string): string {
  return text.trim().toLowerCase().replace(/\s+/g, " ");
}

/** FNV-1a, 32 bits: a stable per-text hash so the same text always gets the same answer. */
export function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** What a teacher answers when it has nothing better: "oos" if allowed, else the first label. */
export function fallbackLabel(labels: readonly string[]): string {
  return labels.includes(OUT_OF_SCOPE_LABEL) ? OUT_OF_SCOPE_LABEL : (labels[0] ?? OUT_OF_SCOPE_LABEL);
}

export type GoldTeacherOptions = {
  /** Normalised text → gold label. */
  gold: ReadonlyMap<string, string>;
  /** Share of answers deliberately wrong (deterministic per text and seed). */
  errorRate?: number;
  seed?: number;
};

export class GoldTeacher implements Teacher {
  readonly name = "gold-labels";
  readonly #gold: ReadonlyMap<string, string>;
  readonly #errorRate: number;
  readonly #seed: number;

  constructor(options: GoldTeacherOptions) {
    const errorRate = options.errorRate ?? DEFAULT_TEACHER_ERROR_RATE;
    if (!(errorRate >= 0 && errorRate <= 1))
      throw new RangeError(`errorRate must be in [0, 1], got ${errorRate}`);
    this.#gold = options.gold;
    this.#errorRate = errorRate;
    this.#seed = options.seed ?? DEFAULT_TEACHER_SEED;
  }

  get size(): number {
    return this.#gold.size;
  }

  /** The gold label for a text, if known. */
  gold(text: string): string | undefined {
    return this.#gold.get(normalizeText(text));
  }

  label(text: string, labels: readonly string[]): Promise<string> {
    const key = normalizeText(text);
    const gold = this.#gold.get(key);
    const right = gold !== undefined && labels.includes(gold) ? gold : fallbackLabel(labels);
    if (this.#errorRate === 0 || labels.length < 2) return Promise.resolve(right);
    const h = fnv1a(`${this.#seed}\u0000${key}`);
    if (h / 4294967296 >= this.#errorRate) return Promise.resolve(right);
    const i = labels.indexOf(right);
    const shift = 1 + (fnv1a(`${key}\u0000${this.#seed}`) % (labels.length - 1));
    return Promise.resolve(labels[(i + shift) % labels.length] ?? right);
  }
}

/** Splits of data_full.json; rows are `[text, label]` pairs, checked row by row below. */
const ClincSchema = z.record(z.string(), z.array(z.unknown()));

/** Text → label over every split of CLINC150's data_full.json (train, val, test, oos_*). */
export async function loadClincGold(path: string = DEFAULT_CLINC150_PATH): Promise<Map<string, string>> {
  let data: z.infer<typeof ClincSchema>;
  try {
    data = ClincSchema.parse(JSON.parse(await readFile(path, "utf8")));
  } catch (err) {
    throw new TiergateError(
      ErrorCode.VALIDATION_FAILED,
      `cannot read CLINC150 data from ${path}: ${String(err)}`,
      {
        cause: err,
      },
    );
  }
  const gold = new Map<string, string>();
  for (const [split, rows] of Object.entries(data)) {
    rows.forEach((row, i) => {
      // A per-row zod parse costs ~1 s over 23k rows; this check is the same rule.
      if (
        !Array.isArray(row) ||
        row.length !== 2 ||
        typeof row[0] !== "string" ||
        typeof row[1] !== "string"
      ) {
        throw new TiergateError(
          ErrorCode.VALIDATION_FAILED,
          `${path}: ${split}[${i}] is not a [text, label] pair`,
        );
      }
      gold.set(normalizeText(row[0]), row[1]);
    });
  }
  return gold;
}

/** What the model teacher needs of a runtime: the shape of @tiergate/shared's `classify`. */
export interface ClassifierRuntime {
  classify(texts: string[]): Promise<ReadonlyArray<{ label: string; probability: number }>>;
}

export class ModelTeacher implements Teacher {
  readonly name: string;
  readonly #runtime: ClassifierRuntime;

  constructor(runtime: ClassifierRuntime, name = "local-model") {
    this.#runtime = runtime;
    this.name = name;
  }

  async label(text: string, labels: readonly string[]): Promise<string> {
    const [top] = await this.#runtime.classify([text]);
    return top !== undefined && labels.includes(top.label) ? top.label : fallbackLabel(labels);
  }
}
