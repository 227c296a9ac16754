// Everything the cascade needs from one policy version, resolved once when the policy loads:
// each task's edge tiers with their loaded model, micro-batcher and numeric threshold (a target
// precision is turned into one with the model manifest's calibration table), and the redactor.
// A reload builds a new state next to the old one and swaps; models shared by both are reused.
import {
  edgeTiers,
  ErrorCode,
  MicroBatcher,
  thresholdFor,
  TiergateError,
  type LoadedPolicy,
  type ModelRuntime,
  type ModelTier,
  type Policy,
} from "@tiergate/shared";
import { Redactor } from "../privacy/redact.ts";

export type ModelLoader = (dir: string) => Promise<ModelRuntime>;

export type EdgeTierRuntime = {
  tier: ModelTier;
  model: ModelRuntime;
  batcher: MicroBatcher;
  /** Its step in a result's timings: `tier:<name>`, made once. */
  stepName: string;
  /** Undefined when the manifest has no threshold that reaches the target precision: never accepted. */
  threshold: number | undefined;
};

export type PolicyState = {
  loaded: LoadedPolicy;
  policy: Policy;
  /** `versionTag` of the policy file; part of every cache key. */
  policyVersion: string;
  tiers: ReadonlyMap<string, readonly EdgeTierRuntime[]>;
  /** Per task: the versions of its edge models joined; part of every cache key. */
  modelVersions: ReadonlyMap<string, string>;
  redactor: Redactor;
};

export type ModelPoolOptions = {
  load: ModelLoader;
  microBatchMaxWaitMs?: number;
  microBatchMaxSize?: number;
};

/** Loaded models by directory, shared between policy versions; closes models no state uses. */
export class ModelPool {
  readonly #options: ModelPoolOptions;
  readonly #byDir = new Map<string, { model: ModelRuntime; batcher: MicroBatcher }>();
  readonly #loading = new Map<string, Promise<{ model: ModelRuntime; batcher: MicroBatcher }>>();

  constructor(options: ModelPoolOptions) {
    this.#options = options;
  }

  async get(dir: string): Promise<{ model: ModelRuntime; batcher: MicroBatcher }> {
    const have = this.#byDir.get(dir);
    if (have !== undefined) return have;
    // Concurrent gets of one directory share one load.
    let loading = this.#loading.get(dir);
    if (loading === undefined) {
      loading = this.#load(dir).finally(() => this.#loading.delete(dir));
      this.#loading.set(dir, loading);
    }
    return loading;
  }

  async #load(dir: string): Promise<{ model: ModelRuntime; batcher: MicroBatcher }> {
    const model = await this.#options.load(dir);
    const batcherOptions: { maxWaitMs?: number; maxBatchSize?: number } = {};
    if (this.#options.microBatchMaxWaitMs !== undefined)
      batcherOptions.maxWaitMs = this.#options.microBatchMaxWaitMs;
    if (this.#options.microBatchMaxSize !== undefined)
      batcherOptions.maxBatchSize = this.#options.microBatchMaxSize;
    const entry = { model, batcher: new MicroBatcher(model, batcherOptions) };
    this.#byDir.set(dir, entry);
    return entry;
  }

  loaded(): { dir: string; model: ModelRuntime }[] {
    return [...this.#byDir].map(([dir, e]) => ({ dir, model: e.model }));
  }

  /** Closes models that `state` does not use (after a reload swapped it in). */
  async retainOnly(state: PolicyState): Promise<void> {
    const used = new Set<string>();
    for (const tiers of state.tiers.values()) for (const t of tiers) used.add(t.model.dir);
    for (const [dir, e] of [...this.#byDir]) {
      if (used.has(dir)) continue;
      this.#byDir.delete(dir);
      await e.batcher.close();
      await e.model.close();
    }
  }

  async close(): Promise<void> {
    const all = [...this.#byDir.values()];
    this.#byDir.clear();
    for (const e of all) await e.batcher.close();
    for (const e of all) await e.model.close();
  }
}

/** Loads the models of every edge tier and resolves thresholds. Throws a TiergateError naming the tier. */
export async function buildPolicyState(loaded: LoadedPolicy, pool: ModelPool): Promise<PolicyState> {
  const policy = loaded.policy;
  // Ask for every model directory at once: the files are read on libuv's thread pool while an
  // earlier one's session is built (onnxruntime-node builds sessions on the main thread).
  const dirs = new Set(Object.values(policy.tasks).flatMap((task) => edgeTiers(task).map((t) => t.model)));
  await Promise.allSettled([...dirs].map((dir) => pool.get(dir)));
  const tiers = new Map<string, EdgeTierRuntime[]>();
  const modelVersions = new Map<string, string>();
  for (const [taskId, task] of Object.entries(policy.tasks)) {
    const list: EdgeTierRuntime[] = [];
    for (const tier of edgeTiers(task)) {
      let entry: { model: ModelRuntime; batcher: MicroBatcher };
      try {
        entry = await pool.get(tier.model);
      } catch (err) {
        const code = err instanceof TiergateError ? err.code : ErrorCode.MODEL_LOAD_FAILED;
        const reason = err instanceof Error ? err.message : String(err);
        throw new TiergateError(code, `task "${taskId}" tier "${tier.name}": ${reason}`, { cause: err });
      }
      const threshold =
        tier.accept.threshold ??
        (tier.accept.targetPrecision === undefined
          ? undefined
          : thresholdFor(entry.model.manifest, tier.accept.rule, tier.accept.targetPrecision));
      list.push({
        tier,
        model: entry.model,
        batcher: entry.batcher,
        stepName: `tier:${tier.name}`,
        threshold,
      });
    }
    tiers.set(taskId, list);
    modelVersions.set(taskId, list.map((t) => `${t.tier.name}=${t.model.version}`).join(",") || "none");
  }
  const redactor = new Redactor({
    kinds: policy.privacy.redact,
    customPatterns: policy.privacy.customPatterns,
  });
  return { loaded, policy, policyVersion: loaded.versionTag, tiers, modelVersions, redactor };
}
