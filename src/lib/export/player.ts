// Greedy play of exported policy files in the built-in env, whatever runs them (onnxruntime-node for ONNX,
// the addon's TorchScript loader): one file plays both rackets or one file per racket, on the env variant
// and reset of the run the first file was exported from.
import { ACTION_SIZE, AGENTS, OBS_SIZE } from "../../../binding/maddpg.ts";
import type { Config } from "../config/types.ts";
import { type GreedyResult, evalConfig, greedyRollout } from "../trainer/evaluate.ts";

/** One file's policy: actions [rows][2] of one racket's raw observations [rows][24]. */
export type RacketPolicy = (obs: Float32Array, rows: number) => Float32Array | Promise<Float32Array>;

/** Actions [rows][2][2] of joint raw observations [rows][2][24]: one policy for both rackets (each from
 * its own observation), or agent 0's then agent 1's. */
export async function jointActions(policies: RacketPolicy[], obs: Float32Array): Promise<Float32Array> {
  const rows = obs.length / (AGENTS * OBS_SIZE);
  if (policies.length === 1) return policies[0](obs, rows * AGENTS);
  const actions = new Float32Array(rows * AGENTS * ACTION_SIZE);
  for (let agent = 0; agent < AGENTS; agent++) {
    const own = new Float32Array(rows * OBS_SIZE);
    for (let r = 0; r < rows; r++) own.set(obs.subarray((r * AGENTS + agent) * OBS_SIZE, (r * AGENTS + agent + 1) * OBS_SIZE), r * OBS_SIZE);
    const out = await policies[agent](own, rows);
    for (let r = 0; r < rows; r++) actions.set(out.subarray(r * ACTION_SIZE, (r + 1) * ACTION_SIZE), (r * AGENTS + agent) * ACTION_SIZE);
  }
  return actions;
}

/** The files of `--policy KIND:FILE[,FILE]`: one for both rackets, or agent 0's then agent 1's. */
export function checkPolicyFileCount(paths: string[], kind: string): void {
  if (paths.length < 1 || paths.length > AGENTS) throw new Error(`expected 1 or ${AGENTS} ${kind} files, got ${paths.length}`);
}

/** Plays `episodes` greedy episodes with `policies` on the env of `trainedWith` (the run's own evaluation's
 * reset, train.evalCleanReset, unless `cleanReset` is given). */
export async function playPolicies(trainedWith: Config, policies: RacketPolicy[], episodes: number, seed: number, cleanReset?: boolean): Promise<GreedyResult> {
  const config = evalConfig(trainedWith);
  const played = cleanReset === undefined ? config : { ...config, env: { ...config.env, cleanReset } };
  const rollout = greedyRollout(played, episodes, seed);
  try {
    let step = rollout.next();
    while (!step.done) step = rollout.next(await jointActions(policies, step.value));
    return step.value;
  } finally {
    rollout.return(undefined as never);
  }
}
