// Shared pieces of the CLI commands: config options, config resolution, --json output, and the
// error shapes the top-level handler knows how to print.
import type { Argv } from "yargs";

import { resolve } from "node:path";

import { invalidParameter } from "../../binding/validate.ts";
import { configFlagOptions, flagsToConfig } from "../config/flags.ts";
import { ConfigError, resolveConfig } from "../config/resolve.ts";
import type { Config } from "../config/types.ts";
import { writableDirProblem } from "../config/writable-dir.ts";
import { latestCheckpoint } from "../trainer/checkpoint.ts";

/** An error whose message is for the user as is (no stack unless --verbose). */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** Adds --config, --cuda and every schema option to a command. */
export function withConfigOptions<T>(y: Argv<T>): Argv<T> {
  return y
    .option("config", { type: "string", describe: "JSON config file (schema defaults < this file < flags)" })
    .option("cuda", { type: "boolean", describe: "Short for --device cuda" })
    .options(configFlagOptions()) as unknown as Argv<T>;
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

/** The latest complete checkpoint folder of --checkpoint (a run directory or a checkpoint folder). */
export function checkpointFlag(argv: Record<string, unknown>): string {
  const value = argv.checkpoint;
  const dir = typeof value === "string" && value !== "" ? latestCheckpoint(resolve(value)) : null;
  if (!dir) throw new UsageError(invalidParameter("--checkpoint", "a run directory or checkpoint folder holding a complete checkpoint", value).message);
  return dir;
}

/** Prints the result object as the last line of stdout (for --json). */
export function printJson(result: unknown): void {
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
