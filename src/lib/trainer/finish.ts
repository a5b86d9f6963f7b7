// The end of a run, after its last checkpoint: the final evaluation, the plots and summary.json; and
// `--resume` of a run whose final checkpoint exists, which completes only what that end left undone.
import { readFileSync } from "node:fs";
import { join } from "node:path";

import { Maddpg } from "../../../binding/maddpg.ts";
import type { Config } from "../config/types.ts";
import { writeRunPlots } from "../log/plot.ts";
import { TensorBoardSink } from "../log/tensorboard.ts";
import { polishes, shortfallLine } from "./console.ts";
import { evalConfig, greedyEpisodes } from "./evaluate.ts";
import { killPoint } from "./kill-point.ts";
import type { LoopState, RecentStats, SavedState, Selection, StopReason } from "./loop-state.ts";
import { maddpgOptions } from "./maddpg-options.ts";
import { RunningNorm } from "./normalize.ts";
import { kFinalMetrics, savedEventFile, truncateLogs } from "./run-logs.ts";
import { writeJson } from "./run-dir.ts";
import { ScoreTracker } from "./scores.ts";

/** What summary.json holds. */
export interface TrainSummary {
  solved: boolean;
  episodes_to_solve: number | null;
  episodes: number;
  /** Wall seconds of the whole run (with train.polishTarget, past the solving episode too). */
  wall_s: number;
  /** Wall seconds, env steps and updates when the run solved (null: not solved). */
  at_solve: { wall_s: number; env_steps: number; updates: number } | null;
  best_avg100: number | null;
  env_steps: number;
  updates: number;
  stopped: StopReason;
  final_eval: { episodes: number; mean: number; min: number; max: number } | null;
  /** The final policy's check (train.selectEvery): after which episode, its score, whether it was restored. */
  selection: Selection | null;
  /** A solved run that polished: train.polishTarget and whether the final policy's check reached it. */
  polish?: { target: number; reached: boolean };
  diagnostics: { dead_gradient_alarms: number; actor_resets: number; mean_saturation: number | null; last_q_mean: number | null; recent: RecentStats | null };
  run_dir: string;
}

/** What the end of a run needs: its final policy and bookkeeping. */
export interface RunEnd {
  config: Config;
  runDir: string;
  agent: Maddpg;
  norm: RunningNorm | null;
  state: LoopState;
  tracker: ScoreTracker;
  stopped: StopReason;
  selection: Selection | null;
  wallSeconds: () => number;
  say: (line: string) => void;
  /** The run's event file, which gets the final metrics and the HPARAMS session end. */
  tensorboard: TensorBoardSink | null;
}

/** The end of a run after its last checkpoint: the final evaluation, the plots, then summary.json
 * (written last, so its presence means the run's end is complete). */
export async function finishRun({ config, runDir, agent, norm, state, tracker, stopped, selection, wallSeconds, say, tensorboard }: RunEnd): Promise<TrainSummary> {
  const t = config.train;
  let finalEval: TrainSummary["final_eval"] = null;
  if (t.evalEpisodes > 0 && stopped !== "nan") {
    killPoint("final-eval");
    const { scores, mean_score } = greedyEpisodes(agent, evalConfig(config), t.evalEpisodes, config.seed + 1_000_003, norm);
    finalEval = { episodes: scores.length, mean: mean_score, min: Math.min(...scores), max: Math.max(...scores) };
  }
  const summary: TrainSummary = {
    solved: tracker.solvedAt !== null,
    episodes_to_solve: tracker.solvedAt,
    episodes: state.episodes,
    wall_s: Number(wallSeconds().toFixed(2)),
    at_solve: state.atSolve ?? null,
    best_avg100: Number.isFinite(tracker.bestAverage) ? tracker.bestAverage : null,
    env_steps: state.envSteps,
    updates: state.updates,
    stopped,
    final_eval: finalEval,
    selection,
    ...(polishes(t) && tracker.solvedAt !== null && selection && { polish: { target: t.polishTarget, reached: selection.check_score >= t.polishTarget } }),
    diagnostics: {
      dead_gradient_alarms: state.deadAlarms,
      actor_resets: state.actorResets,
      mean_saturation: state.saturationCount ? state.saturationSum / state.saturationCount : null,
      last_q_mean: state.lastQMean,
      recent: state.recent,
    },
    run_dir: runDir,
  };
  tensorboard?.writeSessionEnd(finalMetrics(config, summary), state.envSteps, stopped === "nan" || stopped === "dead_gradients" ? "failure" : "success");
  await writeRunPlots(runDir, { scores: state.scores, averages: state.averages, target: t.targetScore, window: t.window, episodes: state.episodes, solvedAt: tracker.solvedAt });
  killPoint("summary");
  writeJson(join(runDir, kSummaryFile), summary);
  const solve = summary.at_solve;
  if (!solve) say(`Not solved after ${summary.episodes} episodes (best 100-episode average ${summary.best_avg100 ?? "n/a"}).`);
  else {
    say(`Solved in ${summary.episodes_to_solve} episodes (${solve.wall_s} s, ${solve.env_steps} env steps, ${solve.updates} updates).`);
    if (summary.episodes > summary.episodes_to_solve!) say(`Trained on to episode ${summary.episodes} (${summary.wall_s} s in all).`);
  }
  if (finalEval) {
    say(`Greedy evaluation of the final policy: mean ${finalEval.mean.toFixed(3)} over ${finalEval.episodes} episodes (min ${finalEval.min.toFixed(2)}, max ${finalEval.max.toFixed(2)}).`);
  }
  const shortfall = shortfallLine(config, selection, summary.episodes, tracker.solvedAt);
  if (shortfall) say(shortfall);
  return summary;
}

const kSummaryFile = "summary.json";

/**
 * `--resume` of a run whose final checkpoint exists: nothing is trained and no checkpoint changes. When
 * summary.json belongs to that checkpoint the run is complete and is left as it is; otherwise the run was
 * stopped between its final checkpoint and its summary, and only the final evaluation, scores.png and
 * summary.json are made, from the final checkpoint's policy, as the uninterrupted run made them.
 */
export async function resumeFinishedRun(config: Config, runDir: string, checkpointDir: string, saved: SavedState, say: (line: string) => void): Promise<TrainSummary> {
  const { stopped, selection } = saved.final!;
  const done = readSummary(runDir);
  if (done && done.env_steps === saved.envSteps && done.stopped === stopped) {
    say(`${runDir} is finished (${stopped} after episode ${saved.episodes}); nothing to resume.`);
    return done;
  }
  say(`${runDir} stopped after its final checkpoint (episode ${saved.episodes}): finishing its final evaluation and summary.`);
  const started = Date.now();
  const agent = new Maddpg(maddpgOptions(config));
  try {
    await agent.load(join(checkpointDir, "agent.pt"));
    // What the stopped end wrote after the final checkpoint (its final TensorBoard events) is written again.
    truncateLogs(runDir, saved.log?.files ?? {});
    return await finishRun({
      config, runDir, agent, stopped, selection, say,
      norm: config.train.normalizeObs && saved.norm ? RunningNorm.fromJSON(saved.norm) : null,
      state: { ...kNoDiagnostics, ...saved },
      tracker: ScoreTracker.fromJSON(saved.tracker, config.train.window, config.train.targetScore),
      wallSeconds: () => saved.wallBefore + (Date.now() - started) / 1000,
      tensorboard: config.log.tensorboard ? new TensorBoardSink(join(runDir, "tb"), savedEventFile(runDir, saved)) : null,
    });
  } finally {
    agent.dispose();
  }
}

/** The diagnostics of a checkpoint written before they were saved. */
const kNoDiagnostics: Pick<LoopState, "saturationSum" | "saturationCount" | "lastQMean" | "recent"> = { saturationSum: 0, saturationCount: 0, lastQMean: null, recent: null };

/** For a checkpoint written before checkpoints marked the end of a run: the end its run's summary.json
 * reports when the summary belongs to the checkpoint (same env steps) and the run was not interrupted. */
export function finalFromSummary(runDir: string, saved: LoopState): SavedState["final"] {
  const summary = readSummary(runDir);
  if (!summary || summary.env_steps !== saved.envSteps || summary.stopped === "interrupted") return undefined;
  return { stopped: summary.stopped, selection: summary.selection };
}

/** summary.json of a run, or null when there is none or it cannot be read. */
function readSummary(runDir: string): TrainSummary | null {
  try {
    return JSON.parse(readFileSync(join(runDir, kSummaryFile), "utf8")) as TrainSummary;
  } catch {
    return null;
  }
}

/** The final metrics of a run (those it has: no evaluation, no check, not solved leave theirs out). */
function finalMetrics(config: Config, summary: TrainSummary): Partial<Record<(typeof kFinalMetrics)[number], number>> {
  const { final_eval: evaluation, selection } = summary;
  return {
    "final/solved": summary.solved ? 1 : 0,
    "final/episodes": summary.episodes,
    ...(summary.episodes_to_solve !== null && { "final/episodes_to_solve": summary.episodes_to_solve }),
    ...(summary.best_avg100 !== null && { "final/best_avg100": summary.best_avg100 }),
    ...(evaluation && { "final/eval_mean": evaluation.mean, "final/eval_min": evaluation.min, "final/eval_max": evaluation.max }),
    ...(selection && {
      "final/check_score": selection.check_score,
      "final/check_episodes": selection.check_episodes,
      // A check confirmed over train.confirmEpisodes scores their mean (see select.ts).
      "final/check_confirmed": config.train.confirmEpisodes > 0 && selection.check_episodes === config.train.confirmEpisodes ? 1 : 0,
    }),
  };
}
