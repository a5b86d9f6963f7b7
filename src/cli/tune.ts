// `tennis-train tune`: checks the command's options, runs (or resumes) the study, then prints the
// best trials and writes the best config and the objective plot into the study folder.
import { basename, join, resolve } from "node:path";

import { kMaxConfigNameLength } from "../config/names.ts";
import { writableDirProblem } from "../config/writable-dir.ts";
import { ConfigError, didYouMean, readConfigFile, validateLayerObject } from "../config/resolve.ts";
import { bestTrialsTable, plotObjective, rankTrials, writeBestConfig, writeStudyExports } from "../tune/report.ts";
import type { TpeOptions } from "../tune/samplers.ts";
import { readSpaceFile } from "../tune/space.ts";
import type { Objective, SamplerName } from "../tune/store.ts";
import { runStudy } from "../tune/study.ts";
import { UsageError } from "./common.ts";

export interface TuneOptions {
  /** --space: the search-space JSON file. Required. */
  space: string;
  /** --trials: trials to finish in all (earlier sessions of the study count). Required, >= 1. */
  trials: number;
  /** --parallel: trials run at once. Default 1. */
  parallel?: number;
  /** --seeds: comma-separated seeds (or a list); each trial trains once per seed. Default "0". */
  seeds?: string | number | number[];
  /** --objective: episodes (to solve) or wall (seconds to solve). Default episodes. */
  objective?: string;
  /** --study: the study folder. Default studies/<space file name>. */
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
}

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
  if (typeof options.space !== "string" || options.space === "") problems.push("--space is required: the search-space JSON file");
  const trials = positiveInt("trials", options.trials);
  const parallel = positiveInt("parallel", options.parallel, 1);
  const objective: Objective = oneOf("objective", options.objective, kObjectives, "episodes");
  const sampler: SamplerName = oneOf("sampler", options.sampler, kSamplers, "tpe");
  const seeds = parseSeeds(options.seeds, problems);
  const samplerSeed = options.samplerSeed ?? 0;
  if (!Number.isInteger(samplerSeed) || samplerSeed < 0) problems.push(`Expected integer >= 0 for --sampler-seed but received ${JSON.stringify(samplerSeed)}`);
  if (problems.length > 0) throw new UsageError(problems.join("\n"));

  const space = readSpaceFile(options.space);
  let config: Record<string, unknown> = {};
  if (options.config !== undefined) {
    const layer = readConfigFile(options.config);
    const configProblems = validateLayerObject(layer, options.config);
    if (configProblems.length > 0) throw new ConfigError(configProblems);
    config = layer as Record<string, unknown>;
  }
  const dir = resolve(options.study ?? join("studies", basename(options.space).replace(/\.json$/i, "")));
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
    print(`Study ${dir}: ${trials} trials, ${parallel} at a time, seeds ${seeds.join(",")}, ${sampler} sampler, objective ${objective}`);
    result = await runStudy({
      dir,
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
  const exports = writeStudyExports(dir, result.trials, result.settings, { study: dir });
  print(`Every trial: ${exports.csv} and ${exports.json}`);
  const plot = join(dir, "objective.png");
  const drawn = plotObjective(result.trials, plot);
  print(`Objective per trial: ${plot} (y from ${drawn.yMin.toFixed(1)} to ${drawn.yMax.toFixed(1)}; blue: complete, orange: best so far, grey: pruned, red: failed)`);
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
    plot,
    csv: exports.csv,
    studyJson: exports.json,
  };
}

/** "0,1" | 3 | [0, 1] -> [0, 1]: distinct integers in the schema's seed range. */
function parseSeeds(value: TuneOptions["seeds"], problems: string[]): number[] {
  if (value === undefined) return [0];
  const parts = Array.isArray(value) ? value : typeof value === "number" ? [value] : String(value).split(",").map((s) => s.trim());
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
