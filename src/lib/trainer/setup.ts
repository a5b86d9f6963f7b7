// Set-up of a training run: the envs, replay buffer, learner, logs and loop state of a new run, or of
// a resumed one restored from its latest checkpoint (a finished run's resume completes only its end).
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

import { NStepAccumulator, ReplayBuffer } from "../../../binding/buffer.ts";
import { Maddpg } from "../../../binding/maddpg.ts";
import { OBS_SIZE } from "../../../binding/shapes.ts";
import type { Config } from "../config/types.ts";
import { openVecEnv } from "../env/open.ts";
import type { VecEnv } from "../env/vec-env.ts";
import { JsonlSink, Logger } from "../log/logger.ts";
import type { TensorBoardSink } from "../log/tensorboard.ts";
import { Rng } from "../util/rng.ts";
import { latestCheckpoint, verifyCheckpoint } from "./checkpoint.ts";
import { finalFromSummary, resumeFinishedRun, type TrainSummary } from "./finish.ts";
import { readSavedState, type LoopState, type SavedState } from "./loop-state.ts";
import { maddpgOptions } from "./maddpg-options.ts";
import { RunningNorm } from "./normalize.ts";
import { openTensorBoard, truncateLogs } from "./run-logs.ts";
import { ScoreTracker } from "./scores.ts";
import { PolicySelector } from "./select.ts";

/** Wall seconds of a run: those before its resume plus those since start(). */
export class RunClock {
  #started = Date.now();

  constructor(private readonly state: Pick<LoopState, "wallBefore">) {}

  /** Starts counting (when the loop starts). */
  start(): void {
    this.#started = Date.now();
  }

  wall(): number {
    return this.state.wallBefore + (Date.now() - this.#started) / 1000;
  }
}

/** What every phase of the loop works on: the run's parts, its counters and the observations to act on next. */
export interface Run {
  readonly config: Config;
  readonly runDir: string;
  readonly env: VecEnv;
  /** Envs stepped together (env.numEnvs). */
  readonly n: number;
  readonly buffer: ReplayBuffer;
  readonly accumulator: NStepAccumulator;
  readonly agent: Maddpg;
  readonly logger: Logger;
  readonly tensorboard: TensorBoardSink | null;
  readonly tracker: ScoreTracker;
  /** Warm-up actions: uniform in [-1, 1), seeded apart from the other RNGs of the same seed. */
  readonly warmup: Rng;
  readonly state: LoopState;
  /** Observation statistics (train.normalizeObs); at the end, those of the final policy. */
  norm: RunningNorm | null;
  readonly selector: PolicySelector | null;
  /** The observations to act on next. */
  obs: Float32Array;
  /** The checkpoint the run resumed from (null: a new run). */
  readonly resumeFrom: string | null;
  readonly clock: RunClock;
}

/** A finished run's resume ends at once with its summary; any other run opens for training. */
export type Opened = { summary: TrainSummary } | { run: Run };

/** A finished run resumes only to go on to a larger train.episodes, from a checkpoint of its training state. */
function extendsFinishedRun(final: NonNullable<SavedState["final"]>, episodes: number, config: Config): boolean {
  return final.stopped === "episodes" && config.train.episodes > episodes && !final.selection?.restored;
}

/** Opens `runDir` for training: new, or resumed from its latest checkpoint when `resume` names it. */
export async function openRun(config: Config, resume: string | undefined, runDir: string, say: (line: string) => void): Promise<Opened> {
  const resumeFrom = resume ? latestCheckpoint(resume) : null;
  if (resume && !resumeFrom) throw new Error(`no complete checkpoint found in ${resume}`);
  let saved: SavedState | null = null;
  if (resumeFrom) {
    verifyCheckpoint(resumeFrom);
    saved = readSavedState(resumeFrom);
    saved.final ??= finalFromSummary(runDir, saved);
    if (saved.final && !extendsFinishedRun(saved.final, saved.episodes, config)) return { summary: await resumeFinishedRun(config, runDir, resumeFrom, saved, say) };
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
  let tracker = new ScoreTracker(n, t.window, t.targetScore);
  const state: LoopState = {
    envSteps: 0, updates: 0, episodeUpdates: 0, episodes: 0, wallBefore: 0, deadRun: 0, deadAlarms: 0, stallRun: 0, actorResets: 0,
    scores: [], averages: [], warmupRng: 0, tracker: tracker.toJSON(), saturationSum: 0, saturationCount: 0, lastQMean: null, recent: null,
  };
  const clock = new RunClock(state);
  // The clock is read only once episodes are logged, after the loop started it.
  const tensorboard = config.log.tensorboard ? openTensorBoard(config, runDir, saved, () => clock.wall()) : null;
  if (tensorboard) logger.addSink(tensorboard);

  const warmup = new Rng((config.seed ^ 0x9e3779b9) >>> 0);
  let norm = t.normalizeObs ? new RunningNorm(OBS_SIZE) : null;
  const selector = t.selectEvery > 0 ? new PolicySelector(config) : null;
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
  return { run: { config, runDir, env, n, buffer, accumulator, agent, logger, tensorboard, tracker, warmup, state, norm, selector, obs, resumeFrom, clock } };
}
