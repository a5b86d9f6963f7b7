// The number a trial is ranked by (lower is better): episodes to solve, or wall seconds to solve,
// per seed, then averaged over the seeds.
import type { Objective } from "./store.ts";

/** What the objective needs from one finished training run. */
export interface RunOutcome {
  solved: boolean;
  episodesToSolve: number | null;
  /** Episodes the run went through. */
  episodes: number;
  wallS: number | null;
  /** Best moving average reached (null when unknown). */
  bestAverage: number | null;
}

/**
 * One seed's objective. A solved run counts its episodes (or seconds) to solve. An unsolved run is
 * penalised as if it had used its whole episode budget twice over, less the share of the target
 * score it reached, so unsolved runs still rank by how close they came:
 *   episodes: budget x (2 - progress)
 *   wall:     (wall time scaled to the whole budget) x (2 - progress)
 * with progress = clamp(best average / target, 0, 1). Unsolved runs never beat a solved run on episodes.
 */
export function seedObjective(objective: Objective, run: RunOutcome, budget: number, target: number): number {
  const progress = target > 0 && run.bestAverage !== null ? Math.min(1, Math.max(0, run.bestAverage / target)) : 0;
  if (objective === "episodes") return run.solved && run.episodesToSolve !== null ? run.episodesToSolve : budget * (2 - progress);
  const wall = run.wallS ?? 0;
  if (run.solved) return wall;
  // A run that stopped early (a NaN loss) must not look cheap: its time is scaled to the whole budget.
  const fullWall = run.episodes > 0 ? (wall * Math.max(budget, run.episodes)) / run.episodes : wall;
  return fullWall * (2 - progress);
}

export function mean(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}
