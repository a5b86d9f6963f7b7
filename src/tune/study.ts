// A study: draws trial parameters (random or TPE), runs each trial's seeds as child processes of the
// server's runner (src/server/runner.ts), K trials at a time with their own thread budget, prunes
// hopeless trials at checkpoints, and keeps everything in the study's SQLite file so that a killed
// study resumes where it stopped.
import { spawn } from "node:child_process";
import { createWriteStream, mkdirSync, rmSync } from "node:fs";
import { availableParallelism } from "node:os";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath, pathToFileURL } from "node:url";

import { packageRoot } from "../../binding/load.ts";
import { ConfigError, mergeConfig, resolveConfig } from "../config/resolve.ts";
import type { Config } from "../config/types.ts";
import type { RunnerMessage } from "../server/runner.ts";
import { writeJson } from "../trainer/run-dir.ts";
import { mean, seedObjective } from "./objective.ts";
import { isCheckpoint, median, shouldPrune } from "./pruner.ts";
import { Rng, mixSeed } from "../util/rng.ts";
import { makeSampler, type Observation, type Sampler, type TpeOptions } from "./samplers.ts";
import { canonicalJson, nestParams, type SearchSpace } from "./space.ts";
import { StudyStore, type Objective, type SamplerName, type SeedResult, type StudySettings, type TrialRow } from "./store.ts";

export interface StudyOptions {
  /** The study folder (created if needed): study.sqlite, trials/, and the outputs. */
  dir: string;
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
  /** Module each trial's child process runs. Default: the server's runner (src/server/runner.ts). */
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

/** Runs (or resumes) a study until it has `trials` finished trials or is stopped. */
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
  };
  const store = StudyStore.open(options.dir);
  try {
    store.acquire();
    const stored = store.settings();
    if (stored) {
      const problems = settingsMismatch(stored, settings);
      if (problems.length > 0) throw new StudyMismatchError(problems, options.dir);
    }
    store.saveSettings(settings);
    const resumedFrom = store.finishedCount();
    const requeued = store.requeueRunning();
    if (stored) {
      const again = requeued.length ? `; trial${requeued.length > 1 ? "s" : ""} ${requeued.join(", ")} interrupted last time will run again` : "";
      log(`Resuming the study in ${options.dir}: ${resumedFrom} of ${settings.trials} trials finished${again}`);
    }
    const study = new StudyRun(store, settings, options, log);
    const interrupted = await study.run();
    const trials = store.trials();
    return { dir: options.dir, settings, trials, best: bestTrial(trials), interrupted, resumedFrom };
  } finally {
    store.release();
    store.close();
  }
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
  return problems;
}

/** What running one seed of a trial gave. */
type SeedOutcome = { kind: "done"; result: SeedResult; reached: number | null } | { kind: "interrupted" };

class StudyRun {
  private readonly sampler: Sampler;
  private readonly threads: number;
  private readonly runner: string;
  private readonly stopGraceMs: number;
  private readonly stopHandlers = new Set<() => void>();
  private stopping = false;
  private inFlight = 0;

  constructor(
    private readonly store: StudyStore,
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
    try {
      const workers = Array.from({ length: Math.max(1, this.options.parallel) }, async () => {
        for (let trial = this.claim(); trial; trial = this.claim()) {
          try {
            await this.runTrial(trial);
          } finally {
            this.inFlight -= 1;
          }
        }
      });
      await Promise.all(workers);
    } finally {
      this.options.signal?.removeEventListener("abort", onAbort);
    }
    return this.stopping && this.store.finishedCount() < this.settings.trials;
  }

  /** The next trial to run (a requeued one first, else freshly sampled), or null when done. */
  private claim(): TrialRow | null {
    if (this.stopping) return null;
    if (this.store.finishedCount() + this.inFlight >= this.settings.trials) return null;
    let trial = this.store.claimWaiting();
    if (!trial) {
      const history = this.store.trials();
      const number = history.length === 0 ? 0 : history[history.length - 1].number + 1;
      const observations: Observation[] = history
        .filter((t) => t.state === "complete" || t.state === "pruned")
        .map((t) => ({ number: t.number, params: t.params, state: t.state as "complete" | "pruned", objective: t.objective, reached: t.reached }));
      const params = this.sampler.sample(this.settings.space.params, observations, new Rng(mixSeed(this.settings.samplerSeed, number)));
      trial = this.store.createRunning(params);
    }
    this.inFlight += 1;
    return trial;
  }

  private async runTrial(trial: TrialRow): Promise<void> {
    const { number } = trial;
    this.log(`trial ${number} started${trial.attempts > 1 ? ` (attempt ${trial.attempts})` : ""}: ${formatParams(trial.params)}`);
    const seeds: SeedResult[] = [];
    for (const seed of this.settings.seeds) {
      if (this.stopping) {
        this.store.requeue(number);
        return;
      }
      let config: Config;
      try {
        config = this.trialConfig(trial, seed);
      } catch (err) {
        const problems = err instanceof ConfigError ? err.problems.join("; ") : (err as Error).message;
        this.store.finish(number, { state: "failed", objective: null, seeds, error: `invalid config: ${problems}` });
        this.log(`trial ${number} failed${this.progress()}: invalid config: ${problems}`);
        return;
      }
      const runDir = join(this.options.dir, "trials", `trial-${String(number).padStart(4, "0")}__seed-${seed}__try-${trial.attempts}`);
      rmSync(runDir, { recursive: true, force: true });
      mkdirSync(runDir, { recursive: true });
      writeJson(join(runDir, "config.json"), config);
      const outcome = await this.runSeed(number, seed, config, runDir);
      if (outcome.kind === "interrupted") {
        this.store.requeue(number);
        return;
      }
      const { result } = outcome;
      seeds.push(result);
      this.store.updateSeeds(number, seeds);
      if (result.state === "pruned") {
        this.store.finish(number, { state: "pruned", objective: null, seeds, reached: outcome.reached });
        this.log(`trial ${number} pruned${this.progress()} at episode ${outcome.reached} (seed ${seed})`);
        return;
      }
      if (result.state === "failed") {
        this.store.finish(number, { state: "failed", objective: null, seeds, error: result.error ?? "failed" });
        this.log(`trial ${number} failed${this.progress()} (seed ${seed}): ${result.error}`);
        return;
      }
    }
    const objective = mean(seeds.map((s) => s.value!));
    this.store.finish(number, { state: "complete", objective, seeds });
    this.log(`trial ${number} complete${this.progress()}: ${completeSummary(this.settings.objective, objective, seeds)}`);
  }

  /** " [5/12]": trials finished in the study, of its budget. */
  private progress(): string {
    return ` [${this.store.finishedCount()}/${this.settings.trials}]`;
  }

  /** The resolved config of one trial and seed: tune's defaults < --config < base < parameters < what tune forces. */
  private trialConfig(trial: TrialRow, seed: number): Config {
    const forced = { name: `trial-${trial.number}`, seed, threads: this.threads, log: { runsDir: join(this.options.dir, "trials"), progress: false } };
    const layer = mergeConfig(mergeConfig(structuredClone(kTrialDefaults), trialLayer(this.settings, trial.params)), forced);
    return resolveConfig({ fileObject: layer });
  }

  /** Trains one seed in a child process, pruning it at checkpoints when the median rule says so. */
  private runSeed(number: number, seed: number, config: Config, runDir: string): Promise<SeedOutcome> {
    const pruner = this.settings.space.pruner;
    return new Promise<SeedOutcome>((resolve) => {
      const threads = String(config.threads);
      const child = spawn(process.execPath, ["--import", "tsx", "--import", kParentGuard, this.runner, runDir], {
        cwd: packageRoot,
        // stdin stays open: it is the parent-death signal the guard listens to.
        stdio: ["pipe", "pipe", "pipe"],
        env: { ...process.env, OMP_NUM_THREADS: threads, OPENBLAS_NUM_THREADS: threads, MKL_NUM_THREADS: threads, TENNIS_TRAIN_TOKEN: undefined },
      });
      const stderrLog = createWriteStream(join(runDir, "stderr.log"), { flags: "a" });
      stderrLog.on("error", () => undefined);
      let stderrTail = "";
      child.stderr.on("data", (chunk: Buffer) => {
        stderrLog.write(chunk);
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

      const onMessage = (message: RunnerMessage) => {
        if (message.type === "episode") {
          lastEpisode = message.episode;
          lastAverage = message.average;
          if (prunedAt === null && !stoppedByStudy && isCheckpoint(pruner, message.episode)) {
            this.store.addIntermediate(number, seed, message.episode, message.average);
            const othersAtStep = this.store.completeAt(seed, message.episode);
            const prune = shouldPrune(pruner, { episode: message.episode, value: message.average, othersAtStep, completeTrials: this.store.completeCount() });
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
      const lines = createInterface({ input: child.stdout });
      lines.on("line", (line) => {
        if (!line.startsWith("{")) return;
        try {
          onMessage(JSON.parse(line) as RunnerMessage);
        } catch {
          // A library's own output that happens to start with "{": not ours.
        }
      });
      const stdoutDone = new Promise<void>((done) => lines.once("close", done));
      const exited = new Promise<[number | null, NodeJS.Signals | null]>((done) => {
        child.once("exit", (code, signal) => done([code, signal]));
        child.once("error", (err) => {
          errorMessage = `cannot start the runner: ${err.message}`;
          done([null, null]);
        });
      });
      void Promise.all([exited, stdoutDone]).then(([[code, signal]]) => {
        if (killTimer) clearTimeout(killTimer);
        this.stopHandlers.delete(onStudyStop);
        stderrLog.end();
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
