// Policy selection (train.selectEvery > 0): every few episodes the current policy plays a short greedy
// check, the same few episodes each time, and the learner of the best check is kept; at the end of the
// run it becomes the final policy when it beat the last one. Checks play on an env of their own, so the
// training trajectory is the same with selection on or off; they count in the wall time, not in the
// episodes. The kept learner and its observation statistics are checkpointed, so a resumed run selects
// as an uninterrupted one would.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

import type { Maddpg } from "../../binding/maddpg.ts";
import type { Config } from "../config/types.ts";
import { evalConfig, greedyEpisodes } from "./evaluate.ts";
import { RunningNorm } from "./normalize.ts";
import { writeJson } from "./run-dir.ts";

/** Seed offset of the check episodes (apart from training envs and the final evaluation's). */
const kCheckSeedOffset = 2_000_003;

/** One check: after which episode, and its greedy score. */
interface Check {
  episode: number;
  score: number;
}

interface Kept {
  episode: number;
  score: number;
  params: Float32Array;
  norm: ReturnType<RunningNorm["toJSON"]> | null;
}

export interface Selection {
  /** Episode after which the final policy was checked. */
  episode: number;
  /** Its greedy check score (mean over train.selectEpisodes episodes). */
  check_score: number;
  /** Whether it replaced the policy the run ended with. */
  restored: boolean;
}

/** Plays the greedy check of a policy and returns its mean score. */
export type CheckPlayer = (agent: Maddpg, norm: RunningNorm | null) => number;

export class PolicySelector {
  #kept: Kept | null = null;
  #last: Check | null = null;

  readonly #play: CheckPlayer;

  /** `play` defaults to train.selectEpisodes greedy episodes on an env seeded apart from the others. */
  constructor(private readonly config: Config, play?: CheckPlayer) {
    this.#play = play ?? ((agent, norm) =>
      greedyEpisodes(agent, evalConfig(config), config.train.selectEpisodes, config.seed + kCheckSeedOffset, norm).mean_score);
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
    const score = this.#play(agent, norm);
    this.#last = { episode, score };
    if (this.#kept === null || score >= this.#kept.score) {
      this.#kept = { episode, score, params: agent.getParameters(), norm: norm?.toJSON() ?? null };
    }
    return score;
  }

  /** At the end of a run: checks the last policy (unless just checked) and puts the kept one back into
   * `agent` when it scored higher. Returns the observation statistics that go with the final policy. */
  finish(agent: Maddpg, norm: RunningNorm | null, episode: number): { selection: Selection | null; norm: RunningNorm | null } {
    const lastScore = this.#last?.episode === episode ? this.#last.score : this.#play(agent, norm);
    const kept = this.#kept;
    if (kept === null || kept.score <= lastScore) return { selection: { episode, check_score: lastScore, restored: false }, norm };
    agent.setParameters(kept.params);
    return {
      selection: { episode: kept.episode, check_score: kept.score, restored: true },
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

  /** Reads what save() wrote (nothing kept when the folder has none). */
  load(dir: string): void {
    const path = join(dir, "select.json");
    if (!existsSync(path)) return;
    const saved = JSON.parse(readFileSync(path, "utf8")) as Omit<Kept, "params"> & { last: Check | null };
    const bytes = readFileSync(join(dir, "select.bin"));
    const params = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
    this.#kept = { episode: saved.episode, score: saved.score, norm: saved.norm, params };
    this.#last = saved.last;
  }
}
