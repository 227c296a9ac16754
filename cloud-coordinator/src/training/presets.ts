// Training presets. nano: words + bigrams, small dimension, an edge model under 2 MB. small: adds
// character 4-grams and a larger dimension. medium: character 3–5-grams, larger, with a hidden layer
// (cloud tier). small takes 4-grams only and drops features seen fewer than 3 times: ~36 known
// features a text instead of ~94 with 3–5-grams, and ONNX Runtime's Gather and ReduceSum cost per
// id (~2.5× faster in batches); CLINC150 test accuracy 91.7% vs 90.8%, coverage at 97% 59.9% vs
// 62.7%, 4.7 MB vs 25 MB. Token rows (token-rows.txt, graph version 8) then feed a known token's own
// features as one row: ~14 ids a text, and small's model.onnx is 6.2 MB with its 4,639 token rows.
import { z } from "zod";
import { DEFAULT_MAX_FEATURES } from "@tiergate/shared/internal";
import type { FeaturizerSettings } from "@tiergate/shared/internal";

export const PRESET_NAMES = ["nano", "small", "medium"] as const;
export const PresetNameSchema = z.enum(PRESET_NAMES);
export type PresetName = z.infer<typeof PresetNameSchema>;

export interface Preset {
  name: PresetName;
  featurizer: FeaturizerSettings;
  dim: number;
  hidden: number;
  epochs: number;
  learningRate: number;
  labelSmoothing: number;
  /** Features seen fewer times than this in training get no row (the model treats them as unknown). */
  minCount: number;
}

/** Word unigrams and bigrams, and character n-grams of lengths `chars` (none when omitted). */
function feats(buckets: number, chars?: { min: number; max: number }): FeaturizerSettings {
  return {
    version: 1,
    hash: "fnv1a32-utf8",
    buckets,
    wordNgrams: 2,
    charNgramMin: chars?.min ?? 0,
    charNgramMax: chars?.max ?? 0,
    maxFeatures: DEFAULT_MAX_FEATURES,
  };
}

export const PRESETS: Readonly<Record<PresetName, Preset>> = {
  nano: {
    name: "nano",
    featurizer: feats(2 ** 16),
    dim: 24,
    hidden: 0,
    epochs: 10,
    learningRate: 0.5,
    labelSmoothing: 0,
    minCount: 2,
  },
  small: {
    name: "small",
    featurizer: feats(2 ** 19, { min: 4, max: 4 }),
    dim: 80,
    hidden: 0,
    epochs: 12,
    learningRate: 1,
    labelSmoothing: 0,
    minCount: 3,
  },
  medium: {
    name: "medium",
    featurizer: feats(2 ** 20, { min: 3, max: 5 }),
    dim: 128,
    hidden: 128,
    epochs: 12,
    learningRate: 0.3,
    labelSmoothing: 0.1,
    minCount: 1,
  },
};
