// Resolves a config: schema defaults < competitive mode's defaults (configs/competitive.json, when
// env.mode is competitive) < `--config FILE` < CLI flags, each layer validated against the schema on
// its own so every message names the field, what was expected, what was received and where it came
// from. Cross-field rules live in check.ts.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";

import { packageRoot } from "../../../binding/package.ts";
import { describe } from "../../../binding/validate.ts";
import { checkConfig } from "./check.ts";
import { expectedText, loadSchema, nodeAt, schema, schemaDefaults, schemaPath, type SchemaNode } from "./schema.ts";
import type { Config } from "./types.ts";

/** A config that failed validation; `problems` holds one line per field. */
export class ConfigError extends Error {
  readonly problems: string[];

  constructor(problems: string[]) {
    super(`Invalid config:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
    this.problems = problems;
  }
}

const ajv = new Ajv({ allErrors: true, strict: false });

/** A schema and its compiled validator. */
interface LoadedSchema {
  root: SchemaNode;
  validate: ValidateFunction;
}

const loaded = new Map<string, LoadedSchema>([[schemaPath, { root: schema, validate: ajv.compile(schema) }]]);

/** configs/schema.json, or the schema file `file` (compiled once per path). */
function schemaAt(file = schemaPath): LoadedSchema {
  let entry = loaded.get(file);
  if (!entry) {
    const root = loadSchema(file);
    // A copy keeps the original's $id; ajv refuses a second schema under one id.
    const { $id: _id, ...rest } = root as SchemaNode & { $id?: string };
    entry = { root, validate: ajv.compile(rest) };
    loaded.set(file, entry);
  }
  return entry;
}

/** Edit distance, for did-you-mean suggestions. */
export function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1].toLowerCase() === b[j - 1].toLowerCase() ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length];
}

/** The closest candidate within a third of the name's length, or undefined. */
export function didYouMean(name: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.ceil(name.length / 3)) + 1;
  for (const candidate of candidates) {
    const d = editDistance(name, candidate);
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return best;
}

function valueAt(obj: unknown, path: string): unknown {
  let value = obj;
  for (const key of path.split(".").filter(Boolean)) value = (value as Record<string, unknown> | undefined)?.[key];
  return value;
}

/** ajv errors -> one message per field, in the sharp shape. `source` says where the layer came from. */
function describeErrors(errors: ErrorObject[], layer: unknown, source: string, root: SchemaNode): Map<string, string> {
  const messages = new Map<string, string>();
  for (const error of errors) {
    const path = error.instancePath.split("/").filter(Boolean).join(".");
    if (error.keyword === "additionalProperty" || error.keyword === "additionalProperties") {
      const key = (error.params as { additionalProperty: string }).additionalProperty;
      const full = path ? `${path}.${key}` : key;
      const siblings = Object.keys(nodeAt(path, root)?.properties ?? {});
      const suggestion = didYouMean(key, siblings);
      messages.set(full, `Unknown option \`${full}\` in ${source}${suggestion ? ` (did you mean \`${path ? `${path}.` : ""}${suggestion}\`?)` : ""}`);
      continue;
    }
    const fieldPath = path.replace(/\.\d+$/, "");
    if (messages.has(fieldPath)) continue;
    const node = nodeAt(fieldPath, root);
    const expected = node ? expectedText(node) : error.message ?? "a valid value";
    messages.set(fieldPath, `Expected ${expected} for \`${fieldPath}\` but received ${describe(valueAt(layer, fieldPath))} in ${source}`);
  }
  return messages;
}

/** Dotted paths (array items counted as their array) of the NaN and ±Infinity numbers in `value`. */
function nonFinitePaths(value: unknown, path = ""): string[] {
  if (typeof value === "number") return Number.isFinite(value) ? [] : [path];
  if (Array.isArray(value)) return [...new Set(value.flatMap((item) => nonFinitePaths(item, path)))];
  if (typeof value !== "object" || value === null) return [];
  return Object.entries(value).flatMap(([key, item]) => nonFinitePaths(item, path ? `${path}.${key}` : key));
}

/**
 * One message per known field holding NaN or ±Infinity (JSON's 1e309 parses as Infinity): the schema's
 * `number` type admits them, and JSON would write them back as null.
 */
function nonFiniteProblems(layer: unknown, source: string, root: SchemaNode): Map<string, string> {
  const messages = new Map<string, string>();
  for (const path of nonFinitePaths(layer)) {
    const node = nodeAt(path, root);
    if (!node) continue;
    const received = describe(valueAt(layer, path));
    messages.set(path, `Expected finite ${expectedText(node)} for \`${path}\` but received ${received} in ${source}`);
  }
  return messages;
}

/** Validates one partial layer (a config file or the flags) against the schema file; returns its problems. */
export function validateLayerObject(layer: unknown, source: string, file = schemaPath): string[] {
  if (typeof layer !== "object" || layer === null || Array.isArray(layer)) {
    return [`Expected a JSON object in ${source} but received ${describe(layer)}`];
  }
  const { root, validate } = schemaAt(file);
  const messages = validate(layer) ? new Map<string, string>() : describeErrors(validate.errors ?? [], layer, source, root);
  for (const [path, message] of nonFiniteProblems(layer, source, root)) if (!messages.has(path)) messages.set(path, message);
  return [...messages.values()];
}

/** Deep merge of plain objects; arrays and scalars from `over` replace those of `base`. */
export function mergeConfig<T>(base: T, over: unknown): T {
  if (typeof over !== "object" || over === null || Array.isArray(over)) return base;
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [key, value] of Object.entries(over)) {
    const current = out[key];
    out[key] =
      typeof value === "object" && value !== null && !Array.isArray(value) && typeof current === "object" && current !== null
        ? mergeConfig(current, value)
        : value;
  }
  return out as T;
}

/** configs/competitive.json: the defaults of competitive mode that differ from the schema's. */
export const competitivePath = join(packageRoot, "configs", "competitive.json");

/** The defaults of competitive mode that differ from the schema's (a layer between the schema's and a config file). */
export function competitiveDefaults(): unknown {
  return JSON.parse(readFileSync(competitivePath, "utf8"));
}

/** Reads a config file as JSON, with a clear error when it cannot be read or parsed. */
export function readConfigFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new ConfigError([`Cannot read config file ${path}: ${(err as Error).message}`]);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ConfigError([`Config file ${path} is not valid JSON: ${(err as Error).message}`]);
  }
}

export interface ResolveInput {
  /** Path of a JSON config file (--config). */
  file?: string;
  /** Already-parsed file contents (instead of `file`), e.g. a config sent to the server. */
  fileObject?: unknown;
  /** Partial config built from CLI flags. */
  flags?: Record<string, unknown>;
  /** The schema file whose defaults and bounds apply (default configs/schema.json). */
  schemaFile?: string;
}

/**
 * Defaults < file < flags, each layer validated against the schema, then the cross-field rules of
 * check.ts; throws ConfigError listing every problem.
 */
export function resolveConfig(input: ResolveInput = {}): Config {
  const problems: string[] = [];
  const file = input.schemaFile ?? schemaPath;
  let config = schemaDefaults(schemaAt(file).root) as unknown as Config;
  const fileLayer = input.file !== undefined ? readConfigFile(input.file) : input.fileObject;
  // Self-play (the training of competitive mode) learns with other defaults for a few options.
  if ((valueAt(input.flags, "env.mode") ?? valueAt(fileLayer, "env.mode")) === "competitive") config = mergeConfig(config, competitiveDefaults());
  if (fileLayer !== undefined) {
    const source = input.file ?? "the config";
    const fileProblems = validateLayerObject(fileLayer, source, file);
    problems.push(...fileProblems);
    if (fileProblems.length === 0) config = mergeConfig(config, fileLayer);
  }
  if (input.flags && Object.keys(input.flags).length > 0) {
    const flagProblems = validateLayerObject(input.flags, "the command-line flags", file);
    problems.push(...flagProblems);
    if (flagProblems.length === 0) config = mergeConfig(config, input.flags);
  }
  if (problems.length === 0) problems.push(...checkConfig(config));
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}
