// Embedding bag → optional hidden layer (ReLU) → softmax, trained by plain SGD one example at a time
// with sparse updates of the embedding rows an example touches, a linear learning-rate decay to 0 and
// a seeded shuffle. Only feature buckets seen in training (≥ minCount times) get a row, so the exported
// table holds only rows training touched. Deterministic: same rows + preset + seed → same weights.
import { featurize } from "@tiergate/shared/internal";
import type { ExportWeights } from "./onnx-export.ts";
import type { Preset } from "./presets.ts";
import { mulberry32, shuffle } from "./prng.ts";

/** Embedding init range when the preset has a hidden layer. */
export const HIDDEN_EMBEDDING_INIT = 0.5;

export interface Example {
  text: string;
  label: string;
}

export interface TrainProgress {
  epoch: number;
  epochs: number;
  loss: number;
  elapsedMs: number;
}

export interface TrainOptions {
  preset: Preset;
  labels: readonly string[];
  seed: number;
  onProgress?: (p: TrainProgress) => void;
}

export interface TrainedModel extends ExportWeights {
  /** bucket → row, rows in [0, rowsKept); rowsKept for buckets training dropped. One entry per bucket (the model's ROW_MAP_FILE). */
  rowMap: Int32Array;
  epochs: number;
  durationMs: number;
}

export function trainClassifier(examples: readonly Example[], options: TrainOptions): TrainedModel {
  const started = performance.now();
  const { preset, labels, seed } = options;
  const labelIndex = new Map(labels.map((l, i) => [l, i]));
  const buckets = preset.featurizer.buckets;
  const bucketIds = examples.map((e) => featurize(e.text, preset.featurizer));
  const counts = new Int32Array(buckets);
  for (const ids of bucketIds) for (const b of ids) counts[b] = (counts[b] ?? 0) + 1;
  // Rows are numbered in bucket order: the model's ROW_MAP_FILE lists the kept buckets and relies on it.
  const rowMap = new Int32Array(buckets);
  let R = 0;
  for (let b = 0; b < buckets; b++) rowMap[b] = (counts[b] ?? 0) >= preset.minCount ? R++ : -1;
  for (let b = 0; b < buckets; b++) if (rowMap[b] === -1) rowMap[b] = R;
  const rows = bucketIds.map((ids) => Int32Array.from(ids, (b) => rowMap[b] ?? R).filter((r) => r < R));
  const gold = Int32Array.from(examples, (e) => labelIndex.get(e.label) ?? -1);

  const { dim: D, hidden: H } = preset;
  const C = labels.length;
  const inDim = H > 0 ? H : D;
  const rand = mulberry32(seed);
  const E = new Float32Array(R * D);
  // Linear models start like fastText (±1/dim, zero output layer); with a hidden layer every layer
  // starts random, or no gradient reaches the embedding rows.
  const embInit = H > 0 ? HIDDEN_EMBEDDING_INIT : 1 / D;
  for (let i = 0; i < E.length; i++) E[i] = (rand() * 2 - 1) * embInit;
  const w1 = H > 0 ? new Float32Array(D * H) : undefined;
  const b1 = H > 0 ? new Float32Array(H) : undefined;
  if (w1) {
    const s = Math.sqrt(6 / (D + H));
    for (let i = 0; i < w1.length; i++) w1[i] = (rand() * 2 - 1) * s;
  }
  const w2 = new Float32Array(inDim * C);
  if (H > 0) {
    const s = Math.sqrt(6 / (H + C));
    for (let i = 0; i < w2.length; i++) w2[i] = (rand() * 2 - 1) * s;
  }
  const b2 = new Float32Array(C);

  const h = new Float64Array(D);
  const z = new Float64Array(H);
  const a = new Float64Array(inDim);
  const p = new Float64Array(C);
  const da = new Float64Array(inDim);
  const dh = new Float64Array(D);
  const order = Int32Array.from(examples, (_, i) => i);
  const total = preset.epochs * examples.length;
  const eps = preset.labelSmoothing;
  let step = 0;
  for (let epoch = 1; epoch <= preset.epochs; epoch++) {
    shuffle(order, rand);
    let lossSum = 0;
    for (const ex of order) {
      const lr = preset.learningRate * (1 - step++ / total);
      const rs = rows[ex];
      const y = gold[ex] ?? -1;
      if (rs === undefined || rs.length === 0 || y < 0) continue;
      const inv = 1 / rs.length;
      h.fill(0);
      for (const r of rs) for (let j = 0, o = r * D; j < D; j++) h[j] = (h[j] ?? 0) + (E[o + j] ?? 0) * inv;
      if (w1 && b1) {
        for (let k = 0; k < H; k++) z[k] = b1[k] ?? 0;
        for (let j = 0; j < D; j++) {
          const hj = h[j] ?? 0;
          for (let k = 0, o = j * H; k < H; k++) z[k] = (z[k] ?? 0) + hj * (w1[o + k] ?? 0);
        }
        for (let k = 0; k < H; k++) a[k] = Math.max(0, z[k] ?? 0);
      } else a.set(h);
      for (let c = 0; c < C; c++) p[c] = b2[c] ?? 0;
      for (let i = 0; i < inDim; i++) {
        const ai = a[i] ?? 0;
        if (ai === 0) continue;
        for (let c = 0, o = i * C; c < C; c++) p[c] = (p[c] ?? 0) + ai * (w2[o + c] ?? 0);
      }
      let m = -Infinity;
      for (let c = 0; c < C; c++) m = Math.max(m, p[c] ?? 0);
      let sum = 0;
      for (let c = 0; c < C; c++) sum += p[c] = Math.exp((p[c] ?? 0) - m);
      for (let c = 0; c < C; c++) p[c] = (p[c] ?? 0) / sum;
      lossSum -= Math.log(Math.max(1e-12, p[y] ?? 0));
      // dlogits = p − target, kept in p
      for (let c = 0; c < C; c++) p[c] = (p[c] ?? 0) - eps / C;
      p[y] = (p[y] ?? 0) - (1 - eps);
      for (let i = 0; i < inDim; i++) {
        let g = 0;
        const ai = a[i] ?? 0;
        for (let c = 0, o = i * C; c < C; c++) {
          const wc = w2[o + c] ?? 0;
          g += wc * (p[c] ?? 0);
          if (ai !== 0) w2[o + c] = wc - lr * ai * (p[c] ?? 0);
        }
        da[i] = g;
      }
      for (let c = 0; c < C; c++) b2[c] = (b2[c] ?? 0) - lr * (p[c] ?? 0);
      if (w1 && b1) {
        for (let k = 0; k < H; k++) if ((z[k] ?? 0) <= 0) da[k] = 0;
        for (let j = 0; j < D; j++) {
          let g = 0;
          const hj = h[j] ?? 0;
          for (let k = 0, o = j * H; k < H; k++) {
            const wk = w1[o + k] ?? 0;
            const dk = da[k] ?? 0;
            g += wk * dk;
            w1[o + k] = wk - lr * hj * dk;
          }
          dh[j] = g;
        }
        for (let k = 0; k < H; k++) b1[k] = (b1[k] ?? 0) - lr * (da[k] ?? 0);
      } else dh.set(da);
      for (const r of rs)
        for (let j = 0, o = r * D; j < D; j++) E[o + j] = (E[o + j] ?? 0) - lr * inv * (dh[j] ?? 0);
    }
    options.onProgress?.({
      epoch,
      epochs: preset.epochs,
      loss: lossSum / examples.length,
      elapsedMs: performance.now() - started,
    });
  }
  const out: TrainedModel = {
    rowMap,
    rowsKept: R,
    dim: D,
    embedding: E,
    hidden: H,
    w2,
    b2,
    classes: C,
    epochs: preset.epochs,
    durationMs: performance.now() - started,
  };
  if (w1 && b1) {
    out.w1 = w1;
    out.b1 = b1;
  }
  return out;
}
