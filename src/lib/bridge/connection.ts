// One client connection to one env server: request ids, per-attempt time-outs, retries on a fresh
// socket (ZeroMQ's "lazy pirate"), and recovery when the server restarted (a new session).
import { randomBytes } from "node:crypto";
import { Dealer } from "zeromq";

import { TennisTrainError } from "../../../binding/errors.ts";
import { assertInt, assertString } from "../../../binding/validate.ts";
import {
  ErrorCodes,
  PROTOCOL_VERSION,
  ProtocolError,
  STEP_FRAMES,
  decodeReply,
  encodeRequest,
  floatsFromFrame,
  type HelloInfo,
  type Message,
  type Op,
  type ReplyHeader,
} from "./protocol.ts";

/** Reply wait per attempt (ms) unless told otherwise. */
export const DEFAULT_TIMEOUT_MS = 5000;
/** Retries after the first attempt, as the notebook's BootstrappedEnvironment. */
export const DEFAULT_RETRIES = 5;
/** Pause between attempts (ms), as the notebook's BootstrappedEnvironment. */
export const DEFAULT_RETRY_DELAY_MS = 2000;

export interface ConnectionOptions {
  /** Wait for one reply, in ms; integer in [1, 3600000]. Default 5000. */
  timeoutMs?: number;
  /** Attempts after the first before giving up (ERR_BRIDGE_TIMEOUT); integer in [0, 1000]. Default 5. */
  retries?: number;
  /** Pause before each retry, in ms; integer in [0, 3600000]. Default 2000. */
  retryDelayMs?: number;
  /** Shared secret of the server, if it has one. */
  token?: string;
  /** Dedupe key the server caches replies under; default random. Give each client its own. */
  clientId?: string;
}

/** Something the caller may want to log: a retry, or a server that came back with a new session. */
export type BridgeEvent =
  | { type: "retry"; address: string; op: Op; attempt: number; reason: string }
  | { type: "reconnect"; address: string; session: string };

/** The frames of one step reply as float arrays (views valid until the next request). */
export interface StepReply {
  obs: Float32Array;
  nextObs: Float32Array;
  rewards: Float32Array;
  dones: Float32Array;
  maxReached: Float32Array;
}

/** Checks ConnectionOptions and fills in defaults. */
export function resolveConnectionOptions(options: ConnectionOptions): Required<Omit<ConnectionOptions, "token">> & { token?: string } {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  assertInt("timeoutMs", timeoutMs, 1, 3_600_000);
  const retries = options.retries ?? DEFAULT_RETRIES;
  assertInt("retries", retries, 0, 1000);
  const retryDelayMs = options.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS;
  assertInt("retryDelayMs", retryDelayMs, 0, 3_600_000);
  if (options.token !== undefined) assertString("token", options.token);
  const clientId = options.clientId ?? randomBytes(8).toString("hex");
  assertString("clientId", clientId);
  return { timeoutMs, retries, retryDelayMs, token: options.token, clientId };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * A connection to one env server. Not concurrent: one request at a time (RemoteVecEnv drives several
 * connections in parallel, one request each).
 */
export class BridgeConnection {
  readonly address: string;
  /** The latest hello reply (null before the first). */
  info: HelloInfo | null = null;
  private readonly options: ReturnType<typeof resolveConnectionOptions>;
  private readonly onEvent: (event: BridgeEvent) => void;
  private socket: Dealer | null = null;
  private nextId = 1;
  /** The server's step counter as of our last reset/step reply (detects lost or repeated steps). */
  private lastStep = 0;
  private closed = false;

  constructor(address: string, options: ConnectionOptions = {}, onEvent: (event: BridgeEvent) => void = () => {}) {
    assertString("address", address);
    this.address = address;
    this.options = resolveConnectionOptions(options);
    this.onEvent = onEvent;
  }

  /** Handshake; on a second call the server must serve the same shape (else ERR_BRIDGE_MISMATCH). */
  async hello(): Promise<HelloInfo> {
    const { header } = await this.request("hello", []);
    const info = parseHello(header, this.address);
    if (this.info !== null) {
      for (const key of ["envs", "agents", "obsSize", "actionSize"] as const) {
        if (info[key] !== this.info[key]) {
          throw new TennisTrainError(
            `env server ${this.address} came back serving ${key} = ${info[key]} instead of ${this.info[key]}`,
            ErrorCodes.mismatch,
          );
        }
      }
    }
    this.info = info;
    return info;
  }

  /** Liveness and the server's step count (no session needed). */
  async ping(): Promise<{ session: string; steps: number }> {
    const { header } = await this.request("ping", []);
    return { session: String(header.session), steps: Number(header.steps) };
  }

  /** Resets every env of the server; returns the observations (a view valid until the next request). */
  async reset(): Promise<Float32Array> {
    const info = this.requireInfo();
    const reply = await this.withSession(() => this.request("reset", []));
    this.lastStep = Number(reply.header.step);
    return this.floats(reply, 0, info.envs * info.agents * info.obsSize, "obs");
  }

  /**
   * One decision on every env of the server. Returns the step, or `"restarted"` when the server lost
   * its envs (it restarted): the connection has then said hello again and reset, and `obs` holds the
   * fresh observations.
   */
  async step(actions: Float32Array): Promise<{ kind: "step"; reply: StepReply } | { kind: "restarted"; obs: Float32Array }> {
    const info = this.requireInfo();
    let reply: Message<ReplyHeader>;
    try {
      reply = await this.request("step", [actions]);
    } catch (err) {
      if (!mustHelloAgain(err)) throw err;
      // The step may or may not have run before the server lost track: the episodes in flight are lost.
      await this.rehello();
      return { kind: "restarted", obs: await this.reset() };
    }
    const step = Number(reply.header.step);
    if (step !== this.lastStep + 1) {
      throw new TennisTrainError(
        `env server ${this.address} answered step ${step} after step ${this.lastStep}: another client is stepping it`,
        ErrorCodes.sequence,
      );
    }
    this.lastStep = step;
    const obsLength = info.envs * info.agents * info.obsSize;
    const maskLength = info.envs * info.agents;
    const lengths = [obsLength, obsLength, maskLength, maskLength, maskLength];
    const [obs, nextObs, rewards, dones, maxReached] = STEP_FRAMES.map((name, i) => this.floats(reply, i, lengths[i], name));
    return { kind: "step", reply: { obs, nextObs, rewards, dones, maxReached } };
  }

  /** Tells the server we are done (one short attempt, failures ignored) and closes the socket. */
  async close(): Promise<void> {
    if (this.closed) return;
    if (this.socket !== null) {
      try {
        await this.attempt(this.header("close", this.nextId++), [], Math.min(this.options.timeoutMs, 500));
      } catch {
        // The server may be gone; closing must not fail because of it.
      }
    }
    this.closed = true;
    this.dropSocket();
  }

  private requireInfo(): HelloInfo {
    if (this.closed) throw new TennisTrainError(`connection to ${this.address} is closed`, ErrorCodes.closed);
    if (this.info === null) throw new TennisTrainError(`hello to ${this.address} before reset or step`, ErrorCodes.state);
    return this.info;
  }

  private async rehello(): Promise<void> {
    await this.hello();
    this.onEvent({ type: "reconnect", address: this.address, session: this.info!.session });
  }

  // Runs fn; if the server says our session or client is unknown (it restarted, or forgot us), says
  // hello and runs fn again.
  private async withSession<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (!mustHelloAgain(err)) throw err;
      await this.rehello();
      return fn();
    }
  }

  private header(op: Op, id: number) {
    return {
      v: PROTOCOL_VERSION,
      id,
      op,
      client: this.options.clientId,
      session: this.info?.session,
      token: this.options.token,
    };
  }

  /** Sends op with a new id and returns the ok reply; retries on time-outs; error replies throw. */
  private async request(op: Op, payload: Float32Array[]): Promise<Message<ReplyHeader>> {
    if (this.closed) throw new TennisTrainError(`connection to ${this.address} is closed`, ErrorCodes.closed);
    const { timeoutMs, retries, retryDelayMs } = this.options;
    const header = this.header(op, this.nextId++);
    for (let attempt = 0; ; attempt++) {
      let reason: string;
      try {
        const reply = await this.attempt(header, payload, timeoutMs);
        if (reply !== null) {
          if (!reply.header.ok) {
            const error = reply.header.error ?? { code: ErrorCodes.malformed, message: "error reply without error" };
            throw new TennisTrainError(`env server ${this.address} refused ${op}: ${error.message}`, error.code);
          }
          return reply;
        }
        reason = `no reply within ${timeoutMs} ms`;
      } catch (err) {
        if (err instanceof TennisTrainError) throw err;
        reason = (err as Error).message;
      }
      if (attempt >= retries) {
        throw new TennisTrainError(
          `env server ${this.address} did not answer ${op}: ${reason} (after ${retries} retries ${retryDelayMs} ms apart)`,
          ErrorCodes.timeout,
        );
      }
      this.onEvent({ type: "retry", address: this.address, op, attempt: attempt + 1, reason });
      // A fresh socket drops whatever the old one still queued (the server dedupes by client id anyway).
      this.dropSocket();
      await sleep(retryDelayMs);
      if (this.closed) throw new TennisTrainError(`connection to ${this.address} is closed`, ErrorCodes.closed);
    }
  }

  /** One send and the wait for the reply carrying the same id; null on time-out. */
  private async attempt(header: object & { id: number }, payload: Float32Array[], timeoutMs: number): Promise<Message<ReplyHeader> | null> {
    const socket = this.ensureSocket();
    const deadline = Date.now() + timeoutMs;
    socket.sendTimeout = timeoutMs;
    await socket.send(encodeRequest(header as never, payload));
    for (;;) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) return null;
      socket.receiveTimeout = remaining;
      let frames: Buffer[];
      try {
        frames = await socket.receive();
      } catch (err) {
        if ((err as { code?: string }).code === "EAGAIN") return null;
        throw err;
      }
      let reply: Message<ReplyHeader>;
      try {
        reply = decodeReply(frames);
      } catch {
        continue; // not a reply we can read: ignore it like any stray message
      }
      // Replies to earlier attempts of other requests are stale: skip them.
      if (reply.header.id === header.id) return reply;
    }
  }

  private ensureSocket(): Dealer {
    if (this.socket === null) {
      this.socket = new Dealer({ linger: 0 });
      this.socket.connect(this.address);
    }
    return this.socket;
  }

  private dropSocket(): void {
    this.socket?.close();
    this.socket = null;
  }

  private floats(reply: Message<ReplyHeader>, index: number, length: number, name: string): Float32Array {
    const frame = reply.payload[index];
    try {
      if (frame === undefined) throw new ProtocolError(ErrorCodes.malformed, `missing ${name} frame`);
      return floatsFromFrame(frame, length, name, false);
    } catch (err) {
      throw new TennisTrainError(`env server ${this.address} sent a bad reply: ${(err as Error).message}`, (err as ProtocolError).code);
    }
  }
}

/** An error reply that a new hello recovers from: the server restarted, or forgot this client. */
function mustHelloAgain(err: unknown): boolean {
  const code = (err as TennisTrainError).code;
  return code === ErrorCodes.session || code === ErrorCodes.client;
}

function parseHello(header: ReplyHeader, address: string): HelloInfo {
  const positive = (key: string) => {
    const value = header[key];
    if (!Number.isSafeInteger(value) || (value as number) < 1) {
      throw new TennisTrainError(`env server ${address} sent a hello without a positive integer ${key}`, ErrorCodes.malformed);
    }
    return value as number;
  };
  if (typeof header.session !== "string") throw new TennisTrainError(`env server ${address} sent a hello without a session`, ErrorCodes.malformed);
  return {
    session: header.session,
    server: String(header.server ?? "unknown"),
    protocol: positive("protocol"),
    agents: positive("agents"),
    obsSize: positive("obsSize"),
    actionSize: positive("actionSize"),
    stacking: positive("stacking"),
    envs: positive("envs"),
    brain: String(header.brain ?? ""),
    autoReset: header.autoReset === true,
    maxEpisodeSteps: typeof header.maxEpisodeSteps === "number" ? header.maxEpisodeSteps : null,
    maxMessageBytes: positive("maxMessageBytes"),
  };
}
