// The hand-written controller (native/core/env/scripted.cc, a port of the reference prototype's) played
// like an evaluation: one env, env.reset() before every episode, until done or the 1001-step cap.
// It proves the task is solvable in this physics and serves as a baseline score.
import { MAX_EPISODE_STEPS, TennisEnv, type TennisEnvOptions } from "../../../binding/env.ts";
import { withDefaultVariant } from "./vec-env.ts";

export interface ScriptedEvalOptions {
  /** Episodes; integer >= 1. Default 10. */
  episodes?: number;
  /** Env seed. Default 1 (the prototype's rally seed). */
  seed?: number;
  /** Re-serve on every reset (i.i.d. starts). Default true: with the faithful reset, a capped
   *  episode leaves the ball in play and the racket reset can knock it into the net. */
  cleanReset?: boolean;
  /** Other env variants. */
  env?: Partial<Omit<TennisEnvOptions, "numEnvs" | "seed" | "autoReset" | "threads" | "cleanReset">>;
}

export interface ScriptedEpisode {
  /** Max over agents of the summed reward. */
  score: number;
  steps: number;
  /** The episode ran to the 1001-step cap (a rally that never broke). */
  capped: boolean;
}

export interface ScriptedEvalResult {
  /** Per-episode max-over-agents scores. */
  scores: number[];
  episodes: ScriptedEpisode[];
  mean_score: number;
  /** Episodes that reached the step cap. */
  capped: number;
}

export function evalScripted(options: ScriptedEvalOptions = {}): ScriptedEvalResult {
  const episodes = options.episodes ?? 10;
  if (!Number.isInteger(episodes) || episodes < 1) throw new TypeError(`Expected integer >= 1 for episodes but received ${episodes}`);
  const env = new TennisEnv({ ...options.env, ...withDefaultVariant(options.env), numEnvs: 1, seed: options.seed ?? 1, cleanReset: options.cleanReset ?? true });
  const results: ScriptedEpisode[] = [];
  try {
    env.reset();
    for (let ep = 0; ep < episodes; ep++) {
      env.reset();
      const score = [0, 0];
      let steps = 0;
      for (;;) {
        const r = env.step(env.scriptedActions());
        score[0] += r.rewards[0];
        score[1] += r.rewards[1];
        steps += 1;
        if (r.dones[0] !== 0 || r.dones[1] !== 0) {
          results.push({ score: Math.max(score[0], score[1]), steps, capped: r.maxReached[0] !== 0 && steps === MAX_EPISODE_STEPS });
          break;
        }
      }
    }
  } finally {
    env.dispose();
  }
  const scores = results.map((r) => r.score);
  return {
    scores,
    episodes: results,
    mean_score: scores.reduce((a, s) => a + s, 0) / scores.length,
    capped: results.filter((r) => r.capped).length,
  };
}
