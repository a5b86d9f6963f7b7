// Greedy checks of a self-play learner: matches (src/lib/compete/match.ts) of the live learner against
// random play, its first snapshot and the scripted competitive controller, all points of a check played in parallel envs.
import { RunningNorm } from "../trainer/normalize.ts";
import { createPlayer, kDefaultMatchEnvs, parsePlayerSpec, runMatch, type Player } from "./match.ts";

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

/** The match command's scripted competitive controller. */
export function scriptedPlayer(): Promise<Player> {
  return createPlayer(parsePlayerSpec("scripted"), 1, 0);
}

/** A RunningNorm from saved statistics (null stays null). */
export function normOf(state: ReturnType<RunningNorm["toJSON"]> | null | undefined): RunningNorm | null {
  return state ? RunningNorm.fromJSON(state) : null;
}
