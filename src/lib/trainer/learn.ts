// Learning: the update round of a step (train.updatesPerStep fused updates every train.trainEvery
// steps, capped per episode by train.maxUpdatesPerEpisode), its losses logged, and the dead-gradient
// check with its remedy (diagnostics.*).
import type { SampleOptions } from "../../../binding/buffer.ts";
import type { Config } from "../config/types.ts";
import { recordUpdate } from "./episode-log.ts";
import { checkDeadGradients } from "./health.ts";
import type { LoopState } from "./loop-state.ts";
import type { Run } from "./setup.ts";

/** How an update round ended the run: a non-finite loss, or dead actor gradients with remedy "stop". */
export type LearnStop = "nan" | "dead_gradients";

/** The replay sampling a config asks for (train.earlyTrainingSteps, train.negSamplingRatio). */
export function sampleOptions(config: Config): SampleOptions {
  return { earlyTrainingSteps: config.train.earlyTrainingSteps, negSamplingRatio: config.train.negSamplingRatio };
}

/**
 * Updates in this step's round: train.updatesPerStep, or what train.maxUpdatesPerEpisode leaves of the
 * current episodes' share (the rounds of a long rally stop once it has had its share); 0 when no round
 * is due (warm-up, fewer than train.batchSize transitions stored, not a train.trainEvery step).
 */
export function updatesDue(t: Config["train"], state: Pick<LoopState, "envSteps" | "episodeUpdates">, n: number, stored: number, learning: boolean): number {
  const k = t.maxUpdatesPerEpisode > 0 ? Math.min(t.updatesPerStep, t.maxUpdatesPerEpisode - state.episodeUpdates) : t.updatesPerStep;
  return learning && k > 0 && stored >= t.batchSize && (state.envSteps / n) % t.trainEvery === 0 ? k : 0;
}

/** Runs `k` fused updates and counts them; returns how they end the run, or null when it goes on. */
export async function learn(run: Run, k: number, sampling: SampleOptions, say: (line: string) => void): Promise<LearnStop | null> {
  const { config, agent, buffer, logger, state } = run;
  const stats = await agent.update(buffer, k, sampling);
  state.episodeUpdates += stats.updates;
  state.updates += stats.updates;
  state.lastQMean = stats.qMean;
  if (!Number.isFinite(stats.criticLoss) || (stats.actorUpdates > 0 && !Number.isFinite(stats.actorLoss))) {
    say(`Stopping: the loss became ${stats.criticLoss} (critic) / ${stats.actorLoss} (actor) at update ${state.updates}; the last checkpoint is the last good state.`);
    return "nan";
  }
  recordUpdate(logger, stats);
  if (Number.isFinite(stats.saturation)) {
    state.saturationSum += stats.saturation;
    state.saturationCount += 1;
  }
  const remedy = checkDeadGradients(config, stats, state);
  const { deadGradThreshold, deadGradUpdates } = config.diagnostics;
  if (remedy === "stop") {
    say(`Stopping: actor gradient norm below ${deadGradThreshold} for ${deadGradUpdates} updates.`);
    return "dead_gradients";
  }
  if (remedy === "warn") {
    say(`Warning: actor gradient norm below ${deadGradThreshold} for ${deadGradUpdates} updates (dead actor gradients).`);
  } else if (remedy === "reset_noise") {
    say(`Dead actor gradients for ${deadGradUpdates} updates: every env's noise process reset (OU state back to its mean; the decayed scale stays).`);
    agent.resetNoise();
  }
  return null;
}
