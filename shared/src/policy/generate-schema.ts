// Writes shared/policy.schema.json from the zod schema: `npm run policy:schema`.
// A test regenerates it in memory and fails when the checked-in file is stale.
import { writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { PolicySchema } from "./schema.ts";

export const POLICY_SCHEMA_PATH = fileURLToPath(new URL("../../policy.schema.json", import.meta.url));

/** The JSON Schema of what an operator writes (input side: fields with defaults are optional). */
export function policyJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(PolicySchema, {
    io: "input",
    target: "draft-2020-12",
    unrepresentable: "any",
  });
  return {
    ...schema,
    title: "tiergate policy",
    description:
      "Operators' policy for tiergate (tasks, tiers, privacy, cache, batches, costs, LLM endpoints).",
  };
}

export function renderPolicyJsonSchema(): string {
  return JSON.stringify(policyJsonSchema(), null, 2) + "\n";
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  // Formatted as the repository's prettier would, so `npm run format:check` stays green.
  const prettier = await import("prettier");
  const config = (await prettier.resolveConfig(POLICY_SCHEMA_PATH)) ?? {};
  const text = await prettier.format(renderPolicyJsonSchema(), { ...config, parser: "json" });
  await writeFile(POLICY_SCHEMA_PATH, text);
  process.stdout.write(`wrote ${POLICY_SCHEMA_PATH}\n`);
}
