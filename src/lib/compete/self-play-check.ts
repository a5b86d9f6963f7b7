// Greedy checks of a self-play learner: matches (src/lib/compete/match.ts) of the live learner against
// random play and against its first snapshot, all points of a check played in parallel envs.
import type { TennisEnv } from "../../../binding/env.ts";
import { JOINT_ACTION, JOINT_OBS, type Maddpg } from "../../../binding/maddpg.ts";
import { RunningNorm } from "../trainer/normalize.ts";
import { createPlayer, kDefaultMatchEnvs, parsePlayerSpec, runMatch, type Player } from "./match.ts";

/** A learner's greedy actors on its observation statistics, as a match player; it frees the learner
 * on dispose() only when it owns it. */
export class LearnerPlayer implements Player {
  private readonly normalized: Float32Array;
  private readonly actions: Float32Array;

  constructor(
    readonly label: string,
    private readonly learner: Maddpg,
    private readonly norm: RunningNorm | null,
    numEnvs: number,
    private readonly owned = false,
  ) {
    this.normalized = new Float32Array(numEnvs * JOINT_OBS);
    this.actions = new Float32Array(numEnvs * JOINT_ACTION);
  }

  act(_env: TennisEnv, obs: Float32Array): Float32Array {
    return this.learner.act(this.norm ? this.norm.normalize(obs, this.normalized) : obs, this.actions, false);
  }

  dispose(): void {
    if (this.owned) this.learner.dispose();
  }
}

/** Points won, lost and drawn (the 1001-step cap) by the learner. */
export interface PointsResult {
  points: number;
  wins: number;
  losses: number;
  draws: number;
  /** wins / points. */
  winRate: number;
}

/** Envs a check plays on: its points, up to the match command's default. */
export function checkEnvs(points: number): number {
  return Math.min(points, kDefaultMatchEnvs);
}

/** `points` points of `player` against `opponent` (the learner on each side in half), env i seeded seed + i,
 * on the observations the learner was trained on. */
export function playPoints(player: Player, opponent: Player, points: number, seed: number, observeBallVelocity = false): PointsResult {
  const result = runMatch(player, opponent, { episodes: points, seed, envs: checkEnvs(points), observeBallVelocity });
  return { points, wins: result.wins, losses: result.losses, draws: result.draws, winRate: result.wins / points };
}

/** The match command's random player (uniform actions), seeded. */
export function randomPlayer(points: number, seed: number): Promise<Player> {
  return createPlayer(parsePlayerSpec("random"), checkEnvs(points), seed);
}

/** A RunningNorm from saved statistics (null stays null). */
export function normOf(state: ReturnType<RunningNorm["toJSON"]> | null | undefined): RunningNorm | null {
  return state ? RunningNorm.fromJSON(state) : null;
}
