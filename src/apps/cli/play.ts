// `tennis-train random` (the notebook's random-agent cell) and `tennis-train eval` (greedy play of a
// checkpoint, an exported ONNX or TorchScript policy, or the scripted controller, over N episodes).
import { existsSync } from "node:fs";
import type { CommandModule } from "yargs";

import { randomPlay } from "../../lib/env/random-play.ts";
import { evalScripted } from "../../lib/env/scripted-eval.ts";
import type { Config } from "../../lib/config/types.ts";
import { evalOnnx } from "../../lib/export/onnx-player.ts";
import { openTorchScriptPolicies, playTorchScript } from "../../lib/export/torchscript-player.ts";
import { TennisTrainError } from "../../../binding/errors.ts";
import { evalCheckpoint, evalConfig, runConfigOf } from "../../lib/trainer/evaluate.ts";
import { invalidParameter } from "../../../binding/validate.ts";
import { UsageError, checkpointFlag, printJson, withJson } from "./common.ts";
import { intFlag, kMaxSeed } from "./options.ts";

/** Most episodes `random` and `eval` play. */
const kMaxPlayEpisodes = 1_000_000;

export const randomCommand: CommandModule = {
  command: "random",
  describe: "Play random actions like the notebook's random-agent cell",
  builder: (y) =>
    withJson(y)
      .option("episodes", { describe: "Episodes [default: 5]" })
      .option("seed", { describe: "Env and action seed [default: 0]" }),
  handler: (argv) => {
    const episodes = intFlag(argv, "episodes", 1, kMaxPlayEpisodes, 5);
    const seed = intFlag(argv, "seed", 0, kMaxSeed, 0);
    const result = randomPlay({ episodes, seed });
    if (argv.json) {
      const { episodes: list, ...stats } = result;
      return printJson({ ...stats, episodes: list });
    }
    result.episodes.forEach((e, i) => console.log(`Score (max over agents) from episode ${i + 1}: ${e.score.toFixed(2)} (${e.steps} steps)`));
  },
};

export const evalCommand: CommandModule = {
  command: "eval",
  describe: "Greedy evaluation of a checkpoint (no noise), an exported ONNX or TorchScript policy, or the scripted controller",
  builder: (y) =>
    withJson(y)
      .option("checkpoint", { type: "string", describe: "Run directory or checkpoint folder (for --policy checkpoint)" })
      .option("policy", { type: "string", describe: "What plays: checkpoint, scripted, onnx:FILE[,FILE] or torchscript:FILE[,FILE] (an export; a second file plays agent 1) [default: checkpoint]" })
      .option("episodes", { describe: "Episodes [default: 100]" })
      .option("seed", { describe: "Env seed [default: 1]" })
      .option("clean-reset", { type: "boolean", describe: "Re-serve on every reset [default: as the run's own evaluation played (train.evalCleanReset); true for scripted]" }),
  handler: async (argv) => {
    const episodes = intFlag(argv, "episodes", 1, kMaxPlayEpisodes, 100);
    const seed = intFlag(argv, "seed", 0, kMaxSeed, 1);
    const policy = (argv.policy as string | undefined) ?? "checkpoint";
    let result: { scores: number[]; mean_score: number; capped?: number };
    // The checkpoint folder that played (--policy checkpoint), named in the output.
    let checkpoint: string | undefined;
    if (policy.startsWith(kOnnxPolicyPrefix)) {
      result = await evalOnnx(policyFiles(policy, kOnnxPolicyPrefix, "ONNX"), episodes, seed, argv.cleanReset as boolean | undefined);
    } else if (policy.startsWith(kTorchScriptPolicyPrefix)) {
      result = await evalTorchScriptFlag(policy, episodes, seed, argv.cleanReset as boolean | undefined);
    } else if (policy === "scripted") {
      result = evalScripted({ episodes, seed, cleanReset: (argv.cleanReset as boolean | undefined) ?? true });
    } else if (policy === "checkpoint") {
      if (!argv.checkpoint) throw new UsageError("eval needs --checkpoint DIR (a run directory or a checkpoint folder), or --policy scripted");
      checkpoint = checkpointFlag(argv);
      result = await evalCheckpoint(checkpointEvalConfig(checkpoint, argv.cleanReset as boolean | undefined), checkpoint, episodes, seed);
    } else {
      throw new UsageError(invalidParameter("--policy", "checkpoint, scripted, onnx:FILE[,FILE] or torchscript:FILE[,FILE]", policy).message);
    }
    const sorted = [...result.scores].sort((a, b) => a - b);
    const quantile = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
    const out = {
      policy,
      ...(checkpoint !== undefined && { checkpoint }),
      episodes,
      mean_score: result.mean_score,
      min: sorted[0],
      median: quantile(0.5),
      p10: quantile(0.1),
      max: sorted[sorted.length - 1],
      scores: result.scores,
    };
    if (argv.json) return printJson(out);
    console.log(`${checkpoint === undefined ? policy : `checkpoint ${checkpoint}`}: mean score ${out.mean_score.toFixed(3)} over ${episodes} episodes (min ${out.min.toFixed(2)}, p10 ${out.p10.toFixed(2)}, median ${out.median.toFixed(2)}, max ${out.max.toFixed(2)})`);
  },
};

const kOnnxPolicyPrefix = "onnx:";
const kTorchScriptPolicyPrefix = "torchscript:";

/** The files of --policy PREFIX:FILE[,FILE], each checked to exist. */
function policyFiles(policy: string, prefix: string, kind: string): string[] {
  const files = policy.slice(prefix.length).split(",");
  if (files.length > 2 || files.some((file) => file === "" || !existsSync(file))) {
    throw new UsageError(invalidParameter("--policy", `${prefix} and one or two existing ${kind} files, comma-separated`, policy).message);
  }
  return files;
}

/** --policy torchscript:FILE[,FILE]: a file that does not load as a policy is the caller's mistake (a
 * UsageError naming the flag and the file). */
async function evalTorchScriptFlag(policy: string, episodes: number, seed: number, cleanReset?: boolean) {
  const files = policyFiles(policy, kTorchScriptPolicyPrefix, "TorchScript");
  let policies;
  try {
    policies = openTorchScriptPolicies(files);
  } catch (err) {
    if (err instanceof TennisTrainError) throw new UsageError(`--policy ${policy}: ${err.message}`);
    throw err;
  }
  try {
    return await playTorchScript(policies, episodes, seed, cleanReset);
  } finally {
    for (const p of policies) p.dispose();
  }
}

/** The config `eval` plays a checkpoint folder with: its run's, on the reset the run's own checks and final
 * evaluation used (train.evalCleanReset) so the figures compare, unless `cleanReset` is given. */
export function checkpointEvalConfig(checkpointDir: string, cleanReset?: boolean): Config {
  const config = evalConfig(runConfigOf(checkpointDir));
  return cleanReset === undefined ? config : { ...config, env: { ...config.env, cleanReset } };
}
