// The env bridge's public surface: the protocol constants, the server, the remote vectorized env.
export { DEFAULT_BIND, EnvServer, builtinInfo, defaultMaxMessageBytes, type EnvServerOptions, type EnvServerStats, type ServedEnv, type ServedEnvInfo } from "./server.ts";
export {
  BridgeConnection,
  DEFAULT_RETRIES,
  DEFAULT_RETRY_DELAY_MS,
  DEFAULT_TIMEOUT_MS,
  type BridgeEvent,
  type ConnectionOptions,
} from "./connection.ts";
export { RemoteVecEnv, type LostEpisodes, type RemoteServer, type RemoteStepResult, type RemoteVecEnvOptions } from "./remote-vec-env.ts";
export { ErrorCodes, PROTOCOL_VERSION, type ErrorCode, type HelloInfo } from "./protocol.ts";
export { spawnEnvServer, type SpawnedServer } from "./spawn.ts";
export { runEnvServer, type RunEnvServerOptions } from "./run-env-server.ts";
