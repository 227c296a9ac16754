// `npm run models`: trains nano, small and medium (+ int8) on CLINC150 into models/ unless fresh.
import { parseArgs } from "node:util";
import { DEFAULT_MODELS_DIR, PRESET_NAMES, ensureModels } from "./ensure-models.ts";
import type { PresetName } from "./ensure-models.ts";

const HELP = `usage: npm run models [-- --dir DIR] [--only nano,small,medium]

Trains the CLINC150 models (Larson et al. 2019, CC BY 3.0) that are missing or stale into
DIR/<preset> and DIR/<preset>-int8 (default ${DEFAULT_MODELS_DIR}). Fresh ones are kept.
`;

const { values } = parseArgs({ options: { dir: { type: "string" }, only: { type: "string" }, help: { type: "boolean", short: "h" } } });
if (values.help === true) {
  process.stdout.write(HELP);
} else {
  const only = values.only?.split(",").map((s) => s.trim());
  const bad = only?.filter((p) => !(PRESET_NAMES as readonly string[]).includes(p)) ?? [];
  if (bad.length > 0) {
    process.stderr.write(`unknown preset ${bad.join(", ")}\n\n${HELP}`);
    process.exitCode = 2;
  } else {
    const started = performance.now();
    const models = await ensureModels({
      presets: (only as PresetName[] | undefined) ?? PRESET_NAMES,
      ...(values.dir === undefined ? {} : { dir: values.dir }),
    });
    for (const m of models) process.stdout.write(`${m.trained ? "trained" : "fresh  "} ${m.dir}${m.int8Dir === undefined ? "" : ` ${m.int8Dir}`}\n`);
    process.stderr.write(`models ready in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
  }
}
