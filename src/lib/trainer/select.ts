// Policy selection (train.selectEvery > 0): every few episodes the current policy plays a short greedy
// check on serves of its own (seeded by the episode, so no two checks replay the same starts), and the
// learner of the best check is kept; at the end of the run it becomes the final policy when it beat the
// last one. A short check that reaches train.polishTarget is confirmed over train.confirmEpisodes more
// episodes and scores their mean: among many 20-episode checks, a policy that misses one return in ten
// scores 2.6 now and then, and a fixed set of starts lets selection fit those starts. Checks play on an
// env of their own, so the training trajectory is the same with selection on or off; they count in the
// wall time, not in the episodes. The kept learner and its observation statistics are checkpointed, so
// a resumed run selects as an uninterrupted one would.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

import type { Maddpg } from "../../../binding/maddpg.ts";
import type { Config } from "../config/types.ts";
import { CheckpointError } from "./checkpoint.ts";
import { evalConfig, greedyEpisodes } from "./evaluate.ts";
import type { Selection } from "./loop-state.ts";
import { RunningNorm } from "./normalize.ts";
import { writeJson } from "./run-dir.ts";

/** Seed offsets of the check and confirmation episodes (apart from training envs and the final
 * evaluation's); the check's episode is added, so each check plays other starts. */
const kCheckSeedOffset = 2_000_003;
const kConfirmSeedOffset = 3_000_017;

/** One check: after which episode, its greedy score, and over how many episodes. */
interface Check {
  episode: number;
  score: number;
  episodes: number;
}

interface Kept extends Check {
  params: Float32Array;
  norm: ReturnType<RunningNorm["toJSON"]> | null;
}

/** Plays `episodes` greedy episodes of a policy on an env seeded `seed` and returns their mean score. */
export type CheckPlayer = (agent: Maddpg, norm: RunningNorm | null, episodes: number, seed: number) => number;

export class PolicySelector {
  #kept: Kept | null = null;
  #last: Check | null = null;

  readonly #play: CheckPlayer;

  /** `play` defaults to greedy episodes on the run's evaluation env (evalConfig). */
  constructor(private readonly config: Config, play?: CheckPlayer) {
    this.#play = play ?? ((agent, norm, episodes, seed) => greedyEpisodes(agent, evalConfig(config), episodes, seed, norm).mean_score);
  }

  /** The best check's score so far (-Infinity before the first). */
  get bestScore(): number {
    return this.#kept?.score ?? -Infinity;
  }

  /** Whether a check is due after `episodes` episodes (a multiple of selectEvery was crossed). */
  due(episodes: number, finishedNow: number): boolean {
    const every = this.config.train.selectEvery;
    return Math.floor(episodes / every) > Math.floor((episodes - finishedNow) / every);
  }

  /** Plays the check with the current policy after `episode` episodes; keeps it when it is the best so far
   * (ties go to the later policy). Returns the check's score. */
  check(agent: Maddpg, norm: RunningNorm | null, episode: number): number {
    const check = this.#score(agent, norm, episode);
    this.#last = check;
    if (this.#kept === null || check.score >= this.#kept.score) {
      this.#kept = { ...check, params: agent.getParameters(), norm: norm?.toJSON() ?? null };
    }
    return check.score;
  }

  /** The short check after `episode`, confirmed over train.confirmEpisodes when it reaches the polish target. */
  #score(agent: Maddpg, norm: RunningNorm | null, episode: number): Check {
    const { selectEpisodes, confirmEpisodes, polishTarget } = this.config.train;
    const score = this.#play(agent, norm, selectEpisodes, this.config.seed + kCheckSeedOffset + episode);
    if (confirmEpisodes === 0 || polishTarget === 0 || score < polishTarget) return { episode, score, episodes: selectEpisodes };
    const confirmed = this.#play(agent, norm, confirmEpisodes, this.config.seed + kConfirmSeedOffset + episode);
    return { episode, score: confirmed, episodes: confirmEpisodes };
  }

  /** At the end of a run: checks the last policy (unless just checked) and puts the kept one back into
   * `agent` when it scored higher. Returns the observation statistics that go with the final policy. */
  finish(agent: Maddpg, norm: RunningNorm | null, episode: number): { selection: Selection | null; norm: RunningNorm | null } {
    const last = this.#last?.episode === episode ? this.#last : this.#score(agent, norm, episode);
    const kept = this.#kept;
    if (kept === null || kept.score <= last.score) {
      return { selection: { episode, check_score: last.score, check_episodes: last.episodes, restored: false }, norm };
    }
    agent.setParameters(kept.params);
    return {
      selection: { episode: kept.episode, check_score: kept.score, check_episodes: kept.episodes, restored: true },
      norm: kept.norm ? RunningNorm.fromJSON(kept.norm) : null,
    };
  }

  /** Writes the kept learner into a checkpoint folder. */
  save(dir: string): void {
    if (this.#kept === null) return;
    const { params, ...rest } = this.#kept;
    writeJson(join(dir, "select.json"), { ...rest, last: this.#last });
    writeFileSync(join(dir, "select.bin"), new Uint8Array(params.buffer, params.byteOffset, params.byteLength));
  }

  /** Reads what save() wrote (nothing kept when the folder has none); `parameterCount` is the learner's,
   * which select.bin must hold (CheckpointError otherwise, so a damaged file is never carried on). */
  load(dir: string, parameterCount: number): void {
    const path = join(dir, "select.json");
    if (!existsSync(path)) return;
    let saved: Omit<Kept, "params"> & { last: Check | null };
    try {
      saved = JSON.parse(readFileSync(path, "utf8"));
    } catch (err) {
      throw new CheckpointError(dir, "select.json", `not valid JSON (${(err as Error).message})`);
    }
    const bytes = readFileSync(join(dir, "select.bin"));
    if (bytes.byteLength !== parameterCount * 4) {
      throw new CheckpointError(dir, "select.bin", `${bytes.byteLength} bytes, expected ${parameterCount * 4} (${parameterCount} float32 parameters of the kept policy)`);
    }
    const params = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
    // Checkpoints from before confirmation did not record a check's length: it was train.selectEpisodes.
    const episodes = saved.episodes ?? this.config.train.selectEpisodes;
    this.#kept = { episode: saved.episode, score: saved.score, episodes, norm: saved.norm, params };
    this.#last = saved.last && { ...saved.last, episodes: saved.last.episodes ?? this.config.train.selectEpisodes };
  }
}
