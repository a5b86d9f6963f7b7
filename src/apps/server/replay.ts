// A greedy (noise-free) episode of a checkpoint's actors, played natively and returned as per-step
// snapshots of the court: what the dashboard's canvas and `watch --out` animate.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";

import { resolveConfig } from "../../lib/config/resolve.ts";
import type { TennisEnv } from "../../../binding/env.ts";
import type { Config } from "../../lib/config/types.ts";
import { latestCheckpoint, verifyCheckpoint } from "../../lib/trainer/checkpoint.ts";

/** One decision's court: world coordinates (net at x = 0, y up); index 0 = the right-hand racket. */
export interface ReplayFrame {
  ball: [number, number];
  rackets: [[number, number], [number, number]];
  /** Each agent's reward summed so far in the episode. */
  score: [number, number];
}

export interface Replay {
  /** The checkpoint folder that played. */
  checkpoint: string;
  seed: number;
  /** Seconds of game time per frame: one decision = 5 physics ticks of 0.02 s. */
  dt: number;
  /**
   * frames[0] is the serve, frames[i] the court after decision i. When a done ended the episode the
   * last frame repeats the positions before it (the env has already re-served by then) with the
   * final scores.
   */
  frames: ReplayFrame[];
  /** Max over agents of the summed reward (the Udacity score). */
  score: number;
  /** Why the episode ended: a done from the env, or the maxSteps cut. */
  ended: "done" | "maxSteps";
}

/** Decision length in seconds (kTicksPerStep x 0.02 s in native/core/env/tennis.h). */
export const kStepSeconds = 0.1;
/** Decisions per episode at most (the env's own cap). */
export const kMaxReplaySteps = 1001;

export interface ReplayOptions {
  /** Seed of the env (default: the config's evaluation seed, config.seed + 1000003, as greedyEpisodes). */
  seed?: number;
  /** Decisions to play at most; integer in [1, 1001]. Default 1001. */
  maxSteps?: number;
}

/**
 * Finds what `dir` (a run directory or one of its checkpoint folders) stands for: the latest complete
 * checkpoint and the run's resolved config. Throws Error with a readable message otherwise.
 */
export function locateCheckpoint(dir: string): { checkpoint: string; config: Config } {
  const checkpoint = latestCheckpoint(dir);
  if (!checkpoint) throw new Error(`No complete checkpoint in ${dir} (expected a run directory or a checkpoint folder holding COMPLETE)`);
  verifyCheckpoint(checkpoint);
  const candidates = [join(dir, "config.json"), join(dirname(dirname(checkpoint)), "config.json")];
  const configPath = candidates.find((p) => existsSync(p));
  if (!configPath) throw new Error(`No config.json for checkpoint ${checkpoint} (looked at ${candidates.join(", ")})`);
  const config = resolveConfig({ fileObject: JSON.parse(readFileSync(configPath, "utf8")) });
  return { checkpoint, config };
}

const round = (v: number) => Math.round(v * 1e4) / 1e4;

/** One replay frame of an env's state, with the rackets' summed rewards (the env clears its own score
 * when an episode ends), positions rounded to 1e-4. */
export function replayFrame(s: ReturnType<TennisEnv["state"]>, totals: number[]): ReplayFrame {
  return {
    ball: [round(s.ballX), round(s.ballY)],
    rackets: [
      [round(s.racketX[0]), round(s.racketY[0])],
      [round(s.racketX[1]), round(s.racketY[1])],
    ],
    score: [round(totals[0]), round(totals[1])],
  };
}

// One replay at a time: each loads a learner, and parallel requests would only compete for the CPU.
let chain: Promise<unknown> = Promise.resolve();

/** Plays one greedy episode of the latest checkpoint under `dir` with the run's env options. */
export function playGreedyEpisode(dir: string, options: ReplayOptions = {}): Promise<Replay> {
  const run = chain.then(() => play(dir, options));
  chain = run.catch(() => undefined);
  return run;
}

async function play(dir: string, options: ReplayOptions): Promise<Replay> {
  const { checkpoint, config } = locateCheckpoint(dir);
  const seed = options.seed ?? config.seed + 1_000_003;
  const maxSteps = options.maxSteps ?? kMaxReplaySteps;
  if (!Number.isInteger(seed) || seed < 0 || seed > 2 ** 32 - 1) throw new RangeError(`Expected integer in [0, 4294967295] for seed but received ${seed}`);
  if (!Number.isInteger(maxSteps) || maxSteps < 1 || maxSteps > kMaxReplaySteps) {
    throw new RangeError(`Expected integer in [1, ${kMaxReplaySteps}] for maxSteps but received ${maxSteps}`);
  }
  // Loaded on first use: the server starts (and serves runs' files) without the native addon.
  const [{ TennisEnv }, { Maddpg }, { maddpgOptions }, { envVariant }, { loadObsNorm }] = await Promise.all([
    import("../../../binding/env.ts"),
    import("../../../binding/maddpg.ts"),
    import("../../lib/trainer/maddpg-options.ts"),
    import("../../lib/env/vec-env.ts"),
    import("../../lib/trainer/loop-state.ts"),
  ]);
  const agent = new Maddpg(maddpgOptions(config));
  const env = new TennisEnv({ numEnvs: 1, seed, ...envVariant(config) });
  try {
    await agent.load(join(checkpoint, "agent.pt"));
    const frames: ReplayFrame[] = [];
    // Summed here rather than read from the state: the env clears its score when the episode ends.
    const totals = [0, 0];
    const snapshot = () => frames.push(replayFrame(env.state(0), totals));
    const actions = new Float32Array(4);
    const norm = loadObsNorm(checkpoint);
    const seen = new Float32Array(48);
    let obs = env.reset();
    snapshot();
    let ended: Replay["ended"] = "maxSteps";
    for (let step = 0; step < maxSteps; step++) {
      agent.act(norm ? norm.normalize(obs, seen) : obs, actions, false);
      const result = env.step(actions);
      totals[0] += result.rewards[0];
      totals[1] += result.rewards[1];
      if (result.dones[0] !== 0 || result.dones[1] !== 0) {
        // The env has already reset (rackets placed, ball served) when it reports done, so the state
        // now shows the next episode: end on the last in-play positions, with the final scores.
        const previous = frames[frames.length - 1];
        frames.push({ ball: [...previous.ball], rackets: [[...previous.rackets[0]], [...previous.rackets[1]]], score: [round(totals[0]), round(totals[1])] });
        ended = "done";
        break;
      }
      snapshot();
      obs = result.obs;
    }
    return { checkpoint, seed, dt: kStepSeconds, frames, score: round(Math.max(totals[0], totals[1])), ended };
  } finally {
    env.dispose();
    agent.dispose();
  }
}
