// A study worker: draws trial parameters (random or TPE, from every finished trial in the study's
// database), runs each trial's seeds as child processes of the server's runner (src/apps/server/runner.ts),
// K trials at a time with their own thread budget, prunes hopeless trials at checkpoints against the
// complete trials of all workers, and keeps everything in the study's database (src/apps/tune/store.ts) so
// that any number of workers share a study and a killed one's trials are taken over.
import { spawn } from "node:child_process";
import { mkdirSync, rmSync } from "node:fs";
import { availableParallelism } from "node:os";
import { basename, dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath, pathToFileURL } from "node:url";

import { packageRoot } from "../../../binding/package.ts";
import { ConfigError, mergeConfig, resolveConfig } from "../../lib/config/resolve.ts";
import type { Config } from "../../lib/config/types.ts";
import type { RunnerMessage } from "../server/runner.ts";
import { writeJson } from "../../lib/trainer/run-dir.ts";
import { mean, seedObjective } from "./objective.ts";
import { isCheckpoint, median, shouldPrune } from "./pruner.ts";
import { openAppendLog } from "../../lib/util/append-log.ts";
import { Rng, mixSeed } from "../../lib/util/rng.ts";
import { makeSampler, type Observation, type Sampler, type TpeOptions } from "./samplers.ts";
import { canonicalJson, nestParams, type SearchSpace } from "./space.ts";
import { kStudyFile, newWorker, StudyStore, type LostTrial, type Objective, type ReapOptions, type SamplerName, type SeedResult, type StudySettings, type TrialRow, type Worker } from "./store.ts";

export interface StudyOptions {
  /** The study folder (created if needed): this worker's trial runs under trials/, the outputs, and study.sqlite by default. */
  dir: string;
  /** Where the study lives: sqlite:PATH or postgresql://... Default sqlite:DIR/study.sqlite. */
  storage?: string;
  /** The study's name in the storage. Default: the folder's name. */
  name?: string;
  /** A seed sweep: trial n trains seed `seeds[n]` of the fixed config (`trials` should be the number of seeds). */
  sweep?: boolean;
  /** Seconds between this worker's heartbeats (and its polls while other workers' trials run). Default 10. */
  heartbeatS?: number;
  /** Seconds without a heartbeat after which a worker counts as dead and its trial is taken. Default 60. */
  graceS?: number;
  /** Times a dead worker's trial is queued again before it is failed. Default 1. */
  retries?: number;
  /** How long database connection failures are retried, ms. Default 600000. */
  retryWindowMs?: number;
  space: SearchSpace;
  /** A partial config under the space's base (the `--config` file), default {}. */
  config?: Record<string, unknown>;
  /** Trials to finish in all (complete, pruned or failed), counting those of earlier sessions. */
  trials: number;
  /** Trials run at once, each a child process. */
  parallel: number;
  /** Each trial trains once per seed; its objective is the mean. Default [0]. */
  seeds?: number[];
  objective?: Objective;
  sampler?: SamplerName;
  /** Seeds the samplers: trial n draws from (samplerSeed, n). Default 0. */
  samplerSeed?: number;
  tpe?: TpeOptions;
  /** Threads of each trial (LibTorch and env stepping). Default max(1, floor(cores / parallel)). */
  threadsPerTrial?: number;
  /** Module each trial's child process runs. Default: the server's runner (src/apps/server/runner.ts). */
  runner?: string;
  /** Replaces the sampler named by `sampler` (tests use a scripted one). */
  samplerOverride?: Sampler;
  /** Stops the study: running trials are stopped and put back in the queue for the next session. */
  signal?: AbortSignal;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
  /** Milliseconds between SIGTERM and SIGKILL when a trial is stopped. Default 30000. */
  stopGraceMs?: number;
}

export interface StudyResult {
  dir: string;
  settings: StudySettings;
  trials: TrialRow[];
  /** The complete trial with the lowest objective, or null. */
  best: TrialRow | null;
  /** True when the study was stopped before finishing its trials. */
  interrupted: boolean;
  /** Trials finished before this session started. */
  resumedFrom: number;
  /** The storage, password hidden, and the study's name in it. */
  storage: string;
  name: string;
}

/** A study folder whose stored settings differ from the ones given. */
export class StudyMismatchError extends ConfigError {
  constructor(problems: string[], dir: string) {
    super(problems);
    this.name = "StudyMismatchError";
    this.message = `The study in ${dir} was started with other settings (resume it with the same ones, or use another --study folder):\n${problems.map((p) => `  - ${p}`).join("\n")}`;
  }
}

const kDefaultRunner = join(dirname(fileURLToPath(import.meta.url)), "../server/runner.ts");
const kParentGuard = pathToFileURL(join(dirname(fileURLToPath(import.meta.url)), "parent-guard.ts")).href;
/** Trials skip TensorBoard files, periodic checkpoints and polishing past solving unless the space or
 * --config asks for them. */
const kTrialDefaults = { train: { checkpointEvery: 0, polishTarget: 0 }, log: { tensorboard: false } };
/** Characters of a child's stderr kept for a failed trial's message. */
const kStderrTail = 2000;

/** Defaults of the worker options. */
export const kDefaultHeartbeatS = 10;
export const kDefaultGraceS = 60;
export const kDefaultRetries = 1;

/** The storage of a study folder when none is named. */
export function defaultStorage(dir: string): string {
  return `sqlite:${join(dir, kStudyFile)}`;
}

/** Runs (or resumes, or joins) a study until it has `trials` finished trials or is stopped. */
export async function runStudy(options: StudyOptions): Promise<StudyResult> {
  const log = options.log ?? (() => undefined);
  const settings: StudySettings = {
    version: 1,
    space: options.space,
    config: options.config ?? {},
    objective: options.objective ?? "episodes",
    seeds: options.seeds ?? [0],
    sampler: options.sampler ?? "tpe",
    samplerSeed: options.samplerSeed ?? 0,
    trials: options.trials,
    ...(options.sweep ? { sweep: true } : {}),
  };
  mkdirSync(options.dir, { recursive: true });
  const name = options.name ?? basename(options.dir);
  const store = await StudyStore.open(options.storage ?? defaultStorage(options.dir), name, {
    retryWindowMs: options.retryWindowMs,
    onRetry: (error, delayMs) => log(`database unreachable (${error.message}); retrying in ${(delayMs / 1000).toFixed(1)} s`),
  });
  try {
    const where = options.storage ? `${store.label} (study ${name})` : options.dir;
    const stored = await store.ensureSettings(settings);
    if (stored) {
      const problems = settingsMismatch(stored, settings);
      if (problems.length > 0) throw new StudyMismatchError(problems, where);
    }
    const worker = newWorker();
    const reap: ReapOptions = { graceS: options.graceS ?? kDefaultGraceS, retries: options.retries ?? kDefaultRetries, localPids: store.dialect === "sqlite" };
    const resumedFrom = await store.finishedCount();
    const lost = await store.reapLost(worker, reap);
    if (stored) {
      const again = lost.filter((t) => t.retried).map((t) => t.number);
      const note = again.length ? `; trial${again.length > 1 ? "s" : ""} ${again.join(", ")} interrupted last time will run again` : "";
      log(`Resuming the study in ${where}: ${resumedFrom} of ${settings.trials} trials finished${note}`);
    }
    for (const t of lost.filter((l) => !l.retried)) log(lostLine(t));
    const study = new StudyRun(store, worker, reap, settings, options, log);
    const interrupted = await study.run();
    const trials = await store.trials();
    return { dir: options.dir, settings, trials, best: bestTrial(trials), interrupted, resumedFrom, storage: store.label, name };
  } finally {
    await store.close();
  }
}

/** "trial 3: worker h:12:ab sent no heartbeat for 61.0 s: queued to run again" */
function lostLine(t: LostTrial): string {
  return `trial ${t.number}: ${t.reason}: ${t.retried ? "queued to run again" : "failed"}`;
}

/** The complete trial with the lowest objective (the earlier one on ties), or null. */
export function bestTrial(trials: readonly TrialRow[]): TrialRow | null {
  let best: TrialRow | null = null;
  for (const t of trials) {
    if (t.state !== "complete" || t.objective === null) continue;
    if (!best || t.objective < best.objective!) best = t;
  }
  return best;
}

/** The partial config a trial's parameters stand for (without the settings tune forces per trial). */
export function trialLayer(settings: Pick<StudySettings, "config" | "space">, params: Record<string, unknown>): Record<string, unknown> {
  return mergeConfig(mergeConfig(structuredClone(settings.config), settings.space.base), nestParams(params));
}

function settingsMismatch(stored: StudySettings, given: StudySettings): string[] {
  const problems: string[] = [];
  const same = (a: unknown, b: unknown) => canonicalJson(a) === canonicalJson(b);
  if (!same(stored.space, given.space)) problems.push("the search space differs from the one the study was started with");
  if (!same(stored.config, given.config)) problems.push("the --config layer differs from the one the study was started with");
  if (stored.objective !== given.objective) problems.push(`--objective: the study uses ${stored.objective}, not ${given.objective}`);
  if (!same(stored.seeds, given.seeds)) problems.push(`--seeds: the study uses ${stored.seeds.join(",")}, not ${given.seeds.join(",")}`);
  if (stored.sampler !== given.sampler) problems.push(`--sampler: the study uses ${stored.sampler}, not ${given.sampler}`);
  if (stored.samplerSeed !== given.samplerSeed) problems.push(`sampler seed: the study uses ${stored.samplerSeed}, not ${given.samplerSeed}`);
  if (Boolean(stored.sweep) !== Boolean(given.sweep)) problems.push(`--sweep: the study is ${stored.sweep ? "a seed sweep" : "a search"}, not ${given.sweep ? "a seed sweep" : "a search"}`);
  return problems;
}

/** What running one seed of a trial gave. */
type SeedOutcome = { kind: "done"; result: SeedResult; reached: number | null } | { kind: "interrupted" };

/** A trial this worker runs: whether the study took it away (missed heartbeats), and how to stop its child. */
interface TrialControl {
  lost: boolean;
  /** Set while the trial's result is being written: the write itself says whether the trial is still ours. */
  finishing: boolean;
  stop: () => void;
}

class StudyRun {
  private readonly sampler: Sampler;
  private readonly threads: number;
  private readonly runner: string;
  private readonly stopGraceMs: number;
  private readonly stopHandlers = new Set<() => void>();
  private readonly active = new Map<number, TrialControl>();
  /** Slots pausing for other workers' trials, woken when a trial of this worker ends. */
  private readonly wakers = new Set<() => void>();
  private stopping = false;
  private beating = false;

  constructor(
    private readonly store: StudyStore,
    private readonly worker: Worker,
    private readonly reap: ReapOptions,
    private readonly settings: StudySettings,
    private readonly options: StudyOptions,
    private readonly log: (line: string) => void,
  ) {
    this.sampler = options.samplerOverride ?? makeSampler(settings.sampler, options.tpe);
    this.threads = options.threadsPerTrial ?? Math.max(1, Math.floor(availableParallelism() / Math.max(1, options.parallel)));
    this.runner = options.runner ?? kDefaultRunner;
    this.stopGraceMs = options.stopGraceMs ?? 30_000;
  }

  /** Runs trials on `parallel` workers; returns true when stopped before the end. */
  async run(): Promise<boolean> {
    const onAbort = () => {
      if (this.stopping) return;
      this.stopping = true;
      this.log("Stopping: running trials are stopped and will run again when the study is resumed");
      for (const stop of this.stopHandlers) stop();
    };
    if (this.options.signal?.aborted) onAbort();
    this.options.signal?.addEventListener("abort", onAbort);
    const heartbeatMs = (this.options.heartbeatS ?? kDefaultHeartbeatS) * 1000;
    const timer = setInterval(() => void this.beat(), heartbeatMs);
    try {
      const slots = Array.from({ length: Math.max(1, this.options.parallel) }, async () => {
        while (!this.stopping) {
          const claim = await this.store.claim(this.worker, this.settings.trials, (number, history) => this.sample(number, history));
          if (claim.kind === "done") return;
          if (claim.kind === "wait") {
            await this.pause(heartbeatMs);
            await this.takeLostTrials();
            continue;
          }
          await this.runTrial(claim.trial);
        }
      });
      await Promise.all(slots);
    } finally {
      clearInterval(timer);
      this.options.signal?.removeEventListener("abort", onAbort);
    }
    return this.stopping && (await this.store.finishedCount()) < this.settings.trials;
  }

  /** Trial `number`'s parameters, drawn from its own seed given the study's finished trials (none in a sweep). */
  private sample(number: number, history: readonly TrialRow[]): Record<string, unknown> {
    if (this.settings.sweep) return {};
    const observations: Observation[] = history
      .filter((t) => t.state === "complete" || t.state === "pruned")
      .map((t) => ({ number: t.number, params: t.params, state: t.state as "complete" | "pruned", objective: t.objective, reached: t.reached }));
    return this.sampler.sample(this.settings.space.params, observations, new Rng(mixSeed(this.settings.samplerSeed, number)));
  }

  /** Waits `ms`, or less when the study is stopped or one of this worker's trials ends. */
  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.stopHandlers.delete(done);
        this.wakers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.stopHandlers.add(done);
      this.wakers.add(done);
    });
  }

  /** Renews the heartbeat of this worker's trials, stops those the study took away, and takes dead workers' trials. */
  private async beat(): Promise<void> {
    if (this.beating) return;
    this.beating = true;
    try {
      const numbers = [...this.active.keys()];
      const held = new Set(await this.store.heartbeat(this.worker, numbers));
      for (const number of numbers) {
        const control = this.active.get(number);
        if (held.has(number) || !control || control.finishing || control.lost) continue;
        control.lost = true;
        this.log(`trial ${number} was taken from this worker (its heartbeats missed the grace period): stopping it`);
        control.stop();
      }
      await this.takeLostTrials();
    } catch (error) {
      this.log(`heartbeat failed: ${(error as Error).message}`);
    } finally {
      this.beating = false;
    }
  }

  private async takeLostTrials(): Promise<void> {
    for (const lost of await this.store.reapLost(this.worker, this.reap)) this.log(lostLine(lost));
  }

  private async runTrial(trial: TrialRow): Promise<void> {
    const control: TrialControl = { lost: false, finishing: false, stop: () => undefined };
    this.active.set(trial.number, control);
    try {
      await this.runTrialSeeds(trial, control);
    } finally {
      this.active.delete(trial.number);
      for (const wake of this.wakers) wake();
    }
  }

  /** Writes a trial's result; says so when the trial was taken from this worker first. */
  private async finish(number: number, control: TrialControl, result: Parameters<StudyStore["finish"]>[2]): Promise<boolean> {
    control.finishing = true;
    if (!control.lost && (await this.store.finish(this.worker, number, result))) return true;
    this.log(`trial ${number}: result not recorded: the trial was taken from this worker after missed heartbeats`);
    return false;
  }

  private async runTrialSeeds(trial: TrialRow, control: TrialControl): Promise<void> {
    const { number } = trial;
    this.log(`trial ${number} started${trial.attempts > 1 ? ` (attempt ${trial.attempts})` : ""}: ${this.settings.sweep ? `seed ${this.settings.seeds[number]}` : formatParams(trial.params)}`);
    const seeds: SeedResult[] = [];
    for (const seed of this.settings.sweep ? [this.settings.seeds[number]] : this.settings.seeds) {
      if (this.stopping) {
        await this.store.requeue(this.worker, number);
        return;
      }
      if (control.lost) return;
      let config: Config;
      try {
        config = this.trialConfig(trial, seed);
      } catch (err) {
        const problems = err instanceof ConfigError ? err.problems.join("; ") : (err as Error).message;
        if (await this.finish(number, control, { state: "failed", objective: null, seeds, error: `invalid config: ${problems}` })) {
          this.log(`trial ${number} failed${await this.progress()}: invalid config: ${problems}`);
        }
        return;
      }
      const runDir = join(this.options.dir, "trials", `trial-${String(number).padStart(4, "0")}__seed-${seed}__try-${trial.attempts}`);
      rmSync(runDir, { recursive: true, force: true });
      mkdirSync(runDir, { recursive: true });
      writeJson(join(runDir, "config.json"), config);
      const outcome = await this.runSeed(number, seed, config, runDir, control);
      if (control.lost) return;
      if (outcome.kind === "interrupted") {
        await this.store.requeue(this.worker, number);
        return;
      }
      const { result } = outcome;
      seeds.push(result);
      await this.store.updateSeeds(this.worker, number, seeds);
      if (result.state === "pruned") {
        if (await this.finish(number, control, { state: "pruned", objective: null, seeds, reached: outcome.reached })) {
          this.log(`trial ${number} pruned${await this.progress()} at episode ${outcome.reached} (seed ${seed})`);
        }
        return;
      }
      if (result.state === "failed") {
        if (await this.finish(number, control, { state: "failed", objective: null, seeds, error: result.error ?? "failed" })) {
          this.log(`trial ${number} failed${await this.progress()} (seed ${seed}): ${result.error}`);
        }
        return;
      }
    }
    const objective = mean(seeds.map((s) => s.value!));
    // The line is printed once the result is in the database.
    if (await this.finish(number, control, { state: "complete", objective, seeds })) {
      this.log(`trial ${number} complete${await this.progress()}: ${completeSummary(this.settings.objective, objective, seeds)}`);
    }
  }

  /** " [5/12]": trials finished in the study, of its budget. */
  private async progress(): Promise<string> {
    return ` [${await this.store.finishedCount()}/${this.settings.trials}]`;
  }

  /** The resolved config of one trial and seed: tune's defaults < --config < base < parameters < what tune forces. */
  private trialConfig(trial: TrialRow, seed: number): Config {
    const forced = { name: `trial-${trial.number}`, seed, threads: this.threads, log: { runsDir: join(this.options.dir, "trials"), progress: false } };
    const layer = mergeConfig(mergeConfig(structuredClone(kTrialDefaults), trialLayer(this.settings, trial.params)), forced);
    return resolveConfig({ fileObject: layer });
  }

  /** Trains one seed in a child process, pruning it at checkpoints when the median rule says so. */
  private runSeed(number: number, seed: number, config: Config, runDir: string, control: TrialControl): Promise<SeedOutcome> {
    const pruner = this.settings.space.pruner;
    return new Promise<SeedOutcome>((resolve) => {
      const threads = String(config.threads);
      const child = spawn(process.execPath, ["--import", "tsx", "--import", kParentGuard, this.runner, runDir], {
        cwd: packageRoot,
        // stdin stays open: it is the parent-death signal the guard listens to.
        stdio: ["pipe", "pipe", "pipe"],
        env: { ...process.env, OMP_NUM_THREADS: threads, OPENBLAS_NUM_THREADS: threads, MKL_NUM_THREADS: threads, TENNIS_TRAIN_TOKEN: undefined },
      });
      const stderrLog = openAppendLog(join(runDir, "stderr.log"));
      let stderrTail = "";
      child.stderr.on("data", (chunk: Buffer) => {
        stderrLog?.write(chunk);
        stderrTail = (stderrTail + chunk.toString("utf8")).slice(-kStderrTail);
      });
      child.stdin.on("error", () => undefined);

      let lastEpisode = 0;
      let lastAverage: number | null = null;
      let prunedAt: number | null = null;
      let stoppedByStudy = false;
      let summary: Record<string, unknown> | null = null;
      let errorMessage: string | null = null;
      let killTimer: NodeJS.Timeout | null = null;
      const terminate = () => {
        child.kill("SIGTERM");
        killTimer ??= setTimeout(() => child.kill("SIGKILL"), this.stopGraceMs);
        killTimer.unref();
      };
      const onStudyStop = () => {
        stoppedByStudy = true;
        terminate();
      };
      this.stopHandlers.add(onStudyStop);
      control.stop = onStudyStop;

      const onMessage = async (message: RunnerMessage) => {
        if (message.type === "episode") {
          lastEpisode = message.episode;
          lastAverage = message.average;
          if (prunedAt === null && !stoppedByStudy && isCheckpoint(pruner, message.episode)) {
            await this.store.addIntermediate(number, seed, message.episode, message.average);
            const othersAtStep = await this.store.completeAt(seed, message.episode);
            const prune = shouldPrune(pruner, { episode: message.episode, value: message.average, othersAtStep, completeTrials: await this.store.completeCount() });
            if (prune) {
              prunedAt = message.episode;
              this.log(`trial ${number}: moving average ${message.average.toFixed(3)} below the median ${median(othersAtStep).toFixed(3)} of complete trials at episode ${message.episode}: pruning`);
              terminate();
            }
          }
        } else if (message.type === "summary") {
          summary = message.summary;
        } else if (message.type === "error") {
          errorMessage = message.message;
        }
      };
      // Messages are handled one after another (the pruner's database reads are awaited in order).
      let handled = Promise.resolve();
      const lines = createInterface({ input: child.stdout });
      lines.on("line", (line) => {
        if (!line.startsWith("{")) return;
        let message: RunnerMessage;
        try {
          message = JSON.parse(line) as RunnerMessage;
        } catch {
          // A library's own output that happens to start with "{": not ours.
          return;
        }
        handled = handled.then(() => onMessage(message)).catch((error: Error) => this.log(`trial ${number}: ${error.message}`));
      });
      const stdoutDone = new Promise<void>((done) => lines.once("close", done));
      const exited = new Promise<[number | null, NodeJS.Signals | null]>((done) => {
        child.once("exit", (code, signal) => done([code, signal]));
        child.once("error", (err) => {
          errorMessage = `cannot start the runner: ${err.message}`;
          done([null, null]);
        });
      });
      void Promise.all([exited, stdoutDone]).then(async ([[code, signal]]) => {
        await handled;
        if (killTimer) clearTimeout(killTimer);
        this.stopHandlers.delete(onStudyStop);
        stderrLog?.end();
        const s = summary as Record<string, unknown> | null;
        const base = { seed, runDir, episodes: Number(s?.episodes ?? lastEpisode) };
        if (prunedAt !== null) {
          resolve({
            kind: "done",
            reached: prunedAt,
            result: { ...base, state: "pruned", solved: false, episodesToSolve: null, wallS: numberOrNull(s?.wall_s), bestAverage: numberOrNull(s?.best_avg100) ?? lastAverage, value: null },
          });
          return;
        }
        if (stoppedByStudy) {
          resolve({ kind: "interrupted" });
          return;
        }
        if (s && code === 0 && s.stopped !== "interrupted") {
          const outcome = {
            solved: s.solved === true,
            episodesToSolve: numberOrNull(s.episodes_to_solve),
            episodes: base.episodes,
            // Time to solve (a solved run may train on for its final policy: train.polishTarget).
            wallS: numberOrNull((s.at_solve as { wall_s?: unknown } | null)?.wall_s ?? s.wall_s),
            bestAverage: numberOrNull(s.best_avg100) ?? lastAverage,
          };
          const value = seedObjective(this.settings.objective, outcome, config.train.episodes, config.train.targetScore);
          resolve({ kind: "done", reached: null, result: { ...base, ...outcome, state: "complete", value } });
          return;
        }
        const how = s?.stopped === "interrupted" ? "the run was interrupted from outside the study" : signal ? `the run's process was killed by ${signal}` : `the run's process exited with code ${code}`;
        const tail = stderrTail.trim().split("\n").slice(-5).join("\n");
        const error = errorMessage ?? `${how}${tail ? `: ${tail}` : ""}`;
        resolve({
          kind: "done",
          reached: null,
          result: { ...base, state: "failed", solved: false, episodesToSolve: null, wallS: null, bestAverage: lastAverage, value: null, error },
        });
      });
    });
  }
}

/** "episodes to solve 150.0 (seed 0: solved at 150)", or "penalty 824.8 (seed 0: unsolved, best avg 0.120)". */
function completeSummary(objective: Objective, value: number, seeds: readonly SeedResult[]): string {
  const measured = seeds.every((s) => s.solved) ? `${objective === "episodes" ? "episodes" : "seconds"} to solve ${value.toFixed(objective === "episodes" ? 1 : 2)}` : `penalty ${value.toFixed(objective === "episodes" ? 1 : 2)}`;
  const perSeed = seeds.map((s) => `seed ${s.seed}: ${s.solved ? `solved at ${s.episodesToSolve}` : `unsolved, best avg ${s.bestAverage?.toFixed(3) ?? "n/a"}`}`).join("; ");
  return `${measured} (${perSeed})`;
}

function numberOrNull(value: unknown): number | null {
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

/** "agent.lrActor=0.000312 agent.tau=0.0123 noise.decayEpisodes=220" */
export function formatParams(params: Record<string, unknown>): string {
  return Object.entries(params)
    .map(([path, value]) => `${path}=${typeof value === "number" && !Number.isInteger(value) ? Number(value.toPrecision(3)) : JSON.stringify(value)}`)
    .join(" ");
}
