// Plays exported TorchScript policies through the addon's loader (binding/policy.ts):
// `tennis-train eval --policy torchscript:FILE` checks an export by playing it.
import { TorchScriptPolicy } from "../../../binding/policy.ts";
import type { Config } from "../config/types.ts";
import type { GreedyResult } from "../trainer/evaluate.ts";
import { type RacketPolicy, checkPolicyFileCount, playPolicies } from "./player.ts";
import { trainingConfigOf } from "./policy.ts";

/** The config a TorchScript policy was trained with (its tennis_train.json metadata), else the defaults. */
export function torchScriptTrainingConfig(policy: TorchScriptPolicy): Config {
  const metadata = policy.metadata;
  if (metadata === null) return trainingConfigOf({});
  let entries: Record<string, string>;
  try {
    entries = JSON.parse(metadata) as Record<string, string>;
  } catch (err) {
    throw new Error(`the tennis_train.json of TorchScript file ${policy.path} is not JSON (${(err as Error).message})`);
  }
  return trainingConfigOf(entries);
}

/** Loads TorchScript policy files (one for both rackets, or agent 0's then agent 1's), each checked as it
 * loads: a missing file, one that is not TorchScript, or one of other shapes throws TennisTrainError
 * naming it (and nothing stays loaded). */
export function openTorchScriptPolicies(paths: string[]): TorchScriptPolicy[] {
  checkPolicyFileCount(paths, "TorchScript");
  const policies: TorchScriptPolicy[] = [];
  try {
    for (const path of paths) policies.push(new TorchScriptPolicy(path));
  } catch (err) {
    for (const policy of policies) policy.dispose();
    throw err;
  }
  return policies;
}

/** Plays `episodes` greedy episodes with loaded TorchScript policies, on the env of the run the first was
 * exported from (its own evaluation's reset, train.evalCleanReset, unless `cleanReset` is given). */
export function playTorchScript(policies: TorchScriptPolicy[], episodes: number, seed: number, cleanReset?: boolean): Promise<GreedyResult> {
  const acts: RacketPolicy[] = policies.map((policy) => (obs) => policy.act(obs));
  return playPolicies(torchScriptTrainingConfig(policies[0]), acts, episodes, seed, cleanReset);
}

/** openTorchScriptPolicies, then playTorchScript; the policies are freed after. */
export async function evalTorchScript(paths: string[], episodes: number, seed: number, cleanReset?: boolean): Promise<GreedyResult> {
  const policies = openTorchScriptPolicies(paths);
  try {
    return await playTorchScript(policies, episodes, seed, cleanReset);
  } finally {
    for (const policy of policies) policy.dispose();
  }
}
