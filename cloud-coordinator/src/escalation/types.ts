// What the cloud cascade needs from its collaborators, as narrow interfaces: the model runtime,
// the LLM tier (cloud-coordinator/src/llm) and a clock. main.ts builds the real ones.
import type { Classification, ModelManifest } from "@tiergate/shared";

/** A loaded cloud model: `ModelRuntime` behind a `MicroBatcher` fits. */
export interface CloudModel {
  readonly version: string;
  readonly manifest: ModelManifest;
  classify(text: string): Promise<Classification>;
  /**
   * Classifies `texts` in one model call of their own, without waiting for company (a batch chunk,
   * which is its own company). Blank texts are refused as `classify` refuses them.
   */
  classifyMany?(texts: readonly string[]): Promise<Classification[]>;
}

/** Loads (once) and returns the model in `dir`. */
export interface ModelSource {
  get(dir: string): Promise<CloudModel>;
}

export type LlmUsage = { promptTokens: number; completionTokens: number };

/** The LLM tier's classification call (structurally `LlmTier.classify`). */
export interface LlmClassifier {
  classify(req: {
    task: string;
    text: string;
    labels: readonly string[];
    deadlineAt?: number;
    signal?: AbortSignal;
  }): Promise<{
    label: string;
    endpoint: string;
    model: string;
    usage: LlmUsage;
    costUsd: number;
    latencyMs: number;
  }>;
}

export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };
