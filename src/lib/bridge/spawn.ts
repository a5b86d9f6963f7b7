// Starts a built-in env server as a child process (node --import tsx src/lib/bridge/child-server.ts) and
// waits for its endpoint line: for benches, tests and scripts that need a server in another process.
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";

import { TennisTrainError } from "../../../binding/errors.ts";
import { packageRoot } from "../../../binding/package.ts";

/** Upper bound on a child server's start (tsx and the LibTorch-linked addon take ~1-2 s). */
const kStartTimeoutMs = 30000;

export interface SpawnedServer {
  child: ChildProcess;
  /** The endpoint the child bound (port 0 resolved). */
  endpoint: string;
  session: string;
  /** Everything the child wrote to stderr so far. */
  stderr(): string;
  /** Sends `signal` (default SIGTERM: a clean close) and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Spawns `command args` (which must print one JSON line {"endpoint","session"} on stdout once bound)
 * and resolves when it has; rejects if it exits first or stays silent for 30 s.
 */
export function spawnAnnouncingServer(command: string, args: string[], cwd = packageRoot, env: NodeJS.ProcessEnv = process.env): Promise<SpawnedServer> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { cwd, stdio: ["ignore", "pipe", "pipe"], env });
    let out = "";
    let err = "";
    let announced = false;
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new TennisTrainError(`env server did not start within ${kStartTimeoutMs} ms: ${err}`, "ERR_BRIDGE_TIMEOUT"));
    }, kStartTimeoutMs);
    child.stderr!.on("data", (d) => (err += d));
    child.stdout!.on("data", (d) => {
      out += d;
      const line = out.split("\n").find((l) => l.startsWith("{") && l.endsWith("}"));
      if (!line || announced) return;
      announced = true;
      clearTimeout(timer);
      const { endpoint, session } = JSON.parse(line) as { endpoint: string; session: string };
      const stop = (signal: NodeJS.Signals = "SIGTERM") =>
        new Promise<void>((done) => {
          if (child.exitCode !== null || child.signalCode !== null) return done();
          child.once("exit", () => done());
          child.kill(signal);
        });
      resolvePromise({ child, endpoint, session, stderr: () => err, stop });
    });
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      if (!announced) reject(new TennisTrainError(`env server exited (${code ?? signal}) before announcing its endpoint: ${err}`, "ERR_BRIDGE_BIND"));
    });
  });
}

/** A built-in env server in its own node process. */
export function spawnEnvServer(options: { bind?: string; envs?: number; seed?: number; token?: string; quiet?: boolean } = {}): Promise<SpawnedServer> {
  // node --import tsx, not the tsx CLI: the CLI runs the script in a grandchild that a kill would orphan.
  const args = ["--import", "tsx", join(packageRoot, "src", "lib", "bridge", "child-server.ts")];
  if (options.quiet ?? true) args.push("--quiet");
  for (const key of ["bind", "envs", "seed", "token"] as const) {
    if (options[key] !== undefined) args.push(`--${key}`, String(options[key]));
  }
  return spawnAnnouncingServer(process.execPath, args);
}
