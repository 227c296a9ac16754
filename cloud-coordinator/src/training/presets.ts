// Training presets. nano: words + bigrams, small dimension, an edge model under 2 MB. small: adds
// character 3–5-grams and a larger dimension. medium: larger, with a hidden layer (cloud tier).
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

function feats(buckets: number, chars: boolean): FeaturizerSettings {
  return {
    version: 1,
    hash: "fnv1a32-utf8",
    buckets,
    wordNgrams: 2,
    charNgramMin: chars ? 3 : 0,
    charNgramMax: chars ? 5 : 0,
    maxFeatures: DEFAULT_MAX_FEATURES,
  };
}

export const PRESETS: Readonly<Record<PresetName, Preset>> = {
  nano: {
    name: "nano",
    featurizer: feats(2 ** 16, false),
    dim: 24,
    hidden: 0,
    epochs: 10,
    learningRate: 0.5,
    labelSmoothing: 0,
    minCount: 2,
  },
  small: {
    name: "small",
    featurizer: feats(2 ** 19, true),
    dim: 100,
    hidden: 0,
    epochs: 12,
    learningRate: 1,
    labelSmoothing: 0,
    minCount: 1,
  },
  medium: {
    name: "medium",
    featurizer: feats(2 ** 20, true),
    dim: 128,
    hidden: 128,
    epochs: 12,
    learningRate: 0.3,
    labelSmoothing: 0.1,
    minCount: 1,
  },
};
