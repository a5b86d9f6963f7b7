// The run's log files across checkpoints: their lengths at a checkpoint, cut back to them on resume, and
// the TensorBoard event file a run writes (and a resumed run appends to).
import { statSync, truncateSync } from "node:fs";
import { join, relative } from "node:path";

import type { Config } from "../config/types.ts";
import { flattenHParams, hparamsMarkdown, TensorBoardSink } from "../log/tensorboard.ts";
import type { SavedState } from "./loop-state.ts";

/** The length of each log file now, keyed by its path relative to the run directory. */
export function logLengths(runDir: string, files: string[]): Record<string, number> {
  return Object.fromEntries(files.map((path) => [relative(runDir, path), statSync(path, { throwIfNoEntry: false })?.size ?? 0]));
}

/** Cuts each log file back to its length at the checkpoint, so the resumed run appends what the
 * uninterrupted run wrote after it instead of repeating rows. */
export function truncateLogs(runDir: string, lengths: Record<string, number>): void {
  for (const [file, bytes] of Object.entries(lengths)) {
    const path = join(runDir, file);
    if ((statSync(path, { throwIfNoEntry: false })?.size ?? 0) > bytes) truncateSync(path, bytes);
  }
}

/** The TensorBoard event file a checkpoint's log positions name, which a resumed run appends to. */
export function savedEventFile(runDir: string, saved: SavedState | null): string | undefined {
  const file = Object.keys(saved?.log?.files ?? {}).find((f) => f.startsWith("tb/"));
  return file === undefined ? undefined : join(runDir, file);
}

/** Tags logged per episode that TensorBoard shows by episode too (`rollout/score_by_episode`). */
const kEpisodeTags = ["rollout/score", "rollout/score_mean100"];

/** The run's metrics that TensorBoard's HPARAMS tab compares across runs (written at the end). */
export const kFinalMetrics = ["final/solved", "final/episodes_to_solve", "final/episodes", "final/best_avg100", "final/eval_mean", "final/eval_min",
  "final/eval_max", "final/check_score", "final/check_episodes", "final/check_confirmed"] as const;

/**
 * The run's event file: scalars by env step, `time/sps` over `elapsed` (the run's wall seconds), and for a new file the hyperparameters as a text
 * table and the HPARAMS session start. The log section is left out of the hyperparameters: it places the
 * output (runsDir differs between runs that train alike), it does not change training.
 */
export function openTensorBoard(config: Config, runDir: string, saved: SavedState | null, elapsed: () => number): TensorBoardSink {
  const sink = new TensorBoardSink(join(runDir, "tb"), savedEventFile(runDir, saved), { stepKey: "time/env_steps", episodeTags: kEpisodeTags, elapsed });
  if (sink.created) {
    const { log: _log, ...trained } = config;
    const hparams = flattenHParams(trained);
    sink.writeText("config", hparamsMarkdown(hparams));
    sink.writeSessionStart(hparams, kFinalMetrics);
  }
  return sink;
}
