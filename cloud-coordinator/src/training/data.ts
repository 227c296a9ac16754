// Labeled text for training and eval. JSONL: one {"text": ..., "label": ...} per line (blank lines
// skipped; a malformed line is a VALIDATION_FAILED error naming its line number). CLINC150
// (data_full.json): train+oos_train / val+oos_val / test+oos_test.
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { z } from "zod";
import { ErrorCode, TiergateError } from "@tiergate/shared";
import { mulberry32 } from "./prng.ts";
import type { Example } from "./trainer.ts";

export const DATA_FORMATS = ["jsonl", "clinc"] as const;
export const DataFormatSchema = z.enum(DATA_FORMATS);
export type DataFormat = z.infer<typeof DataFormatSchema>;
/** CLINC150's out-of-scope label. */
export const CLINC_OOS_LABEL = "oos";
/** Share of a JSONL training file held out for calibration when no --val file is given. */
export const DEFAULT_VAL_SHARE = 0.1;

const LineSchema = z.strictObject({ text: z.string().trim().min(1), label: z.string().trim().min(1) });
const PairSchema = z.tuple([z.string(), z.string()]);
const ClincSchema = z.looseObject({
  train: z.array(PairSchema),
  val: z.array(PairSchema),
  test: z.array(PairSchema),
  oos_train: z.array(PairSchema).default([]),
  oos_val: z.array(PairSchema).default([]),
  oos_test: z.array(PairSchema).default([]),
});

export interface Splits {
  train: Example[];
  val: Example[];
  test: Example[];
  /** sha256 over the bytes of every file read, in order. */
  dataSha256: string;
}

async function readData(file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (cause) {
    throw new TiergateError(ErrorCode.NOT_FOUND, `cannot read data file ${file}`, { cause });
  }
}

export function parseJsonl(text: string, file: string): Example[] {
  const out: Example[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] ?? "").trim();
    if (line === "") continue;
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch (cause) {
      throw new TiergateError(
        ErrorCode.VALIDATION_FAILED,
        `${file}:${i + 1}: not JSON (${(cause as Error).message})`,
        {
          cause,
          details: [{ path: ["line", i + 1], message: "not JSON" }],
        },
      );
    }
    const parsed = LineSchema.safeParse(json);
    if (!parsed.success) {
      throw new TiergateError(
        ErrorCode.VALIDATION_FAILED,
        `${file}:${i + 1}: expected {"text": non-empty string, "label": non-empty string}: ${z.prettifyError(parsed.error)}`,
        { cause: parsed.error, details: [{ path: ["line", i + 1], message: "expected {text, label}" }] },
      );
    }
    out.push(parsed.data);
  }
  return out;
}

function pairs(rows: [string, string][]): Example[] {
  return rows.map(([text, label]) => ({ text, label }));
}

export function parseClinc(text: string, file: string): Omit<Splits, "dataSha256"> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new TiergateError(ErrorCode.VALIDATION_FAILED, `${file}: not JSON`, { cause });
  }
  const parsed = ClincSchema.safeParse(json);
  if (!parsed.success) {
    throw new TiergateError(
      ErrorCode.VALIDATION_FAILED,
      `${file}: not CLINC150 data_full.json: ${z.prettifyError(parsed.error)}`,
      {
        cause: parsed.error,
      },
    );
  }
  const d = parsed.data;
  return {
    train: pairs([...d.train, ...d.oos_train]),
    val: pairs([...d.val, ...d.oos_val]),
    test: pairs([...d.test, ...d.oos_test]),
  };
}

/** Rows of one file, whatever the format (for eval: CLINC gives its test split). */
export async function loadRows(file: string, format: DataFormat): Promise<Example[]> {
  const text = (await readData(file)).toString("utf8");
  return format === "clinc" ? parseClinc(text, file).test : parseJsonl(text, file);
}

export interface LoadSplitsOptions {
  format: DataFormat;
  valFile?: string;
  testFile?: string;
  seed: number;
}

export async function loadSplits(file: string, options: LoadSplitsOptions): Promise<Splits> {
  const hash = createHash("sha256");
  const main = await readData(file);
  hash.update(main);
  if (options.format === "clinc") {
    return { ...parseClinc(main.toString("utf8"), file), dataSha256: hash.digest("hex") };
  }
  let train = parseJsonl(main.toString("utf8"), file);
  let val: Example[];
  if (options.valFile !== undefined) {
    const v = await readData(options.valFile);
    hash.update(v);
    val = parseJsonl(v.toString("utf8"), options.valFile);
  } else {
    const rand = mulberry32(options.seed ^ 0x5eed);
    const held = train.map(() => rand() < DEFAULT_VAL_SHARE);
    val = train.filter((_, i) => held[i]);
    train = train.filter((_, i) => !held[i]);
  }
  let test: Example[] = [];
  if (options.testFile !== undefined) {
    const t = await readData(options.testFile);
    hash.update(t);
    test = parseJsonl(t.toString("utf8"), options.testFile);
  }
  return { train, val, test, dataSha256: hash.digest("hex") };
}

/** sha256 of data files' bytes, as `loadSplits` records it (for staleness checks). */
export async function dataSha256(files: readonly string[]): Promise<string> {
  const hash = createHash("sha256");
  for (const f of files) hash.update(await readData(f));
  return hash.digest("hex");
}
