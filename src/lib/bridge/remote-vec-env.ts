// RemoteVecEnv: several env servers stepped as one vectorized env over the ZeroMQ bridge. Server k's
// envs are the contiguous rows after server k-1's. A server that dies and comes back costs exactly the
// episodes it had in flight: they are reported (event "lost", `lostEpisodes`, the `lost` mask) and
// nothing else is dropped or repeated.
import { EventEmitter } from "node:events";

import { ACTION_SIZE, AGENTS, OBS_SIZE, type StepResult } from "../../../binding/env.ts";
import { TennisTrainError } from "../../../binding/errors.ts";
import { assertFiniteArray, assertFloat32Array, invalidParameter } from "../../../binding/validate.ts";
import type { VecEnv } from "../env/vec-env.ts";
import { BridgeConnection, type BridgeEvent, type ConnectionOptions } from "./connection.ts";
import { ErrorCodes, type HelloInfo } from "./protocol.ts";

export interface RemoteVecEnvOptions extends ConnectionOptions {
  /** ZeroMQ addresses of the env servers, e.g. ["tcp://127.0.0.1:5555"]; at least one. */
  addresses: string[];
  /**
   * Shape every server must serve (ERR_BRIDGE_MISMATCH otherwise). Default: the built-in Tennis
   * (2 agents, 24 obs floats, 2 action floats), what the trainer expects.
   */
  expect?: { agents: number; obsSize: number; actionSize: number };
}

/** A step of a RemoteVecEnv: StepResult plus the rows whose episode was dropped. */
export interface RemoteStepResult extends StepResult {
  /**
   * [envs][agents]: 1 where the server restarted during this step, so the episode in flight is gone.
   * Those rows also have dones = maxReached = 1 (a truncation), rewards 0 and obs = nextObs = the new
   * episode's first observation: do not store them as transitions, and do not score the episode.
   */
  lost: Float32Array;
}

/** Payload of the "lost" event. */
export interface LostEpisodes {
  address: string;
  /** Index of the server in `addresses`. */
  server: number;
  /** First row (env index) of that server in the vectorized env. */
  firstEnv: number;
  /** Episodes dropped (the server's env count). */
  envs: number;
}

/** A server's place in the vectorized env. */
export interface RemoteServer {
  address: string;
  firstEnv: number;
  info: HelloInfo;
}

/**
 * Events: "retry" (BridgeEvent of type retry: a request timed out and is sent again), "reconnect"
 * (BridgeEvent of type reconnect: a server came back with a new session), "lost" (LostEpisodes).
 */
export class RemoteVecEnv extends EventEmitter implements VecEnv {
  readonly numEnvs: number;
  readonly agents: number;
  readonly obsSize: number;
  readonly actionSize: number;
  /** Episodes dropped because their server restarted, since connect. */
  lostEpisodes = 0;
  private readonly connections: BridgeConnection[];
  private readonly firstEnvs: number[];
  private readonly obsBuffers: [Float32Array, Float32Array];
  private current = 0;
  private readonly nextObs: Float32Array;
  private readonly rewards: Float32Array;
  private readonly dones: Float32Array;
  private readonly maxReached: Float32Array;
  private readonly lost: Float32Array;
  private closed = false;

  private constructor(connections: BridgeConnection[], expect: { agents: number; obsSize: number; actionSize: number }) {
    super();
    this.connections = connections;
    this.agents = expect.agents;
    this.obsSize = expect.obsSize;
    this.actionSize = expect.actionSize;
    this.firstEnvs = [];
    let total = 0;
    for (const c of connections) {
      this.firstEnvs.push(total);
      total += c.info!.envs;
    }
    this.numEnvs = total;
    const obsFloats = total * this.agents * this.obsSize;
    this.obsBuffers = [new Float32Array(obsFloats), new Float32Array(obsFloats)];
    this.nextObs = new Float32Array(obsFloats);
    this.rewards = new Float32Array(total * this.agents);
    this.dones = new Float32Array(total * this.agents);
    this.maxReached = new Float32Array(total * this.agents);
    this.lost = new Float32Array(total * this.agents);
  }

  /** Says hello to every server (in parallel) and checks they all serve the expected shape. */
  static async connect(options: RemoteVecEnvOptions): Promise<RemoteVecEnv> {
    if (typeof options !== "object" || options === null) throw invalidParameter("options", "an object", options);
    const { addresses } = options;
    if (!Array.isArray(addresses) || addresses.length === 0 || addresses.some((a) => typeof a !== "string" || a.length === 0)) {
      throw invalidParameter("addresses", "a non-empty array of ZeroMQ addresses", addresses);
    }
    if (new Set(addresses).size !== addresses.length) throw invalidParameter("addresses", "distinct addresses", addresses);
    const expect = options.expect ?? { agents: AGENTS, obsSize: OBS_SIZE, actionSize: ACTION_SIZE };
    const emitter = new EventEmitter();
    const connections = addresses.map((a) => new BridgeConnection(a, options, (e: BridgeEvent) => emitter.emit(e.type, e)));
    const results = await Promise.allSettled(connections.map((c) => c.hello()));
    const failed = results.find((r) => r.status === "rejected") as PromiseRejectedResult | undefined;
    try {
      if (failed) throw failed.reason;
      for (const c of connections) {
        for (const key of ["agents", "obsSize", "actionSize"] as const) {
          if (c.info![key] !== expect[key]) {
            throw new TennisTrainError(`env server ${c.address} serves ${key} = ${c.info![key]}, expected ${expect[key]}`, ErrorCodes.mismatch);
          }
        }
      }
    } catch (err) {
      await Promise.all(connections.map((c) => c.close()));
      throw err;
    }
    const env = new RemoteVecEnv(connections, expect);
    // Forward connection events from the one emitter they were bound to before `env` existed.
    for (const type of ["retry", "reconnect"]) emitter.on(type, (e) => env.emit(type, e));
    return env;
  }

  /** Where each server's envs sit. */
  get servers(): RemoteServer[] {
    return this.connections.map((c, k) => ({ address: c.address, firstEnv: this.firstEnvs[k], info: c.info! }));
  }

  async reset(): Promise<Float32Array> {
    this.checkOpen();
    const obs = this.obsBuffers[this.current];
    const obsRow = this.agents * this.obsSize;
    const replies = await settleAll(this.connections.map((c) => c.reset()));
    replies.forEach((r, k) => obs.set(r, this.firstEnvs[k] * obsRow));
    return obs;
  }

  /** One decision in every env of every server; actions [envs][agents][actionSize]. */
  async step(actions: Float32Array): Promise<RemoteStepResult> {
    this.checkOpen();
    assertFloat32Array("actions", actions, this.numEnvs * this.agents * this.actionSize);
    assertFiniteArray("actions", actions);
    const obs = this.obsBuffers[1 - this.current];
    const obsRow = this.agents * this.obsSize;
    const actionRow = this.agents * this.actionSize;
    const replies = await settleAll(
      this.connections.map((c, k) => {
        const first = this.firstEnvs[k];
        return c.step(actions.subarray(first * actionRow, (first + c.info!.envs) * actionRow));
      }),
    );
    replies.forEach((r, k) => {
      const first = this.firstEnvs[k];
      const n = this.connections[k].info!.envs;
      const rows = [first * this.agents, (first + n) * this.agents] as const;
      if (r.kind === "step") {
        obs.set(r.reply.obs, first * obsRow);
        this.nextObs.set(r.reply.nextObs, first * obsRow);
        this.rewards.set(r.reply.rewards, rows[0]);
        this.dones.set(r.reply.dones, rows[0]);
        this.maxReached.set(r.reply.maxReached, rows[0]);
        this.lost.fill(0, ...rows);
      } else {
        obs.set(r.obs, first * obsRow);
        this.nextObs.set(r.obs, first * obsRow);
        this.rewards.fill(0, ...rows);
        this.dones.fill(1, ...rows);
        this.maxReached.fill(1, ...rows);
        this.lost.fill(1, ...rows);
        this.lostEpisodes += n;
        const event: LostEpisodes = { address: this.connections[k].address, server: k, firstEnv: first, envs: n };
        this.emit("lost", event);
      }
    });
    this.current = 1 - this.current;
    return { obs, nextObs: this.nextObs, rewards: this.rewards, dones: this.dones, maxReached: this.maxReached, lost: this.lost };
  }

  /** Says goodbye to every server and closes the sockets. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(this.connections.map((c) => c.close()));
  }

  private checkOpen(): void {
    if (this.closed) throw new TennisTrainError("RemoteVecEnv is closed", ErrorCodes.closed);
  }
}

// Waits for every request (so none is left in flight on a connection), then throws the first failure.
async function settleAll<T>(promises: Promise<T>[]): Promise<T[]> {
  const results = await Promise.allSettled(promises);
  const failed = results.find((r) => r.status === "rejected") as PromiseRejectedResult | undefined;
  if (failed) throw failed.reason;
  return results.map((r) => (r as PromiseFulfilledResult<T>).value);
}
