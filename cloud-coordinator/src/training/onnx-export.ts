// Builds the classifier graph. Inputs ids int32 [N, L] (feature buckets) and mask float [N, L]:
//   rows   = Gather(rowMap, ids)                    bucket → kept row (unknown → zero row R)
//   w      = Gather(known, rows) · mask             1 for rows training kept, 0 otherwise
//   emb    = Gather(E, rows) · w[..., None]         (int8: Cast(Gather(Eq, rows)) · (w · scale[rows]))
//   h      = ReduceSum(emb, 1) / max(ReduceSum(w, 1), 1)       mean of known features
//   h      = Relu(Gemm(h, W1, b1))                  when the preset has a hidden layer
//   logits = Gemm(h, W2, b2);  probs = Softmax(logits · 1/temperature)
import type { OnnxNode, OnnxTensor } from "./onnx-proto.ts";
import { AttrType, OnnxType, encodeModel, rawBytes, valueInfo } from "./onnx-proto.ts";

export interface ExportWeights {
  /** bucket → row index, rows in [0, rowsKept); rowsKept means "unknown". */
  rowMap: Int32Array;
  rowsKept: number;
  dim: number;
  /** rowsKept × dim */
  embedding: Float32Array;
  hidden: number;
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
  const init: OnnxTensor[] = [];
  const nodes: OnnxNode[] = [];
  const known = new Float32Array(R + 1).fill(1);
  known[R] = 0;
  init.push({
    name: "row_map",
    dims: [w.rowMap.length],
    dataType: OnnxType.INT32,
    rawData: rawBytes(w.rowMap),
  });
  init.push({
    name: "axis1",
    dims: [1],
    dataType: OnnxType.INT64,
    rawData: rawBytes(new BigInt64Array([1n])),
  });
  init.push({
    name: "axis2",
    dims: [1],
    dataType: OnnxType.INT64,
    rawData: rawBytes(new BigInt64Array([2n])),
  });
  init.push(f32("one", [], new Float32Array([1])));
  init.push(f32("inv_temperature", [], new Float32Array([1 / options.temperature])));
  nodes.push(node("Gather", ["row_map", "ids"], ["rows"], [int("axis", 0)]));
  if (options.quantize) {
    const table = new Float32Array((R + 1) * D);
    table.set(w.embedding);
    const { q, scale } = quantizeRows(table, R + 1, D);
    scale[R] = 0;
    init.push({ name: "emb_q", dims: [R + 1, D], dataType: OnnxType.INT8, rawData: rawBytes(q) });
    init.push(f32("known", [R + 1], known));
    init.push(f32("emb_scale", [R + 1], scale));
    nodes.push(node("Gather", ["known", "rows"], ["known_rows"], [int("axis", 0)]));
    nodes.push(node("Mul", ["known_rows", "mask"], ["weight"]));
    nodes.push(node("Gather", ["emb_scale", "rows"], ["scale_rows"], [int("axis", 0)]));
    nodes.push(node("Mul", ["weight", "scale_rows"], ["emb_weight"]));
    nodes.push(node("Gather", ["emb_q", "rows"], ["emb_q_rows"], [int("axis", 0)]));
    nodes.push(node("Cast", ["emb_q_rows"], ["emb_rows"], [int("to", OnnxType.FLOAT)]));
  } else {
    const table = new Float32Array((R + 1) * D);
    table.set(w.embedding);
    init.push(f32("embedding", [R + 1, D], table));
    init.push(f32("known", [R + 1], known));
    nodes.push(node("Gather", ["known", "rows"], ["known_rows"], [int("axis", 0)]));
    nodes.push(node("Mul", ["known_rows", "mask"], ["weight"]));
    nodes.push(node("Gather", ["embedding", "rows"], ["emb_rows"], [int("axis", 0)]));
    nodes.push(node("Identity", ["weight"], ["emb_weight"]));
  }
  nodes.push(node("Unsqueeze", ["emb_weight", "axis2"], ["emb_weight3"]));
  nodes.push(node("Mul", ["emb_rows", "emb_weight3"], ["weighted"]));
  nodes.push(node("ReduceSum", ["weighted", "axis1"], ["summed"], [int("keepdims", 0)]));
  nodes.push(node("ReduceSum", ["weight", "axis1"], ["count"], [int("keepdims", 1)]));
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
      input: [valueInfo("ids", OnnxType.INT32, ["N", "L"]), valueInfo("mask", OnnxType.FLOAT, ["N", "L"])],
      output: [valueInfo("probs", OnnxType.FLOAT, ["N", C]), valueInfo("logits", OnnxType.FLOAT, ["N", C])],
    },
  });
}
