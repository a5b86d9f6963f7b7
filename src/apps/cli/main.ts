// The tennis-train CLI: one yargs parser over the command modules and one top-level handler that
// prints a clean message and sets the exit code.
import yargs from "yargs";

import { TennisTrainError } from "../../../binding/errors.ts";
import { configFlagNames } from "../../lib/config/flags.ts";
import { ConfigError, didYouMean } from "../../lib/config/resolve.ts";
import { UsageError, checkResumeFlag } from "./common.ts";
import { benchCommand } from "./bench.ts";
import {
  envServerCommand,
  serveCommand,
  trainCommand,
  tuneCommand,
  watchCommand,
} from "./commands.ts";
import { leagueCommand, matchCommand } from "./compete.ts";
import { exportCommand } from "./export.ts";
import { infoCommand } from "./info.ts";
import { evalCommand, randomCommand } from "./play.ts";

/** Exit codes: 1 runtime failure, 2 bad usage or config. */
export const kExitCodes = { failure: 1, usage: 2 } as const;

/** Flags of the commands themselves (the config flags come from the schema). */
const kCommandFlags = ["config", "cuda", "json", "verbose", "help", "resume", "checkpoint", "policy", "eval-episodes",
  "out", "seconds", "objective", "study", "sampler", "sampler-seed", "token", "runs-dir", "max-concurrent", "seeds", "bind", "host", "port", "space", "trials", "parallel", "episodes", "seed", "envs", "format", "agent", "a", "b", "checkpoints", "anchors"];

/** Rewrites yargs' "Unknown argument(s): x" with did-you-mean suggestions from the known options; an
 * option of another command is named as such. */
function explainUnknown(message: string, known: string[], command: string): string {
  const match = /^Unknown arguments?: (.+)$/.exec(message);
  if (!match) return message;
  const names = match[1].split(", ");
  const kebab = (name: string) => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
  return names
    .filter((name) => name === kebab(name) || !names.includes(kebab(name)))
    .map((name) => {
      if (known.includes(name)) return `Option --${name} does not apply to \`tennis-train ${command}\` (\`tennis-train ${command} --help\` lists its options)`;
      const suggestion = didYouMean(name, known);
      return `Unknown option --${name}${suggestion ? ` (did you mean --${suggestion}?)` : ""}`;
    })
    .join("\n");
}

/** The names of the commands a parser knows (yargs keeps them on its command instance, which its
 * public typings leave out). */
function commandNames(cli: ReturnType<typeof buildCli>): string[] {
  const internals = cli as unknown as { getInternalMethods(): { getCommandInstance(): { getCommands(): string[] } } };
  return internals.getInternalMethods().getCommandInstance().getCommands();
}

/**
 * A first word that is no command is a mistyped command, not an option or an argument of train (the
 * default command takes no positional arguments): "Unknown command `evl` (did you mean `tennis-train eval`?)".
 * Checked before yargs parses, so `tennis-train evaluate --help` fails instead of printing train's help.
 */
function unknownCommand(args: string[], commands: string[]): string | null {
  const word = args[0];
  if (word === undefined || word.startsWith("-") || commands.includes(word)) return null;
  const suggestion = didYouMean(word, commands) ?? commands.find((c) => c.length >= 3 && (word.startsWith(c) || c.startsWith(word)));
  const hint = suggestion ? ` (did you mean \`tennis-train ${suggestion}\`?)` : "";
  return `Unknown command \`${word}\`${hint}; \`tennis-train --help\` lists the commands`;
}

/** The command as typed: the words before the first option ("bench solve"), or the default "train". */
function commandWords(args: string[]): string {
  const end = args.findIndex((a) => a.startsWith("-"));
  return args.slice(0, end < 0 ? args.length : end).join(" ") || "train";
}

export function buildCli(args: string[]) {
  return yargs(args)
    .scriptName("tennis-train")
    .command(trainCommand)
    .command(evalCommand)
    .command(randomCommand)
    .command(watchCommand)
    .command(exportCommand)
    .command(matchCommand)
    .command(leagueCommand)
    .command(benchCommand)
    .command(envServerCommand)
    .command(serveCommand)
    .command(tuneCommand)
    .command(infoCommand)
    .option("verbose", { type: "boolean", describe: "Print stack traces of errors" })
    // Only train takes --resume; checked before its handler resolves the run's config.
    .middleware(checkResumeFlag)
    .strict()
    .recommendCommands()
    .wrap(Math.min(120, process.stdout.columns ?? 120))
    .fail((message, error) => {
      if (error) throw error;
      const known = [...configFlagNames(), ...kCommandFlags];
      throw new UsageError(explainUnknown(message, known, commandWords(args)));
    })
    .help()
    .version(false);
}

/** Runs the CLI; never throws: errors are printed and turned into process.exitCode. */
export async function main(args: string[]): Promise<void> {
  const verbose = args.includes("--verbose");
  try {
    const cli = buildCli(args);
    const problem = unknownCommand(args, commandNames(cli));
    if (problem) throw new UsageError(problem);
    await cli.parseAsync();
  } catch (err) {
    const error = err as Error;
    if (error instanceof ConfigError || error instanceof UsageError) {
      console.error(error.message);
      process.exitCode = kExitCodes.usage;
    } else if (error instanceof TennisTrainError && error.code === "ERR_INVALID_ARG") {
      // The native core refused a value the command passed on (e.g. a replay buffer larger than RAM).
      console.error(`tennis-train: ${error.message}`);
      process.exitCode = kExitCodes.usage;
    } else {
      const code = error instanceof TennisTrainError ? ` [${error.code}]` : "";
      console.error(`tennis-train: ${error.message}${code}`);
      if (verbose && error.stack) console.error(error.stack);
      process.exitCode = kExitCodes.failure;
    }
  }
}
