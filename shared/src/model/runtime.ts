// Loads a model directory (model.onnx, row-map.bin, token-rows.txt, manifest.json), verifies their sha256s and classifies texts
// with onnxruntime-node. The forward pass always runs in ONNX Runtime; JS only featurizes and reads
// the `probs` output (already temperature-calibrated in-graph).
import { createHash, randomUUID } from "node:crypto";
import { open, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { cpus } from "node:os";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { ONE_SHOT_PARSE } from "../contracts/codec.ts";
import { ErrorCode, TiergateError, validationError } from "../errors.ts";
import { makeDirs } from "../make-dirs.ts";
import { confidenceFromProbs } from "./confidence.ts";
import type { Classification, Confidence } from "./confidence.ts";
import type { TokenRows } from "./featurizer.ts";
import { SingleTextInputs, encodeBatch, rowMapOf, tokenRowsOf } from "./encode.ts";
import type { EncodedBatch, FeatureRows } from "./encode.ts";
import { MANIFEST_FILE, MODEL_FILE, MODEL_IO, ManifestSchema, TOKEN_ROWS_FILE } from "./manifest.ts";
import type { ModelManifest } from "./manifest.ts";
import { createOrtSession } from "./ort-session.ts";
import type { OrtSession } from "./ort-session.ts";

export const DEFAULT_INTRA_OP_THREADS = 1;
export const DEFAULT_INTER_OP_THREADS = 1;
export const DEFAULT_TOP_K = 3;
/** The fetches of a native run: `probs` only, as `classify`'s `session.run(feeds, ["probs"])` asks. */
const PROBS_ONLY: Record<string, null> = { [MODEL_IO.probs]: null };

export interface LoadModelOptions {
  /** ONNX Runtime intra-op threads (default 1: the edge box runs many things). */
  intraOpThreads?: number;
  interOpThreads?: number;
  /** Labels listed in `Classification.top` (default 3). */
  topK?: number;
  /**
   * Where to keep ONNX Runtime's optimized ORT-format copy of each model (see `loadModel`). Unset:
   * every load builds the session from model.onnx.
   */
  cacheDir?: string;
  /**
   * `classify` calls onnxruntime-node's native session directly, without its public `run`'s checks
   * and deferral (see ort-session.ts): default true. False gives the stock session only (benchmarks'
   * baselines; a way out should a future onnxruntime-node's binding differ in a way not detected).
   */
  nativeRun?: boolean;
}

/** Throws VALIDATION_FAILED unless every text is a non-blank string. */
export function checkTexts(texts: readonly unknown[]): asserts texts is string[] {
  let bad: number[] | undefined;
  for (let i = 0; i < texts.length; i++) {
    const t = texts[i];
    if (typeof t !== "string" || isBlank(t)) (bad ??= []).push(i);
  }
  if (bad !== undefined) {
    throw new TiergateError(
      ErrorCode.VALIDATION_FAILED,
      `text must be a non-empty string (index ${bad.join(", ")})`,
      {
        details: bad.map((i) => ({ path: [i], message: "text must be a non-empty string" })),
      },
    );
  }
}

/** Only whitespace (as `trim` sees it), or empty; a text starting with visible ASCII is decided at once. */
function isBlank(text: string): boolean {
  const c = text.charCodeAt(0);
  return !(c > 0x20 && c < 0x7f) && text.trim() === "";
}

export class ModelRuntime {
  readonly manifest: ModelManifest;
  readonly dir: string;
  /**
   * The public ONNX Runtime session, over the native one `classify` runs (benchmarks compare against
   * a `nativeRun: false` runtime's, onnxruntime-node's own).
   */
  readonly session: ort.InferenceSession;
  /** The native run that `classify` calls (see ort-session.ts); undefined where unavailable. */
  readonly #runSync: OrtSession["runSync"];
  /** The featurizer and bucket → row map that `encode` uses. */
  readonly featureRows: FeatureRows;
  readonly #topK: number;
  #closed = false;
  /** Inputs for one text that `classify` fills in place; undefined while a run reads them. */
  #single: SingleTextInputs | undefined;

  constructor(
    dir: string,
    manifest: ModelManifest,
    rowMap: Uint16Array | Int32Array,
    tokens: TokenRows | undefined,
    ortSession: OrtSession,
    topK: number,
  ) {
    this.dir = dir;
    this.manifest = manifest;
    this.session = ortSession.session;
    this.#runSync = ortSession.runSync;
    this.featureRows = { featurizer: manifest.featurizer, rowMap, pad: manifest.training.rowsKept, tokens };
    this.#topK = Math.max(1, Math.min(topK, manifest.labels.length));
    this.#single = new SingleTextInputs(this.featureRows);
  }

  get version(): string {
    return this.manifest.version;
  }

  get labels(): readonly string[] {
    return this.manifest.labels;
  }

  /** Featurized inputs for `texts` (what `classify` feeds to `session.run`). */
  encode(texts: readonly string[]): EncodedBatch {
    return encodeBatch(texts, this.featureRows);
  }

  /**
   * Classifies each text (one native run, synchronous; one `session.run` where there is none). Empty
   * or blank text → VALIDATION_FAILED.
   */
  async classify(texts: readonly string[]): Promise<Classification[]> {
    checkTexts(texts);
    if (this.#closed) throw new TiergateError(ErrorCode.SHUTTING_DOWN, "model runtime is closed");
    if (texts.length === 0) return [];
    const single = texts.length === 1 ? this.#single : undefined;
    const runSync = this.#runSync;
    if (runSync !== undefined) {
      const feeds = single === undefined ? this.encode(texts).feeds : single.fill(texts[0] ?? "");
      return this.decode(runSync(feeds, PROBS_ONLY)[MODEL_IO.probs]?.data, texts.length);
    }
    if (single === undefined) {
      const { feeds } = this.encode(texts);
      const out = await this.session.run(feeds, [MODEL_IO.probs]);
      return this.decode(out[MODEL_IO.probs]?.data, texts.length);
    }
    // A call that finds the single-text inputs free takes them until its run has read them.
    this.#single = undefined;
    let out: ort.InferenceSession.ReturnType;
    try {
      out = await this.session.run(single.fill(texts[0] ?? ""), [MODEL_IO.probs]);
    } finally {
      this.#single = single;
    }
    return this.decode(out[MODEL_IO.probs]?.data, 1);
  }

  /** Classifications from a `probs` output of `rows` rows. */
  decode(data: unknown, rows: number): Classification[] {
    if (!(data instanceof Float32Array))
      throw new TiergateError(ErrorCode.INTERNAL, "model returned no float probs");
    const labels = this.manifest.labels;
    const n = labels.length;
    const oos = this.manifest.oosLabel;
    const k = this.#topK;
    const result = new Array<Classification>(rows);
    // The best two labels of each row in one pass (maxProb and margin); ties keep the lower index,
    // as `top` (built when first read) does.
    for (let r = 0; r < rows; r++) {
      const off = r * n;
      let v0 = -1;
      let v1 = -1;
      let i0 = 0;
      for (let j = 0; j < n; j++) {
        const p = data[off + j] ?? 0;
        if (p <= v1) continue;
        if (p > v0) {
          v1 = v0;
          v0 = p;
          i0 = j;
        } else v1 = p;
      }
      const p1 = Math.max(0, v0);
      const p2 = n > 1 ? Math.max(0, v1) : 0;
      const label = labels[i0] ?? "";
      result[r] = new RowClassification(
        label,
        v0,
        new RowConfidence(p1, p1 - p2, data, off, n),
        label === oos,
        labels,
        k,
      );
    }
    return result;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.session.release();
  }
}

/**
 * The best labels of `data[off, off + n)` into `idx`/`val`, best first; on ties the lower label
 * index stays ahead. Returns how many were written (min(n, idx.length)).
 */
function topK(data: Float32Array, off: number, n: number, idx: Int32Array, val: Float64Array): number {
  const kk = idx.length;
  let filled = 0;
  // What a label needs to beat to enter the list once it is full (-1: not full yet).
  let floor = -1;
  for (let j = 0; j < n; j++) {
    const p = data[off + j] ?? 0;
    if (p <= floor) continue;
    let i = filled === kk ? kk - 1 : filled++;
    while (i > 0 && (val[i - 1] ?? 0) < p) {
      val[i] = val[i - 1] ?? 0;
      idx[i] = idx[i - 1] ?? 0;
      i--;
    }
    val[i] = p;
    idx[i] = j;
    if (filled === kk) floor = val[kk - 1] ?? 0;
  }
  return filled;
}

/**
 * A row's confidence with the entropy computed when first read: it costs a logarithm per label
 * (most of decoding a row), and acceptance rules other than `entropy` never read it. `entropy` is a
 * getter on the prototype, not an own property (an own accessor per row cost ~1 µs of a ~2 µs
 * decode): JSON sees all three through `toJSON`, but a spread copies only `maxProb` and `margin`.
 * Keeps the batch's `probs` alive while it lives.
 */
export class RowConfidence implements Confidence {
  readonly maxProb: number;
  readonly margin: number;
  readonly #probs: Float32Array;
  readonly #off: number;
  readonly #n: number;
  #entropy: number | undefined;

  constructor(maxProb: number, margin: number, probs: Float32Array, off: number, n: number) {
    this.maxProb = maxProb;
    this.margin = margin;
    this.#probs = probs;
    this.#off = off;
    this.#n = n;
  }

  get entropy(): number {
    this.#entropy ??= confidenceFromProbs(this.#probs, this.#off, this.#n).entropy;
    return this.#entropy;
  }

  /** The batch's probs and this row's offset in them. */
  get row(): { probs: Float32Array; off: number } {
    return { probs: this.#probs, off: this.#off };
  }

  toJSON(): Confidence {
    return { maxProb: this.maxProb, margin: this.margin, entropy: this.entropy };
  }
}

/**
 * A row's classification with `top` built when first read (an array and k objects a row, most of
 * decoding a batch's rows, and the cascade reads only the label and confidence). Like RowConfidence,
 * `top` is a getter on the prototype: JSON sees it through `toJSON`, a spread does not.
 */
export class RowClassification implements Classification {
  readonly label: string;
  readonly probability: number;
  readonly confidence: RowConfidence;
  readonly outOfScope: boolean;
  readonly #labels: readonly string[];
  readonly #k: number;
  #top: { label: string; p: number }[] | undefined;

  constructor(
    label: string,
    probability: number,
    confidence: RowConfidence,
    outOfScope: boolean,
    labels: readonly string[],
    k: number,
  ) {
    this.label = label;
    this.probability = probability;
    this.confidence = confidence;
    this.outOfScope = outOfScope;
    this.#labels = labels;
    this.#k = k;
  }

  /** The best `topK` labels, best first; ties keep label order. */
  get top(): { label: string; p: number }[] {
    if (this.#top === undefined) {
      const { probs, off } = this.confidence.row;
      const n = this.#labels.length;
      const idx = new Int32Array(Math.min(this.#k, n));
      const val = new Float64Array(idx.length);
      const filled = topK(probs, off, n, idx, val);
      this.#top = Array.from({ length: filled }, (_, i) => ({
        label: this.#labels[idx[i] ?? 0] ?? "",
        p: val[i] ?? 0,
      }));
    }
    return this.#top;
  }

  toJSON(): Classification {
    return {
      label: this.label,
      probability: this.probability,
      confidence: this.confidence.toJSON(),
      top: this.top,
      outOfScope: this.outOfScope,
    };
  }
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/**
 * Frees a buffer this module read and owns, now rather than at the next full GC: the session holds
 * its own copy of the weights, and the file's bytes (25 MB for the small model) would otherwise stay
 * resident until V8 happens to collect them.
 */
function release(bytes: Buffer): void {
  const whole = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength;
  if (whole && bytes.buffer instanceof ArrayBuffer && !bytes.buffer.detached) bytes.buffer.transfer(0);
}

async function readOrNotFound(path: string, what: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") {
      throw new TiergateError(ErrorCode.MODEL_NOT_FOUND, `${what} not found: ${path}`, { cause });
    }
    throw new TiergateError(ErrorCode.MODEL_LOAD_FAILED, `cannot read ${what} ${path}`, { cause });
  }
}

/**
 * `path`'s bytes when their sha256 is `sha256` (the manifest's): MODEL_NOT_FOUND when missing,
 * MODEL_INTEGRITY when it differs.
 */
async function readChecked(path: string, what: string, sha256: string): Promise<Buffer> {
  const bytes = await readOrNotFound(path, what);
  const actual = sha256Hex(bytes);
  if (actual !== sha256) {
    release(bytes);
    throw new TiergateError(
      ErrorCode.MODEL_INTEGRITY,
      `${path}: sha256 ${actual} differs from the manifest's ${sha256}`,
    );
  }
  return bytes;
}

/** Reads and validates `dir/manifest.json` (MODEL_NOT_FOUND / VALIDATION_FAILED). */
export async function readManifest(dir: string): Promise<ModelManifest> {
  const raw = await readOrNotFound(join(dir, MANIFEST_FILE), "model manifest");
  let json: unknown;
  try {
    json = JSON.parse(raw.toString("utf8"));
  } catch (cause) {
    throw new TiergateError(
      ErrorCode.MODEL_LOAD_FAILED,
      `model manifest is not JSON: ${join(dir, MANIFEST_FILE)}`,
      { cause },
    );
  }
  const parsed = ManifestSchema.safeParse(json, ONE_SHOT_PARSE);
  if (!parsed.success) throw validationError(parsed.error, `model manifest ${join(dir, MANIFEST_FILE)}`);
  return parsed.data;
}

/**
 * Reads `dir`'s row map: MODEL_NOT_FOUND when missing, MODEL_INTEGRITY when its sha256 differs from
 * the manifest's, MODEL_LOAD_FAILED when it does not fit the model (rowsKept ascending buckets).
 */
async function readRowMap(dir: string, manifest: ModelManifest): Promise<Uint16Array | Int32Array> {
  const path = join(dir, manifest.rowMap.file);
  const bytes = await readChecked(path, "row map file", manifest.rowMap.sha256);
  const { buckets } = manifest.featurizer;
  const pad = manifest.training.rowsKept;
  if (bytes.length !== pad * 4) {
    throw new TiergateError(
      ErrorCode.MODEL_LOAD_FAILED,
      `${path}: ${bytes.length} bytes, want ${pad * 4} (a uint32 bucket for each of ${pad} rows)`,
    );
  }
  const kept = keptBuckets(bytes, pad);
  let previous = -1;
  for (let row = 0; row < pad; row++) {
    const bucket = kept[row] ?? buckets;
    if (bucket <= previous || bucket >= buckets) {
      throw new TiergateError(
        ErrorCode.MODEL_LOAD_FAILED,
        `${path}: row ${row} has bucket ${bucket}; want ascending buckets below ${buckets}`,
      );
    }
    previous = bucket;
  }
  return rowMapOf(kept, buckets);
}

/** A token rows file: [a-z0-9]+ lines, each ending in "\n" (one pass over the text). */
const TOKEN_LINES_RE = /^(?:[a-z0-9]+\n)*$/;

/**
 * Reads `dir`'s token rows (TOKEN_ROWS_FILE): MODEL_NOT_FOUND when missing, MODEL_INTEGRITY when its
 * sha256 differs from the manifest's, MODEL_LOAD_FAILED when it is not the manifest's count of
 * sorted, distinct [a-z0-9] tokens a line. Undefined for a model without token rows.
 */
async function readTokenRows(dir: string, manifest: ModelManifest): Promise<TokenRows | undefined> {
  const path = join(dir, TOKEN_ROWS_FILE);
  const bytes = await readChecked(path, "token rows file", manifest.tokenRows.sha256);
  const want = manifest.tokenRows.tokens;
  const text = bytes.toString("latin1");
  const lines = text === "" ? [] : text.split("\n");
  lines.pop();
  if (!TOKEN_LINES_RE.test(text) || lines.length !== want) {
    throw new TiergateError(
      ErrorCode.MODEL_LOAD_FAILED,
      `${path}: want ${want} [a-z0-9]+ tokens, one a line, each line ending in a newline`,
    );
  }
  for (let i = 1; i < lines.length; i++) {
    if ((lines[i] ?? "") <= (lines[i - 1] ?? "")) {
      throw new TiergateError(
        ErrorCode.MODEL_LOAD_FAILED,
        `${path}: line ${i + 1} ${JSON.stringify(lines[i]?.slice(0, 40))} is not after line ${i}; want sorted, distinct tokens`,
      );
    }
  }
  return tokenRowsOf(lines, manifest.training.rowsKept);
}

/**
 * The row map's `rows` uint32 little-endian values: a view of the bytes where the CPU is little-endian
 * (x64, arm64) and they are aligned, else decoded. The load reads them once, before V8 has compiled
 * the loop: a DataView call per row cost ~8 ms of an edge start for nano and small.
 */
function keptBuckets(bytes: Buffer, rows: number): Uint32Array {
  if (LITTLE_ENDIAN && bytes.byteOffset % 4 === 0)
    return new Uint32Array(bytes.buffer, bytes.byteOffset, rows);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Uint32Array.from({ length: rows }, (_, i) => view.getUint32(i * 4, true));
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Bumped when what a cache entry (`loadModel`'s `cacheDir`) holds changes. */
const ORT_CACHE_LAYOUT = 2;
/**
 * A cache entry's files: the optimized graph, its weights (external data), and their sha256s with,
 * under IDENTITY_KEY, each file's identity when the sums were last checked.
 */
const CACHE_GRAPH = "model.onnx";
const CACHE_WEIGHTS = "model.onnx.data";
const CACHE_SUMS = "sha256.json";
const CACHE_FILES = [CACHE_GRAPH, CACHE_WEIGHTS];
const IDENTITY_KEY = "identity";
/** Initializers at least this large go to the weights file (ONNX Runtime maps them from there). */
const CACHE_EXTERNAL_MIN_BYTES = 4096;

/**
 * The cache entry for a model: a directory named by what the optimized graph depends on (the
 * model's sha256, the ONNX Runtime version, the platform and the CPU, as optimizations at level
 * "all" may be hardware-specific).
 */
function ortCacheEntry(cacheDir: string, manifest: ModelManifest): string {
  const parts = [ORT_CACHE_LAYOUT, manifest.onnx.sha256, ort.env.versions.common, process.platform];
  const key = createHash("sha256")
    .update([...parts, process.arch, cpus()[0]?.model ?? ""].join("\0"))
    .digest("hex");
  return join(cacheDir, key.slice(0, 40));
}

/**
 * Streams a file through sha256 in one reused buffer: a stream's fresh chunk per read left the 25 MB
 * weights file as 25 MB of glibc heap after the chunks were freed.
 */
async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash("sha256");
  const chunk = Buffer.allocUnsafeSlow(1 << 18);
  const file = await open(path, "r");
  try {
    for (;;) {
      const { bytesRead } = await file.read(chunk, 0, chunk.length, null);
      if (bytesRead === 0) break;
      hash.update(chunk.subarray(0, bytesRead));
    }
  } finally {
    await file.close();
  }
  return hash.digest("hex");
}

/**
 * A file's identity: device, inode, size, and the modification and status-change times in ns. Any
 * write, truncation, replacement or `utimes` of the file changes at least one of them (the kernel sets
 * ctime to the present on each, and only a clock change can set it back), so a file whose identity is
 * the one recorded right after its sha256 was checked still has those bytes.
 */
async function identityOf(path: string): Promise<string> {
  const s = await stat(path, { bigint: true });
  return `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;
}

/** Writes an entry's sums with its files' identities (temp file and rename: readers see all or none). */
async function writeCacheSums(
  entry: string,
  sums: Record<string, unknown>,
  identities: readonly string[],
): Promise<void> {
  const record = {
    ...sums,
    [IDENTITY_KEY]: Object.fromEntries(CACHE_FILES.map((f, i) => [f, identities[i]])),
  };
  const tmp = join(entry, `${CACHE_SUMS}.${process.pid}-${randomUUID()}.tmp`);
  await writeFile(tmp, JSON.stringify(record));
  await rename(tmp, join(entry, CACHE_SUMS));
}

/**
 * Whether a cache entry's files match the sha256s recorded when it was made. The files are hashed
 * again only when their identities differ from those recorded at the last check (copied, restored
 * from a backup, touched, or an entry from before identities were kept); when they then match, the
 * new identities are recorded (best effort). Hashing the small model's weights at every start was
 * ~10 ms of the edge agent's main thread, the medium model's ~50 ms of the coordinator's.
 */
async function ortCacheIntact(entry: string): Promise<boolean> {
  try {
    const [sums, identities] = await Promise.all([
      readFile(join(entry, CACHE_SUMS), "utf8").then((t) => JSON.parse(t) as Record<string, unknown>),
      Promise.all(CACHE_FILES.map((f) => identityOf(join(entry, f)))),
    ]);
    const recorded = sums[IDENTITY_KEY] as Record<string, unknown> | undefined;
    if (CACHE_FILES.every((f, i) => recorded?.[f] === identities[i])) return true;
    const actual = await Promise.all(CACHE_FILES.map((f) => sha256OfFile(join(entry, f))));
    if (!CACHE_FILES.every((f, i) => sums[f] === actual[i])) return false;
    await writeCacheSums(entry, sums, identities).catch(() => undefined);
    return true;
  } catch {
    return false;
  }
}

/**
 * Loads a model directory: manifest, row map, token rows and model.onnx, each sha256-checked against the
 * manifest (MODEL_INTEGRITY on mismatch, MODEL_NOT_FOUND when missing), then an ONNX Runtime
 * session (MODEL_LOAD_FAILED).
 *
 * With `cacheDir`, the first load also has ONNX Runtime write the optimized graph there with its
 * weights in a file of their own, and later loads of the same model (by sha256) build the session
 * from that entry: ONNX Runtime maps the weights file into memory instead of parsing model.onnx and
 * copying every weight twice. ~25 ms instead of ~190 ms for the 25 MB small model (mostly page
 * faults), and the weights are file pages, resident as far as they are read (the embedding rows of
 * the features seen) and reclaimable by the kernel, instead of 27 MB of private memory for nano and
 * small. An entry records its files' sha256s and is only ever made from a model.onnx that matched
 * the manifest; one that is missing, damaged or refused is rebuilt, and a cache that cannot be
 * written leaves the load as it was.
 */
export async function loadModel(dir: string, options: LoadModelOptions = {}): Promise<ModelRuntime> {
  const manifest = await readManifest(dir);
  const rowMap = await readRowMap(dir, manifest);
  const tokens = await readTokenRows(dir, manifest);
  const topK = options.topK ?? DEFAULT_TOP_K;
  const nativeRun = options.nativeRun ?? true;
  const sessionOptions: ort.InferenceSession.SessionOptions = {
    intraOpNumThreads: options.intraOpThreads ?? DEFAULT_INTRA_OP_THREADS,
    interOpNumThreads: options.interOpThreads ?? DEFAULT_INTER_OP_THREADS,
    executionMode: "sequential",
    graphOptimizationLevel: "all",
  };
  const entry = options.cacheDir === undefined ? undefined : ortCacheEntry(options.cacheDir, manifest);
  if (entry !== undefined && (await ortCacheIntact(entry))) {
    try {
      const session = await createOrtSession(join(entry, CACHE_GRAPH), sessionOptions, nativeRun);
      return new ModelRuntime(dir, manifest, rowMap, tokens, session, topK);
    } catch {
      // An entry ONNX Runtime refuses is rebuilt from model.onnx below.
    }
  }

  const bytes = await readChecked(join(dir, MODEL_FILE), "model file", manifest.onnx.sha256);
  let tmp: string | undefined;
  if (entry !== undefined) {
    try {
      tmp = `${entry}.${process.pid}-${randomUUID()}.tmp`;
      await makeDirs(tmp);
    } catch {
      tmp = undefined; // no cache where it cannot be written
    }
  }
  let session: OrtSession;
  try {
    session = await createOrtSession(
      bytes,
      tmp === undefined
        ? sessionOptions
        : {
            ...sessionOptions,
            optimizedModelFilePath: join(tmp, CACHE_GRAPH),
            extra: {
              session: {
                optimized_model_external_initializers_file_name: CACHE_WEIGHTS,
                optimized_model_external_initializers_min_size_in_bytes: String(CACHE_EXTERNAL_MIN_BYTES),
              },
            },
            // Not the warning that a graph optimized at level "all" may be hardware-specific: the
            // cache entry's name carries the CPU it was optimized on.
            logSeverityLevel: 3,
          },
      nativeRun,
    );
  } catch (cause) {
    if (tmp !== undefined) await rm(tmp, { recursive: true, force: true }).catch(() => undefined);
    throw new TiergateError(ErrorCode.MODEL_LOAD_FAILED, `onnxruntime cannot load ${join(dir, MODEL_FILE)}`, {
      cause,
    });
  } finally {
    release(bytes);
  }
  if (tmp !== undefined && entry !== undefined) {
    const made = tmp;
    try {
      // Identities first: a file changed while it is hashed then no longer matches them.
      const identities = await Promise.all(CACHE_FILES.map((f) => identityOf(join(made, f))));
      const sums = await Promise.all(CACHE_FILES.map((f) => sha256OfFile(join(made, f))));
      await writeCacheSums(made, Object.fromEntries(CACHE_FILES.map((f, i) => [f, sums[i]])), identities);
      await rm(entry, { recursive: true, force: true });
      await rename(made, entry);
    } catch {
      // Best effort: the session is built either way.
    }
    await rm(made, { recursive: true, force: true }).catch(() => undefined);
  }
  return new ModelRuntime(dir, manifest, rowMap, tokens, session, topK);
}
