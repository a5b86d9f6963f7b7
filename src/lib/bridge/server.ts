// EnvServer: serves N built-in Tennis envs (or any ServedEnv) over a ZeroMQ ROUTER socket, speaking
// the bridge protocol of docs/bridge-protocol.md. Every bad request gets an error reply and the server
// keeps serving; retried requests are answered from a per-client reply cache, never executed twice.
import { randomBytes } from "node:crypto";
import { Router } from "zeromq";

import { ACTION_SIZE, AGENTS, BRAIN_NAME, MAX_EPISODE_STEPS, OBS_SIZE, TennisEnv, type StepResult, type TennisEnvOptions } from "../../../binding/env.ts";
import { TennisTrainError } from "../../../binding/errors.ts";
import { packageVersion } from "../../../binding/package.ts";
import { assertInt, assertString, invalidParameter } from "../../../binding/validate.ts";
import {
  ErrorCodes,
  PROTOCOL_VERSION,
  ProtocolError,
  decodeRequest,
  encodeError,
  encodeReply,
  endpointProblem,
  floatsFromFrame,
  isLocalEndpoint,
  kMaxHeaderBytes,
  kMaxIdLength,
  tokenMatches,
  type HelloInfo,
  type RequestHeader,
} from "./protocol.ts";
import { withDefaultVariant } from "../env/vec-env.ts";

/** Default bind address: loopback only. */
export const DEFAULT_BIND = "tcp://127.0.0.1:5555";
/** Most built-in envs one server steps. */
export const kMaxServedEnvs = 65536;
/** Frames stacked per observation in the Udacity build (8 variables x 3). */
const kStacking = 3;
/**
 * Clients whose last reply is kept for retries; the least recently served is forgotten beyond this,
 * and its later requests other than hello get ERR_BRIDGE_CLIENT.
 */
const kMaxClients = 64;
/** ZeroMQ drops (without a reply) any single frame this many times over the soft limit, to bound memory. */
const kHardLimitFactor = 16;
/** How long a reply may wait for a slow peer before it is dropped (the client then retries). */
const kSendTimeoutMs = 1000;

/** What a server steps: TennisEnv with autoReset on satisfies it. */
export interface ServedEnv {
  readonly numEnvs: number;
  /** Observations [envs][agents][obsSize] after resetting every env. */
  reset(): Float32Array;
  /** One decision in every env; done envs are reset before returning (obs vs nextObs as StepResult). */
  step(actions: Float32Array): StepResult;
  dispose(): void;
}

/** The shape a ServedEnv reports in hello. */
export interface ServedEnvInfo {
  server: string;
  agents: number;
  obsSize: number;
  actionSize: number;
  stacking: number;
  brain: string;
  maxEpisodeSteps: number | null;
}

export interface EnvServerOptions {
  /** ZeroMQ endpoint to bind; default tcp://127.0.0.1:5555. Port 0 picks a free port (see `endpoint`). */
  bind?: string;
  /** Built-in envs served; integer in [1, 65536]. Default 1. Ignored with `backend`. */
  envs?: number;
  /** Seed of env 0 (env i gets seed + i). Default 0. Ignored with `backend`. */
  seed?: number;
  /** Options of the built-in envs besides numEnvs, seed and autoReset. */
  env?: Partial<Omit<TennisEnvOptions, "numEnvs" | "seed" | "autoReset">>;
  /** Shared secret every request must carry; required for a bind beyond loopback. */
  token?: string;
  /** Largest accepted message in bytes; larger ones get ERR_BRIDGE_OVERSIZE. Default 64 KiB + one obs batch. */
  maxMessageBytes?: number;
  /** Serve this env instead of built-in envs (the server disposes it on close). */
  backend?: { env: ServedEnv; info: ServedEnvInfo };
  /** Receives one line per served error and per lifecycle event (default: nothing). */
  log?: (line: string) => void;
}

/** Counters of one server since it started. */
export interface EnvServerStats {
  requests: number;
  /** Error replies sent. */
  errors: number;
  /** Decisions (step requests executed); retries answered from the cache do not count. */
  steps: number;
  /** Retries answered from the reply cache. */
  replays: number;
}

interface ClientState {
  lastId: number;
  lastOp: string;
  reply: Buffer[];
}

/** Soft message limit for `envs` envs: any legitimate request is far below it. */
export function defaultMaxMessageBytes(envs: number, agents = AGENTS, obsSize = OBS_SIZE): number {
  return 65536 + 4 * envs * agents * obsSize;
}

/** The built-in env's hello fields. */
export function builtinInfo(): ServedEnvInfo {
  return {
    server: `tennis-train ${packageVersion} built-in`,
    agents: AGENTS,
    obsSize: OBS_SIZE,
    actionSize: ACTION_SIZE,
    stacking: kStacking,
    brain: BRAIN_NAME,
    maxEpisodeSteps: MAX_EPISODE_STEPS,
  };
}

/**
 * A bound, serving env server. Create with `await EnvServer.start(options)`; stop with `close()`.
 * Requests are served one at a time in arrival order (a step of the built-in envs takes microseconds).
 */
export class EnvServer {
  /** The endpoint actually bound (port 0 resolved). */
  readonly endpoint: string;
  /** Random id of this server run; a restarted server has a new one. */
  readonly session: string;
  readonly numEnvs: number;
  readonly maxMessageBytes: number;
  readonly stats: EnvServerStats = { requests: 0, errors: 0, steps: 0, replays: 0 };
  private readonly socket: Router;
  private readonly env: ServedEnv;
  private readonly info: ServedEnvInfo;
  private readonly token: string | undefined;
  private readonly log: (line: string) => void;
  private readonly clients = new Map<string, ClientState>();
  private resetDone = false;
  private closed = false;
  private loop: Promise<void> = Promise.resolve();

  private constructor(socket: Router, endpoint: string, env: ServedEnv, info: ServedEnvInfo, options: EnvServerOptions) {
    this.socket = socket;
    this.endpoint = endpoint;
    this.env = env;
    this.info = info;
    this.numEnvs = env.numEnvs;
    this.token = options.token;
    this.log = options.log ?? (() => {});
    this.maxMessageBytes = options.maxMessageBytes ?? defaultMaxMessageBytes(env.numEnvs, info.agents, info.obsSize);
    this.session = randomBytes(8).toString("hex");
  }

  /** Validates options, creates the envs, binds and starts serving. */
  static async start(options: EnvServerOptions = {}): Promise<EnvServer> {
    if (typeof options !== "object" || options === null) throw invalidParameter("options", "an object", options);
    const bind = options.bind ?? DEFAULT_BIND;
    assertString("bind", bind);
    const bindProblem = endpointProblem(bind);
    if (bindProblem) throw invalidParameter("bind", bindProblem, bind);
    if (options.token !== undefined) {
      assertString("token", options.token);
      if (options.token.length === 0 || options.token.length > kMaxIdLength) {
        throw invalidParameter("token", `a string of 1-${kMaxIdLength} characters`, options.token);
      }
    }
    if (!isLocalEndpoint(bind) && options.token === undefined) {
      throw invalidParameter("bind", "a loopback address (tcp://127.0.0.1:PORT) unless a token is given", bind);
    }
    if (options.maxMessageBytes !== undefined) assertInt("maxMessageBytes", options.maxMessageBytes, 1024, 2 ** 30);
    let env: ServedEnv;
    let info: ServedEnvInfo;
    if (options.backend) {
      ({ env, info } = options.backend);
    } else {
      const envs = options.envs ?? 1;
      assertInt("envs", envs, 1, kMaxServedEnvs);
      const seed = options.seed ?? 0;
      assertInt("seed", seed, 0, 2 ** 32 - 1);
      env = new TennisEnv({ ...options.env, ...withDefaultVariant(options.env), numEnvs: envs, seed, autoReset: true });
      info = builtinInfo();
    }
    const soft = options.maxMessageBytes ?? defaultMaxMessageBytes(env.numEnvs, info.agents, info.obsSize);
    const socket = new Router({ linger: 0, sendTimeout: kSendTimeoutMs, maxMessageSize: Math.max(kHardLimitFactor * soft, 16 << 20) });
    try {
      await socket.bind(bind);
    } catch (err) {
      socket.close();
      env.dispose();
      throw new TennisTrainError(`Cannot bind ${bind}: ${(err as Error).message}`, "ERR_BRIDGE_BIND");
    }
    const server = new EnvServer(socket, socket.lastEndpoint ?? bind, env, info, options);
    server.log(`env-server: serving ${env.numEnvs} env(s) on ${server.endpoint} (session ${server.session})`);
    server.loop = server.serve();
    return server;
  }

  /** The hello reply body. */
  hello(): HelloInfo {
    return {
      session: this.session,
      server: this.info.server,
      protocol: PROTOCOL_VERSION,
      agents: this.info.agents,
      obsSize: this.info.obsSize,
      actionSize: this.info.actionSize,
      stacking: this.info.stacking,
      envs: this.numEnvs,
      brain: this.info.brain,
      autoReset: true,
      maxEpisodeSteps: this.info.maxEpisodeSteps,
      maxMessageBytes: this.maxMessageBytes,
    };
  }

  /** Stops serving, closes the socket and disposes the envs. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.socket.close();
    await this.loop;
    this.env.dispose();
    this.log(`env-server: closed ${this.endpoint} after ${this.stats.steps} steps`);
  }

  private async serve(): Promise<void> {
    while (!this.closed) {
      let frames: Buffer[];
      try {
        frames = await this.socket.receive();
      } catch (err) {
        if (this.closed) return;
        this.log(`env-server: receive failed: ${(err as Error).message}`);
        continue;
      }
      // ROUTER prepends the peer identity; REQ peers add an empty delimiter frame, which we echo.
      const envelopeLength = frames.length > 2 && frames[1].byteLength === 0 ? 2 : 1;
      const envelope = frames.slice(0, envelopeLength);
      const reply = this.handle(frames.slice(envelopeLength));
      try {
        await this.socket.send([...envelope, ...reply]);
      } catch (err) {
        if (this.closed) return;
        // The peer vanished or stalls; it will retry and get the cached reply.
        this.log(`env-server: reply dropped: ${(err as Error).message}`);
      }
    }
  }

  /** One request to one reply, never throwing. */
  private handle(frames: Buffer[]): Buffer[] {
    this.stats.requests++;
    try {
      return this.dispatch(frames);
    } catch (err) {
      this.stats.errors++;
      const error =
        err instanceof ProtocolError
          ? err
          : new ProtocolError(ErrorCodes.internal, `Env failed: ${(err as Error).message}`, peekId(frames), peekOp(frames));
      this.log(`env-server: ${error.code} ${error.message}`);
      return encodeError(error);
    }
  }

  private dispatch(frames: Buffer[]): Buffer[] {
    const bytes = frames.reduce((sum, f) => sum + f.byteLength, 0);
    if (bytes > this.maxMessageBytes) {
      throw new ProtocolError(
        ErrorCodes.oversize,
        `Message of ${bytes} bytes exceeds this server's limit of ${this.maxMessageBytes}`,
        peekId(frames),
        peekOp(frames),
      );
    }
    const { header, payload } = decodeRequest(frames);
    const { id, op } = header;
    if (this.token !== undefined && !tokenMatches(this.token, header.token)) {
      throw new ProtocolError(ErrorCodes.auth, "Missing or wrong token", id, op);
    }
    if (op === "ping") return encodeReply(id, op, { session: this.session, steps: this.stats.steps });
    if (header.client === undefined) throw new ProtocolError(ErrorCodes.malformed, `Expected a client id for ${op}`, id, op);
    const client = header.client;
    const state = this.clients.get(client);
    if (state && id <= state.lastId) {
      if (id === state.lastId && op === state.lastOp) {
        this.stats.replays++;
        return state.reply;
      }
      throw new ProtocolError(ErrorCodes.stale, `Request ${id} is older than this client's last request ${state.lastId}`, id, op);
    }
    // Without the client's record the server cannot tell a retry of an executed request from a new
    // one: only hello (which changes nothing) opens a record, so nothing runs twice.
    if (!state && op !== "hello") {
      throw new ProtocolError(
        ErrorCodes.client,
        `Unknown client ${JSON.stringify(client)} (never said hello, closed, or forgotten after ${kMaxClients} newer clients): ${op} not executed; hello again`,
        id,
        op,
      );
    }
    if (op === "close") {
      this.clients.delete(client);
      return encodeReply(id, op, {});
    }
    let reply: Buffer[];
    try {
      reply = this.execute(header, payload);
    } catch (err) {
      // Cache refusals and env failures too: a retry must get the same answer, not run again.
      if (err instanceof ProtocolError && err.code === ErrorCodes.session) throw err;
      const error = err instanceof ProtocolError ? err : new ProtocolError(ErrorCodes.internal, `Env failed: ${(err as Error).message}`, id, op);
      this.log(`env-server: ${error.code} ${error.message}`);
      reply = encodeError(error);
      this.stats.errors++;
    }
    this.remember(client, { lastId: id, lastOp: op, reply });
    return reply;
  }

  private execute(header: RequestHeader, payload: Buffer[]): Buffer[] {
    const { id, op } = header;
    if (op === "hello") return encodeReply(id, op, { ...this.hello() });
    if (header.session !== this.session) {
      throw new ProtocolError(ErrorCodes.session, `Unknown session ${JSON.stringify(header.session ?? null)}: hello again`, id, op);
    }
    if (op === "reset") {
      if (payload.length !== 0) throw new ProtocolError(ErrorCodes.malformed, "reset takes no payload frames", id, op);
      const obs = this.env.reset();
      this.resetDone = true;
      return encodeReply(id, op, { envs: this.numEnvs, step: this.stats.steps }, [obs]);
    }
    // op === "step"
    if (payload.length !== 1) {
      throw new ProtocolError(ErrorCodes.malformed, `step takes exactly one payload frame (actions), received ${payload.length}`, id, op);
    }
    if (!this.resetDone) throw new ProtocolError(ErrorCodes.state, "reset before the first step", id, op);
    let actions: Float32Array;
    try {
      actions = floatsFromFrame(payload[0], this.numEnvs * this.info.agents * this.info.actionSize, "actions");
    } catch (err) {
      const e = err as ProtocolError;
      throw new ProtocolError(e.code, e.message, id, op);
    }
    const r = this.env.step(actions);
    this.stats.steps++;
    return encodeReply(id, op, { step: this.stats.steps }, [r.obs, r.nextObs, r.rewards, r.dones, r.maxReached]);
  }

  private remember(client: string, state: ClientState): void {
    this.clients.delete(client);
    this.clients.set(client, state);
    if (this.clients.size > kMaxClients) this.clients.delete(this.clients.keys().next().value as string);
  }
}

// Best-effort id/op of a request that failed before full decoding, so the error reply can be matched.
function peekHeader(frames: Buffer[]): Record<string, unknown> | null {
  const frame = frames[0];
  if (!frame || frame.byteLength === 0 || frame.byteLength > kMaxHeaderBytes) return null;
  try {
    const value = JSON.parse(frame.toString("utf8"));
    return typeof value === "object" && value !== null ? value : null;
  } catch {
    return null;
  }
}

function peekId(frames: Buffer[]): number | null {
  const id = peekHeader(frames)?.id;
  return Number.isSafeInteger(id) && (id as number) >= 0 ? (id as number) : null;
}

function peekOp(frames: Buffer[]): string | null {
  const op = peekHeader(frames)?.op;
  return typeof op === "string" ? op.slice(0, 32) : null;
}
