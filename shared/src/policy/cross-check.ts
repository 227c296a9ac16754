// Rules that span fields (tier order, references between sections). They run once the fields
// themselves are valid, and each problem carries the path of the field to fix.
import type { z } from "zod";
import type { PolicyObjectSchema } from "./schema.ts";

/** Placeholders a template action may use: `{label}`, `{task}`, `{tier}`, `{confidence}`. */
export const TEMPLATE_PLACEHOLDERS = ["label", "task", "tier", "confidence"] as const;

// ── cross-field rules ──
type Problem = { path: (string | number)[]; message: string };
type PolicyShape = z.infer<typeof PolicyObjectSchema>;
type Action = PolicyShape["tasks"][string]["defaultAction"] & {};

export function crossCheck(p: PolicyShape): Problem[] {
  const problems: Problem[] = [];
  const tierKinds = new Map<string, "model" | "llm">();
  for (const [taskId, task] of Object.entries(p.tasks)) {
    const base = ["tasks", taskId];
    const seen = new Set<string>();
    let firstCloud: number | undefined;
    task.tiers.forEach((tier, i) => {
      const at = [...base, "tiers", i];
      if (seen.has(tier.name))
        problems.push({ path: [...at, "name"], message: `duplicate tier name "${tier.name}"` });
      seen.add(tier.name);
      if (tier.where === "cloud") firstCloud ??= i;
      else if (firstCloud !== undefined)
        problems.push({
          path: [...at, "where"],
          message: `edge tier after cloud tier ${firstCloud}; edge tiers come first`,
        });
      const hasModel = tier.model !== undefined;
      const hasLlm = tier.llm !== undefined;
      if (hasModel === hasLlm) problems.push({ path: at, message: "give exactly one of model or llm" });
      if (hasModel && tier.accept === undefined)
        problems.push({ path: [...at, "accept"], message: "a model tier needs an acceptance rule" });
      if (hasLlm && tier.accept !== undefined)
        problems.push({
          path: [...at, "accept"],
          message: "an llm tier has no acceptance rule (its answer is final)",
        });
      if (hasLlm && tier.where !== "cloud")
        problems.push({ path: [...at, "where"], message: "an llm tier must be where: cloud" });
      tier.llm?.endpoints.forEach((name, j) => {
        if (!(name in p.llm.endpoints))
          problems.push({
            path: [...at, "llm", "endpoints", j],
            message: `unknown endpoint "${name}" (not in llm.endpoints)`,
          });
      });
      if (!tierKinds.has(tier.name) || hasLlm) tierKinds.set(tier.name, hasLlm ? "llm" : "model");
    });
    const labelPlaces: [string, Record<string, unknown>][] = [["actions", task.actions]];
    if (task.defaultAction) labelPlaces.push(["defaultAction", { _: task.defaultAction }]);
    for (const [key, actions] of labelPlaces) {
      for (const [label, action] of Object.entries(actions) as [string, Action][]) {
        if (action.type !== "template") continue;
        for (const m of action.template.matchAll(/\{([^{}]*)\}/g)) {
          if (!(TEMPLATE_PLACEHOLDERS as readonly string[]).includes(m[1] ?? "")) {
            const path =
              key === "defaultAction" ? [...base, key, "template"] : [...base, key, label, "template"];
            problems.push({
              path,
              message: `unknown placeholder {${m[1]}}; known: ${TEMPLATE_PLACEHOLDERS.join(", ")}`,
            });
          }
        }
      }
    }
  }
  for (const taskId of Object.keys(p.privacy.neverEscalate)) {
    if (!(taskId in p.tasks))
      problems.push({ path: ["privacy", "neverEscalate", taskId], message: `unknown task "${taskId}"` });
  }
  const names = new Set<string>();
  p.privacy.customPatterns.forEach((c, i) => {
    if (names.has(c.name))
      problems.push({
        path: ["privacy", "customPatterns", i, "name"],
        message: `duplicate name "${c.name}"`,
      });
    names.add(c.name);
  });
  for (const tierName of Object.keys(p.costs)) {
    const kind = tierKinds.get(tierName);
    if (kind === undefined)
      problems.push({ path: ["costs", tierName], message: `unknown tier "${tierName}"` });
    else if (kind === "llm")
      problems.push({
        path: ["costs", tierName],
        message: "an llm tier is priced by llm.endpoints.<name>.pricing",
      });
  }
  return problems;
}
