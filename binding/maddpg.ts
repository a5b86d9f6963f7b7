// Typed, validated front end of the native MADDPG learner (native/napi/trainer_wrap.cc): every
// argument is checked here before it crosses; the native side re-checks cheaply.
import type { NativeReplayBuffer, ReplayBuffer, SampleOptions } from "./buffer.ts";
import { addon } from "./load.ts";
import { AGENTS, JOINT_ACTION, JOINT_OBS } from "./shapes.ts";
import {
  assertBoolean,
  assertFloat32Array,
  assertInt,
  assertNumber,
  assertString,
  invalidParameter,
} from "./validate.ts";

export { ACTION_SIZE, AGENTS, JOINT_ACTION, JOINT_OBS, OBS_SIZE } from "./shapes.ts";

/** Exploration noise of act(explore = true). */
export interface NoiseOptions {
  /** "ou" (Ornstein-Uhlenbeck, default), "gaussian" or "none". */
  type?: "ou" | "gaussian" | "none";
  /** OU long-run mean (default 0). */
  ouMu?: number;
  /** OU mean reversion per step, in [0, 1] (default 0.15). */
  ouTheta?: number;
  /** OU diffusion per step, >= 0 (default 0.2). */
  ouSigma?: number;
  /** Standard deviation of Gaussian noise, >= 0 (default 0.1). */
  gaussianSigma?: number;
  /** Noise scale at the start, >= 0 (default 1). */
  scaleStart?: number;
  /** Noise scale after `decay` units, >= 0 (default 1). */
  scaleEnd?: number;
  /** Units over which the scale goes linearly from scaleStart to scaleEnd; 0 = constant (default 0). */
  decay?: number;
  /** What `decay` counts: "episodes" (env resets through resetNoise, default) or "steps" (explore acts). */
  decayUnit?: "episodes" | "steps";
}

/** Learner options; omitted keys take the native defaults (native/core/maddpg.h, MaddpgConfig). */
export interface MaddpgOptions {
  /** Actor hidden layer widths (default [128, 128]). */
  actorHidden?: number[];
  /** Critic hidden layer widths (default [128, 128]). */
  criticHidden?: number[];
  /** Adam learning rate of the actors, > 0 (default 1e-4). */
  lrActor?: number;
  /** Adam learning rate of the critics, > 0 (default 1e-3). */
  lrCritic?: number;
  /** Discount in [0, 1] (default 0.99). */
  gamma?: number;
  /** Soft-update rate of the targets in [0, 1] (default 1e-3). */
  tau?: number;
  /** Rows per update when sampling from a buffer with update() (default 256). */
  batchSize?: number;
  /** Max gradient norm per network; <= 0 disables clipping (default 1). */
  gradClip?: number;
  /** Adam L2 penalty, >= 0 (default 0). */
  weightDecay?: number;
  /** One actor and one critic for both agents, each from its own point of view (default false). */
  sharedParameters?: boolean;
  /** LayerNorm after each actor hidden layer (default false). */
  layerNorm?: boolean;
  /** BatchNorm1d after each critic hidden layer (default false). */
  batchNorm?: boolean;
  /** MATD3: two critics per agent, the target takes their minimum (default false). */
  twinCritics?: boolean;
  /** MATD3: std of the target policy smoothing noise, >= 0; 0 = off (default 0). */
  targetNoise?: number;
  /** MATD3: clip of that noise, >= 0 (default 0.5). */
  targetNoiseClip?: number;
  /** MATD3: actors and targets update every policyDelay updates, >= 1 (default 1). */
  policyDelay?: number;
  /** Exploration noise. */
  noise?: NoiseOptions;
  /** "cpu" (default) or "cuda". */
  device?: "cpu" | "cuda";
  /** Update implementation: "libtorch" (LibTorch ops + autograd, default), "fused" (hand-derived
   *  gradients on flat buffers, CPU) or "graph" (CUDA: update(k) sampled on the device and replayed as
   *  one CUDA graph); the same maths, checked against the reference. */
  impl?: "libtorch" | "fused" | "graph";
  /** LibTorch intra-op threads set at construction; 0 leaves them as they are (default 0). */
  threads?: number;
  /** Seeds init, exploration noise and target smoothing noise (integer >= 0, default 0). */
  seed?: number;
}

/** A batch of joint transitions, row-major float32 (rows = obs.length / 48). */
export interface TransitionBatch {
  obs: Float32Array; // [rows][2][24]
  actions: Float32Array; // [rows][2][2]
  rewards: Float32Array; // [rows][2]
  nextObs: Float32Array; // [rows][2][24]
  dones: Float32Array; // [rows][2]
  /** Importance weights [rows] (prioritized replay); omitted = plain MSE. */
  weights?: Float32Array;
  /** Test hook: MATD3 smoothing noise as standard-normal draws [rows][2][2] instead of native draws. */
  targetNoise?: Float32Array;
}

/** Averages over the updates of one call (actor fields over the updates that stepped the actors). */
export interface UpdateStats {
  updates: number;
  actorUpdates: number;
  criticLoss: number;
  /** NaN when actorUpdates is 0 (policy delay). */
  actorLoss: number;
  qMean: number;
  criticGradNorm: number;
  actorGradNorm: number;
  /** Share of policy actions with |a| > 0.99. */
  saturation: number;
  /** |TD error| per row of the last batch, mean over agents. */
  tdErrors: Float32Array;
}

export interface ParameterInfo {
  name: string;
  shape: number[];
  offset: number;
  numel: number;
}

export interface MaddpgState {
  busy: boolean;
  updates?: number;
  parameterCount?: number;
  noiseScale?: number;
  noiseSteps?: number;
  noiseEpisodes?: number;
  nEnvs?: number;
  architecture?: string;
}

/** The native class as trainer_wrap.cc exports it. */
interface NativeMaddpg {
  act(obs: Float32Array, actions: Float32Array, explore: boolean): Float32Array;
  updateBatch(batch: TransitionBatch): Promise<UpdateStats>;
  update(buffer: unknown, k: number, options: SampleOptions): Promise<UpdateStats>;
  getParameters(out?: Float32Array): Float32Array;
  setParameters(params: Float32Array): void;
  parameterLayout(): ParameterInfo[];
  save(path: string): Promise<void>;
  load(path: string): Promise<void>;
  exportActor(path: string, agent: number): void;
  resetNoise(envMask?: Uint8Array): void;
  resetActors(seed: number): void;
  stats(): MaddpgState;
  dispose(): void;
}

type NativeMaddpgClass = new (options: MaddpgOptions) => NativeMaddpg;

const OPTION_KEYS = new Set([
  "actorHidden", "criticHidden", "lrActor", "lrCritic", "gamma", "tau", "batchSize", "gradClip", "weightDecay",
  "sharedParameters", "layerNorm", "batchNorm", "twinCritics", "targetNoise", "targetNoiseClip", "policyDelay",
  "noise", "device", "impl", "threads", "seed",
]);
const NOISE_KEYS = new Set(["type", "ouMu", "ouTheta", "ouSigma", "gaussianSigma", "scaleStart", "scaleEnd", "decay", "decayUnit"]);

function assertKnownKeys(name: string, value: object, known: Set<string>): void {
  for (const key of Object.keys(value)) {
    if (!known.has(key)) throw invalidParameter(`${name}.${key}`, `one of the keys ${[...known].join(", ")}`, key);
  }
}

function assertHidden(name: string, value: unknown): void {
  if (!Array.isArray(value) || value.length === 0) throw invalidParameter(name, "a non-empty array of layer widths", value);
  value.forEach((h, i) => assertInt(`${name}[${i}]`, h, 1, 65536));
}

/** Checks every option's type and range; throws a TypeError naming the first bad one. */
export function validateMaddpgOptions(options: MaddpgOptions): void {
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    throw invalidParameter("options", "an object", options);
  }
  assertKnownKeys("options", options, OPTION_KEYS);
  const o = options;
  if (o.actorHidden !== undefined) assertHidden("actorHidden", o.actorHidden);
  if (o.criticHidden !== undefined) assertHidden("criticHidden", o.criticHidden);
  if (o.lrActor !== undefined) assertNumber("lrActor", o.lrActor, Number.MIN_VALUE);
  if (o.lrCritic !== undefined) assertNumber("lrCritic", o.lrCritic, Number.MIN_VALUE);
  if (o.gamma !== undefined) assertNumber("gamma", o.gamma, 0, 1);
  if (o.tau !== undefined) assertNumber("tau", o.tau, 0, 1);
  if (o.batchSize !== undefined) assertInt("batchSize", o.batchSize, 1);
  if (o.gradClip !== undefined) assertNumber("gradClip", o.gradClip);
  if (o.weightDecay !== undefined) assertNumber("weightDecay", o.weightDecay, 0);
  for (const key of ["sharedParameters", "layerNorm", "batchNorm", "twinCritics"] as const) {
    if (o[key] !== undefined) assertBoolean(key, o[key]);
  }
  if (o.targetNoise !== undefined) assertNumber("targetNoise", o.targetNoise, 0);
  if (o.targetNoiseClip !== undefined) assertNumber("targetNoiseClip", o.targetNoiseClip, 0);
  if (o.policyDelay !== undefined) assertInt("policyDelay", o.policyDelay, 1);
  if (o.device !== undefined) assertString("device", o.device, ["cpu", "cuda"]);
  if (o.impl !== undefined) assertString("impl", o.impl, ["libtorch", "fused", "graph"]);
  if (o.threads !== undefined) assertInt("threads", o.threads, 0, 256);
  if (o.seed !== undefined) assertInt("seed", o.seed, 0, Number.MAX_SAFE_INTEGER);
  if (o.noise !== undefined) {
    const n = o.noise;
    if (typeof n !== "object" || n === null || Array.isArray(n)) throw invalidParameter("noise", "an object", n);
    assertKnownKeys("noise", n, NOISE_KEYS);
    if (n.type !== undefined) assertString("noise.type", n.type, ["ou", "gaussian", "none"]);
    if (n.ouMu !== undefined) assertNumber("noise.ouMu", n.ouMu);
    if (n.ouTheta !== undefined) assertNumber("noise.ouTheta", n.ouTheta, 0, 1);
    if (n.ouSigma !== undefined) assertNumber("noise.ouSigma", n.ouSigma, 0);
    if (n.gaussianSigma !== undefined) assertNumber("noise.gaussianSigma", n.gaussianSigma, 0);
    if (n.scaleStart !== undefined) assertNumber("noise.scaleStart", n.scaleStart, 0);
    if (n.scaleEnd !== undefined) assertNumber("noise.scaleEnd", n.scaleEnd, 0);
    if (n.decay !== undefined) assertInt("noise.decay", n.decay, 0);
    if (n.decayUnit !== undefined) assertString("noise.decayUnit", n.decayUnit, ["episodes", "steps"]);
  }
}

/** Checks a batch's arrays and their lengths; returns its row count. */
export function validateBatch(batch: TransitionBatch): number {
  if (typeof batch !== "object" || batch === null) throw invalidParameter("batch", "an object", batch);
  assertFloat32Array("batch.obs", batch.obs);
  if (batch.obs.length === 0 || batch.obs.length % JOINT_OBS !== 0) {
    throw invalidParameter("batch.obs", `a Float32Array whose length is a positive multiple of ${JOINT_OBS}`, batch.obs);
  }
  const rows = batch.obs.length / JOINT_OBS;
  assertFloat32Array("batch.actions", batch.actions, rows * JOINT_ACTION);
  assertFloat32Array("batch.rewards", batch.rewards, rows * AGENTS);
  assertFloat32Array("batch.nextObs", batch.nextObs, rows * JOINT_OBS);
  assertFloat32Array("batch.dones", batch.dones, rows * AGENTS);
  if (batch.weights !== undefined) assertFloat32Array("batch.weights", batch.weights, rows);
  if (batch.targetNoise !== undefined) assertFloat32Array("batch.targetNoise", batch.targetNoise, rows * JOINT_ACTION);
  return rows;
}

/**
 * The MADDPG/MATD3 learner for two Tennis agents. act() is synchronous (a forward pass); updates,
 * save and load run off the main thread and return promises; while one runs every other call throws
 * TennisTrainError ERR_BUSY. Arrays handed to an async call must not change until it settles.
 */
export class Maddpg {
  readonly #native: NativeMaddpg;
  readonly parameterCount: number;

  constructor(options: MaddpgOptions = {}) {
    validateMaddpgOptions(options);
    const NativeClass = addon.Maddpg as NativeMaddpgClass;
    this.#native = new NativeClass(options);
    this.parameterCount = this.#native.stats().parameterCount!;
  }

  /**
   * Actions of nEnvs envs from their joint observations [nEnvs][2][24]; written into `actions`
   * ([nEnvs][2][2], allocated when omitted) and returned. explore adds the scheduled noise.
   */
  act(obs: Float32Array, actions?: Float32Array, explore = false): Float32Array {
    assertFloat32Array("obs", obs);
    if (obs.length === 0 || obs.length % JOINT_OBS !== 0) {
      throw invalidParameter("obs", `a Float32Array whose length is a positive multiple of ${JOINT_OBS}`, obs);
    }
    const nEnvs = obs.length / JOINT_OBS;
    const out = actions ?? new Float32Array(nEnvs * JOINT_ACTION);
    assertFloat32Array("actions", out, nEnvs * JOINT_ACTION);
    assertBoolean("explore", explore);
    return this.#native.act(obs, out, explore);
  }

  /** One update of all agents from a batch of joint transitions; NaN/Infinity rejects naming the array and row. */
  updateBatch(batch: TransitionBatch): Promise<UpdateStats> {
    validateBatch(batch);
    return this.#native.updateBatch(batch);
  }

  /**
   * k updates sampling batches of batchSize straight from a native ReplayBuffer (binding/buffer.ts),
   * with no JS in between; with a prioritized buffer the TD errors update its priorities.
   */
  update(buffer: ReplayBuffer | NativeReplayBuffer, k: number, options: SampleOptions = {}): Promise<UpdateStats> {
    if (typeof buffer !== "object" || buffer === null) throw invalidParameter("buffer", "a ReplayBuffer", buffer);
    assertInt("k", k, 1, 1_000_000);
    if (typeof options !== "object" || options === null) throw invalidParameter("options", "an object", options);
    assertKnownKeys("options", options, new Set(["earlyTrainingSteps", "negSamplingRatio"]));
    if (options.earlyTrainingSteps !== undefined) assertInt("options.earlyTrainingSteps", options.earlyTrainingSteps, 0);
    if (options.negSamplingRatio !== undefined) assertNumber("options.negSamplingRatio", options.negSamplingRatio, -Infinity, 1);
    // The public ReplayBuffer (binding/buffer.ts) hands over its native object; native checks the type.
    const native = "native" in buffer ? buffer.native : buffer;
    return this.#native.update(native, k, options);
  }

  /** Every trainable parameter, flat in parameterLayout() order (into `out` when given). */
  getParameters(out?: Float32Array): Float32Array {
    if (out !== undefined) assertFloat32Array("out", out, this.parameterCount);
    return this.#native.getParameters(out);
  }

  setParameters(params: Float32Array): void {
    assertFloat32Array("params", params, this.parameterCount);
    this.#native.setParameters(params);
  }

  /** Names ("agent0/actor/fc.0.weight", ...), shapes and offsets of getParameters(). */
  parameterLayout(): ParameterInfo[] {
    return this.#native.parameterLayout();
  }

  /** Checkpoint of networks, targets, optimizers, noise and RNG states (resume continues exactly). */
  save(path: string): Promise<void> {
    assertString("path", path);
    if (path.length === 0) throw invalidParameter("path", "a non-empty string", path);
    return this.#native.save(path);
  }

  /** Restores save(); a checkpoint of another architecture rejects with ERR_INVALID_ARG naming what differs. */
  load(path: string): Promise<void> {
    assertString("path", path);
    if (path.length === 0) throw invalidParameter("path", "a non-empty string", path);
    return this.#native.load(path);
  }

  /** Writes agent's actor as TorchScript (obs [N,24] -> actions [N,2]) for Python's torch.jit.load. */
  exportActor(path: string, agent = 0): void {
    assertString("path", path);
    if (path.length === 0) throw invalidParameter("path", "a non-empty string", path);
    assertInt("agent", agent, 0, AGENTS - 1);
    this.#native.exportActor(path, agent);
  }

  /** Resets the exploration noise of envs whose mask entry is set (all when omitted); counts finished episodes. */
  resetNoise(envMask?: Uint8Array | boolean[]): void {
    if (envMask === undefined) return this.#native.resetNoise();
    let mask: Uint8Array;
    if (envMask instanceof Uint8Array) mask = envMask;
    else if (Array.isArray(envMask) && envMask.every((v) => typeof v === "boolean")) mask = Uint8Array.from(envMask, Number);
    else throw invalidParameter("envMask", "a Uint8Array or an array of booleans", envMask);
    if (mask.length === 0) throw invalidParameter("envMask", "a non-empty mask", envMask);
    this.#native.resetNoise(mask);
  }

  /**
   * Starts every actor afresh: initial weights drawn from `seed` as the constructor draws them, the
   * target actors copied from them, the actors' Adam state zeroed. Critics and noise stay.
   */
  resetActors(seed: number): void {
    assertInt("seed", seed, 0, 0xffffffff);
    this.#native.resetActors(seed);
  }

  /** Counters: updates, noise scale/steps/episodes, parameter count, and whether async work runs. */
  stats(): MaddpgState {
    return this.#native.stats();
  }

  /** Frees the native networks; later calls throw ERR_DISPOSED. */
  dispose(): void {
    this.#native.dispose();
  }
}
