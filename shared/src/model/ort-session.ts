// ONNX Runtime sessions that can also run synchronously. onnxruntime-node's `session.run` checks its
// arguments, defers the native run to a setImmediate and wraps it in a promise; the native run itself
// is synchronous on the calling thread. For these small graphs that wrapping is a third of a run
// (medium: 25 µs through `session.run`, 15 µs native), so `classify` calls the native session directly.
//
// The native session is onnxruntime-node's own (`dist/binding`, the one its backend wraps), loaded
// with the same options; `session` is the package's public InferenceSession over it, with the same
// deferred `run` as its backend's. Where that binding is not what this code knows (another
// onnxruntime-node), `runSync` is undefined and everything goes through the public API as before.
import { createRequire } from "node:module";
import * as ort from "onnxruntime-node";

/** onnxruntime-node's native InferenceSession, as far as this module uses it. */
interface NativeSession {
  loadModel(path: string, options: object): void;
  loadModel(buffer: ArrayBufferLike, byteOffset: number, byteLength: number, options: object): void;
  readonly inputMetadata: readonly NativeValueMetadata[];
  readonly outputMetadata: readonly NativeValueMetadata[];
  run(feeds: Feeds, fetches: Record<string, null>, options: object): Record<string, ort.Tensor>;
  dispose(): void;
  endProfiling(): void;
}
interface NativeValueMetadata {
  name: string;
  isTensor: boolean;
  type: number;
  shape: readonly number[];
  symbolicDimensions: readonly string[];
}
interface Binding {
  binding: { InferenceSession: { new (): NativeSession; prototype: Partial<NativeSession> } };
  initOrt: () => void;
}
type Feeds = Record<string, ort.Tensor>;

export interface OrtSession {
  /** The public session (what benchmarks and tests may call). */
  session: ort.InferenceSession;
  /** The native run, without the public API's checks and deferral; undefined where unavailable. */
  runSync: ((feeds: Feeds, fetches: Record<string, null>) => Record<string, ort.Tensor>) | undefined;
}

/** The element type names of ONNX's TensorProto.DataType, as onnxruntime-node's backend has them. */
const DATA_TYPES = [
  undefined,
  "float32",
  "uint8",
  "int8",
  "uint16",
  "int16",
  "int32",
  "int64",
  "string",
  "bool",
  "float16",
  "float64",
  "uint32",
  "uint64",
  ...Array<undefined>(7),
  "uint4",
  "int4",
] as const;

let binding: Binding | null | undefined;

/** onnxruntime-node's native binding, or null when it is not the shape this module knows. */
function nativeBinding(): Binding | null {
  if (binding !== undefined) return binding;
  try {
    const b = createRequire(import.meta.url)("onnxruntime-node/dist/binding") as Partial<Binding> | undefined;
    const Session = b?.binding?.InferenceSession;
    binding =
      typeof Session === "function" &&
      typeof b?.initOrt === "function" &&
      typeof Session.prototype.run === "function" &&
      typeof Session.prototype.loadModel === "function"
        ? (b as Binding)
        : null;
  } catch {
    binding = null;
  }
  return binding;
}

function namesAndMetadata(
  raw: readonly NativeValueMetadata[],
): [string[], ort.InferenceSession.ValueMetadata[]] {
  const names: string[] = [];
  const metadata: ort.InferenceSession.ValueMetadata[] = [];
  for (const m of raw) {
    names.push(m.name);
    if (!m.isTensor) {
      metadata.push({ name: m.name, isTensor: false });
      continue;
    }
    const type = DATA_TYPES[m.type];
    if (type === undefined) throw new Error(`Unsupported data type: ${m.type}`);
    const shape = m.shape.map((d, i) => (d === -1 ? (m.symbolicDimensions[i] ?? "") : d));
    metadata.push({ name: m.name, isTensor: true, type, shape });
  }
  return [names, metadata];
}

/** The handler onnxruntime-node's backend would make (same names, metadata and deferred run). */
class NativeHandler {
  readonly inputNames: string[];
  readonly outputNames: string[];
  readonly inputMetadata: ort.InferenceSession.ValueMetadata[];
  readonly outputMetadata: ort.InferenceSession.ValueMetadata[];
  readonly #native: NativeSession;

  constructor(native: NativeSession) {
    this.#native = native;
    [this.inputNames, this.inputMetadata] = namesAndMetadata(native.inputMetadata);
    [this.outputNames, this.outputMetadata] = namesAndMetadata(native.outputMetadata);
  }

  dispose(): Promise<void> {
    this.#native.dispose();
    return Promise.resolve();
  }

  startProfiling(): void {
    // As in onnxruntime-node: profiling starts at load when the options ask for it.
  }

  endProfiling(): void {
    this.#native.endProfiling();
  }

  run(feeds: Feeds, fetches: Record<string, null>, options: object): Promise<Record<string, ort.Tensor>> {
    return new Promise((resolve, reject) => {
      setImmediate(() => {
        try {
          resolve(this.#native.run(feeds, fetches, options));
        } catch (e) {
          reject(e instanceof Error ? e : new Error(String(e)));
        }
      });
    });
  }
}

/**
 * A session for `source` (a path or the model's bytes) with `options`; with `nativeRun` false, or where
 * the binding is not the one this module knows, onnxruntime-node's stock session and no `runSync`.
 * Throws what `ort.InferenceSession.create` would for a model ONNX Runtime refuses.
 */
export async function createOrtSession(
  source: string | Uint8Array,
  options: ort.InferenceSession.SessionOptions,
  nativeRun = true,
): Promise<OrtSession> {
  const b = nativeRun ? nativeBinding() : null;
  if (b === null) {
    // One call per overload of `create` (a path, or the bytes): TypeScript picks one per call.
    const session =
      typeof source === "string"
        ? await ort.InferenceSession.create(source, options)
        : await ort.InferenceSession.create(source, options);
    return { session, runSync: undefined };
  }
  // As the backend does: a turn of the event loop before the (blocking) load.
  await new Promise((resolve) => setImmediate(resolve));
  b.initOrt();
  const native = new b.binding.InferenceSession();
  const loadOptions = { ...options, executionProviders: options.executionProviders ?? [] };
  if (typeof source === "string") native.loadModel(source, loadOptions);
  else native.loadModel(source.buffer, source.byteOffset, source.byteLength, loadOptions);
  const handler = new NativeHandler(native);
  // onnxruntime-common's InferenceSession is constructed from a handler (what `create` does).
  const Session = ort.InferenceSession as unknown as new (h: NativeHandler) => ort.InferenceSession;
  const session = new Session(handler);
  return { session, runSync: (feeds, fetches) => native.run(feeds, fetches, {}) };
}
