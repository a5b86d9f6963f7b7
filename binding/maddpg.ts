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

/** Exploration noise of act(explore = true). Every field is required: the binding has no defaults. */
export interface NoiseOptions {
  /** "ou" (Ornstein-Uhlenbeck), "gaussian" or "none". */
  type: "ou" | "gaussian" | "none";
  /** OU long-run mean. */
  ouMu: number;
  /** OU mean reversion per step. */
  ouTheta: number;
  /** OU diffusion per step, >= 0. */
  ouSigma: number;
  /** Standard deviation of Gaussian noise, >= 0. */
  gaussianSigma: number;
  /** Noise scale at the start, >= 0. */
  scaleStart: number;
  /** Noise scale after `decay` units, >= 0. */
  scaleEnd: number;
  /** Units over which the scale goes linearly from scaleStart to scaleEnd; 0 = constant scaleStart. */
  decay: number;
  /** What `decay` counts: "episodes" (env resets through resetNoise) or "steps" (explore acts). */
  decayUnit: "episodes" | "steps";
}

/**
 * Learner options. Every field is required: the binding has no defaults, and the trainer passes
 * maddpgOptions(config) of a resolved config (configs/schema.json holds the defaults and the bounds).
 */
export interface MaddpgOptions {
  /** Actor hidden layer widths. */
  actorHidden: number[];
  /** Critic hidden layer widths. */
  criticHidden: number[];
  /** Adam learning rate of the actors. */
  lrActor: number;
  /** Adam learning rate of the critics. */
  lrCritic: number;
  /** Discount. */
  gamma: number;
  /** Soft-update rate of the targets. */
  tau: number;
  /** Rows per update when sampling from a buffer with update(). */
  batchSize: number;
  /** Max gradient norm per network; <= 0 disables clipping. */
  gradClip: number;
  /** Adam L2 penalty. */
  weightDecay: number;
  /** One actor and one critic for both agents, each from its own point of view. */
  sharedParameters: boolean;
  /** LayerNorm after each actor hidden layer. */
  layerNorm: boolean;
  /** BatchNorm1d after each critic hidden layer. */
  batchNorm: boolean;
  /** MATD3: two critics per agent, the target takes their minimum. */
  twinCritics: boolean;
  /** MATD3: std of the target policy smoothing noise; 0 = off. */
  targetNoise: number;
  /** MATD3: clip of that noise. */
  targetNoiseClip: number;
  /** MATD3: actors and targets update every policyDelay updates. */
  policyDelay: number;
  /** Exploration noise. */
  noise: NoiseOptions;
  /** "cpu" or "cuda". */
  device: "cpu" | "cuda";
  /** Update implementation: "libtorch" (LibTorch ops + autograd), "fused" (hand-derived gradients on
   *  flat buffers, CPU) or "graph" (CUDA: update(k) sampled on the device and replayed as one CUDA
   *  graph); the same maths, checked against the reference. */
  impl: "libtorch" | "fused" | "graph";
  /** LibTorch intra-op threads set at construction; 0 leaves them as they are. */
  threads: number;
  /** Seeds init, exploration noise and target smoothing noise. */
  seed: number;
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

const kOptionKeys = [
  "actorHidden", "criticHidden", "lrActor", "lrCritic", "gamma", "tau", "batchSize", "gradClip", "weightDecay",
  "sharedParameters", "layerNorm", "batchNorm", "twinCritics", "targetNoise", "targetNoiseClip", "policyDelay",
  "noise", "device", "impl", "threads", "seed",
] as const;
const kNoiseKeys = ["type", "ouMu", "ouTheta", "ouSigma", "gaussianSigma", "scaleStart", "scaleEnd", "decay", "decayUnit"] as const;
/** Sizes and counts cross as C++ int (int32); seeds as uint64 from a JS number. */
const kMaxInt32 = 2 ** 31 - 1;

/** Every key of `keys` present and no other; names the first unknown or missing one. */
function assertExactKeys(name: string, value: object, keys: readonly string[]): void {
  for (const key of Object.keys(value)) {
    if (!keys.includes(key)) throw invalidParameter(`${name}.${key}`, `one of the keys ${keys.join(", ")}`, key);
  }
  for (const key of keys) {
    if ((value as Record<string, unknown>)[key] === undefined) throw invalidParameter(`${name}.${key}`, "a value (every option is required)", undefined);
  }
}

function assertWidths(name: string, value: unknown): void {
  if (!Array.isArray(value) || value.length === 0) throw invalidParameter(name, "a non-empty array of layer widths", value);
  value.forEach((h, i) => assertInt(`${name}[${i}]`, h, 1, kMaxInt32));
}

/**
 * Checks what the native side needs to stay memory-safe: every option present, of its type, sizes and
 * counts positive integers within int32, numbers finite. Ranges that are choices (learning rates,
 * gamma, widths) are the config schema's; native code rechecks them. Throws a TypeError naming the
 * first bad option.
 */
export function validateMaddpgOptions(options: MaddpgOptions): void {
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    throw invalidParameter("options", "an object", options);
  }
  assertExactKeys("options", options, kOptionKeys);
  const o = options;
  assertWidths("actorHidden", o.actorHidden);
  assertWidths("criticHidden", o.criticHidden);
  for (const key of ["lrActor", "lrCritic", "gamma", "tau", "gradClip", "weightDecay", "targetNoise", "targetNoiseClip"] as const) {
    assertNumber(key, o[key]);
  }
  assertInt("batchSize", o.batchSize, 1, kMaxInt32);
  for (const key of ["sharedParameters", "layerNorm", "batchNorm", "twinCritics"] as const) assertBoolean(key, o[key]);
  assertInt("policyDelay", o.policyDelay, 1, kMaxInt32);
  assertString("device", o.device, ["cpu", "cuda"]);
  assertString("impl", o.impl, ["libtorch", "fused", "graph"]);
  assertInt("threads", o.threads, 0, kMaxInt32);
  assertInt("seed", o.seed, 0, Number.MAX_SAFE_INTEGER);
  const n = o.noise;
  if (typeof n !== "object" || n === null || Array.isArray(n)) throw invalidParameter("noise", "an object", n);
  assertExactKeys("noise", n, kNoiseKeys);
  assertString("noise.type", n.type, ["ou", "gaussian", "none"]);
  for (const key of ["ouMu", "ouTheta", "ouSigma", "gaussianSigma", "scaleStart", "scaleEnd"] as const) assertNumber(`noise.${key}`, n[key]);
  assertInt("noise.decay", n.decay, 0, Number.MAX_SAFE_INTEGER);
  assertString("noise.decayUnit", n.decayUnit, ["episodes", "steps"]);
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

  constructor(options: MaddpgOptions) {
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
    for (const key of Object.keys(options)) {
      if (key !== "earlyTrainingSteps" && key !== "negSamplingRatio") {
        throw invalidParameter(`options.${key}`, "one of the keys earlyTrainingSteps, negSamplingRatio", key);
      }
    }
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
