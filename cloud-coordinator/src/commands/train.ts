import { parseArgs } from "node:util";
import { toTiergateError } from "@tiergate/shared";
import type { CliIo, Command } from "../cli.ts";
import { DataFormatSchema } from "../training/data.ts";
import { DEFAULT_OOS_SHARE, DEFAULT_SEED, DEFAULT_TASK, trainModel } from "../training/pipeline.ts";
import { PresetNameSchema } from "../training/presets.ts";

const USAGE = `Usage: tiergate-coordinator train --data FILE --preset nano|small|medium --out DIR [options]

Trains a text classifier and writes DIR/model.onnx, DIR/row-map.bin, DIR/token-rows.txt and
DIR/manifest.json: hashed n-gram embedding bag → softmax, temperature-calibrated on the validation split, with a table from target precision
(0.90..0.99) to confidence threshold per rule (max-prob, margin, entropy). Progress goes to stderr.

Options:
  --data FILE          training data (required)
  --format jsonl|clinc jsonl: one {"text": ..., "label": ...} per line (default);
                       clinc: CLINC150 data_full.json, splits train+oos_train / val+oos_val / test+oos_test
  --preset NAME        nano (words+bigrams, < 2 MB), small (+char 4-grams), medium (+hidden layer)
  --out DIR            model directory to write
  --seed N             PRNG seed (default ${DEFAULT_SEED}); same data + seed → same model.onnx bytes
  --val FILE           jsonl validation file (default: 10% of --data held out)
  --test FILE          jsonl test file, for metrics in the manifest
  --oos-share X        expected out-of-scope share thresholds are chosen for (default ${DEFAULT_OOS_SHARE})
  --task NAME          task name recorded in the manifest (default ${DEFAULT_TASK})
  --quantize           also write an int8 variant to DIR-int8
  -h, --help           show this help

Exit status: 0 written, 1 bad data or failure, 2 usage error.
`;

export const trainCommand: Command = {
  name: "train",
  summary: "train a calibrated ONNX text classifier (nano, small, medium)",
  usage: USAGE,
  async run(argv: string[], io: CliIo): Promise<number> {
    let values;
    try {
      values = parseArgs({
        args: argv,
        options: {
          data: { type: "string" },
          format: { type: "string", default: "jsonl" },
          preset: { type: "string" },
          out: { type: "string" },
          seed: { type: "string" },
          val: { type: "string" },
          test: { type: "string" },
          "oos-share": { type: "string" },
          task: { type: "string" },
          quantize: { type: "boolean" },
          help: { type: "boolean", short: "h" },
        },
      }).values;
    } catch (err) {
      io.stderr(`train: ${err instanceof Error ? err.message : String(err)}\n\n${USAGE}`);
      return 2;
    }
    if (values.help === true) {
      io.stdout(USAGE);
      return 0;
    }
    const format = DataFormatSchema.safeParse(values.format);
    const preset = PresetNameSchema.safeParse(values.preset);
    const seed = values.seed === undefined ? DEFAULT_SEED : Number(values.seed);
    const oosShare = values["oos-share"] === undefined ? DEFAULT_OOS_SHARE : Number(values["oos-share"]);
    const problems = [
      values.data === undefined && "--data is required",
      values.out === undefined && "--out is required",
      !preset.success && "--preset must be nano, small or medium",
      !format.success && "--format must be jsonl or clinc",
      !Number.isSafeInteger(seed) && "--seed must be an integer",
      !(oosShare >= 0 && oosShare < 1) && "--oos-share must be in [0, 1)",
    ].filter((p): p is string => typeof p === "string");
    if (
      problems.length > 0 ||
      values.data === undefined ||
      values.out === undefined ||
      !preset.success ||
      !format.success
    ) {
      io.stderr(`train: ${problems.join("; ")}\n\n${USAGE}`);
      return 2;
    }
    try {
      const written = await trainModel({
        data: values.data,
        format: format.data,
        preset: preset.data,
        out: values.out,
        seed,
        oosShare,
        quantize: values.quantize === true,
        ...(values.val === undefined ? {} : { valFile: values.val }),
        ...(values.test === undefined ? {} : { testFile: values.test }),
        ...(values.task === undefined ? {} : { task: values.task }),
        log: (line) => io.stderr(`${line}\n`),
      });
      for (const w of written) io.stdout(`${w.dir} ${w.manifest.version}\n`);
      return 0;
    } catch (err) {
      const e = toTiergateError(err);
      io.stderr(`train: ${e.code}: ${e.message}\n`);
      return 1;
    }
  },
};
