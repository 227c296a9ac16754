// Token rows (TOKEN_ROWS_FILE): for each ASCII token seen in training, the sum of the embedding rows
// of its own features that training kept (word unigram, character n-grams) and how many they are.
// The runtime then feeds such a token as one id instead of one per feature; the graph's per-text sum
// and count, and so its mean, are the same up to float rounding. A token with fewer than two kept
// features gets no row: it would save nothing.
import { tokenBuckets, tokenize } from "@tiergate/shared/internal";
import type { FeaturizerSettings } from "@tiergate/shared/internal";
import type { TrainedModel } from "./trainer.ts";

const ASCII_TOKEN = /^[a-z0-9]+$/;

export interface TrainedTokenRows {
  /** Sorted; the i-th token's row is rowsKept + 1 + i. */
  tokens: string[];
  /** tokens.length × dim */
  embedding: Float32Array;
  /** Kept feature rows each token row sums. */
  counts: Float32Array;
}

export function trainTokenRows(
  model: TrainedModel,
  texts: readonly string[],
  featurizer: FeaturizerSettings,
): TrainedTokenRows {
  const seen = new Set<string>();
  for (const text of texts) for (const token of tokenize(text)) if (ASCII_TOKEN.test(token)) seen.add(token);
  const { dim: D, rowsKept: R } = model;
  const tokens: string[] = [];
  const sums: Float64Array[] = [];
  const counts: number[] = [];
  for (const token of [...seen].sort()) {
    const rows = Array.from(tokenBuckets(token, featurizer), (b) => model.rowMap[b] ?? R).filter(
      (r) => r < R,
    );
    if (rows.length < 2) continue;
    const sum = new Float64Array(D);
    for (const r of rows)
      for (let j = 0; j < D; j++) sum[j] = (sum[j] ?? 0) + (model.embedding[r * D + j] ?? 0);
    tokens.push(token);
    sums.push(sum);
    counts.push(rows.length);
  }
  const embedding = new Float32Array(tokens.length * D);
  sums.forEach((sum, i) => embedding.set(sum, i * D));
  return { tokens, embedding, counts: Float32Array.from(counts) };
}

/** TOKEN_ROWS_FILE's bytes: one token a line, each line ending in "\n". */
export function tokenRowsFileBytes(tokens: readonly string[]): Uint8Array {
  return new TextEncoder().encode(tokens.map((t) => `${t}\n`).join(""));
}
