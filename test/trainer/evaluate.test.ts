import { expect } from "chai";

import { TennisEnv } from "../../binding/env.ts";
import { ACTION_SIZE, FRAME_BALL_X, FRAME_RACKET_X, OBS_NEWEST_FRAME, OBS_SIZE } from "../../binding/shapes.ts";
import { resolveConfig } from "../../src/lib/config/resolve.ts";
import { envVariant } from "../../src/lib/env/vec-env.ts";
import { type GreedyResult, evalConfig, greedyRollout, greedyShares, kGreedyEnvs } from "../../src/lib/trainer/evaluate.ts";
import { ScoreTracker } from "../../src/lib/trainer/scores.ts";


/** A racket that runs at the ball and jumps when under it: scores now and then, a deterministic policy. */
function chaser(obs: Float32Array): Float32Array {
  const rows = obs.length / OBS_SIZE;
  const actions = new Float32Array(rows * ACTION_SIZE);
  for (let r = 0; r < rows; r++) {
    const dx = obs[r * OBS_SIZE + OBS_NEWEST_FRAME + FRAME_BALL_X] - obs[r * OBS_SIZE + OBS_NEWEST_FRAME + FRAME_RACKET_X];
    actions[r * ACTION_SIZE] = Math.max(-1, Math.min(1, 4 * dx));
    actions[r * ACTION_SIZE + 1] = Math.abs(dx) < 0.4 ? 1 : -1;
  }
  return actions;
}

/** The first `episodes` scores of one env seeded `seed` played by chaser, as the run's evaluation resets it. */
function oneEnvScores(episodes: number, seed: number): number[] {
  const env = new TennisEnv({ numEnvs: 1, seed, ...envVariant(evalConfig(resolveConfig({}))), autoReset: true });
  const tracker = new ScoreTracker(1, episodes, Infinity);
  const scores: number[] = [];
  try {
    for (let obs = env.reset(); scores.length < episodes; ) {
      const step = env.step(chaser(obs));
      for (const ep of tracker.addStep(step.rewards, step.dones)) scores.push(ep.score);
      obs = step.obs;
    }
  } finally {
    env.dispose();
  }
  return scores;
}

function play(episodes: number, seed: number): GreedyResult {
  const rollout = greedyRollout(evalConfig(resolveConfig({})), episodes, seed);
  let step = rollout.next();
  while (!step.done) step = rollout.next(chaser(step.value));
  return step.value;
}

describe("greedy rollout", () => {
  it("splits the episodes as evenly as possible over at most kGreedyEnvs envs", () => {
    expect(greedyShares(1)).to.deep.equal([1]);
    expect(greedyShares(7)).to.deep.equal([1, 1, 1, 1, 1, 1, 1]);
    expect(greedyShares(kGreedyEnvs * 2 + 3).reduce((a, b) => a + b, 0)).to.equal(kGreedyEnvs * 2 + 3);
    expect(greedyShares(kGreedyEnvs * 2 + 3)).to.have.length(kGreedyEnvs);
    expect(Math.max(...greedyShares(103)) - Math.min(...greedyShares(103))).to.equal(1);
  });

  it("plays exactly the episodes asked for; env e plays the first episodes of one env seeded seed + e", () => {
    const episodes = kGreedyEnvs * 2 + 3;
    const result = play(episodes, 11);
    expect(result.scores).to.have.length(episodes);
    expect(result.scores.some((s) => s > 0), "some episode scores (else equal scores say little)").to.equal(true);
    expect(result.mean_score).to.be.closeTo(result.scores.reduce((a, b) => a + b, 0) / episodes, 1e-12);
    let at = 0;
    for (const [e, share] of greedyShares(episodes).entries()) {
      expect(result.scores.slice(at, at + share), `env ${e}`).to.deep.equal(oneEnvScores(share, 11 + e));
      at += share;
    }
  });
});
