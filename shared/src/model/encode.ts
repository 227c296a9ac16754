// Texts → the graph's inputs (graph version 8): each text's features hashed to buckets, mapped to
// embedding rows by the model's row map (features training did not keep are dropped), a token with a
// token row as that one row, in chunks of FEATURE_CHUNK ids.
import * as ort from "onnxruntime-node";
import { featurizeInto } from "./featurizer.ts";
import type { FeaturizerSettings, TokenRows } from "./featurizer.ts";
import { MODEL_IO } from "./manifest.ts";

/**
 * Features per chunk of the `ids` input. The graph sums each chunk in ReduceSum and adds chunks into
 * their text in ScatterND, whose cost is per row added: 16 leaves it ~1/16 of the features' rows
 * while padding stays under 16 ids a text (8 cost more in ScatterND, 32 no less in all).
 */
export const FEATURE_CHUNK = 16;

/**
 * The fewest chunks a `session.run` gets: a lone text with one chunk takes a second, all padding
 * (its sum is exactly 0, so the text's sum is unchanged). ONNX Runtime's ReduceSum takes another
 * code path for an [1, K, D] input than for [M, K, D], whose sums differ in the last bits, and a text
 * then got a (1e-7) different confidence alone than in a batch; with two chunks or more every run
 * sums a chunk the same way.
 */
export const MIN_CHUNKS = 2;

/** How a model turns features into rows: its featurizer and its bucket → row map (ROW_MAP_FILE). */
export interface FeatureRows {
  featurizer: FeaturizerSettings;
  /**
   * bucket → embedding row + 1; 0 for the buckets training dropped. 16-bit when the rows fit (every
   * preset's do): the table's first writes fault in its pages, ~7 ms for small's 2 MB as int32 at an
   * edge start, half that at 16 bits.
   */
  rowMap: Uint16Array | Int32Array;
  /** The zero row (training's rowsKept): padding, and the row of every unknown bucket. */
  pad: number;
  /** The model's token rows (TOKEN_ROWS_FILE, after `pad`), when it has any. */
  tokens?: TokenRows | undefined;
}

/**
 * FeatureRows.rowMap for a model whose embedding row i holds bucket `kept[i]`'s features: the
 * buckets training kept, ascending and below `buckets`, as ROW_MAP_FILE lists them. The runtime
 * builds it from the file, the trainer from what it writes there, so metrics see the map inference uses.
 */
export function rowMapOf(kept: ArrayLike<number>, buckets: number): Uint16Array | Int32Array {
  const rowMap = kept.length < 0xffff ? new Uint16Array(buckets) : new Int32Array(buckets);
  for (let row = 0; row < kept.length; row++) rowMap[kept[row] ?? 0] = row + 1;
  return rowMap;
}

/**
 * FeatureRows.tokens for a model whose token rows (TOKEN_ROWS_FILE) follow its zero row `pad`: the
 * i-th of the sorted `tokens` has row pad + 1 + i. The runtime builds it from the file, the trainer
 * from what it writes there. Undefined when there are none. A binary search, not a Map: `rowOf` runs
 * once per distinct token (the featurizer caches it), and building a Map of small's 4,639 tokens
 * cost ~2 ms of an edge start.
 */
export function tokenRowsOf(tokens: readonly string[], pad: number): TokenRows | undefined {
  if (tokens.length === 0) return undefined;
  return {
    rowOf(token) {
      let lo = 0;
      let hi = tokens.length - 1;
      while (lo <= hi) {
        const mid = (lo + hi) >>> 1;
        const t = tokens[mid] ?? "";
        if (t === token) return pad + 1 + mid;
        if (t < token) lo = mid + 1;
        else hi = mid - 1;
      }
      return -1;
    },
  };
}

/**
 * Model inputs for a batch of texts: ids int32 [M, FEATURE_CHUNK] (each text's known features as
 * embedding rows in ceil(len / FEATURE_CHUNK) chunks, at least one, the last padded with the zero
 * row; at least MIN_CHUNKS in all), segments int32 [M, 1] (each chunk's text index) and lengths
 * int32 [N] (ids a text; the graph reads only its shape).
 */
export interface EncodedBatch {
  feeds: Record<string, ort.Tensor>;
  rows: number;
}

/**
 * Featurizes `text` into `out` at `at` and maps the buckets to rows in place, keeping only the
 * features training kept (an unknown one would add the zero row: nothing to the sum or the count).
 * A token row comes from the featurizer as `~row`. Returns how many it kept.
 */
function featureRowsInto(text: string, rows: FeatureRows, out: Int32Array, at: number): number {
  const n = featurizeInto(text, rows.featurizer, out, at, rows.tokens);
  const { rowMap } = rows;
  let kept = 0;
  for (let j = at, end = at + n; j < end; j++) {
    const id = out[j] ?? 0;
    const rowPlusOne = id < 0 ? -id : (rowMap[id] ?? 0);
    if (rowPlusOne !== 0) out[at + kept++] = rowPlusOne - 1;
  }
  return kept;
}

/**
 * Where `encodeBatch` featurizes (room for every text at maxFeatures; grows, never shrinks): the
 * tensors get exact copies, so one call's buffer never reaches ORT. A fresh zeroed buffer per call
 * cost more than featurizing a 256-text batch of short texts.
 */
let idsScratch = new Int32Array(0);
let segmentsScratch = new Int32Array(0);

export function encodeBatch(texts: readonly string[], rows: FeatureRows): EncodedBatch {
  const n = texts.length;
  const K = FEATURE_CHUNK;
  const chunksMax = Math.max(MIN_CHUNKS, Math.ceil(rows.featurizer.maxFeatures / K));
  if (segmentsScratch.length < n * chunksMax) {
    segmentsScratch = new Int32Array(n * chunksMax);
    idsScratch = new Int32Array(n * chunksMax * K);
  }
  const ids = idsScratch;
  const segments = segmentsScratch;
  const lengths = new Int32Array(n);
  let m = 0;
  for (let i = 0; i < n; i++) {
    const len = featureRowsInto(texts[i] ?? "", rows, ids, m * K);
    lengths[i] = len;
    const chunks = len === 0 ? 1 : Math.ceil(len / K);
    ids.fill(rows.pad, m * K + len, (m + chunks) * K);
    segments.fill(i, m, m + chunks);
    m += chunks;
  }
  if (m < MIN_CHUNKS && n > 0) {
    ids.fill(rows.pad, m * K, MIN_CHUNKS * K);
    segments.fill(n - 1, m, MIN_CHUNKS);
    m = MIN_CHUNKS;
  }
  return {
    rows: n,
    feeds: {
      [MODEL_IO.ids]: new ort.Tensor("int32", ids.slice(0, m * K), [m, K]),
      [MODEL_IO.segments]: new ort.Tensor("int32", segments.slice(0, m), [m, 1]),
      [MODEL_IO.lengths]: new ort.Tensor("int32", lengths, [n]),
    },
  };
}

/**
 * The inputs of one text, in one ArrayBuffer kept for the runtime's life, with a set of tensors per
 * chunk count: `classify([text])` (every edge decision with an idle micro-batcher) then allocates
 * no input buffers. Three fresh typed arrays a call cost ~3 µs of a ~25 µs nano run, as ONNX
 * Runtime moves each one's bytes off the V8 heap before reading them.
 */
export class SingleTextInputs {
  readonly #rows: FeatureRows;
  readonly #ids: Int32Array;
  readonly #segments: Int32Array;
  readonly #lengths: Int32Array;
  readonly #feeds: Record<string, ort.Tensor>[] = [];

  constructor(rows: FeatureRows) {
    this.#rows = rows;
    const chunksMax = Math.max(MIN_CHUNKS, Math.ceil(rows.featurizer.maxFeatures / FEATURE_CHUNK));
    const buffer = new ArrayBuffer((chunksMax * (FEATURE_CHUNK + 1) + 1) * 4);
    this.#ids = new Int32Array(buffer, 0, chunksMax * FEATURE_CHUNK);
    this.#segments = new Int32Array(buffer, this.#ids.byteLength, chunksMax); // zeros: all text 0
    this.#lengths = new Int32Array(buffer, this.#ids.byteLength + this.#segments.byteLength, 1);
  }

  /** `text`'s feeds (as `encodeBatch([text])` gives them), valid until the next `fill`. */
  fill(text: string): Record<string, ort.Tensor> {
    const K = FEATURE_CHUNK;
    const len = featureRowsInto(text, this.#rows, this.#ids, 0);
    const chunks = Math.max(MIN_CHUNKS, Math.ceil(len / K));
    this.#ids.fill(this.#rows.pad, len, chunks * K);
    this.#lengths[0] = len;
    let feeds = this.#feeds[chunks];
    if (feeds === undefined) {
      feeds = {
        [MODEL_IO.ids]: new ort.Tensor("int32", this.#ids.subarray(0, chunks * K), [chunks, K]),
        [MODEL_IO.segments]: new ort.Tensor("int32", this.#segments.subarray(0, chunks), [chunks, 1]),
        [MODEL_IO.lengths]: new ort.Tensor("int32", this.#lengths, [1]),
      };
      this.#feeds[chunks] = feeds;
    }
    return feeds;
  }
}
