// Makes sure the models a policy names exist before the stack starts: present ones are reused,
// missing ones are trained (CLINC150) with progress on stderr.
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { parsePolicy } from "@tiergate/shared";

export type EnsureStackModelsOptions = {
  policyFile: string;
  /** Overrides the folder of the policy's model paths. */
  modelsDir?: string;
};

/** The model directories a policy's tiers name, after `modelsDir` is applied. */
export async function policyModelDirs(options: EnsureStackModelsOptions): Promise<string[]> {
  const { policy } = parsePolicy(await readFile(options.policyFile, "utf8"), { file: options.policyFile });
  const dirs = new Set<string>();
  for (const task of Object.values(policy.tasks)) {
    for (const tier of task.tiers) {
      if (tier.model === undefined) continue;
      dirs.add(options.modelsDir === undefined ? tier.model : join(options.modelsDir, basename(tier.model)));
    }
  }
  return [...dirs];
}

export async function ensureStackModels(options: EnsureStackModelsOptions): Promise<string[]> {
  const dirs = await policyModelDirs(options);
  const missing = dirs.filter((dir) => !existsSync(join(dir, "manifest.json")));
  if (missing.length === 0) return dirs;
  const folders = [...new Set(missing.map((dir) => dirname(dir)))];
  throw new Error(
    `models missing: ${missing.join(", ")}; train them first (presets ${missing.map((d) => basename(d)).join(", ")} into ${folders.join(", ")})`,
  );
}
