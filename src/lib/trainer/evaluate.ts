// Greedy evaluation: the learner's actors without exploration noise, on fresh envs, N episodes.
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";

import { TennisEnv } from "../../../binding/env.ts";
import { Maddpg } from "../../../binding/maddpg.ts";
import { JOINT_OBS } from "../../../binding/shapes.ts";
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

/** Plays `episodes` greedy episodes with `agent` (one env, the notebook's reset after each done). */
export function greedyEpisodes(agent: Maddpg, config: Config, episodes: number, seed: number, norm: RunningNorm | null = null): GreedyResult {
  const actions = new Float32Array(4);
  const rollout = greedyRollout(config, episodes, seed, norm);
  try {
    let step = rollout.next();
    while (!step.done) step = rollout.next(agent.act(step.value, actions, false));
    return step.value;
  } finally {
    rollout.return(undefined as never);
  }
}

/**
 * Greedy play of any policy, one env with the notebook's reset after each done: yields each joint
 * observation [2][24] (through `norm` when given) and takes the joint actions [2][2] for it, until
 * `episodes` episodes have scores; returns them. The env is freed when it ends or is returned early.
 */
export function* greedyRollout(config: Config, episodes: number, seed: number, norm: RunningNorm | null = null): Generator<Float32Array, GreedyResult, Float32Array> {
  const env = new TennisEnv({ numEnvs: 1, seed, ...envVariant(config), autoReset: true });
  const tracker = new ScoreTracker(1, episodes, Infinity);
  const seen = new Float32Array(JOINT_OBS);
  const scores: number[] = [];
  try {
    let obs = env.reset();
    while (scores.length < episodes) {
      const actions = yield norm ? norm.normalize(obs, seen) : obs;
      const step = env.step(actions);
      for (const ep of tracker.addStep(step.rewards, step.dones)) scores.push(ep.score);
      obs = step.obs;
    }
  } finally {
    env.dispose();
  }
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
