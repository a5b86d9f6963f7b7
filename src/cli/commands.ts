// The commands whose capability lands with later issues: their options are parsed and validated
// now; running them says "not implemented yet" and exits non-zero (no fake output).
import type { CommandModule } from "yargs";

import { join } from "node:path";

import { flagsToConfig } from "../config/flags.ts";
import { resolveConfig } from "../config/resolve.ts";
import { train } from "../trainer/train.ts";
import { NotImplementedError, configFromArgv, printJson, withConfigOptions, withJson } from "./common.ts";

export const trainCommand: CommandModule = {
  command: ["train", "$0"],
  describe: "Train MADDPG on Tennis until solved (the default command)",
  builder: (y) => withJson(withConfigOptions(y)).option("resume", { type: "string", describe: "Run directory to resume from" }),
  handler: async (argv) => {
    const resume = argv.resume as string | undefined;
    const config = resume
      ? resolveConfig({ file: join(resume, "config.json"), flags: flagsToConfig(argv) })
      : configFromArgv(argv);
    const stop = new AbortController();
    const onSigint = () => {
      console.error("\nInterrupted: stopping after this step with a checkpoint (Ctrl-C again to abort)");
      process.off("SIGINT", onSigint);
      stop.abort();
    };
    process.on("SIGINT", onSigint);
    try {
      const summary = await train(config, { resume, signal: stop.signal, quiet: Boolean(argv.json) });
      if (argv.json) printJson(summary);
      if (summary.stopped === "nan" || summary.stopped === "dead_gradients") process.exitCode = 1;
    } finally {
      process.off("SIGINT", onSigint);
    }
  },
};

export const watchCommand: CommandModule = {
  command: "watch",
  describe: "Watch a trained pair play (browser replay, or --out rally.gif)",
  builder: (y) => y.option("checkpoint", { type: "string", demandOption: true, describe: "Checkpoint directory" }).option("out", { type: "string", describe: "Write a GIF instead of serving" }),
  handler: () => {
    throw new NotImplementedError("watch");
  },
};

export const envServerCommand: CommandModule = {
  command: "env-server",
  describe: "Serve built-in envs over the ZeroMQ bridge",
  builder: (y) => y.option("bind", { type: "string", describe: "Address [default: tcp://127.0.0.1:5555]" }).option("envs", { type: "number", describe: "Envs served [default: 1]" }).option("seed", { type: "number", describe: "Seed [default: 0]" }),
  handler: () => {
    throw new NotImplementedError("env-server");
  },
};

export const serveCommand: CommandModule = {
  command: "serve",
  describe: "Headless training server with a browser dashboard",
  builder: (y) => y.option("host", { type: "string", describe: "Host [default: 127.0.0.1]" }).option("port", { type: "number", describe: "Port [default: 8080]" }),
  handler: () => {
    throw new NotImplementedError("serve");
  },
};

export const tuneCommand: CommandModule = {
  command: "tune",
  describe: "Hyperparameter search over configs",
  builder: (y) =>
    withJson(y)
      .option("space", { type: "string", describe: "Search space JSON" })
      .option("trials", { type: "number", describe: "Trials" })
      .option("parallel", { type: "number", describe: "Parallel trials" }),
  handler: () => {
    throw new NotImplementedError("tune");
  },
};
