// CLI flags generated from the schema: yargs option definitions (no defaults of their own: the
// schema's default is shown in the help text), and the partial config that the given flags form.
import type { Options } from "yargs";

import { expectedText, optionLeaves, type OptionLeaf } from "./schema.ts";

const leaves = optionLeaves();

/** Flags whose value is read as-is (no number guessing), so "--name 123" stays a string. */
function isStringLeaf(leaf: OptionLeaf): boolean {
  return leaf.node.type === "string";
}

/** Numeric-looking strings become numbers; anything else is kept for the schema to reject by name. */
function coerceScalar(value: unknown): unknown {
  if (typeof value === "string" && value.trim() !== "" && Number.isFinite(Number(value))) return Number(value);
  return value;
}

/** yargs options for every schema leaf, grouped under "Config options". */
export function configFlagOptions(): Record<string, Options> {
  const options: Record<string, Options> = {};
  for (const leaf of leaves) {
    const { node } = leaf;
    const defaultText = JSON.stringify(node.default);
    const where = leaf.path === leaf.flag ? "" : ` (${leaf.path})`;
    const describe = `${node.description} [${expectedText(node)}; default ${defaultText}]${where}`;
    const option: Options = { describe, group: "Config options:" };
    if (node.type === "boolean") option.type = "boolean";
    else if (node.type === "array") {
      option.type = "array";
      option.coerce = (values: unknown[]) => values.map((v) => (node.items?.type === "string" ? String(v) : coerceScalar(v)));
    } else if (isStringLeaf(leaf)) option.coerce = (v: unknown) => (Array.isArray(v) ? v : String(v));
    else option.coerce = coerceScalar;
    options[leaf.flag] = option;
  }
  return options;
}

/** Names yargs may put in argv for the config flags (kebab and camel forms). */
export function configFlagNames(): string[] {
  return leaves.flatMap((leaf) => [leaf.flag, leaf.flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())]);
}

/** The partial config formed by the flags present in argv (absent flags are not set). */
export function flagsToConfig(argv: Record<string, unknown>): Record<string, unknown> {
  const config: Record<string, unknown> = {};
  for (const leaf of leaves) {
    const value = argv[leaf.flag];
    if (value === undefined) continue;
    const keys = leaf.path.split(".");
    let target = config;
    for (const key of keys.slice(0, -1)) target = (target[key] ??= {}) as Record<string, unknown>;
    target[keys[keys.length - 1]] = value;
  }
  if (argv.cuda === true) config.device = "cuda";
  return config;
}
