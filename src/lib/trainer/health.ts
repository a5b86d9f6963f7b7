// Learning-health checks of the loop (diagnostics.*, train.stallEpisodes): dead actor gradients and
// stalled actors, counted in the loop state so a resumed run triggers them as an uninterrupted one would.
import type { Maddpg, UpdateStats } from "../../../binding/maddpg.ts";
import type { Config } from "../config/types.ts";
import type { LoopState } from "./loop-state.ts";
import type { EpisodeResult } from "./scores.ts";

/** Counts consecutive updates with a near-zero actor gradient; returns the remedy when it triggers. */
export function checkDeadGradients(config: Config, stats: UpdateStats, state: LoopState): Config["diagnostics"]["remedy"] | null {
  if (stats.actorUpdates === 0) return null;
  const { deadGradThreshold, deadGradUpdates, remedy } = config.diagnostics;
  state.deadRun = stats.actorGradNorm < deadGradThreshold ? state.deadRun + stats.updates : 0;
  if (state.deadRun < deadGradUpdates) return null;
  state.deadAlarms += 1;
  state.deadRun = 0;
  return remedy;
}

/**
 * train.stallEpisodes: a policy that never gets the ball over the net learns nothing new (its tanh
 * saturates, every episode is the same lost serve), so after that many such episodes in a row the
 * actors start again from fresh weights, on the critics and replay data learned so far. The fresh
 * weights come from the run's seed and the restart count, so a run stays reproducible.
 * Returns whether it restarted them.
 */
export function restartStalledActors(config: Config, finished: EpisodeResult[], state: LoopState, agent: Maddpg): boolean {
  const limit = config.train.stallEpisodes;
  if (limit === 0 || finished.length === 0) return false;
  for (const ep of finished) state.stallRun = ep.score > 0 ? 0 : state.stallRun + 1;
  if (state.stallRun < limit) return false;
  state.stallRun = 0;
  state.actorResets += 1;
  agent.resetActors((config.seed + 0x9e3779b9 * state.actorResets) >>> 0);
  return true;
}
