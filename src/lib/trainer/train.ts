// The training loop: act -> step -> add -> K updates every trainEvery steps, every piece a batched
// native call (envs, buffer, learner); JS only schedules, keeps the score and logs. Each step runs the
// phases in order: collect (collect.ts), log its finished episodes (episode-log.ts), the learning-health
// checks (health.ts), learn (learn.ts), the policy check (select.ts) and the stop rule (stopping.ts),
// then a checkpoint when one is due (run-checkpoint.ts); set-up and resume are in setup.ts, the end of a
// run in finish.ts.
import { existsSync } from "node:fs";
import { join } from "node:path";

import { runtimeInfo, setNumThreads } from "../../../binding/index.ts";
import { checkRuntime } from "../config/check.ts";
import { ConfigError } from "../config/resolve.ts";
import type { Config } from "../config/types.ts";
import { removeStaleTemps, settleCheckpoints } from "./checkpoint.ts";
import { Collector } from "./collect.ts";
import { afterSolveLine, solvedLine, TrainingProgress } from "./console.ts";
import { EpisodeLog } from "./episode-log.ts";
import { finishRun, type TrainSummary } from "./finish.ts";
import { restartStalledActors } from "./health.ts";
import { learn, sampleOptions, updatesDue } from "./learn.ts";
import type { Selection, StopReason } from "./loop-state.ts";
import { createRunDir } from "./run-dir.ts";
import { checkpointDue, episodeLabel, writeRunCheckpoint } from "./run-checkpoint.ts";
import { lockRunDir } from "./run-lock.ts";
import type { EpisodeResult } from "./scores.ts";
import { openRun, type Run } from "./setup.ts";
import { stopAfterStep } from "./stopping.ts";
import { selfPlayApplies, trainSelfPlay } from "../compete/self-play.ts";

export type { TrainSummary } from "./finish.ts";

export interface TrainOptions {
  /** Continue this run directory from its latest checkpoint (a finished run: only what its end left undone). */
  resume?: string;
  /** Write into this existing run directory (made by createRunDir, e.g. by the server) instead of a new one. */
  runDir?: string;
  /** Called for every finished episode (e.g. by the server's metric stream). */
  onEpisode?: (ep: EpisodeResult) => void;
  /** Stops the run (with a checkpoint) when aborted; SIGINT and SIGTERM are wired to it by the CLI. */
  signal?: AbortSignal;
  /** Console output (default true). */
  quiet?: boolean;
}

/**
 * Trains until solved (or the episode budget), writing logs, checkpoints and summary.json. The run
 * directory is locked for the run (RunDirBusyError when another live process writes to it).
 */
export async function train(config: Config, options: TrainOptions = {}): Promise<TrainSummary> {
  // Competitive mode trains by self-play (src/lib/compete/self-play.ts) unless selfPlay.enabled is off.
  if (selfPlayApplies(config)) return trainSelfPlay(config, options);
  const problems = checkRuntime(config, { cudaAvailable: runtimeInfo().cudaAvailable });
  if (problems.length > 0) throw new ConfigError(problems);
  if (options.resume && !isRunDir(options.resume)) throw new Error(`no run directory at ${options.resume} (it has no config.json)`);
  setNumThreads(config.threads);
  const runDir = options.resume ?? options.runDir ?? createRunDir(config);
  const lock = lockRunDir(runDir);
  try {
    removeStaleTemps(runDir);
    settleCheckpoints(runDir);
    return await trainLocked(config, options, runDir);
  } finally {
    lock.release();
  }
}

async function trainLocked(config: Config, options: TrainOptions, runDir: string): Promise<TrainSummary> {
  // Every line clears the progress bar's line first (the bar redraws itself below it).
  let progress: TrainingProgress | null = null;
  const say = (line: string) => {
    progress?.clear();
    if (!options.quiet) console.log(line);
  };
  const opened = await openRun(config, options.resume, runDir, say);
  if ("summary" in opened) return opened.summary;
  const { run } = opened;
  const { train: t } = config;
  const { state, tracker, agent, selector, logger } = run;

  const collector = new Collector(run.n);
  const sampling = sampleOptions(config);
  progress = !options.quiet && config.log.progress ? new TrainingProgress({ target: t.targetScore }) : null;
  run.clock.start();
  const log = new EpisodeLog(run, say, progress, options.onEpisode);
  let stopped: StopReason = "episodes";
  let selection: Selection | null = null;

  // Every iteration is one vectorized step plus its update round; checkpoints and stops happen only
  // at the end of an iteration, so a resumed run continues exactly where an uninterrupted one would.
  // A resumed run starts where its checkpoint was taken: stopped at once, it has nothing new to save.
  let lastCheckpointAt = run.resumeFrom ? state.envSteps : -1;
  try {
    for (let finishedRun = false; !finishedRun; ) {
      if (options.signal?.aborted) {
        stopped = "interrupted";
        break;
      }
      const learning = state.envSteps >= t.warmupSteps;
      const { finished, obs } = await collector.step(run, learning);
      for (const ep of finished) log.episode(ep);
      if (learning && restartStalledActors(config, finished, state, agent)) {
        say(`No point in ${t.stallEpisodes} episodes: the actors start afresh (restart ${state.actorResets}, episode ${state.episodes}).`);
      }
      if (tracker.solvedAt !== null && !state.atSolve) {
        state.atSolve = { wall_s: Number(run.clock.wall().toFixed(2)), env_steps: state.envSteps, updates: state.updates };
        say(solvedLine(tracker.solvedAt, state.averages[tracker.solvedAt - 1], t.window, state.atSolve.wall_s));
        say(afterSolveLine(config, selector?.bestScore ?? -Infinity));
      }
      run.obs = obs;
      if (finished.length > 0) state.episodeUpdates = 0;
      const k = updatesDue(t, state, run.n, run.buffer.size, learning);
      if (k > 0) {
        const learnStop = await learn(run, k, sampling, say);
        if (learnStop === "nan") {
          stopped = "nan";
          break;
        }
        if (learnStop === "dead_gradients") [stopped, finishedRun] = ["dead_gradients", true];
      }
      // Checks play the policy after this step's updates: the one the run ends with if it stops here.
      if (selector && learning && selector.due(state.episodes, finished.length)) {
        logger.record("select/check_score", selector.check(agent, run.norm, state.episodes));
      }
      const end = stopAfterStep(t, tracker.solvedAt, selector?.bestScore ?? null, state.episodes);
      if (end === "solved") stopped = "solved";
      if (end !== null) finishedRun = true;
      if (!finishedRun && checkpointDue(t, state.episodes, finished.length)) {
        await writeRunCheckpoint(run, episodeLabel(state.episodes));
        lastCheckpointAt = state.envSteps;
      }
    }
    selection = await endTraining(run, stopped, lastCheckpointAt, say);
  } finally {
    progress?.stop();
    logger.close();
  }
  try {
    return await finishRun({
      config, runDir, agent, norm: run.norm, state, tracker, stopped, selection, say, tensorboard: run.tensorboard, wallSeconds: () => run.clock.wall(),
    });
  } finally {
    await run.env.close();
    run.buffer.dispose();
    agent.dispose();
  }
}

/**
 * After the loop: an interrupted run keeps its training state (it is resumed); a finished one gets its
 * final policy, the best checked one when it beat the last (its observation statistics with it). Then
 * the final checkpoint, unless the loop's last one already holds this state (none after a non-finite
 * loss: the last checkpoint is the last good state). Returns the final policy's check.
 */
async function endTraining(run: Run, stopped: StopReason, lastCheckpointAt: number, say: (line: string) => void): Promise<Selection | null> {
  const { selector, agent, state } = run;
  let selection: Selection | null = null;
  let finalLabel = episodeLabel(state.episodes);
  if (selector && stopped !== "nan" && stopped !== "interrupted") {
    const chosen = selector.finish(agent, run.norm, state.episodes);
    [selection, run.norm] = [chosen.selection, chosen.norm];
    if (selection?.restored) {
      say(`Final policy: the one checked after episode ${selection.episode} (greedy check ${selection.check_score.toFixed(2)}).`);
      [finalLabel, lastCheckpointAt] = [`${finalLabel}-selected`, -1];
    }
  }
  if (stopped === "interrupted") finalLabel = `${finalLabel}-interrupted`;
  if (stopped !== "nan" && lastCheckpointAt !== state.envSteps) {
    await writeRunCheckpoint(run, finalLabel, stopped === "interrupted" ? undefined : { stopped, selection });
  }
  return selection;
}

/** Whether a directory looks like a run directory (for --resume). */
export function isRunDir(dir: string): boolean {
  return existsSync(join(dir, "config.json"));
}
