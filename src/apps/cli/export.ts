// `tennis-train export --checkpoint RUN --format onnx|torchscript --out FILE` (docs/export.md).
import type { CommandModule } from "yargs";

import { AGENTS } from "../../../binding/maddpg.ts";
import { exportPolicy, kExportFormats, type ExportFormat } from "../../lib/export/export.ts";
import { checkpointFlag, printJson, withJson } from "./common.ts";
import { intFlag, stringFlag } from "./options.ts";

export const exportCommand: CommandModule = {
  command: "export",
  describe: "Write a checkpoint's greedy policy (observation normalisation included) as ONNX (Unity ML-Agents, onnxruntime) or TorchScript",
  builder: (y) =>
    withJson(y)
      .option("checkpoint", { type: "string", demandOption: true, describe: "Run directory or checkpoint folder" })
      .option("format", { choices: kExportFormats, demandOption: true, describe: "onnx or torchscript" })
      .option("out", { type: "string", demandOption: true, describe: "File to write" })
      .option("agent", { describe: "Whose actor, for runs with one actor per agent (agent.sharedParameters false) [default: 0]" }),
  handler: async (argv) => {
    const result = await exportPolicy({
      checkpoint: checkpointFlag(argv),
      format: argv.format as ExportFormat,
      out: stringFlag(argv, "out")!,
      agent: intFlag(argv, "agent", 0, AGENTS - 1, 0),
    });
    if (argv.json) return printJson(result);
    const norm = result.obs_normalization ? "observation normalisation included" : "no observation normalisation";
    console.log(`Wrote ${result.out}: ${result.format}, ${result.actor} actor of ${result.checkpoint}, ${norm}`);
  },
};
