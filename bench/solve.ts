// `tennis-train bench solve`: one training run per seed with one config, a row per seed and the medians.
import type { Config } from "../src/lib/config/types.ts";
import { train, type TrainSummary } from "../src/lib/trainer/train.ts";

export interface SolveRow {
  seed: number;
  solved: boolean;
  episodes_to_solve: number | null;
  /** Wall seconds, env steps and updates until solved (the whole run when unsolved). */
  wall_s: number;
  env_steps: number;
  updates: number;
  /** Wall seconds of the whole run (longer than wall_s when train.polishTarget trains on). */
  total_wall_s: number;
  /** Episodes of the whole run (past the solving episode when train.polishTarget trains on). */
  episodes: number;
  final_eval_mean: number | null;
  /** Whether the final policy's check reached train.polishTarget (null: the run did not polish). */
  polish_reached: boolean | null;
  run_dir: string;
}

export interface SolveBenchResult {
  runs: SolveRow[];
  solved_count: number;
  /** Median over seeds of episodes to solve; unsolved runs count as their episode budget (so a median that is
   * not null with solved_count < half the seeds still says "worse than this"). */
  median_episodes: number | null;
  median_wall_s: number | null;
  /** Median over seeds of the whole run's wall seconds (polishing and final evaluation included). */
  median_total_wall_s: number | null;
  /** Lowest final evaluation mean over the seeds (null without train.evalEpisodes). */
  min_final_eval: number | null;
}

/** Parses "0-4", "0,2,5" or "3" into a list of seeds. */
export function parseSeeds(text: string): number[] {
  const seeds: number[] = [];
  for (const part of text.split(",")) {
    const range = /^\s*(\d+)\s*-\s*(\d+)\s*$/.exec(part);
    if (range) {
      const [lo, hi] = [Number(range[1]), Number(range[2])];
      if (hi < lo) throw new TypeError(`Expected an ascending seed range but received "${part}"`);
      for (let s = lo; s <= hi; s++) seeds.push(s);
    } else if (/^\s*\d+\s*$/.test(part)) seeds.push(Number(part));
    else throw new TypeError(`Expected seeds like 0-4 or 0,1,2 but received "${text}"`);
  }
  return seeds;
}

export function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Trains once per seed (sequentially: each run uses config.threads cores). */
export async function benchSolve(config: Config, seeds: number[], onRun?: (row: SolveRow) => void): Promise<SolveBenchResult> {
  const runs: SolveRow[] = [];
  for (const seed of seeds) {
    const summary: TrainSummary = await train({ ...config, seed }, { quiet: true });
    const row: SolveRow = {
      seed,
      solved: summary.solved,
      episodes_to_solve: summary.episodes_to_solve,
      wall_s: summary.at_solve?.wall_s ?? summary.wall_s,
      env_steps: summary.at_solve?.env_steps ?? summary.env_steps,
      updates: summary.at_solve?.updates ?? summary.updates,
      total_wall_s: summary.wall_s,
      episodes: summary.episodes,
      final_eval_mean: summary.final_eval?.mean ?? null,
      polish_reached: summary.polish?.reached ?? null,
      run_dir: summary.run_dir,
    };
    runs.push(row);
    onRun?.(row);
  }
  const budget = config.train.episodes;
  return {
    runs,
    solved_count: runs.filter((r) => r.solved).length,
    median_episodes: median(runs.map((r) => r.episodes_to_solve ?? budget)),
    median_wall_s: median(runs.map((r) => r.wall_s)),
    median_total_wall_s: median(runs.map((r) => r.total_wall_s)),
    min_final_eval: runs.some((r) => r.final_eval_mean === null) ? null : Math.min(...runs.map((r) => r.final_eval_mean!)),
  };
}

export function formatSolveRow(r: SolveRow): string {
  const eps = r.episodes_to_solve === null ? "-" : String(r.episodes_to_solve);
  const evalText = r.final_eval_mean === null ? "" : `  eval ${r.final_eval_mean.toFixed(2)}`;
  const totalText = r.total_wall_s > r.wall_s ? `  whole run ${r.episodes} episodes ${r.total_wall_s.toFixed(1)} s` : "";
  const polishText = r.polish_reached === false ? "  (below the polish target)" : "";
  return `seed ${String(r.seed).padStart(3)}  ${r.solved ? "solved" : "unsolved"}  episodes ${eps.padStart(5)}  wall ${r.wall_s.toFixed(1).padStart(7)} s  env steps ${String(r.env_steps).padStart(8)}  updates ${String(r.updates).padStart(8)}${totalText}${evalText}${polishText}`;
}
