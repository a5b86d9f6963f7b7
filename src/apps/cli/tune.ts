// `tennis-train tune`: checks the command's options, runs (or resumes, or joins) the study as one
// worker, then prints the best trials and writes the best config, trials.csv, study.json and the
// objective plot into the study folder; `--status` prints a study's progress instead.
import { existsSync } from "node:fs";
import { basename, join, resolve } from "node:path";

import { kMaxConfigNameLength } from "../../lib/config/names.ts";
import { writableDirProblem } from "../../lib/config/writable-dir.ts";
import { ConfigError, didYouMean, readConfigFile, validateLayerObject } from "../../lib/config/resolve.ts";
import { redact, storageProblem } from "../tune/db.ts";
import { bestTrialsTable, plotObjective, rankTrials, studyStatus, writeBestConfig, writeStudyExports, type StudyStatus } from "../tune/report.ts";
import type { TpeOptions } from "../tune/samplers.ts";
import { readSpaceFile, type SearchSpace } from "../tune/space.ts";
import { median } from "../tune/pruner.ts";
import { kStudyFile, withStore, type Objective, type SamplerName, type TrialRow } from "../tune/store.ts";
import { defaultStorage, kDefaultGraceS, kDefaultHeartbeatS, kDefaultRetries, runStudy } from "../tune/study.ts";
import { UsageError } from "./common.ts";

export interface TuneOptions {
  /** --space: the search-space JSON file. Required, except with --sweep and --status. */
  space?: string;
  /** --trials: trials to finish in all, over every worker and session. Required, >= 1, except with --sweep (one per seed) and --status. */
  trials?: number;
  /** --storage: sqlite:PATH or postgresql://USER@HOST/DB. Default sqlite:<study folder>/study.sqlite. */
  storage?: string;
  /** --sweep: one trial per seed of --seeds, on the fixed --config (no search, no pruning). */
  sweep?: boolean;
  /** --heartbeat: seconds between a worker's heartbeats. Default 10. */
  heartbeat?: number;
  /** --grace: seconds without a heartbeat before a worker's trial is taken. Default 60. */
  grace?: number;
  /** --retries: times a dead worker's trial runs again before it is failed. Default 1. */
  retries?: number;
  /** --parallel: trials run at once. Default 1. */
  parallel?: number;
  /** --seeds: seeds as "0,1" or "0-99" (or a list); each trial trains once per seed, or with --sweep one trial per seed. Default "0". */
  seeds?: string | number | number[];
  /** --objective: episodes (to solve) or wall (seconds to solve). Default episodes. */
  objective?: string;
  /** --study: the study folder, whose name names the study in --storage. Default studies/<space file name>. */
  study?: string;
  /** --sampler: tpe or random. Default tpe. */
  sampler?: string;
  /** --config: a config file under the space's base. */
  config?: string;
  /** --sampler-seed: seed of the sampler's draws. Default 0. */
  samplerSeed?: number;
  /** --json: print one JSON object as the last line of stdout (progress goes to stderr). */
  json?: boolean;
  // Library-only options.
  /** Module each trial's child process runs (default the server's runner; tests pass a stand-in). */
  runner?: string;
  /** Stops the study (default: SIGINT and SIGTERM do). */
  signal?: AbortSignal;
  threadsPerTrial?: number;
  tpe?: TpeOptions;
  /** Where lines go (default console.log, or console.error with --json). */
  print?: (line: string) => void;
}

/** What `--json` prints. */
export interface TuneResult {
  study: string;
  trials: number;
  complete: number;
  pruned: number;
  failed: number;
  interrupted: boolean;
  best: { trial: number; objective: number; params: Record<string, unknown>; seeds: unknown[] } | null;
  top: { trial: number; objective: number; params: Record<string, unknown> }[];
  bestConfig: string | null;
  plot: string;
  csv: string;
  studyJson: string;
  storage: string;
}

/** How long `--status` retries an unreachable database, ms. */
const kStatusRetryMs = 10_000;

/** The space of a seed sweep: the fixed config alone, nothing drawn, no pruning. */
const kSweepSpace: SearchSpace = { base: {}, params: {}, pruner: { every: 0, startupTrials: 0, warmupEpisodes: 0 } };

const kObjectives = ["episodes", "wall"] as const;
const kSamplers = ["tpe", "random"] as const;

/** Runs `tennis-train tune`; throws UsageError / ConfigError for bad options, spaces or configs. */
export async function runTune(options: TuneOptions): Promise<TuneResult> {
  const problems: string[] = [];
  const positiveInt = (name: string, value: unknown, fallback?: number): number => {
    if (value === undefined && fallback !== undefined) return fallback;
    if (typeof value !== "number" || !Number.isInteger(value) || value < 1) {
      problems.push(`Expected integer >= 1 for --${name} but received ${value === undefined ? "nothing" : JSON.stringify(value)}`);
      return 1;
    }
    return value;
  };
  const oneOf = <T extends string>(name: string, value: unknown, choices: readonly T[], fallback: T): T => {
    if (value === undefined) return fallback;
    if (typeof value === "string" && (choices as readonly string[]).includes(value)) return value as T;
    const hint = typeof value === "string" ? didYouMean(value, choices) : undefined;
    problems.push(`Expected one of ${choices.join(", ")} for --${name} but received ${JSON.stringify(value)}${hint ? ` (did you mean ${hint}?)` : ""}`);
    return fallback;
  };
  if (options.storage !== undefined) {
    const problem = storageProblem(String(options.storage));
    if (problem) problems.push(problem);
  }
  const nonNegative = (name: string, value: unknown, fallback: number, min = 0): number => {
    if (value === undefined) return fallback;
    if (typeof value !== "number" || !Number.isFinite(value) || value < min) {
      problems.push(`Expected number >= ${min} for --${name} but received ${JSON.stringify(value)}`);
      return fallback;
    }
    return value;
  };
  const heartbeatS = nonNegative("heartbeat", options.heartbeat, kDefaultHeartbeatS, 0.1);
  const graceS = nonNegative("grace", options.grace, kDefaultGraceS, 0.1);
  const retries = nonNegative("retries", options.retries, kDefaultRetries);
  if (!Number.isInteger(retries)) problems.push(`Expected integer >= 0 for --retries but received ${JSON.stringify(options.retries)}`);
  if (graceS <= heartbeatS) problems.push(`Expected --grace (${graceS} s) longer than --heartbeat (${heartbeatS} s): a live worker would lose its trials`);
  if (!options.sweep && (typeof options.space !== "string" || options.space === "")) problems.push("--space is required: the search-space JSON file");
  if (options.sweep && options.space !== undefined) problems.push("--sweep runs the fixed --config on each seed: leave out --space");
  const seeds = parseSeeds(options.seeds, problems);
  const trials = options.sweep && options.trials === undefined ? seeds.length : positiveInt("trials", options.trials);
  if (options.sweep && trials > seeds.length) problems.push(`Expected at most ${seeds.length} --trials in a sweep of ${seeds.length} seeds but received ${trials}`);
  const parallel = positiveInt("parallel", options.parallel, 1);
  const objective: Objective = oneOf("objective", options.objective, kObjectives, "episodes");
  const sampler: SamplerName = oneOf("sampler", options.sampler, kSamplers, "tpe");
  const samplerSeed = options.samplerSeed ?? 0;
  if (!Number.isInteger(samplerSeed) || samplerSeed < 0) problems.push(`Expected integer >= 0 for --sampler-seed but received ${JSON.stringify(samplerSeed)}`);
  if (problems.length > 0) throw new UsageError(problems.join("\n"));

  const space = options.sweep ? kSweepSpace : readSpaceFile(options.space!);
  let config: Record<string, unknown> = {};
  if (options.config !== undefined) {
    const layer = readConfigFile(options.config);
    const configProblems = validateLayerObject(layer, options.config);
    if (configProblems.length > 0) throw new ConfigError(configProblems);
    config = layer as Record<string, unknown>;
  }
  const dir = studyDir(options);
  const studyProblem = writableDirProblem(dir, "--study");
  if (studyProblem) throw new UsageError(studyProblem);
  const print = options.print ?? (options.json ? (line: string) => console.error(line) : (line: string) => console.log(line));

  // Ctrl-C stops the running trials and keeps the study resumable; a second one is Node's default.
  let controller: AbortController | null = null;
  const onSignal = () => {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    controller?.abort();
  };
  if (!options.signal) {
    controller = new AbortController();
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
  }
  let result;
  try {
    const what = options.sweep ? `a sweep of ${trials} seeds` : `${trials} trials, seeds ${seeds.join(",")}, ${sampler} sampler`;
    print(`Study ${dir}${options.storage ? ` in ${redact(options.storage)}` : ""}: ${what}, ${parallel} at a time, objective ${objective}`);
    result = await runStudy({
      dir,
      storage: options.storage,
      sweep: options.sweep,
      heartbeatS,
      graceS,
      retries,
      space,
      config,
      trials,
      parallel,
      seeds,
      objective,
      sampler,
      samplerSeed,
      tpe: options.tpe,
      threadsPerTrial: options.threadsPerTrial,
      runner: options.runner,
      signal: options.signal ?? controller!.signal,
      log: print,
    });
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }

  const count = (state: string) => result.trials.filter((t) => t.state === state).length;
  print("");
  print(bestTrialsTable(result.trials, result.settings));
  if (result.settings.sweep) print(sweepSummary(result.trials));
  const exports = writeStudyExports(dir, result.trials, result.settings, { study: result.name, storage: result.storage });
  print(`Every trial: ${exports.csv} and ${exports.json}`);
  const plot = await plotObjective(result.trials, result.settings, join(dir, "objective"));
  print(plot.png ? `Objective per trial: ${plot.png} (and ${plot.svg})` : `Objective per trial: ${plot.svg}`);
  let bestConfig: string | null = null;
  if (result.best) {
    bestConfig = join(dir, "best-config.json");
    writeBestConfig(bestConfig, result.best, result.settings, configName(dir));
    print(`Best config (trial ${result.best.number}): ${bestConfig}  ->  tennis-train train --config ${bestConfig}`);
  }
  const finished = count("complete") + count("pruned") + count("failed");
  if (result.interrupted) print(`Stopped with ${finished} of ${trials} trials finished: run the same command to resume.`);

  return {
    study: dir,
    trials: finished,
    complete: count("complete"),
    pruned: count("pruned"),
    failed: count("failed"),
    interrupted: result.interrupted,
    best: result.best ? { trial: result.best.number, objective: result.best.objective!, params: result.best.params, seeds: result.best.seeds } : null,
    top: rankTrials(result.trials).slice(0, 10).map((t) => ({ trial: t.number, objective: t.objective!, params: t.params })),
    bestConfig,
    plot: plot.png ?? plot.svg,
    csv: exports.csv,
    studyJson: exports.json,
    storage: result.storage,
  };
}

/** "Sweep: 9 of 10 seeds solved; episodes to solve: median 188 (126 to 346)" */
export function sweepSummary(trials: readonly TrialRow[]): string {
  const seeds = trials.flatMap((t) => t.seeds);
  const solved = seeds.filter((s) => s.solved && s.episodesToSolve !== null).map((s) => s.episodesToSolve!);
  const spread = solved.length ? `; episodes to solve: median ${median(solved)} (${Math.min(...solved)} to ${Math.max(...solved)})` : "";
  return `Sweep: ${solved.length} of ${seeds.length} seeds solved${spread}`;
}

/** The study folder: --study, else studies/<space file name> (studies/sweep for a sweep). */
function studyDir(options: TuneOptions): string {
  if (options.study !== undefined) return resolve(options.study);
  return resolve(join("studies", options.space ? basename(options.space).replace(/\.json$/i, "") : "sweep"));
}

/** `tune --status`: prints the study's progress (from any host that reaches its storage) and returns it. */
export async function runTuneStatus(options: Pick<TuneOptions, "storage" | "study" | "space" | "print">): Promise<StudyStatus> {
  if (options.storage !== undefined) {
    const problem = storageProblem(String(options.storage));
    if (problem) throw new UsageError(problem);
  }
  const print = options.print ?? ((line: string) => console.log(line));
  const dir = studyDir(options);
  const storage = options.storage ?? defaultStorage(dir);
  if (!options.storage && !existsSync(join(dir, kStudyFile))) throw new UsageError(`No study in ${dir}: name its folder with --study (and its --storage if it is not the folder's study.sqlite)`);
  // A question, not a worker's job: an unreachable database is reported after seconds, not minutes.
  const status = await withStore(storage, basename(dir), { retryWindowMs: kStatusRetryMs }, (store) => studyStatus(store));
  print(status.text);
  return status;
}

/** "0-3" -> ["0", "1", "2", "3"]; other parts unchanged. */
function expandRanges(parts: string[]): string[] {
  return parts.flatMap((part) => {
    const range = /^(\d+)-(\d+)$/.exec(part);
    if (!range) return [part];
    const [lo, hi] = [Number(range[1]), Number(range[2])];
    if (hi < lo || hi - lo >= 100_000) return ["bad range"];
    return Array.from({ length: hi - lo + 1 }, (_, i) => String(lo + i));
  });
}

/** "0,1" | "0-9" | 3 | [0, 1] -> [0, 1]: distinct integers in the schema's seed range. */
function parseSeeds(value: TuneOptions["seeds"], problems: string[]): number[] {
  if (value === undefined) return [0];
  const parts = Array.isArray(value) ? value : typeof value === "number" ? [value] : expandRanges(String(value).split(",").map((s) => s.trim()));
  const seeds = parts.map((p) => (typeof p === "number" ? p : p === "" ? NaN : Number(p)));
  const bad = seeds.some((s) => !Number.isInteger(s) || s < 0 || s > 4294967295);
  if (bad || seeds.length === 0) {
    problems.push(`Expected comma-separated integers between 0 and 4294967295 for --seeds but received ${JSON.stringify(value)}`);
    return [0];
  }
  if (new Set(seeds).size !== seeds.length) problems.push(`Expected distinct seeds for --seeds but received ${JSON.stringify(value)}`);
  return seeds;
}

/** A config name (the schema's pattern) for the best config of a study folder. */
function configName(dir: string): string {
  return `tuned-${basename(dir).replace(/[^A-Za-z0-9_.-]/g, "_").replace(/\.{2,}/g, ".")}`.slice(0, kMaxConfigNameLength);
}
