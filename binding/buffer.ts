// The replay buffer of joint transitions in shared memory: a typed, validated front end over the
// native ReplayBuffer (native/napi/buffer_wrap.cc). Producers in other processes or worker threads
// attach by shm name; the learner samples natively, and these JS add/sample calls serve tools and tests.
import { addon } from "./load.ts";
import { ACTION_SIZE, AGENTS, JOINT_ACTION as kActionFloats, JOINT_OBS as kObsFloats, OBS_SIZE, RECORD_FLOATS } from "./shapes.ts";
import {
  assertBoolean,
  assertFiniteArray,
  assertFloat32Array,
  assertInt,
  assertNumber,
  invalidParameter,
} from "./validate.ts";

export { ACTION_SIZE, AGENTS, OBS_SIZE, RECORD_FLOATS } from "./shapes.ts";
/** Largest capacity the JS side accepts (slots travel in Int32Arrays). */
export const MAX_CAPACITY = 2 ** 31 - 1;

const kShmName = /^\/?[A-Za-z0-9._-]{1,200}$/;
const kOptionKeys = ["capacity", "shmName", "prioritized", "alpha", "beta0", "betaSteps", "priorityEps", "seed"];
const kSampleKeys = ["earlyTrainingSteps", "negSamplingRatio"];

/**
 * Options of a new (owner) buffer. capacity, prioritized, alpha, beta0, betaSteps and seed are
 * required: their defaults are the config schema's (`buffer.*`, `seed`), which the trainer passes.
 */
export interface ReplayBufferOptions {
  /** Records kept (a ring); integer in [1, 2^31-1]. */
  capacity: number;
  /** POSIX shm name ("/name" or "name", letters, digits, ".", "_", "-") so other processes can attach;
   *  omitted: private memory. Use ReplayBuffer.uniqueShmName() for one name per run. */
  shmName?: string;
  /** Proportional prioritized replay (Schaul et al. 2016). */
  prioritized: boolean;
  /** Priority exponent, >= 0. */
  alpha: number;
  /** Initial importance-sampling exponent in [0, 1], annealed linearly to 1. */
  beta0: number;
  /** sample() calls over which beta reaches 1; integer >= 1. */
  betaSteps: number;
  /** Added to |td error| so no record gets priority 0; > 0. Default 1e-6 (not a config option). */
  priorityEps?: number;
  /** Sampler RNG seed; integer in [0, 2^53-1]. */
  seed: number;
}

/** The notebook's sampling options. */
export interface SampleOptions {
  /** While totalAdded < this, negative-reward transitions are not sampled. Integer >= 0; default 0 (off). */
  earlyTrainingSteps?: number;
  /** < 0: off (default -1). Else in [0, 1]: floor(batch * ratio) of each batch are negative-reward
   *  transitions (as far as stored; a missing kind is filled from the other). */
  negSamplingRatio?: number;
}

/** Shapes of a batch of B transitions, as the notebook prints them. */
export interface BatchShape {
  obs: [number, number, number];
  actions: [number, number, number];
  rewards: [number, number];
  nextObs: [number, number, number];
  dones: [number, number];
  weights: [number];
  indices: [number];
}

/** A sampled batch: flat row-major arrays with their shapes. Reusable as `out` of sample(). */
export interface SampleBatch {
  batch: number;
  /** (B, 2, 24) */
  obs: Float32Array;
  /** (B, 2, 2) */
  actions: Float32Array;
  /** (B, 2) */
  rewards: Float32Array;
  /** (B, 2, 24) */
  nextObs: Float32Array;
  /** (B, 2) */
  dones: Float32Array;
  /** (B) importance weights; 1 for uniform sampling. */
  weights: Float32Array;
  /** (B) buffer slots, for updatePriorities. */
  indices: Int32Array;
  shape: BatchShape;
}

/** The native class (native/napi/buffer_wrap.cc), mirrored exactly. */
export interface NativeReplayBuffer {
  add(obs: Float32Array, actions: Float32Array, rewards: Float32Array, nextObs: Float32Array, dones: Float32Array): void;
  sample(
    batch: number,
    options: SampleOptions,
    obs: Float32Array,
    actions: Float32Array,
    rewards: Float32Array,
    nextObs: Float32Array,
    dones: Float32Array,
    weights?: Float32Array | null,
    indices?: Int32Array | null,
  ): void;
  updatePriorities(indices: Int32Array, tdErrors: Float32Array): void;
  save(path: string): Promise<void>;
  load(path: string): Promise<void>;
  readSlot(slot: number, record: Float32Array): boolean;
  dispose(): void;
  readonly size: number;
  readonly capacity: number;
  readonly totalAdded: number;
  readonly shmName: string;
  readonly isOwner: boolean;
  readonly prioritized: boolean;
  readonly beta: number;
  readonly reclaimedStalePid: number;
  readonly disposed: boolean;
}

export interface NativeReplayBufferClass {
  new (options: ReplayBufferOptions | { attach: string }): NativeReplayBuffer;
  uniqueShmName(prefix?: string): string;
  sweepStaleSegments(prefix?: string): number;
}

function nativeClass(): NativeReplayBufferClass {
  return addon.ReplayBuffer as NativeReplayBufferClass;
}

function assertPlainObject(name: string, value: unknown, keys: readonly string[]): asserts value is Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw invalidParameter(name, "an object", value);
  for (const key of Object.keys(value)) {
    if (!keys.includes(key)) throw new TypeError(`Unknown option ${key} for ${name}; expected one of ${keys.join(", ")}`);
  }
}

function assertShmName(name: string, value: unknown): asserts value is string {
  if (typeof value !== "string" || !kShmName.test(value)) {
    throw invalidParameter(name, "a shm name of 1 to 200 letters, digits, '.', '_' or '-' (optionally after '/')", value);
  }
}

function assertPrefix(value: unknown): asserts value is string {
  if (typeof value !== "string" || !/^[A-Za-z0-9._-]{1,100}$/.test(value)) {
    throw invalidParameter("prefix", "a prefix of 1 to 100 letters, digits, '.', '_' or '-'", value);
  }
}

function validateOptions(options: unknown): ReplayBufferOptions {
  assertPlainObject("options", options, kOptionKeys);
  const o = options as unknown as ReplayBufferOptions;
  assertInt("capacity", o.capacity, 1, MAX_CAPACITY);
  if (o.shmName !== undefined) assertShmName("shmName", o.shmName);
  assertBoolean("prioritized", o.prioritized);
  assertNumber("alpha", o.alpha, 0);
  assertNumber("beta0", o.beta0, 0, 1);
  assertInt("betaSteps", o.betaSteps, 1, Number.MAX_SAFE_INTEGER);
  if (o.priorityEps !== undefined && !(typeof o.priorityEps === "number" && Number.isFinite(o.priorityEps) && o.priorityEps > 0)) {
    throw invalidParameter("priorityEps", "finite number > 0", o.priorityEps);
  }
  assertInt("seed", o.seed, 0, Number.MAX_SAFE_INTEGER);
  return o;
}

function validateSampleOptions(options: unknown): SampleOptions {
  if (options === undefined) return {};
  assertPlainObject("options", options, kSampleKeys);
  const o = options as SampleOptions;
  if (o.earlyTrainingSteps !== undefined) assertInt("earlyTrainingSteps", o.earlyTrainingSteps, 0, Number.MAX_SAFE_INTEGER);
  if (o.negSamplingRatio !== undefined) assertNumber("negSamplingRatio", o.negSamplingRatio, -Infinity, 1);
  return o;
}

/** The shapes of a batch of `batch` transitions. */
export function batchShape(batch: number): BatchShape {
  return {
    obs: [batch, AGENTS, OBS_SIZE],
    actions: [batch, AGENTS, ACTION_SIZE],
    rewards: [batch, AGENTS],
    nextObs: [batch, AGENTS, OBS_SIZE],
    dones: [batch, AGENTS],
    weights: [batch],
    indices: [batch],
  };
}

/** Empty output arrays for sample(batch), to reuse across calls. */
export function createBatch(batch: number): SampleBatch {
  assertInt("batch", batch, 1, MAX_CAPACITY);
  return {
    batch,
    obs: new Float32Array(batch * kObsFloats),
    actions: new Float32Array(batch * kActionFloats),
    rewards: new Float32Array(batch * AGENTS),
    nextObs: new Float32Array(batch * kObsFloats),
    dones: new Float32Array(batch * AGENTS),
    weights: new Float32Array(batch),
    indices: new Int32Array(batch),
    shape: batchShape(batch),
  };
}

function validateOut(out: unknown, batch: number): asserts out is SampleBatch {
  if (typeof out !== "object" || out === null) throw invalidParameter("out", "a SampleBatch from createBatch()", out);
  const o = out as SampleBatch;
  assertFloat32Array("out.obs", o.obs, batch * kObsFloats);
  assertFloat32Array("out.actions", o.actions, batch * kActionFloats);
  assertFloat32Array("out.rewards", o.rewards, batch * AGENTS);
  assertFloat32Array("out.nextObs", o.nextObs, batch * kObsFloats);
  assertFloat32Array("out.dones", o.dones, batch * AGENTS);
  assertFloat32Array("out.weights", o.weights, batch);
  if (!(o.indices instanceof Int32Array) || o.indices.length !== batch) {
    throw invalidParameter("out.indices", `an Int32Array of length ${batch}`, o.indices);
  }
}

/**
 * Ring buffer of joint Tennis transitions, preallocated once (float32), optionally in POSIX shared
 * memory so producer processes can append while the learner samples. The creating object owns the
 * segment and removes it on dispose() or when Node exits.
 */
export class ReplayBuffer {
  /** The native object; pass it to native learners (e.g. Maddpg.update) that sample without JS. */
  readonly native: NativeReplayBuffer;

  constructor(options: ReplayBufferOptions) {
    this.native = new (nativeClass())(validateOptions(options));
  }

  /** Attaches to the live buffer named shmName (created by another process or thread) as a producer. */
  static attach(shmName: string): ReplayBuffer {
    assertShmName("shmName", shmName);
    const buffer = Object.create(ReplayBuffer.prototype) as ReplayBuffer;
    (buffer as { native: NativeReplayBuffer }).native = new (nativeClass())({ attach: shmName });
    return buffer;
  }

  /** A shm name unique to this process and call: "/<prefix>-<pid>-<n>-<time>". */
  static uniqueShmName(prefix = "tennis-train"): string {
    assertPrefix(prefix);
    return nativeClass().uniqueShmName(prefix);
  }

  /** Removes /dev/shm segments named <prefix>* whose owner process is gone; returns how many. */
  static sweepStaleSegments(prefix = "tennis-train"): number {
    assertPrefix(prefix);
    return nativeClass().sweepStaleSegments(prefix);
  }

  /**
   * Appends n whole transitions (one vectorized step): obs (n,2,24), actions (n,2,2), rewards (n,2),
   * nextObs (n,2,24), dones (n,2), flat. n = obs.length / 48, at most capacity. Every value finite.
   */
  add(obs: Float32Array, actions: Float32Array, rewards: Float32Array, nextObs: Float32Array, dones: Float32Array): void {
    assertFloat32Array("obs", obs);
    if (obs.length === 0 || obs.length % kObsFloats !== 0) {
      throw invalidParameter("obs", `a Float32Array of length n*${kObsFloats} (n x ${AGENTS} x ${OBS_SIZE})`, obs);
    }
    const n = obs.length / kObsFloats;
    assertFloat32Array("actions", actions, n * kActionFloats);
    assertFloat32Array("rewards", rewards, n * AGENTS);
    assertFloat32Array("nextObs", nextObs, n * kObsFloats);
    assertFloat32Array("dones", dones, n * AGENTS);
    assertFiniteArray("obs", obs);
    assertFiniteArray("actions", actions);
    assertFiniteArray("rewards", rewards);
    assertFiniteArray("nextObs", nextObs);
    assertFiniteArray("dones", dones);
    this.native.add(obs, actions, rewards, nextObs, dones);
  }

  /**
   * Draws `batch` transitions with replacement (uniform, the notebook's filters, or by priority) into
   * `out` (allocated when omitted). batch must not exceed size (TennisTrainError ERR_INVALID_ARG).
   */
  sample(batch: number, options?: SampleOptions, out?: SampleBatch): SampleBatch {
    assertInt("batch", batch, 1, MAX_CAPACITY);
    const sampleOptions = validateSampleOptions(options);
    if (out === undefined) {
      out = createBatch(batch);
    } else {
      validateOut(out, batch);
    }
    this.native.sample(batch, sampleOptions, out.obs, out.actions, out.rewards, out.nextObs, out.dones, out.weights, out.indices);
    return out;
  }

  /** Sets priority (|tdError| + priorityEps)^alpha for each slot (prioritized buffers only). */
  updatePriorities(indices: Int32Array, tdErrors: Float32Array): void {
    if (!(indices instanceof Int32Array) || indices.length === 0) {
      throw invalidParameter("indices", "a non-empty Int32Array", indices);
    }
    assertFloat32Array("tdErrors", tdErrors, indices.length);
    assertFiniteArray("tdErrors", tdErrors);
    this.native.updatePriorities(indices, tdErrors);
  }

  /** Writes a checkpoint (records, counters, RNG, priorities) atomically; producers should be idle. */
  save(path: string): Promise<void> {
    if (typeof path !== "string" || path.length === 0) throw invalidParameter("path", "a non-empty string", path);
    return this.native.save(path);
  }

  /** Restores a save() of a buffer with the same capacity; producers should be idle. */
  load(path: string): Promise<void> {
    if (typeof path !== "string" || path.length === 0) throw invalidParameter("path", "a non-empty string", path);
    return this.native.load(path);
  }

  /** The record in a slot (104 floats: obs, actions, rewards, nextObs, dones), or null if empty. */
  readSlot(slot: number): Float32Array | null {
    assertInt("slot", slot, 0, this.capacity - 1);
    const record = new Float32Array(RECORD_FLOATS);
    return this.native.readSlot(slot, record) ? record : null;
  }

  /** Releases the buffer; the owner's shm segment is removed. Later calls throw ERR_DISPOSED. */
  dispose(): void {
    this.native.dispose();
  }

  /** Records stored now: min(totalAdded, capacity). */
  get size(): number {
    return this.native.size;
  }
  get capacity(): number {
    return this.native.capacity;
  }
  /** Records ever appended, by every producer. */
  get totalAdded(): number {
    return this.native.totalAdded;
  }
  /** "/name" of the shm segment; "" for private memory. */
  get shmName(): string {
    return this.native.shmName;
  }
  get isOwner(): boolean {
    return this.native.isOwner;
  }
  get prioritized(): boolean {
    return this.native.prioritized;
  }
  /** Current importance-sampling exponent. */
  get beta(): number {
    return this.native.beta;
  }
  /** Pid of a crashed run whose stale segment this buffer reclaimed; 0 when none. */
  get reclaimedStalePid(): number {
    return this.native.reclaimedStalePid;
  }
  get disposed(): boolean {
    return this.native.disposed;
  }
}

/** The native class (native/napi/n_step_wrap.cc), mirrored exactly. */
export interface NativeNStepAccumulator {
  add(
    buffer: NativeReplayBuffer,
    obs: Float32Array,
    actions: Float32Array,
    rewards: Float32Array,
    nextObs: Float32Array,
    dones: Float32Array,
    lost?: Float32Array | null,
  ): number;
  saveState(out: Float32Array): void;
  loadState(state: Float32Array): void;
  readonly numEnvs: number;
  readonly n: number;
  readonly gamma: number;
  readonly stateFloats: number;
}

interface NativeNStepAccumulatorClass {
  new (numEnvs: number, n: number, gamma: number): NativeNStepAccumulator;
}

/**
 * n-step returns assembled natively between the env step and the replay buffer: per env, a ring of the
 * last n steps turns each step into the record (s_t, a_t, sum_{k<m} gamma^k r_{t+k}, s_{t+m}, done), m = n
 * or less where the episode ended first (then done = 1). A learner fed these records bootstraps with
 * gamma^n. With n = 1 every step is stored unchanged.
 */
export class NStepAccumulator {
  readonly #native: NativeNStepAccumulator;

  /** numEnvs: envs stepped together, integer in [1, 2^20]; n: steps summed, integer in [1, 1000];
   *  gamma: discount in [0, 1]. */
  constructor(numEnvs: number, n: number, gamma: number) {
    assertInt("numEnvs", numEnvs, 1, 2 ** 20);
    assertInt("n", n, 1, 1000);
    assertNumber("gamma", gamma, 0, 1);
    this.#native = new (addon.NStepAccumulator as NativeNStepAccumulatorClass)(numEnvs, n, gamma);
  }

  /**
   * Takes one vectorized step (the arrays of ReplayBuffer.add for numEnvs transitions) and appends the
   * records it completes to buffer in one call; returns how many. lost (numEnvs*2, optional) marks envs
   * whose episode was discarded: their step is dropped and their pending steps cleared.
   */
  add(buffer: ReplayBuffer, obs: Float32Array, actions: Float32Array, rewards: Float32Array, nextObs: Float32Array, dones: Float32Array, lost?: Float32Array): number {
    if (!(buffer instanceof ReplayBuffer)) throw invalidParameter("buffer", "a ReplayBuffer", buffer);
    const n = this.numEnvs;
    assertFloat32Array("obs", obs, n * kObsFloats);
    assertFloat32Array("actions", actions, n * kActionFloats);
    assertFloat32Array("rewards", rewards, n * AGENTS);
    assertFloat32Array("nextObs", nextObs, n * kObsFloats);
    assertFloat32Array("dones", dones, n * AGENTS);
    if (lost !== undefined) assertFloat32Array("lost", lost, n * AGENTS);
    return this.#native.add(buffer.native, obs, actions, rewards, nextObs, dones, lost ?? null);
  }

  /** The pending steps (stateFloats floats), for an exact resume. */
  saveState(): Float32Array {
    const state = new Float32Array(this.stateFloats);
    this.#native.saveState(state);
    return state;
  }

  /** Restores saveState() of an accumulator with the same numEnvs and n (else TennisTrainError ERR_INVALID_ARG). */
  loadState(state: Float32Array): void {
    assertFloat32Array("state", state, this.stateFloats);
    this.#native.loadState(state);
  }

  get numEnvs(): number {
    return this.#native.numEnvs;
  }
  get n(): number {
    return this.#native.n;
  }
  get gamma(): number {
    return this.#native.gamma;
  }
  /** Floats of saveState(): numEnvs * (1 + n * 54). */
  get stateFloats(): number {
    return this.#native.stateFloats;
  }
}
