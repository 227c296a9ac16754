// Cloud models by directory: loaded once on first use (concurrent callers share the load), each
// behind a MicroBatcher so concurrent escalations share one `session.run`.
import {
  MicroBatcher,
  type Classification,
  type MicroBatcherOptions,
  type ModelManifest,
} from "@tiergate/shared";
import type { CloudModel, ModelSource } from "./types.ts";

/** What the registry needs from a loaded runtime: `ModelRuntime` fits. */
export interface LoadedRuntime {
  readonly version: string;
  readonly manifest: ModelManifest;
  classify(texts: readonly string[]): Promise<Classification[]>;
  close(): Promise<void>;
}

export type ModelRegistryOptions = {
  /** Loads a model directory (main.ts passes `loadModel`). */
  load: (dir: string) => Promise<LoadedRuntime>;
  microBatch?: MicroBatcherOptions;
};

type Entry = { runtime: LoadedRuntime; batcher: MicroBatcher; model: CloudModel };

export class ModelRegistry implements ModelSource {
  readonly #o: ModelRegistryOptions;
  readonly #entries = new Map<string, Promise<Entry>>();

  constructor(options: ModelRegistryOptions) {
    this.#o = options;
  }

  async get(dir: string): Promise<CloudModel> {
    let entry = this.#entries.get(dir);
    if (entry === undefined) {
      entry = this.#load(dir);
      this.#entries.set(dir, entry);
      // A failed load is not cached: the next request tries again (e.g. after the file is fixed).
      entry.catch(() => this.#entries.delete(dir));
    }
    return (await entry).model;
  }

  async #load(dir: string): Promise<Entry> {
    const runtime = await this.#o.load(dir);
    const batcher = new MicroBatcher(runtime, this.#o.microBatch);
    const model: CloudModel = {
      version: runtime.version,
      manifest: runtime.manifest,
      classify: (text) => batcher.classify(text),
      classifyMany: (texts) => runtime.classify(texts),
    };
    return { runtime, batcher, model };
  }

  /** Loads every directory now (start-up), so the first request does not pay for it. */
  async preload(dirs: Iterable<string>): Promise<void> {
    await Promise.all([...new Set(dirs)].map((d) => this.get(d)));
  }

  async close(): Promise<void> {
    const entries = await Promise.allSettled([...this.#entries.values()]);
    this.#entries.clear();
    for (const e of entries) {
      if (e.status !== "fulfilled") continue;
      await e.value.batcher.close();
      await e.value.runtime.close();
    }
  }
}
