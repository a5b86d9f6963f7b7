// The training loop: act -> step -> add -> K updates every trainEvery steps, every piece a batched
// native call (envs, buffer, learner); JS only schedules, keeps the score and logs.
import { existsSync, readFileSync, statSync, statfsSync, truncateSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";

import { NStepAccumulator, ReplayBuffer } from "../../../binding/buffer.ts";
import { OBS_SIZE } from "../../../binding/shapes.ts";
import { runtimeInfo, setNumThreads } from "../../../binding/index.ts";
import { Maddpg, type UpdateStats } from "../../../binding/maddpg.ts";
import { checkConfig } from "../config/check.ts";
import { openVecEnv } from "../env/open.ts";
import { ConfigError } from "../config/resolve.ts";
import type { Config } from "../config/types.ts";
import { JsonlSink, Logger } from "../log/logger.ts";
import { Rng } from "../util/rng.ts";
import { writeRunPlots } from "../log/plot.ts";
import { flattenHParams, hparamsMarkdown, TensorBoardSink } from "../log/tensorboard.ts";
import { latestCheckpoint, removeStaleTemps, settleCheckpoints, verifyCheckpoint, writeCheckpoint } from "./checkpoint.ts";
import { afterSolveLine, episodeLine, solvedLine, TrainingProgress } from "./console.ts";
import { evalConfig, greedyEpisodes } from "./evaluate.ts";
import { killPoint } from "./kill-point.ts";
import { maddpgOptions } from "./maddpg-options.ts";
import { kTrainerFile, readSavedState, type LoopState, type RecentStats, type SavedState, type Selection, type StopReason } from "./loop-state.ts";
import { RunningNorm } from "./normalize.ts";
import { createRunDir, writeJson } from "./run-dir.ts";
import { lockRunDir } from "./run-lock.ts";
import { ScoreTracker, type EpisodeResult } from "./scores.ts";
import { PolicySelector } from "./select.ts";
import { shapeRewards } from "./shaping.ts";
import { selfPlayApplies, trainSelfPlay } from "../compete/self-play.ts";

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
  diagnostics: { dead_gradient_alarms: number; actor_resets: number; mean_saturation: number | null; last_q_mean: number | null; recent: RecentStats | null };
  run_dir: string;
}

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
  const problems = checkConfig(config, { cudaAvailable: runtimeInfo().cudaAvailable });
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

/** A finished run resumes only to go on to a larger train.episodes, from a checkpoint of its training state. */
function extendsFinishedRun(final: NonNullable<SavedState["final"]>, episodes: number, config: Config): boolean {
  return final.stopped === "episodes" && config.train.episodes > episodes && !final.selection?.restored;
}

async function trainLocked(config: Config, options: TrainOptions, runDir: string): Promise<TrainSummary> {
  // Every line clears the progress bar's line first (the bar redraws itself below it).
  let progress: TrainingProgress | null = null;
  const say = (line: string) => {
    progress?.clear();
    if (!options.quiet) console.log(line);
  };
  const resumeFrom = options.resume ? latestCheckpoint(options.resume) : null;
  if (options.resume && !resumeFrom) throw new Error(`no complete checkpoint found in ${options.resume}`);
  let saved: SavedState | null = null;
  if (resumeFrom) {
    verifyCheckpoint(resumeFrom);
    saved = readSavedState(resumeFrom);
    saved.final ??= finalFromSummary(runDir, saved);
    if (saved.final && !extendsFinishedRun(saved.final, saved.episodes, config)) return resumeFinishedRun(config, runDir, resumeFrom, saved, say);
    truncateLogs(runDir, saved.log?.files ?? {});
  }
  const { train: t, buffer: b } = config;
  if (!resumeFrom) say(`Run directory: ${runDir}`);

  const env = await openVecEnv(config);
  const n = env.numEnvs;
  const buffer = new ReplayBuffer({ capacity: b.capacity, prioritized: b.prioritized, alpha: b.alpha, beta0: b.beta0, betaSteps: b.betaSteps, seed: config.seed });
  const accumulator = new NStepAccumulator(n, t.nStep, config.agent.gamma);
  const agent = new Maddpg(maddpgOptions(config));
  const logger = new Logger([new JsonlSink(join(runDir, "metrics.jsonl"))]);
  // `wall` (defined with the loop's clock below) is read only once episodes are logged.
  const tensorboard = config.log.tensorboard ? openTensorBoard(config, runDir, saved, () => wall()) : null;
  if (tensorboard) logger.addSink(tensorboard);

  let tracker = new ScoreTracker(n, t.window, t.targetScore);
  // Warm-up actions: uniform in [-1, 1), seeded apart from the other RNGs of the same seed.
  const warmup = new Rng((config.seed ^ 0x9e3779b9) >>> 0);
  const state: LoopState = {
    envSteps: 0, updates: 0, episodeUpdates: 0, episodes: 0, wallBefore: 0, deadRun: 0, deadAlarms: 0, stallRun: 0, actorResets: 0,
    scores: [], averages: [], warmupRng: 0, tracker: tracker.toJSON(), saturationSum: 0, saturationCount: 0, lastQMean: null, recent: null,
  };
  let norm = t.normalizeObs ? new RunningNorm(OBS_SIZE) : null;
  const selector = t.selectEvery > 0 ? new PolicySelector(config) : null;
  let selection: Selection | null = null;
  let obs = await env.reset();
  if (resumeFrom && saved) {
    const { log, final: _final, ...loop } = saved;
    Object.assign(state, loop);
    if (log) logger.restorePending(log.pending);
    tracker = ScoreTracker.fromJSON(saved.tracker, t.window, t.targetScore);
    warmup.state32 = saved.warmupRng;
    if (norm && saved.norm) norm = RunningNorm.fromJSON(saved.norm);
    await agent.load(join(resumeFrom, "agent.pt"));
    await buffer.load(join(resumeFrom, "buffer.bin"));
    selector?.load(resumeFrom, agent.parameterCount);
    // A checkpoint from before n-step returns has no accumulator state: with train.nStep = 1 nothing is pending.
    const nStepState = join(resumeFrom, "n_step.bin");
    if (existsSync(nStepState)) accumulator.loadState(new Float32Array(new Uint8Array(readFileSync(nStepState)).buffer));
    else if (t.nStep > 1) throw new Error(`${resumeFrom} has no n_step.bin, so it cannot resume a run with train.nStep = ${t.nStep}`);
    if (!env.loadState) throw new Error(`${config.env.kind} envs cannot be resumed exactly: their state lives elsewhere`);
    obs = env.loadState(readFileSync(join(resumeFrom, "env.bin")));
    say(`Resumed ${runDir} at episode ${state.episodes} (${state.envSteps} env steps, ${state.updates} updates)`);
  }

  const actions = new Float32Array(n * 4);
  const normObs = new Float32Array(n * 48);
  const normNextObs = new Float32Array(n * 48);
  const shaped = new Float32Array(n * 2);
  const sampleOptions = { earlyTrainingSteps: t.earlyTrainingSteps, negSamplingRatio: t.negSamplingRatio };
  progress = !options.quiet && config.log.progress ? new TrainingProgress({ target: t.targetScore }) : null;
  const started = Date.now();
  const wall = () => state.wallBefore + (Date.now() - started) / 1000;
  let stepsAtLastLine = state.envSteps;
  let timeAtLastLine = Date.now();
  let stopped: StopReason = "episodes";

  /** Writes a checkpoint of the run now; `final` marks the one a finished run ends with. */
  const checkpoint = async (label: string, final?: SavedState["final"]) => {
    await writeCheckpoint(runDir, label, async (dir) => {
      await buffer.save(join(dir, "buffer.bin"));
      ensureRoomForAgent(dir, agent.parameterCount);
      await agent.save(join(dir, "agent.pt"));
      killPoint("checkpoint-agent");
      writeFileSync(join(dir, "n_step.bin"), accumulator.saveState());
      selector?.save(dir);
      if (env.saveState) writeFileSync(join(dir, "env.bin"), env.saveState());
      const snapshot: SavedState = {
        ...state, wallBefore: wall(), warmupRng: warmup.state32, tracker: tracker.toJSON(), norm: norm?.toJSON(),
        log: { pending: logger.pending(), files: logLengths(runDir, logger.files()) }, final,
      };
      writeJson(join(dir, kTrainerFile), snapshot);
    });
  };

  const onEpisode = (ep: EpisodeResult) => {
    state.episodes = ep.episode;
    state.scores.push(ep.score);
    state.averages.push(ep.average);
    const line = ep.episode % config.log.every === 0;
    if (line) {
      state.recent = recentStats(buffer);
      if (state.recent) for (const [key, value] of Object.entries(state.recent)) logger.record(`diag/${key}`, value);
    }
    logger.record("rollout/score", ep.score);
    logger.record("rollout/score_mean100", ep.average);
    logger.record("rollout/episode_steps", ep.steps);
    logger.record("rollout/score_agent0", ep.agentScores[0]);
    logger.record("rollout/score_agent1", ep.agentScores[1]);
    logger.record("rollout/noise_scale", agent.stats().noiseScale ?? 0);
    logger.record("time/env_steps", state.envSteps);
    logger.record("time/updates", state.updates);
    logger.dump(ep.episode);
    options.onEpisode?.(ep);
    if (line) {
      const now = Date.now();
      const sps = ((state.envSteps - stepsAtLastLine) * 1000) / Math.max(1, now - timeAtLastLine);
      [stepsAtLastLine, timeAtLastLine] = [state.envSteps, now];
      say(episodeLine(ep, state.updates, sps));
    }
    progress?.update({ episode: ep.episode, average: ep.average, envSteps: state.envSteps, updates: state.updates, elapsed: wall(), solvedAt: tracker.solvedAt });
  };


  // Every iteration is one vectorized step plus its update round; checkpoints and stops happen only
  // at the end of an iteration, so a resumed run continues exactly where an uninterrupted one would.
  // A resumed run starts where its checkpoint was taken: stopped at once, it has nothing new to save.
  let lastCheckpointAt = resumeFrom ? state.envSteps : -1;
  try {
    for (let finishedRun = false; !finishedRun; ) {
      if (options.signal?.aborted) {
        stopped = "interrupted";
        break;
      }
      const learning = state.envSteps >= t.warmupSteps;
      const seen = norm ? norm.normalize(obs, normObs) : obs;
      if (learning) agent.act(seen, actions, true);
      else warmup.fillSigned(actions);
      const step = await env.step(actions);
      state.envSteps += n;
      shapeRewards(t.rewardShaping, t.shapingFactor, step.rewards, step.dones, shaped);
      const lost = step.lost && step.lost.some((v) => v !== 0) ? step.lost : null;
      if (norm) norm.update(step.nextObs);
      const nextSeen = norm ? norm.normalize(step.nextObs, normNextObs) : step.nextObs;
      accumulator.add(buffer, seen, actions, shaped, nextSeen, step.dones, lost ?? undefined);
      if (lost) for (let e = 0; e < n; e++) if (lost[2 * e] !== 0) tracker.discardEpisode(e);
      const finished = tracker.addStep(step.rewards, lost ? keptDones(step.dones, lost) : step.dones);
      if (finished.length > 0) agent.resetNoise(doneMask(step.dones, n));
      for (const ep of finished) onEpisode(ep);
      if (learning && restartStalledActors(config, finished, state, agent)) {
        say(`No point in ${t.stallEpisodes} episodes: the actors start afresh (restart ${state.actorResets}, episode ${state.episodes}).`);
      }
      if (tracker.solvedAt !== null && !state.atSolve) {
        state.atSolve = { wall_s: Number(wall().toFixed(2)), env_steps: state.envSteps, updates: state.updates };
        say(solvedLine(tracker.solvedAt, state.averages[tracker.solvedAt - 1], t.window, state.atSolve.wall_s));
        say(afterSolveLine(config, selector?.bestScore ?? -Infinity));
      }
      obs = step.obs;
      if (finished.length > 0) state.episodeUpdates = 0;
      // train.maxUpdatesPerEpisode: the rounds of a long rally stop once it has had its share of updates.
      const k = t.maxUpdatesPerEpisode > 0 ? Math.min(t.updatesPerStep, t.maxUpdatesPerEpisode - state.episodeUpdates) : t.updatesPerStep;
      if (learning && k > 0 && buffer.size >= t.batchSize && (state.envSteps / n) % t.trainEvery === 0) {
        const stats = await agent.update(buffer, k, sampleOptions);
        state.episodeUpdates += stats.updates;
        state.updates += stats.updates;
        state.lastQMean = stats.qMean;
        if (!Number.isFinite(stats.criticLoss) || (stats.actorUpdates > 0 && !Number.isFinite(stats.actorLoss))) {
          stopped = "nan";
          say(`Stopping: the loss became ${stats.criticLoss} (critic) / ${stats.actorLoss} (actor) at update ${state.updates}; the last checkpoint is the last good state.`);
          break;
        }
        recordUpdate(logger, stats);
        if (Number.isFinite(stats.saturation)) {
          state.saturationSum += stats.saturation;
          state.saturationCount += 1;
        }
        const remedy = checkDeadGradients(config, stats, state);
        if (remedy === "stop") {
          stopped = "dead_gradients";
          say(`Stopping: actor gradient norm below ${config.diagnostics.deadGradThreshold} for ${config.diagnostics.deadGradUpdates} updates.`);
          finishedRun = true;
        } else if (remedy === "warn") {
          say(`Warning: actor gradient norm below ${config.diagnostics.deadGradThreshold} for ${config.diagnostics.deadGradUpdates} updates (dead actor gradients).`);
        } else if (remedy === "reset_noise") {
          say(`Dead actor gradients for ${config.diagnostics.deadGradUpdates} updates: every env's noise process reset (OU state back to its mean; the decayed scale stays).`);
          agent.resetNoise();
        }
      }
      // Checks play the policy after this step's updates: the one the run ends with if it stops here.
      if (selector && learning && selector.due(state.episodes, finished.length)) {
        logger.record("select/check_score", selector.check(agent, norm, state.episodes));
      }
      // train.polishTarget: a solved run goes on until a greedy check reaches it, for polishEpisodes at most.
      const polishing = selector !== null && t.polishTarget > 0 && selector.bestScore < t.polishTarget &&
        tracker.solvedAt !== null && state.episodes - tracker.solvedAt < t.polishEpisodes;
      if (tracker.solvedAt !== null && t.stopWhenSolved && !polishing) [stopped, finishedRun] = ["solved", true];
      if (state.episodes >= t.episodes) finishedRun = true;
      const crossed = finished.length > 0 && t.checkpointEvery > 0 &&
        Math.floor(state.episodes / t.checkpointEvery) > Math.floor((state.episodes - finished.length) / t.checkpointEvery);
      if (crossed && !finishedRun) {
        await checkpoint(`ep${String(state.episodes).padStart(7, "0")}`);
        lastCheckpointAt = state.envSteps;
      }
    }
    let finalLabel = `ep${String(state.episodes).padStart(7, "0")}`;
    // An interrupted run keeps its training state (it is resumed); a finished one gets its final policy:
    // the best checked one when it beat the last (its observation statistics with it).
    if (selector && stopped !== "nan" && stopped !== "interrupted") {
      const chosen = selector.finish(agent, norm, state.episodes);
      [selection, norm] = [chosen.selection, chosen.norm];
      if (selection?.restored) {
        say(`Final policy: the one checked after episode ${selection.episode} (greedy check ${selection.check_score.toFixed(2)}).`);
        [finalLabel, lastCheckpointAt] = [`${finalLabel}-selected`, -1];
      }
    }
    if (stopped === "interrupted") finalLabel = `${finalLabel}-interrupted`;
    if (stopped !== "nan" && lastCheckpointAt !== state.envSteps) {
      await checkpoint(finalLabel, stopped === "interrupted" ? undefined : { stopped, selection });
    }
  } finally {
    progress?.stop();
    logger.close();
  }
  try {
    return await finishRun({ config, runDir, agent, norm, state, tracker, stopped, selection, wallSeconds: wall, say, tensorboard });
  } finally {
    await env.close();
    buffer.dispose();
    agent.dispose();
  }
}

/** What the end of a run needs: its final policy and bookkeeping. */
interface RunEnd {
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
async function finishRun({ config, runDir, agent, norm, state, tracker, stopped, selection, wallSeconds, say, tensorboard }: RunEnd): Promise<TrainSummary> {
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
  return summary;
}

const kSummaryFile = "summary.json";

/**
 * `--resume` of a run whose final checkpoint exists: nothing is trained and no checkpoint changes. When
 * summary.json belongs to that checkpoint the run is complete and is left as it is; otherwise the run was
 * stopped between its final checkpoint and its summary, and only the final evaluation, scores.png and
 * summary.json are made, from the final checkpoint's policy, as the uninterrupted run made them.
 */
async function resumeFinishedRun(config: Config, runDir: string, checkpointDir: string, saved: SavedState, say: (line: string) => void): Promise<TrainSummary> {
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
function finalFromSummary(runDir: string, saved: LoopState): SavedState["final"] {
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

/** agent.pt takes about 8.3 bytes per parameter plus 50 KB; twice that and 1 MiB more is asked for. */
const kAgentBytesPerParameter = 16;
const kAgentSlackBytes = 1 << 20;

/**
 * Throws ENOSPC unless `dir`'s disk has room for agent.pt: LibTorch's save aborts the whole process when
 * the disk fills up mid-write (it throws from a destructor), where every other write fails cleanly.
 */
function ensureRoomForAgent(dir: string, parameterCount: number): void {
  const needed = kAgentBytesPerParameter * parameterCount + kAgentSlackBytes;
  const { bavail, bsize } = statfsSync(dir);
  if (bavail * bsize >= needed) return;
  const error: NodeJS.ErrnoException = new Error(`ENOSPC: no space left on device: agent.pt needs about ${needed} bytes, ${bavail * bsize} free in ${dir}`);
  error.code = "ENOSPC";
  throw error;
}

/** The length of each log file now, keyed by its path relative to the run directory. */
function logLengths(runDir: string, files: string[]): Record<string, number> {
  return Object.fromEntries(files.map((path) => [relative(runDir, path), statSync(path, { throwIfNoEntry: false })?.size ?? 0]));
}

/** Cuts each log file back to its length at the checkpoint, so the resumed run appends what the
 * uninterrupted run wrote after it instead of repeating rows. */
function truncateLogs(runDir: string, lengths: Record<string, number>): void {
  for (const [file, bytes] of Object.entries(lengths)) {
    const path = join(runDir, file);
    if ((statSync(path, { throwIfNoEntry: false })?.size ?? 0) > bytes) truncateSync(path, bytes);
  }
}

/** The TensorBoard event file a checkpoint's log positions name, which a resumed run appends to. */
function savedEventFile(runDir: string, saved: SavedState | null): string | undefined {
  const file = Object.keys(saved?.log?.files ?? {}).find((f) => f.startsWith("tb/"));
  return file === undefined ? undefined : join(runDir, file);
}

/** Tags logged per episode that TensorBoard shows by episode too (`rollout/score_by_episode`). */
const kEpisodeTags = ["rollout/score", "rollout/score_mean100"];

/** The run's metrics that TensorBoard's HPARAMS tab compares across runs (written at the end). */
const kFinalMetrics = ["final/solved", "final/episodes_to_solve", "final/episodes", "final/best_avg100", "final/eval_mean", "final/eval_min",
  "final/eval_max", "final/check_score", "final/check_episodes", "final/check_confirmed"] as const;

/**
 * The run's event file: scalars by env step, `time/sps` over `elapsed` (the run's wall seconds), and for a new file the hyperparameters as a text
 * table and the HPARAMS session start. The log section is left out of the hyperparameters: it places the
 * output (runsDir differs between runs that train alike), it does not change training.
 */
function openTensorBoard(config: Config, runDir: string, saved: SavedState | null, elapsed: () => number): TensorBoardSink {
  const sink = new TensorBoardSink(join(runDir, "tb"), savedEventFile(runDir, saved), { stepKey: "time/env_steps", episodeTags: kEpisodeTags, elapsed });
  if (sink.created) {
    const { log: _log, ...trained } = config;
    const hparams = flattenHParams(trained);
    sink.writeText("config", hparamsMarkdown(hparams));
    sink.writeSessionStart(hparams, kFinalMetrics);
  }
  return sink;
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

/** dones with the lost envs' rows cleared (their episode was discarded, not finished). */
function keptDones(dones: Float32Array, lost: Float32Array): Float32Array {
  return dones.map((d, i) => (lost[i] !== 0 ? 0 : d));
}

/**
 * Reads up to 256 of the newest records (readSlot: no draw from the sampler's RNG, so logging never
 * changes training) and returns, per agent, the mean and std of its observation floats and rewards.
 */
function recentStats(buffer: ReplayBuffer, count = 256): RecentStats | null {
  const records: Float32Array[] = [];
  for (let k = 0; k < Math.min(count, buffer.size); k++) {
    const record = buffer.readSlot((buffer.totalAdded - 1 - k) % buffer.capacity);
    if (record) records.push(record);
  }
  if (records.length === 0) return null;
  const stats: RecentStats = {};
  const meanStd = (values: number[]) => {
    const mean = values.reduce((a, v) => a + v, 0) / values.length;
    return [mean, Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / values.length)];
  };
  for (let agent = 0; agent < 2; agent++) {
    const obs = records.flatMap((r) => Array.from(r.subarray(agent * 24, agent * 24 + 24)));
    const rewards = records.map((r) => r[52 + agent]);
    [stats[`obs_mean_agent${agent}`], stats[`obs_std_agent${agent}`]] = meanStd(obs);
    [stats[`reward_mean_agent${agent}`], stats[`reward_std_agent${agent}`]] = meanStd(rewards);
  }
  return stats;
}

function doneMask(dones: Float32Array, n: number): Uint8Array {
  const mask = new Uint8Array(n);
  for (let e = 0; e < n; e++) mask[e] = dones[2 * e] !== 0 || dones[2 * e + 1] !== 0 ? 1 : 0;
  return mask;
}

function recordUpdate(logger: Logger, stats: UpdateStats): void {
  logger.recordMean("train/critic_loss", stats.criticLoss);
  logger.recordMean("train/q_mean", stats.qMean);
  logger.recordMean("train/critic_grad_norm", stats.criticGradNorm);
  if (stats.actorUpdates > 0) {
    logger.recordMean("train/actor_loss", stats.actorLoss);
    logger.recordMean("train/actor_grad_norm", stats.actorGradNorm);
    logger.recordMean("train/action_saturation", stats.saturation);
  }
}

/** Counts consecutive updates with a near-zero actor gradient; returns the remedy when it triggers. */
function checkDeadGradients(config: Config, stats: UpdateStats, state: LoopState): Config["diagnostics"]["remedy"] | null {
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
function restartStalledActors(config: Config, finished: EpisodeResult[], state: LoopState, agent: Maddpg): boolean {
  const limit = config.train.stallEpisodes;
  if (limit === 0 || finished.length === 0) return false;
  for (const ep of finished) state.stallRun = ep.score > 0 ? 0 : state.stallRun + 1;
  if (state.stallRun < limit) return false;
  state.stallRun = 0;
  state.actorResets += 1;
  agent.resetActors((config.seed + 0x9e3779b9 * state.actorResets) >>> 0);
  return true;
}

/** Whether a directory looks like a run directory (for --resume). */
export function isRunDir(dir: string): boolean {
  return existsSync(join(dir, "config.json"));
}
