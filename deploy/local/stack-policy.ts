// The policy the local stack runs with: a copy of a policy file (by default the example) with model
// paths made absolute (optionally moved to another models dir) and every LLM endpoint pointed at the
// local stand-in. Written as JSON into the stack's temp dir and validated again before use.
import { readFile, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { parsePolicy, type Policy } from "@tiergate/shared";

export type StackPolicyOptions = {
  /** The policy to copy (YAML or JSON). */
  source: string;
  /** Where the copy goes (a `.json` file). */
  target: string;
  /** `http://127.0.0.1:PORT/v1`: every LLM endpoint of the copy points here. */
  llmBaseUrl: string;
  /** Moves each model tier to `<modelsDir>/<basename of its model dir>`. */
  modelsDir?: string;
  /** Last changes before writing (fault tests shorten timeouts, for instance). */
  patch?: (policy: Policy) => void;
};

export type StackPolicy = {
  file: string;
  policy: Policy;
  /** The model directories the policy's tiers name (absolute). */
  modelDirs: string[];
};

export async function writeStackPolicy(options: StackPolicyOptions): Promise<StackPolicy> {
  const { policy } = parsePolicy(await readFile(options.source, "utf8"), { file: options.source });
  const modelDirs = new Set<string>();
  for (const task of Object.values(policy.tasks)) {
    for (const tier of task.tiers) {
      if (tier.model === undefined) continue;
      if (options.modelsDir !== undefined) tier.model = join(options.modelsDir, basename(tier.model));
      modelDirs.add(tier.model);
    }
  }
  for (const endpoint of Object.values(policy.llm.endpoints)) endpoint.baseURL = options.llmBaseUrl;
  options.patch?.(policy);
  const text = `${JSON.stringify(policy, null, 2)}\n`;
  // The copy must be as valid as its source: parse it again exactly as the services will.
  parsePolicy(text, { file: options.target });
  await writeFile(options.target, text);
  return { file: options.target, policy, modelDirs: [...modelDirs] };
}
