// The vectorized env a config asks for: the built-in native Tennis, or env servers over the ZeroMQ bridge.
import type { Config } from "../config/types.ts";
import { RemoteVecEnv } from "../bridge/remote-vec-env.ts";
import { BuiltinVecEnv, envVariant, type VecEnv } from "./vec-env.ts";

/** env.kind "remote": connects to every server of env.addresses; "builtin": env.envs native envs seeded from the run's seed. */
export async function openVecEnv(config: Config): Promise<VecEnv> {
  if (config.env.kind === "remote") return RemoteVecEnv.connect({ addresses: config.env.addresses });
  return new BuiltinVecEnv({ numEnvs: config.env.envs, seed: config.seed, ...envVariant(config), threads: Math.min(config.threads, config.env.envs) });
}
