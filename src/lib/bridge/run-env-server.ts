// An env server's whole life: serves built-in envs over the ZeroMQ bridge until SIGINT/SIGTERM (or an
// abort signal), then closes cleanly. `tennis-train env-server` parses its flags and calls runEnvServer.
import { EnvServer, type EnvServerOptions, type EnvServerStats } from "./server.ts";

export interface RunEnvServerOptions {
  /** ZeroMQ endpoint; default tcp://127.0.0.1:5555. A non-loopback bind needs `token`. */
  bind?: string;
  /** Built-in envs served; integer in [1, 65536]. Default 1. */
  envs?: number;
  /** Seed of env 0 (env i gets seed + i). Default 0. */
  seed?: number;
  /** Shared secret every request must carry. */
  token?: string;
  /** Built-in env options (cleanReset, observeBallVelocity, fixLastHitter, mode, threads). */
  env?: EnvServerOptions["env"];
  /** Stops the server when aborted (besides SIGINT/SIGTERM). */
  signal?: AbortSignal;
  /** Called once the socket is bound (e.g. to print the endpoint actually bound). */
  ready?: (server: EnvServer) => void;
  /** Log sink; default stderr. */
  log?: (line: string) => void;
}

/** Serves until SIGINT, SIGTERM or `signal`; resolves with the server's counters after closing. */
export async function runEnvServer(options: RunEnvServerOptions = {}): Promise<EnvServerStats> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const server = await EnvServer.start({
    bind: options.bind,
    envs: options.envs,
    seed: options.seed,
    token: options.token,
    env: options.env,
    log,
  });
  options.ready?.(server);
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      options.signal?.removeEventListener("abort", stop);
      resolve();
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
    if (options.signal?.aborted) stop();
    else options.signal?.addEventListener("abort", stop);
  });
  await server.close();
  return server.stats;
}
