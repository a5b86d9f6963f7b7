// The commands whose capability lands with later issues: their options are parsed and validated
// now; running them says "not implemented yet" and exits non-zero (no fake output).
import type { CommandModule } from "yargs";

import { join } from "node:path";

import { flagsToConfig } from "../../lib/config/flags.ts";
import { resolveConfig } from "../../lib/config/resolve.ts";
import { endpointProblem, kMaxIdLength } from "../../lib/bridge/protocol.ts";
import { runEnvServer } from "../../lib/bridge/run-env-server.ts";
import { kMaxServedEnvs } from "../../lib/bridge/server.ts";
import { kDefaultRunsDir, kMaxConcurrentRuns, kMinServeTokenLength, runServe } from "../server/server.ts";
import { runTune, runTuneStatus } from "./tune.ts";
import { RunDirBusyError } from "../../lib/trainer/run-lock.ts";
import { train } from "../../lib/trainer/train.ts";
import { runWatch } from "../watch/watch.ts";
import { kSpecHelp } from "../../lib/compete/match.ts";
import { specFlag } from "./compete.ts";
import { TennisTrainError } from "../../../binding/errors.ts";
import { invalidParameter } from "../../../binding/validate.ts";
import { UsageError, checkpointFlag, configFromArgv, printJson, requireRunsDir, withConfigOptions, withJson } from "./common.ts";
import { intFlag, kMaxPort, kMaxSeed, listening, stringFlag, writableDirFlag } from "./options.ts";

export const trainCommand: CommandModule = {
  command: ["train", "$0"],
  describe: "Train MADDPG on Tennis until solved (the default command)",
  builder: (y) => withJson(withConfigOptions(y)).option("resume", { type: "string", describe: "Run directory to resume from" }),
  handler: async (argv) => {
    const resume = stringFlag(argv, "resume");
    const config = resume
      ? resolveConfig({ file: join(resume, "config.json"), flags: flagsToConfig(argv) })
      : configFromArgv(argv);
    if (!resume) requireRunsDir(config);
    // SIGTERM (systemd, Docker, Kubernetes) stops a run as Ctrl-C does; a second signal ends the process.
    const stop = new AbortController();
    const onSignal = (signal: NodeJS.Signals) => {
      console.error(`\nInterrupted (${signal}): stopping after this step with a checkpoint (Ctrl-C again to abort)`);
      process.off("SIGINT", onSignal).off("SIGTERM", onSignal);
      stop.abort();
    };
    process.on("SIGINT", onSignal).on("SIGTERM", onSignal);
    try {
      const summary = await train(config, { resume, signal: stop.signal, quiet: Boolean(argv.json) });
      if (argv.json) printJson(summary);
      if (summary.stopped === "nan" || summary.stopped === "dead_gradients") process.exitCode = 1;
    } catch (err) {
      // A second writer of one run directory is a usage error (exit 2).
      throw err instanceof RunDirBusyError ? new UsageError(err.message) : err;
    } finally {
      process.off("SIGINT", onSignal).off("SIGTERM", onSignal);
    }
  },
};

export const watchCommand: CommandModule = {
  command: "watch",
  describe: "Watch a trained pair play (a browser replay of a greedy episode, or --out rally.gif); --a SPEC --b SPEC shows competitive points",
  builder: (y) =>
    y
      .option("checkpoint", { type: "string", describe: "Run directory or checkpoint folder" })
      .option("a", { type: "string", describe: `Competitive play instead: player A, ${kSpecHelp}` })
      .option("b", { type: "string", describe: `Competitive play: player B, ${kSpecHelp}` })
      .option("out", { type: "string", describe: "Write an animated GIF instead of serving the replay" })
      .option("port", { describe: "Port of the replay page [default: 8081]" })
      .option("seed", { describe: "Env seed of the episode (competitive: A plays the right-hand racket at even seeds)" }),
  handler: async (argv) => {
    const competitive = argv.a !== undefined || argv.b !== undefined;
    if (competitive && argv.checkpoint !== undefined) throw new UsageError("watch takes --checkpoint DIR or --a SPEC --b SPEC, not both");
    if (competitive && (argv.a === undefined || argv.b === undefined)) throw new UsageError(`watch --a SPEC needs --b SPEC too (a SPEC is ${kSpecHelp})`);
    if (!competitive && argv.checkpoint === undefined) throw new UsageError("watch needs --checkpoint DIR (a run directory or a checkpoint folder), or --a SPEC --b SPEC for competitive play");
    const options = {
      checkpoint: competitive ? undefined : checkpointFlag(argv),
      match: competitive ? { a: specFlag(argv, "a"), b: specFlag(argv, "b") } : undefined,
      out: stringFlag(argv, "out"),
      port: intFlag(argv, "port", 0, kMaxPort),
      seed: intFlag(argv, "seed", 0, kMaxSeed),
    };
    // runWatch prints what it wrote or where it serves.
    await listening(`port ${options.port ?? 8081}`, () => runWatch(options));
  },
};

export const envServerCommand: CommandModule = {
  command: "env-server",
  describe: "Serve built-in envs over the ZeroMQ bridge (docs/bridge-protocol.md)",
  builder: (y) =>
    y
      .option("bind", { type: "string", describe: "ZeroMQ endpoint [default: tcp://127.0.0.1:5555]; a non-loopback bind needs --token" })
      .option("envs", { describe: "Envs served [default: 1]" })
      .option("seed", { describe: "Seed of env 0; env i gets seed + i [default: 0]" })
      .option("token", { type: "string", describe: "Shared secret every request must carry" }),
  handler: async (argv) => {
    const bind = stringFlag(argv, "bind");
    const problem = bind === undefined ? null : endpointProblem(bind);
    if (problem) throw new UsageError(invalidParameter("--bind", problem, bind).message);
    const options = {
      bind,
      envs: intFlag(argv, "envs", 1, kMaxServedEnvs),
      seed: intFlag(argv, "seed", 0, kMaxSeed),
      token: stringFlag(argv, "token", 1, kMaxIdLength),
    };
    try {
      await runEnvServer(options);
    } catch (err) {
      if ((err as TennisTrainError).code === "ERR_BRIDGE_BIND") throw new UsageError(`${(err as Error).message} (choose another --bind)`);
      throw err;
    }
  },
};

export const serveCommand: CommandModule = {
  command: "serve",
  describe: "Headless training server with a live browser dashboard",
  builder: (y) =>
    y
      .option("host", { type: "string", describe: "Host to bind [default: 127.0.0.1]" })
      .option("port", { describe: "Port [default: 8080]" })
      .option("token", { type: "string", describe: "Token for control endpoints [default: $TENNIS_TRAIN_TOKEN, else random and printed]" })
      .option("runs-dir", { type: "string", describe: "Folder of the run directories [default: runs]" })
      .option("max-concurrent", { describe: "Runs training at once; more wait in a queue [default: 1]" }),
  handler: async (argv) => {
    const options = {
      host: stringFlag(argv, "host"),
      port: intFlag(argv, "port", 0, kMaxPort),
      token: stringFlag(argv, "token", kMinServeTokenLength),
      maxConcurrent: intFlag(argv, "max-concurrent", 1, kMaxConcurrentRuns),
      // Last: the check creates the folder, which no other bad flag should leave behind.
      runsDir: writableDirFlag(argv, "runs-dir", kDefaultRunsDir),
    };
    await listening(`${options.host ?? "127.0.0.1"} port ${options.port ?? 8080}`, () => runServe(options));
  },
};

export const tuneCommand: CommandModule = {
  command: "tune",
  describe: "Hyperparameter search or seed sweep: parallel trials, TPE or random, median pruning, resumable; workers on many hosts share a PostgreSQL study",
  builder: (y) =>
    withJson(y)
      .option("space", { type: "string", describe: "Search space JSON (see configs/tune-space.example.json); not with --sweep" })
      .option("trials", { describe: "Trials in the study over every worker (a resumed study counts those it has) [default with --sweep: one per seed]" })
      .option("parallel", { describe: "Trials at once in this worker, each a child process with its share of the cores [default: 1]" })
      .option("seeds", { type: "string", describe: "Seeds, e.g. 0,1 or 0-99: each trial trains on all (objective averaged), or with --sweep one trial per seed [default: 0]" })
      .option("sweep", { type: "boolean", describe: "Seed sweep: one trial per seed of --seeds on the fixed --config, no search" })
      .option("objective", { choices: ["episodes", "wall"] as const, describe: "Minimise episodes to solve or wall time to solve [default: episodes]" })
      .option("study", { type: "string", describe: "Study folder (this worker's runs and outputs); its name names the study in --storage [default: studies/<space name>]" })
      .option("storage", { type: "string", describe: "sqlite:PATH or postgresql://USER@HOST[:PORT]/DB, shared by every worker [default: sqlite:<study>/study.sqlite]" })
      .option("status", { type: "boolean", describe: "Print the study's progress (trials by state, running trials and their workers) and exit" })
      .option("heartbeat", { describe: "Seconds between a worker's heartbeats [default: 10]" })
      .option("grace", { describe: "Seconds without a heartbeat before a worker counts as dead and its trial is taken [default: 60]" })
      .option("retries", { describe: "Times a dead worker's trial runs again before it is failed [default: 1]" })
      .option("sampler", { choices: ["tpe", "random"] as const, describe: "Sampler [default: tpe]" })
      .option("sampler-seed", { describe: "Sampler seed [default: 0]" })
      .option("config", { type: "string", describe: "Base config file under the space's own base" }),
  handler: async (argv) => {
    if (argv.status) {
      const status = await runTuneStatus({ storage: argv.storage as string | undefined, study: argv.study as string | undefined, space: argv.space as string | undefined });
      if (argv.json) printJson({ ...status, text: undefined });
      return;
    }
    const result = await runTune({
      space: argv.space as string | undefined,
      trials: argv.trials as number | undefined,
      parallel: argv.parallel as number | undefined,
      seeds: argv.seeds as string | undefined,
      sweep: argv.sweep as boolean | undefined,
      objective: argv.objective as "episodes" | "wall" | undefined,
      study: argv.study as string | undefined,
      storage: argv.storage as string | undefined,
      heartbeat: argv.heartbeat as number | undefined,
      grace: argv.grace as number | undefined,
      retries: argv.retries as number | undefined,
      sampler: argv.sampler as "tpe" | "random" | undefined,
      samplerSeed: argv.samplerSeed as number | undefined,
      config: argv.config as string | undefined,
      json: Boolean(argv.json),
    });
    if (argv.json) printJson(result);
  },
};
