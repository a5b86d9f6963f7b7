// Greedy evaluation: the learner's actors without exploration noise, on fresh envs, N episodes.
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";

import { TennisEnv } from "../../../binding/env.ts";
import { Maddpg } from "../../../binding/maddpg.ts";
import { AGENTS, JOINT_ACTION, JOINT_OBS } from "../../../binding/shapes.ts";
import { resolveConfig } from "../config/resolve.ts";
import type { Config } from "../config/types.ts";
import { envVariant } from "../env/vec-env.ts";
import { verifyCheckpoint } from "./checkpoint.ts";
import { maddpgOptions } from "./maddpg-options.ts";
import { loadObsNorm } from "./loop-state.ts";
import type { RunningNorm } from "./normalize.ts";
import { ScoreTracker } from "./scores.ts";

export interface GreedyResult {
  scores: number[];
  mean_score: number;
}

/** The resolved config of the run a checkpoint folder (RUN/checkpoints/NAME) belongs to. */
export function runConfigOf(checkpointDir: string): Config {
  const runDir = resolve(checkpointDir, "..", "..");
  return resolveConfig({ fileObject: JSON.parse(readFileSync(join(runDir, "config.json"), "utf8")) });
}

/** The config a run's own greedy play uses (policy checks, final evaluation): with train.evalCleanReset,
 * i.i.d. serves. The faithful reset can knock a ball still in play after a capped episode into the net,
 * an unwinnable short episode for any policy (the scripted controller averages 2.38 over 100 such
 * back-to-back episodes, 2.70 with clean resets). */
export function evalConfig(config: Config): Config {
  return { ...config, env: { ...config.env, cleanReset: config.env.cleanReset || config.train.evalCleanReset } };
}

/** Envs a greedy rollout plays side by side; each plays its share of the episodes back to back. */
export const kGreedyEnvs = 20;

/** Plays `episodes` greedy episodes with `agent` (greedyRollout's envs, the notebook's reset after each done). */
export function greedyEpisodes(agent: Maddpg, config: Config, episodes: number, seed: number, norm: RunningNorm | null = null): GreedyResult {
  const rollout = greedyRollout(config, episodes, seed, norm);
  try {
    let step = rollout.next();
    let actions: Float32Array | null = null;
    while (!step.done) {
      actions ??= new Float32Array((step.value.length / JOINT_OBS) * JOINT_ACTION);
      step = rollout.next(agent.act(step.value, actions, false));
    }
    return step.value;
  } finally {
    rollout.return(undefined as never);
  }
}

/** Episodes per env of a rollout: `episodes` split as evenly as possible over min(episodes, kGreedyEnvs) envs. */
export function greedyShares(episodes: number): number[] {
  const envs = Math.min(episodes, kGreedyEnvs);
  return Array.from({ length: envs }, (_, e) => Math.floor(episodes / envs) + (e < episodes % envs ? 1 : 0));
}

/**
 * Greedy play of any policy on greedyShares(episodes).length envs stepped together (env e seeded
 * `seed + e`), each with the notebook's reset after each done: yields the joint observations [envs][2][24]
 * (through `norm` when given) and takes the joint actions [envs][2][2] for them, until every env has
 * played its share; returns the scores, env by env. The envs are freed when it ends or is returned early.
 */
export function* greedyRollout(config: Config, episodes: number, seed: number, norm: RunningNorm | null = null): Generator<Float32Array, GreedyResult, Float32Array> {
  const shares = greedyShares(episodes);
  const n = shares.length;
  const env = new TennisEnv({ numEnvs: n, seed, ...envVariant(config), autoReset: true });
  const tracker = new ScoreTracker(n, episodes, Infinity);
  const seen = new Float32Array(n * JOINT_OBS);
  const perEnv: number[][] = shares.map(() => []);
  try {
    let obs = env.reset();
    for (let left = episodes; left > 0; ) {
      const actions = yield norm ? norm.normalize(obs, seen) : obs;
      const step = env.step(actions);
      const finished = tracker.addStep(step.rewards, step.dones);
      // addStep reports finished episodes in env order, one per env whose either agent is done.
      for (let e = 0, i = 0; e < n && i < finished.length; e++) {
        if (step.dones[AGENTS * e] === 0 && step.dones[AGENTS * e + 1] === 0) continue;
        if (perEnv[e].length < shares[e]) {
          perEnv[e].push(finished[i].score);
          left -= 1;
        }
        i += 1;
      }
      obs = step.obs;
    }
  } finally {
    env.dispose();
  }
  const scores = perEnv.flat();
  return { scores, mean_score: scores.reduce((a, s) => a + s, 0) / scores.length };
}

/** Loads the learner of a checkpoint folder (verified first: CheckpointError names a damaged file) and
 * plays it greedily. */
export async function evalCheckpoint(config: Config, checkpointDir: string, episodes: number, seed: number): Promise<GreedyResult> {
  verifyCheckpoint(checkpointDir);
  const agent = new Maddpg(maddpgOptions(config));
  try {
    await agent.load(join(checkpointDir, "agent.pt"));
    return greedyEpisodes(agent, config, episodes, seed, loadObsNorm(checkpointDir));
  } finally {
    agent.dispose();
  }
}
