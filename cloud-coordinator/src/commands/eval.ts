import { writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { parseArgs } from "node:util";
import { makeDirs, toTiergateError } from "@tiergate/shared";
import type { CliIo, Command } from "../cli.ts";
import { DataFormatSchema } from "../training/data.ts";
import { evaluateModel } from "../training/eval-model.ts";
import { coveragePrecisionSvg, formatReport } from "../training/report.ts";

const USAGE = `Usage: tiergate-coordinator eval --model DIR --data FILE [options]

Classifies every row of FILE with the model (ONNX Runtime) and prints accuracy, in-scope accuracy,
the coverage-at-precision table at the manifest's validation thresholds, and the most frequent
confusions. An out-of-scope row answered with any intent counts as wrong; a prediction of the
out-of-scope label is never counted as an answer.

Options:
  --model DIR          model directory (model.onnx + row-map.bin + token-rows.txt + manifest.json)
  --data FILE          labeled data
  --format jsonl|clinc jsonl (default) or CLINC150 data_full.json (evaluates test+oos_test)
  --report OUT.json    write the full report as JSON
  --plot OUT.svg       write a coverage–precision plot
  -h, --help           show this help

Exit status: 0 evaluated, 1 bad model/data (unknown label, missing or tampered model), 2 usage error.
`;

export const evalCommand: Command = {
  name: "eval",
  summary: "evaluate a model directory: accuracy, coverage at precision, confusions",
  usage: USAGE,
  async run(argv: string[], io: CliIo): Promise<number> {
    let values;
    try {
      values = parseArgs({
        args: argv,
        options: {
          model: { type: "string" },
          data: { type: "string" },
          format: { type: "string", default: "jsonl" },
          report: { type: "string" },
          plot: { type: "string" },
          help: { type: "boolean", short: "h" },
        },
      }).values;
    } catch (err) {
      io.stderr(`eval: ${err instanceof Error ? err.message : String(err)}\n\n${USAGE}`);
      return 2;
    }
    if (values.help === true) {
      io.stdout(USAGE);
      return 0;
    }
    const format = DataFormatSchema.safeParse(values.format);
    if (values.model === undefined || values.data === undefined || !format.success) {
      io.stderr(`eval: --model and --data are required; --format is jsonl or clinc\n\n${USAGE}`);
      return 2;
    }
    try {
      const { report, manifest } = await evaluateModel({
        model: values.model,
        data: values.data,
        format: format.data,
      });
      io.stdout(formatReport(report, manifest));
      if (values.report !== undefined) {
        await makeDirs(dirname(values.report));
        await writeFile(values.report, `${JSON.stringify(report, null, 2)}\n`);
      }
      if (values.plot !== undefined) {
        await makeDirs(dirname(values.plot));
        await writeFile(values.plot, coveragePrecisionSvg(report));
      }
      return 0;
    } catch (err) {
      const e = toTiergateError(err);
      io.stderr(`eval: ${e.code}: ${e.message}\n`);
      return 1;
    }
  },
};
