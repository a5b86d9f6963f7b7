// The Udacity notebook's random-agent cell on the built-in Tennis: per episode, reset, act with
// clipped standard-normal actions until done, report the max-over-agents score and the step count.
import { TennisEnv, type TennisEnvOptions } from "../../../binding/env.ts";
import { Rng } from "../util/rng.ts";
import { withDefaultVariant } from "./vec-env.ts";

/** Seeded standard-normal numbers (mulberry32 uniforms, Box-Muller pairs); deterministic per seed. */
export class NormalRng {
  private readonly rng: Rng;
  private spare: number | null = null;

  constructor(seed: number) {
    this.rng = new Rng((Math.imul(seed >>> 0, 0x9e3779b1) ^ 0x6d2b79f5) >>> 0);
  }

  /** Uniform in (0, 1) (open: the log of Box-Muller stays finite). */
  uniform(): number {
    return (this.rng.nextU32() + 0.5) / 4294967296;
  }

  normal(): number {
    if (this.spare !== null) {
      const z = this.spare;
      this.spare = null;
      return z;
    }
    const r = Math.sqrt(-2 * Math.log(this.uniform()));
    const phi = 2 * Math.PI * this.uniform();
    this.spare = r * Math.sin(phi);
    return r * Math.cos(phi);
  }

  /** Fills out with normal numbers clipped to [-1, 1] (np.clip(np.random.randn(...), -1, 1)). */
  fillClipped(out: Float32Array): Float32Array {
    for (let i = 0; i < out.length; i++) out[i] = Math.min(1, Math.max(-1, this.normal()));
    return out;
  }
}

export interface RandomPlayOptions {
  /** Episodes to play; integer >= 1. Default 5 (the notebook's cell). */
  episodes?: number;
  /** Seeds the env (Unity seed) and the action noise. Default 0. */
  seed?: number;
  /** Env variants (cleanReset, observeBallVelocity, fixLastHitter, mode); default the faithful build. */
  env?: Partial<Omit<TennisEnvOptions, "numEnvs" | "seed" | "autoReset" | "threads">>;
}

export interface EpisodeSummary {
  /** Max over the two agents of the summed reward. */
  score: number;
  /** env.step calls until done. */
  steps: number;
}

export interface RandomPlayResult {
  episodes: EpisodeSummary[];
  mean_steps: number;
  min_steps: number;
  max_steps: number;
  mean_score: number;
  /** Share of episodes that lasted exactly 14 steps (an untouched serve after a faithful reset). */
  share_14_steps: number;
  /** Episodes per score (scores rounded to 2 decimals), ascending. */
  histogram: { score: number; count: number }[];
}

/** Plays the notebook's random agent: one env, env.reset() before every episode. */
export function randomPlay(options: RandomPlayOptions = {}): RandomPlayResult {
  const episodes = options.episodes ?? 5;
  const seed = options.seed ?? 0;
  if (!Number.isInteger(episodes) || episodes < 1) throw new TypeError(`Expected integer >= 1 for episodes but received ${episodes}`);
  const env = new TennisEnv({ ...options.env, ...withDefaultVariant(options.env), numEnvs: 1, seed });
  const rng = new NormalRng(seed);
  const actions = new Float32Array(4);
  const results: EpisodeSummary[] = [];
  try {
    env.reset(); // start-up reset, as `env = UnityEnvironment(...)` then the loop's first reset
    for (let ep = 0; ep < episodes; ep++) {
      env.reset();
      const score = [0, 0];
      let steps = 0;
      for (;;) {
        const r = env.step(rng.fillClipped(actions));
        score[0] += r.rewards[0];
        score[1] += r.rewards[1];
        steps += 1;
        if (r.dones[0] !== 0 || r.dones[1] !== 0) break;
      }
      results.push({ score: Math.max(score[0], score[1]), steps });
    }
  } finally {
    env.dispose();
  }
  return summarize(results);
}

/** The statistics of a list of episodes. */
export function summarize(episodes: EpisodeSummary[]): RandomPlayResult {
  const steps = episodes.map((e) => e.steps);
  const counts = new Map<number, number>();
  for (const e of episodes) {
    const key = Math.round(e.score * 100) / 100;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const n = episodes.length;
  return {
    episodes,
    mean_steps: steps.reduce((a, s) => a + s, 0) / n,
    min_steps: Math.min(...steps),
    max_steps: Math.max(...steps),
    mean_score: episodes.reduce((a, e) => a + e.score, 0) / n,
    share_14_steps: steps.filter((s) => s === 14).length / n,
    histogram: [...counts.entries()].sort((a, b) => a[0] - b[0]).map(([score, count]) => ({ score, count })),
  };
}
