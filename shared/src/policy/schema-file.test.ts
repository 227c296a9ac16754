import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { POLICY_SCHEMA_PATH, policyJsonSchema } from "./generate-schema.ts";

describe("shared/policy.schema.json", () => {
  it("matches the zod schema (run `npm run policy:schema` when this fails)", async () => {
    const checkedIn: unknown = JSON.parse(await readFile(POLICY_SCHEMA_PATH, "utf8"));
    expect(checkedIn).toEqual(JSON.parse(JSON.stringify(policyJsonSchema())));
  });

  it("describes the policy's top-level sections and refuses unknown ones", () => {
    const schema = policyJsonSchema() as {
      properties: Record<string, unknown>;
      required: string[];
      additionalProperties: unknown;
    };
    expect(Object.keys(schema.properties)).toEqual(
      expect.arrayContaining(["version", "tasks", "privacy", "cache", "batch", "costs", "llm"]),
    );
    expect(schema.required).toEqual(["version", "tasks"]);
    expect(schema.additionalProperties).toBe(false);
  });
});
