// Median pruning (the median stopping rule of Optuna's MedianPruner): at each checkpoint a trial reports
// its moving average; once enough trials are complete, a trial whose average is below the median of
// the complete trials' averages at the same checkpoint is stopped early.
// Unlike Optuna, the trial's current value is compared, not its best so far: in Tennis the average
// of the random warm-up episodes is often higher than what follows, so a best-so-far rule would
// shield every trial that collapses after warm-up. The moving average is already smoothed.
import type { PrunerSettings } from "./space.ts";

/** Whether `episode` is a checkpoint where the moving average is recorded (and may prune). */
export function isCheckpoint(settings: PrunerSettings, episode: number): boolean {
  return settings.every > 0 && episode > 0 && episode % settings.every === 0;
}

export interface PruneInput {
  /** The checkpoint's episode. */
  episode: number;
  /** The trial's moving average at this checkpoint; higher is better. */
  value: number;
  /** The complete trials' moving averages at this checkpoint (same seed), where they reached it. */
  othersAtStep: readonly number[];
  /** Complete trials in the study. */
  completeTrials: number;
}

/** The median pruner's verdict for one checkpoint. */
export function shouldPrune(settings: PrunerSettings, input: PruneInput): boolean {
  if (settings.every === 0) return false;
  if (input.completeTrials < Math.max(1, settings.startupTrials)) return false;
  if (input.episode < settings.warmupEpisodes) return false;
  if (input.othersAtStep.length === 0) return false;
  return input.value < median(input.othersAtStep);
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}
