// The search space of `tennis-train tune`: a JSON file of parameters named by their config paths,
// validated against configs/schema.json (only known options, ranges inside the schema's), plus the
// base config the parameters are laid over and the pruner's settings.
import { readFileSync } from "node:fs";

import { describe } from "../../../binding/validate.ts";
import { ConfigError, didYouMean, validateLayerObject } from "../../lib/config/resolve.ts";
import { expectedText, nodeAt, optionLeaves, type SchemaNode } from "../../lib/config/schema.ts";

/** A real number drawn uniformly, on a linear or a log scale. */
export interface FloatParam {
  type: "uniform" | "loguniform";
  low: number;
  high: number;
}

/** An integer in [low, high] on a grid of `step`, optionally drawn on a log scale. */
export interface IntParam {
  type: "int";
  low: number;
  high: number;
  step: number;
  log: boolean;
}

/** One of a list of values (any JSON the option accepts: booleans, enum strings, hidden sizes...). */
export interface CategoricalParam {
  type: "categorical";
  choices: unknown[];
}

export type ParamSpec = FloatParam | IntParam | CategoricalParam;

/** Median pruning on the moving average, compared at checkpoints (Optuna's MedianPruner). */
export interface PrunerSettings {
  /** Episodes between checkpoints where a trial's moving average is recorded and compared (0: no pruning). Default 50. */
  every: number;
  /** Trials that must be complete before any trial is pruned. Default 2. */
  startupTrials: number;
  /** No trial is pruned before this episode. Default 100 (one full moving-average window). */
  warmupEpisodes: number;
}

export interface SearchSpace {
  /** A partial config under the parameters (over `--config` and the schema defaults). */
  base: Record<string, unknown>;
  /** Config path -> how it is drawn, in file order. */
  params: Record<string, ParamSpec>;
  pruner: PrunerSettings;
}

/** A search space that failed validation; `problems` holds one line per problem. */
export class SpaceError extends ConfigError {
  constructor(problems: string[], source: string) {
    super(problems);
    this.name = "SpaceError";
    this.message = `Invalid search space ${source}:\n${problems.map((p) => `  - ${p}`).join("\n")}`;
  }
}

export const kParamTypes = ["uniform", "loguniform", "int", "categorical"] as const;
const kTopKeys = ["base", "params", "pruner"];
const kSpecKeys: Record<ParamSpec["type"], string[]> = {
  uniform: ["type", "low", "high"],
  loguniform: ["type", "low", "high"],
  int: ["type", "low", "high", "step", "log"],
  categorical: ["type", "choices"],
};
export const kDefaultPruner: PrunerSettings = { every: 50, startupTrials: 2, warmupEpisodes: 100 };

/** Options tune sets itself for every trial, with the reason shown when a space tries to search them. */
const kTuneOwned: Record<string, string> = {
  seed: "tune sets it from --seeds",
  threads: "tune gives each trial its own thread budget (cores / --parallel)",
  name: "tune names each trial's run",
  "log.runsDir": "tune puts the trials' runs inside the study folder",
  "log.progress": "trials run without a terminal",
};

const kLeaves = optionLeaves();
const kLeafPaths = kLeaves.map((leaf) => leaf.path);

/** Reads and validates a search-space file; throws SpaceError naming every problem. */
export function readSpaceFile(path: string): SearchSpace {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new SpaceError([`Cannot read ${path}: ${(err as Error).message}`], path);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new SpaceError([`${path} is not valid JSON: ${(err as Error).message}`], path);
  }
  return parseSpace(raw, path);
}

/** Validates a parsed search space (`source` names it in messages); throws SpaceError. */
export function parseSpace(raw: unknown, source = "the search space"): SearchSpace {
  const problems: string[] = [];
  if (!isPlainObject(raw)) throw new SpaceError([`Expected a JSON object in ${source} but received ${describe(raw)}`], source);
  problems.push(...unknownKeys(raw, kTopKeys, "", source));

  const base = raw.base ?? {};
  if (raw.base !== undefined) problems.push(...validateLayerObject(base, `\`base\` of ${source}`));

  const params: Record<string, ParamSpec> = {};
  if (!isPlainObject(raw.params) || Object.keys(raw.params).length === 0) {
    problems.push(`Expected an object of at least one parameter (config path -> {type, ...}) for \`params\` but received ${describe(raw.params)} in ${source}`);
  } else {
    for (const [path, spec] of Object.entries(raw.params)) {
      const parsed = parseParam(path, spec, source, problems);
      if (parsed) params[path] = parsed;
    }
  }

  const pruner = { ...kDefaultPruner };
  if (raw.pruner !== undefined) {
    if (!isPlainObject(raw.pruner)) {
      problems.push(`Expected an object {every, startupTrials, warmupEpisodes} for \`pruner\` but received ${describe(raw.pruner)} in ${source}`);
    } else {
      problems.push(...unknownKeys(raw.pruner, Object.keys(kDefaultPruner), "pruner", source));
      for (const key of Object.keys(kDefaultPruner) as (keyof PrunerSettings)[]) {
        const value = raw.pruner[key];
        if (value === undefined) continue;
        if (!Number.isInteger(value) || (value as number) < 0) {
          problems.push(`Expected integer >= 0 for \`pruner.${key}\` but received ${describe(value)} in ${source}`);
        } else pruner[key] = value as number;
      }
    }
  }

  if (problems.length > 0) throw new SpaceError(problems, source);
  return { base: base as Record<string, unknown>, params, pruner };
}

/** Validates one parameter; pushes its problems and returns the normalised spec when it is valid. */
function parseParam(path: string, spec: unknown, source: string, problems: string[]): ParamSpec | null {
  const where = `\`params.${path}\``;
  const node = nodeAt(path);
  if (!node) {
    problems.push(`Unknown option \`${path}\` in \`params\` of ${source}${suggestPath(path)}`);
    return null;
  }
  if (node.type === "object") {
    const first = Object.keys(node.properties ?? {})[0];
    problems.push(`\`${path}\` in \`params\` of ${source} is a group of options, not an option: name one of its options, e.g. \`${path}.${first}\``);
    return null;
  }
  if (kTuneOwned[path]) {
    problems.push(`\`${path}\` cannot be searched (in \`params\` of ${source}): ${kTuneOwned[path]}`);
    return null;
  }
  if (!isPlainObject(spec)) {
    problems.push(`Expected an object {type, ...} for ${where} but received ${describe(spec)} in ${source}`);
    return null;
  }
  const type = spec.type;
  if (typeof type !== "string" || !(kParamTypes as readonly string[]).includes(type)) {
    const hint = typeof type === "string" ? didYouMean(type, kParamTypes) : undefined;
    problems.push(
      `Expected one of ${kParamTypes.map((t) => `"${t}"`).join(", ")} for \`params.${path}.type\` but received ${describe(type)} in ${source}${hint ? ` (did you mean "${hint}"?)` : ""}`,
    );
    return null;
  }
  const before = problems.length;
  problems.push(...unknownKeys(spec, kSpecKeys[type as ParamSpec["type"]], `params.${path}`, source));
  const schemaText = expectedText(node);

  if (type === "categorical") {
    if (!Array.isArray(spec.choices) || spec.choices.length === 0) {
      problems.push(`Expected a non-empty array for \`params.${path}.choices\` but received ${describe(spec.choices)} in ${source}`);
      return null;
    }
    spec.choices.forEach((choice, i) => {
      const layer = setPath({}, path, choice);
      problems.push(...validateLayerObject(layer, `choice ${i + 1} of ${where} of ${source}`));
    });
    return problems.length === before ? { type: "categorical", choices: structuredClone(spec.choices) } : null;
  }

  // Numeric parameters: the option must be numeric, and an integer option needs an int parameter.
  if (node.type !== "number" && node.type !== "integer") {
    problems.push(`\`${path}\` accepts ${schemaText}: a ${type} parameter cannot set it (use categorical) in ${source}`);
    return null;
  }
  if (node.type === "integer" && type !== "int") {
    problems.push(`\`${path}\` accepts ${schemaText}: a ${type} parameter cannot set it (use int) in ${source}`);
    return null;
  }
  const integers = type === "int";
  const bound = (key: "low" | "high"): number | null => {
    const value = spec[key];
    const ok = typeof value === "number" && Number.isFinite(value) && (!integers || Number.isInteger(value));
    if (!ok) {
      problems.push(`Expected ${integers ? "integer" : "finite number"} for \`params.${path}.${key}\` but received ${describe(value)} in ${source}`);
      return null;
    }
    if (!inSchemaRange(node, value as number)) {
      problems.push(`Expected ${schemaText} (the schema's range of \`${path}\`) for \`params.${path}.${key}\` but received ${describe(value)} in ${source}`);
      return null;
    }
    return value as number;
  };
  const low = bound("low");
  const high = bound("high");
  if (low === null || high === null) return null;
  if (!(low < high)) {
    problems.push(`Expected \`low\` (${low}) below \`high\` (${high}) in ${where} of ${source}`);
    return null;
  }
  if (type === "loguniform" && low <= 0) {
    problems.push(`Expected number > 0 (a log scale) for \`params.${path}.low\` but received ${describe(low)} in ${source}`);
    return null;
  }
  if (type === "uniform" || type === "loguniform") return problems.length === before ? { type, low, high } : null;

  const log = spec.log ?? false;
  const step = spec.step ?? 1;
  if (typeof log !== "boolean") problems.push(`Expected boolean for \`params.${path}.log\` but received ${describe(log)} in ${source}`);
  if (!Number.isInteger(step) || (step as number) < 1) {
    problems.push(`Expected integer >= 1 for \`params.${path}.step\` but received ${describe(step)} in ${source}`);
  } else if (log === true && step !== 1) {
    problems.push(`\`step\` cannot be combined with \`log\` in ${where} of ${source}: a log scale has no fixed grid`);
  } else if ((high - low) % (step as number) !== 0) {
    problems.push(`Expected \`high\` - \`low\` (${high - low}) to be a multiple of \`step\` (${step}) in ${where} of ${source}`);
  }
  if (log === true && low < 1) problems.push(`Expected integer >= 1 (a log scale) for \`params.${path}.low\` but received ${describe(low)} in ${source}`);
  return problems.length === before ? { type: "int", low, high, step: step as number, log: log as boolean } : null;
}

/** Whether a number lies in a schema node's minimum/maximum (exclusive bounds included). */
export function inSchemaRange(node: SchemaNode, value: number): boolean {
  if (node.minimum !== undefined && value < node.minimum) return false;
  if (node.maximum !== undefined && value > node.maximum) return false;
  if (node.exclusiveMinimum !== undefined && value <= node.exclusiveMinimum) return false;
  if (node.exclusiveMaximum !== undefined && value >= node.exclusiveMaximum) return false;
  return true;
}

/** " (did you mean `agent.lrActor`?)" for a mistyped path or a bare option name, else "". */
function suggestPath(path: string): string {
  let suggestion = didYouMean(path, kLeafPaths);
  if (!suggestion) {
    const last = path.split(".").pop()!;
    const byName = didYouMean(last, kLeaves.map((leaf) => leaf.path.split(".").pop()!));
    suggestion = kLeaves.find((leaf) => leaf.path.split(".").pop() === byName)?.path;
  }
  return suggestion ? ` (did you mean \`${suggestion}\`?)` : "";
}

function unknownKeys(obj: Record<string, unknown>, known: string[], prefix: string, source: string): string[] {
  return Object.keys(obj)
    .filter((key) => !known.includes(key))
    .map((key) => {
      const hint = didYouMean(key, known);
      const where = prefix ? ` in \`${prefix}\`` : "";
      return `Unknown key \`${key}\`${where} of ${source}${hint ? ` (did you mean \`${hint}\`?)` : ""}`;
    });
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Sets `value` at a dotted path of `obj` (creating objects on the way); returns `obj`. */
export function setPath(obj: Record<string, unknown>, path: string, value: unknown): Record<string, unknown> {
  const keys = path.split(".");
  let target = obj;
  for (const key of keys.slice(0, -1)) {
    if (!isPlainObject(target[key])) target[key] = {};
    target = target[key] as Record<string, unknown>;
  }
  target[keys[keys.length - 1]] = value;
  return obj;
}

/** Flat {"agent.tau": 0.01} -> nested {agent: {tau: 0.01}}. */
export function nestParams(params: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [path, value] of Object.entries(params)) setPath(out, path, structuredClone(value));
  return out;
}

/** JSON with object keys sorted, so two equal values print the same whatever their key order. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    isPlainObject(v) ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, v[k]])) : v,
  );
}
