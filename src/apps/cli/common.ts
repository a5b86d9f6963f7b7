// Shared pieces of the CLI commands: config options, config resolution, --json output, and the
// error shapes the top-level handler knows how to print.
import type { Argv } from "yargs";

import { existsSync } from "node:fs";
import { resolve } from "node:path";

import { invalidParameter } from "../../../binding/validate.ts";
import { configFlagOptions, flagsToConfig } from "../../lib/config/flags.ts";
import { nodeAt, optionLeaves } from "../../lib/config/schema.ts";
import { ConfigError, resolveConfig } from "../../lib/config/resolve.ts";
import type { Config } from "../../lib/config/types.ts";
import { writableDirProblem } from "../../lib/config/writable-dir.ts";
import { latestCheckpoint } from "../../lib/trainer/checkpoint.ts";
import { isRunDir } from "../../lib/trainer/train.ts";

/** An error whose message is for the user as is (no stack unless --verbose). */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** The --help heading of a config flag: its schema section ("Training loop (train.*):"), or "Run options:"
 * for the top-level keys. */
function sectionHeading(path: string): string {
  const section = path.split(".")[0];
  if (section === path) return "Run options:";
  const title = (nodeAt(section)?.description ?? section).replace(/^The /, "").replace(/\.$/, "");
  return `${title[0].toUpperCase()}${title.slice(1)} (${section}.*):`;
}

/** Adds --config, --cuda and every schema option to a command, grouped in --help by schema section;
 * `hidden` leaves the schema options out of --help (a command where only some of its uses train). */
export function withConfigOptions<T>(y: Argv<T>, { hidden = false } = {}): Argv<T> {
  const options = configFlagOptions();
  for (const leaf of optionLeaves()) options[leaf.flag] = { ...options[leaf.flag], group: sectionHeading(leaf.path), hidden };
  return y
    .option("config", { type: "string", describe: "JSON config file (schema defaults < this file < flags)" })
    .option("cuda", { type: "boolean", describe: "Short for --device cuda" })
    .options(options) as unknown as Argv<T>;
}

/** Adds --json to a command that measures something. */
export function withJson<T>(y: Argv<T>): Argv<T & { json: boolean | undefined }> {
  return y.option("json", { type: "boolean", describe: "Print one JSON object as the last line of stdout" });
}

/** Resolves the config of a command from its parsed argv. */
export function configFromArgv(argv: Record<string, unknown>): Config {
  return resolveConfig({ file: argv.config as string | undefined, flags: flagsToConfig(argv) });
}

/** Creates the config's runs folder where missing; a ConfigError naming `log.runsDir` when it cannot hold runs. */
export function requireRunsDir(config: Config): void {
  const problem = writableDirProblem(config.log.runsDir, "`log.runsDir`");
  if (problem) throw new ConfigError([problem]);
}

/** The latest complete checkpoint folder of --checkpoint (a run directory or a checkpoint folder); every
 * command that plays a checkpoint fails the same way (a UsageError) when there is none. */
export function checkpointFlag(argv: Record<string, unknown>): string {
  const value = argv.checkpoint;
  if (typeof value !== "string" || value === "") throw new UsageError(invalidParameter("--checkpoint", "a run directory or checkpoint folder", value).message);
  const dir = latestCheckpoint(resolve(value));
  if (dir) return dir;
  const problem = existsSync(value) ? "it holds no complete checkpoint" : "no such file or directory";
  throw new UsageError(`No checkpoint at ${value}: ${problem} (--checkpoint takes a run directory or a checkpoint folder)`);
}

/** --resume must name a run directory (one holding config.json); a UsageError says plainly when it does not. */
export function checkResumeFlag(argv: Record<string, unknown>): void {
  const value = argv.resume;
  if (value === undefined) return;
  if (typeof value !== "string" || value === "") throw new UsageError(invalidParameter("--resume", "a run directory", value).message);
  if (isRunDir(value)) return;
  const problem = existsSync(value) ? "it has no config.json" : "no such directory";
  throw new UsageError(`No run at ${value}: ${problem} (--resume takes a run directory that \`tennis-train train\` made)`);
}

/** Prints the result object as the last line of stdout (for --json). */
export function printJson(result: unknown): void {
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
