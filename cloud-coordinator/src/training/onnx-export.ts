// Builds the classifier graph. Inputs: each text's known features as embedding rows (the runtime
// maps buckets to rows with the model's row map and drops the features training did not keep) in
// chunks of K ids (the runtime uses FEATURE_CHUNK = 16), its last chunk padded with the zero row R
// (= rowsKept); a text takes ceil(len / K) chunks (at least one), the chunks of all N texts one
// after another.
//   ids int32 [M, K]         embedding rows in [0, R + V], padding = R
//   segments int32 [M, 1]    the text (0..N-1) each chunk belongs to (Cast to int64 in-graph)
//   lengths int32 [N]        known features per text (its shape gives N)
// Graph:
//   emb    = Gather(E', ids)                      [M, K, D+1]: E' = [E | known], known 1 for rows
//                                                 training kept, row R all zeros, then V token rows
//                                                 (sums of a token's rows; known = how many) (int8:
//                                                 Concat(Cast(Gather(Eq, ids)) · scale[ids], known[ids]),
//                                                 scale[R] = 0)
//   chunk  = ReduceSum(emb, axis 1)               [M, D+1] per-chunk sum and count
//   s      = ScatterND(zeros[N, D+1], segments, chunk, reduction=add)   per-text sum and count
//   sum    = s[:, :D];  count = s[:, D]
// (Graph version 8: token rows. Version 6: the bucket → row map left the graph; a Gather(rowMap, ids) cost ~25 ns an id.
// Version 5: chunked ids. ORT's ScatterND costs per element added, and with one index per
// feature (version 4: ragged ids [T], segments [T, 1]) it cost as much as the Gather; summing K
// features a chunk in ReduceSum first leaves it ~T/K rows, and padding to K wastes under K ids a
// text, where padding every text to the longest one in the batch wasted more than half the work.
// Version 4: segments and lengths int32, so the runtime fills no BigInt64Arrays. Version 3: int64
// inputs. Version 2 summed the count in a second ScatterND.)
//   h      = sum / max(count, 1)                  mean of known features
//   h      = Relu(Gemm(h, W1, b1))                when the preset has a hidden layer
//   logits = Gemm(h, W2, b2);  probs = Softmax(logits · 1/temperature)
import type { OnnxNode, OnnxTensor } from "./onnx-proto.ts";
import { AttrType, OnnxType, encodeModel, rawBytes, valueInfo } from "./onnx-proto.ts";

export interface ExportWeights {
  /** Embedding rows training kept; row `rowsKept` is the zero row (padding). */
  rowsKept: number;
  dim: number;
  /** rowsKept × dim */
  embedding: Float32Array;
  hidden: number;
  /**
   * Token rows (TOKEN_ROWS_FILE), after the zero row: V × dim sums of each token's kept feature
   * rows, and how many rows each sums (its count column).
   */
  tokenRows?: { embedding: Float32Array; counts: Float32Array } | undefined;
  /** dim × hidden, hidden */
  w1?: Float32Array;
  b1?: Float32Array;
  /** (hidden || dim) × classes, classes */
  w2: Float32Array;
  b2: Float32Array;
  classes: number;
}

export interface ExportOptions {
  temperature: number;
  quantize: boolean;
  metadata: Record<string, string>;
}

function f32(name: string, dims: number[], data: Float32Array): OnnxTensor {
  return { name, dims, dataType: OnnxType.FLOAT, rawData: rawBytes(data) };
}
function node(
  opType: string,
  input: string[],
  output: string[],
  attribute: OnnxNode["attribute"] = [],
): OnnxNode {
  return { opType, input, output, name: `${opType}_${output[0] ?? ""}`, attribute };
}
const int = (name: string, i: number) => ({ name, type: AttrType.INT, i });
const str = (name: string, v: string) => ({ name, type: AttrType.STRING, s: new TextEncoder().encode(v) });
const i64 = (name: string, values: bigint[]): OnnxTensor => ({
  name,
  dims: [values.length],
  dataType: OnnxType.INT64,
  rawData: rawBytes(new BigInt64Array(values)),
});

/** Symmetric per-row int8: q = round(x / s), s = max|row| / 127. */
export function quantizeRows(
  data: Float32Array,
  rows: number,
  dim: number,
): { q: Int8Array; scale: Float32Array } {
  const q = new Int8Array(rows * dim);
  const scale = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    let m = 0;
    for (let j = 0; j < dim; j++) m = Math.max(m, Math.abs(data[r * dim + j] ?? 0));
    const s = m > 0 ? m / 127 : 1;
    scale[r] = s;
    for (let j = 0; j < dim; j++)
      q[r * dim + j] = Math.max(-127, Math.min(127, Math.round((data[r * dim + j] ?? 0) / s)));
  }
  return { q, scale };
}

export function exportOnnx(w: ExportWeights, options: ExportOptions): Uint8Array {
  const { rowsKept: R, dim: D, classes: C } = w;
  const V = w.tokenRows?.counts.length ?? 0;
  const init: OnnxTensor[] = [];
  const nodes: OnnxNode[] = [];
  init.push(i64("axis1", [1n]), i64("dim_d1", [BigInt(D + 1)]));
  init.push(i64("zero_1", [0n]), i64("dim_d", [BigInt(D)]));
  init.push(f32("one", [], new Float32Array([1])));
  init.push(f32("inv_temperature", [], new Float32Array([1 / options.temperature])));
  if (options.quantize) {
    const table = new Float32Array((R + 1 + V) * D);
    table.set(w.embedding);
    const known = new Float32Array(R + 1 + V).fill(1);
    known[R] = 0;
    if (w.tokenRows !== undefined) {
      table.set(w.tokenRows.embedding, (R + 1) * D);
      known.set(w.tokenRows.counts, R + 1);
    }
    const { q, scale } = quantizeRows(table, R + 1 + V, D);
    scale[R] = 0; // the unknown row adds nothing
    init.push({ name: "emb_q", dims: [R + 1 + V, D], dataType: OnnxType.INT8, rawData: rawBytes(q) });
    init.push(f32("emb_scale", [R + 1 + V, 1], scale), f32("known", [R + 1 + V, 1], known));
    nodes.push(node("Gather", ["emb_scale", "ids"], ["scale_rows"], [int("axis", 0)]));
    nodes.push(node("Gather", ["known", "ids"], ["weight"], [int("axis", 0)]));
    nodes.push(node("Gather", ["emb_q", "ids"], ["emb_q_rows"], [int("axis", 0)]));
    nodes.push(node("Cast", ["emb_q_rows"], ["emb_rows"], [int("to", OnnxType.FLOAT)]));
    nodes.push(node("Mul", ["emb_rows", "scale_rows"], ["scaled_rows"]));
    nodes.push(node("Concat", ["scaled_rows", "weight"], ["weighted"], [int("axis", -1)]));
  } else {
    // Column D is 1 for rows training kept and 0 for the unknown row R (all zeros), so one Gather,
    // one ReduceSum and one ScatterND give both the sum and the count of known features.
    // Token rows carry their count of rows in that column.
    const table = new Float32Array((R + 1 + V) * (D + 1));
    for (let r = 0; r < R; r++) {
      table.set(w.embedding.subarray(r * D, (r + 1) * D), r * (D + 1));
      table[r * (D + 1) + D] = 1;
    }
    for (let v = 0; v < V && w.tokenRows !== undefined; v++) {
      const r = R + 1 + v;
      table.set(w.tokenRows.embedding.subarray(v * D, (v + 1) * D), r * (D + 1));
      table[r * (D + 1) + D] = w.tokenRows.counts[v] ?? 0;
    }
    init.push(f32("embedding", [R + 1 + V, D + 1], table));
    nodes.push(node("Gather", ["embedding", "ids"], ["weighted"], [int("axis", 0)]));
  }
  nodes.push(node("ReduceSum", ["weighted", "axis1"], ["chunks"], [int("keepdims", 0)]));
  nodes.push(node("Shape", ["lengths"], ["n"]));
  nodes.push(node("Concat", ["n", "dim_d1"], ["shape_nd1"], [int("axis", 0)]));
  nodes.push(node("ConstantOfShape", ["shape_nd1"], ["zeros_nd1"]));
  nodes.push(node("Cast", ["segments"], ["segments64"], [int("to", OnnxType.INT64)]));
  nodes.push(
    node("ScatterND", ["zeros_nd1", "segments64", "chunks"], ["summed1"], [str("reduction", "add")]),
  );
  nodes.push(node("Slice", ["summed1", "zero_1", "dim_d", "axis1"], ["summed"]));
  nodes.push(node("Slice", ["summed1", "dim_d", "dim_d1", "axis1"], ["count"]));
  nodes.push(node("Max", ["count", "one"], ["count1"]));
  nodes.push(node("Div", ["summed", "count1"], ["bag"]));
  let h = "bag";
  let inDim = D;
  if (w.hidden > 0 && w.w1 && w.b1) {
    init.push(f32("w1", [D, w.hidden], w.w1), f32("b1", [w.hidden], w.b1));
    nodes.push(node("Gemm", ["bag", "w1", "b1"], ["hidden_pre"]));
    nodes.push(node("Relu", ["hidden_pre"], ["hidden"]));
    h = "hidden";
    inDim = w.hidden;
  }
  init.push(f32("w2", [inDim, C], w.w2), f32("b2", [C], w.b2));
  nodes.push(node("Gemm", [h, "w2", "b2"], ["logits"]));
  nodes.push(node("Mul", ["logits", "inv_temperature"], ["scaled"]));
  nodes.push(node("Softmax", ["scaled"], ["probs"], [int("axis", -1)]));
  return encodeModel({
    docString:
      "tiergate text classifier: hashed n-gram embedding bag → softmax (probs are temperature-calibrated)",
    metadata: options.metadata,
    graph: {
      name: "tiergate_classifier",
      node: nodes,
      initializer: init,
      input: [
        valueInfo("ids", OnnxType.INT32, ["M", "K"]),
        valueInfo("segments", OnnxType.INT32, ["M", 1]),
        valueInfo("lengths", OnnxType.INT32, ["N"]),
      ],
      output: [valueInfo("probs", OnnxType.FLOAT, ["N", C]), valueInfo("logits", OnnxType.FLOAT, ["N", C])],
    },
  });
}
