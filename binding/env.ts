// The built-in Tennis environment: a typed, validated front end over the native TennisEnv
// (native/napi/env_wrap.cc over native/core/env/tennis.h), plus a single-env view shaped like the
// Udacity notebook's unityagents BrainInfo.
import { addon } from "./load.ts";
import { ACTION_SIZE, AGENTS, JOINT_ACTION as kActionFloats, JOINT_OBS as kObsFloats, OBS_SIZE } from "./shapes.ts";
import {
  assertBoolean,
  assertFiniteArray,
  assertFloat32Array,
  assertInt,
  assertString,
  invalidParameter,
} from "./validate.ts";

export { ACTION_SIZE, AGENTS, OBS_SIZE } from "./shapes.ts";
/** A capped episode reports done on this step. */
export const MAX_EPISODE_STEPS = 1001;
/** Brain name of the Udacity build (for the notebook view). */
export const BRAIN_NAME = "TennisBrain";

const kMaxEnvs = 2 ** 20;
const kModes = ["cooperative", "competitive"] as const;
const kOptionKeys = [
  "numEnvs",
  "seed",
  "cleanReset",
  "observeBallVelocity",
  "fixLastHitter",
  "mode",
  "threads",
  "autoReset",
];

export type TennisMode = (typeof kModes)[number];

/**
 * Options of a TennisEnv. numEnvs, seed and the variant (cleanReset, observeBallVelocity, fixLastHitter,
 * mode) are required: their defaults are the config schema's (`env.*`, `seed`); the faithful Udacity
 * build has every flag off and mode "cooperative".
 */
export interface TennisEnvOptions {
  /** Independent envs stepped together; integer in [1, 2^20]. */
  numEnvs: number;
  /** Env i is seeded seed + i (Unity's xorshift128 seeding); integer in [0, 2^32-1]. */
  seed: number;
  /** Re-serve the ball on every reset, without the build's extra physics tick (i.i.d. starts). */
  cleanReset: boolean;
  /** Observation slots 6-7 hold the ball velocity instead of the build's copy of slots 2-3. */
  observeBallVelocity: boolean;
  /** A net crossing no longer makes agent 1 the last hitter (the build's bug). */
  fixLastHitter: boolean;
  /** "cooperative" (Udacity rewards) or "competitive" (one point per episode, +1 / -1). */
  mode: TennisMode;
  /** OpenMP threads per step; integer in [1, 256]. Default 1. Results do not depend on it. */
  threads?: number;
  /**
   * After each step, reset (Unity env.reset(), as the notebook does after a done) every env that
   * reported done. `step().obs` then holds the reset envs' fresh observations while `nextObs` keeps
   * what the step returned (the replay buffer's next state). Default false.
   */
  autoReset?: boolean;
}

/** What step() returns: views into arrays the env owns and reuses (copy what you keep). */
export interface StepResult {
  /**
   * [envs][2][24]: the observations to act on next. Equal to nextObs except, with autoReset, the rows
   * of envs that were reset. Two such arrays alternate, so the obs you acted on (returned by the
   * previous step or reset) stays valid until the step after this one.
   */
  obs: Float32Array;
  /** [envs][2][24]: the observations returned with this step (for done envs already the first frame of
   *  the next episode, as in Unity). The same array as obs when autoReset is off. */
  nextObs: Float32Array;
  /** [envs][2]: rewards of this step. */
  rewards: Float32Array;
  /** [envs][2]: 1 where the episode ended with this step (both agents of an env end together). */
  dones: Float32Array;
  /** [envs][2]: 1 where the 1001-step cap (not a missed ball) ended the episode. */
  maxReached: Float32Array;
}

/** Snapshot of one env (world frame: net at x = 0, y up; arrays indexed by agent). */
export interface TennisState {
  ballX: number;
  ballY: number;
  ballVx: number;
  ballVy: number;
  racketX: [number, number];
  racketY: [number, number];
  racketVx: [number, number];
  racketVy: [number, number];
  /** -1 none, else agent index, as the reward logic sees it (crossings set it to 1 unless fixLastHitter). */
  lastHitter: number;
  /** Last racket to touch the ball since the serve (-1 none). */
  lastToucher: number;
  /** Steps since the episode started. */
  steps: number;
  /** Rewards summed since the episode started. */
  score: [number, number];
  /** Stored (clamped) actions, applied on every tick until the next step. */
  actions: [[number, number], [number, number]];
  ballInOver: boolean;
  touching: [boolean, boolean];
  academyTicks: number;
}

/** The native class, exactly as native/napi/env_wrap.h exports it. */
export interface NativeTennisEnv {
  readonly numEnvs: number;
  readonly disposed: boolean;
  reset(obs: Float32Array): void;
  resetWhere(mask: Float32Array, obs: Float32Array): void;
  step(
    actions: Float32Array,
    obs: Float32Array,
    rewards: Float32Array,
    dones: Float32Array,
    threads?: number,
    maxReached?: Float32Array,
  ): void;
  stepAsync(
    actions: Float32Array,
    obs: Float32Array,
    rewards: Float32Array,
    dones: Float32Array,
    threads?: number,
    maxReached?: Float32Array,
  ): Promise<void>;
  state(env: number): TennisState;
  setState(env: number, state: Partial<TennisState>): void;
  scriptedActions(actions: Float32Array): void;
  competitiveActions(actions: Float32Array): void;
  saveState(): Buffer;
  loadState(bytes: Uint8Array, obs: Float32Array): void;
  dispose(): void;
}

export interface NativeTennisEnvConstructor {
  new (
    numEnvs: number,
    seed: number,
    options: { cleanReset?: boolean; observeBallVelocity?: boolean; fixLastHitter?: boolean; mode?: TennisMode },
  ): NativeTennisEnv;
}

function nativeClass(): NativeTennisEnvConstructor {
  return addon.TennisEnv as NativeTennisEnvConstructor;
}

/** Checks the options; the notebook view (`notebook`) sets numEnvs itself. */
function validateOptions(options: unknown, notebook = false): TennisEnvOptions {
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    throw invalidParameter("options", "an object", options);
  }
  for (const key of Object.keys(options)) {
    if (!kOptionKeys.includes(key)) {
      throw new TypeError(`Unknown option ${key} for options; expected one of ${kOptionKeys.join(", ")}`);
    }
  }
  const o = options as TennisEnvOptions;
  if (!notebook || o.numEnvs !== undefined) assertInt("numEnvs", o.numEnvs, 1, kMaxEnvs);
  assertInt("seed", o.seed, 0, 2 ** 32 - 1);
  if (o.threads !== undefined) assertInt("threads", o.threads, 1, 256);
  for (const key of ["cleanReset", "observeBallVelocity", "fixLastHitter"] as const) assertBoolean(key, o[key]);
  if (o.autoReset !== undefined) assertBoolean("autoReset", o.autoReset);
  assertString("mode", o.mode, kModes);
  return o;
}

/**
 * N independent Tennis envs stepped together natively. Every method validates its arguments before
 * anything reaches native code: a bad argument throws a TypeError and leaves the envs unchanged.
 */
export class TennisEnv {
  readonly numEnvs: number;
  readonly autoReset: boolean;
  readonly threads: number;
  readonly options: Readonly<TennisEnvOptions>;
  private readonly native: NativeTennisEnv;
  private readonly obsBuffers: [Float32Array, Float32Array];
  private current = 0;
  private readonly nextObsBuffer: Float32Array;
  private readonly rewards: Float32Array;
  private readonly dones: Float32Array;
  private readonly maxReached: Float32Array;
  private readonly scripted: Float32Array;
  private readonly competitive: Float32Array;

  constructor(options: TennisEnvOptions) {
    const o = validateOptions(options);
    this.options = Object.freeze({ ...o });
    this.numEnvs = o.numEnvs;
    this.autoReset = o.autoReset ?? false;
    this.threads = o.threads ?? 1;
    const { cleanReset, observeBallVelocity, fixLastHitter, mode } = o;
    const Native = nativeClass();
    this.native = new Native(this.numEnvs, o.seed, { cleanReset, observeBallVelocity, fixLastHitter, mode });
    const n = this.numEnvs;
    this.obsBuffers = [new Float32Array(n * kObsFloats), new Float32Array(n * kObsFloats)];
    this.nextObsBuffer = this.autoReset ? new Float32Array(n * kObsFloats) : this.obsBuffers[0];
    this.rewards = new Float32Array(n * AGENTS);
    this.dones = new Float32Array(n * AGENTS);
    this.maxReached = new Float32Array(n * AGENTS);
    this.scripted = new Float32Array(n * kActionFloats);
    this.competitive = new Float32Array(n * kActionFloats);
  }

  /** Unity env.reset() on every env; returns the observations [envs][2][24] (an env-owned array). */
  reset(): Float32Array {
    const obs = this.obsBuffers[this.current];
    this.native.reset(obs);
    return obs;
  }

  /**
   * env.reset() on the envs whose mask entry (mask [envs][2], e.g. a step's dones) is non-zero; the
   * other envs keep their state. Returns the current observations with those rows replaced.
   */
  resetWhere(mask: Float32Array): Float32Array {
    assertFloat32Array("mask", mask, this.numEnvs * AGENTS);
    const obs = this.obsBuffers[this.current];
    this.native.resetWhere(mask, obs);
    return obs;
  }

  /** One decision in every env. actions: Float32Array [envs][2][2] of finite numbers. */
  step(actions: Float32Array): StepResult {
    this.checkActions(actions);
    const { obs, nextObs } = this.targets();
    this.native.step(actions, nextObs, this.rewards, this.dones, this.threads, this.maxReached);
    return this.finish(obs, nextObs);
  }

  /**
   * step() off the main thread (the env's OpenMP threads still apply). actions are copied at once;
   * do not call other methods of this env until the promise settles (they throw ERR_BUSY).
   */
  async stepAsync(actions: Float32Array): Promise<StepResult> {
    this.checkActions(actions);
    const { obs, nextObs } = this.targets();
    await this.native.stepAsync(actions, nextObs, this.rewards, this.dones, this.threads, this.maxReached);
    return this.finish(obs, nextObs);
  }

  /** Snapshot of env `env` (for rendering, scripted control, debugging). */
  state(env = 0): TennisState {
    assertInt("env", env, 0, this.numEnvs - 1);
    return this.native.state(env);
  }

  /** Test and tooling hook: overrides the given fields of env `env`'s state (not its RNG or obs stack). */
  setState(env: number, state: Partial<TennisState>): void {
    assertInt("env", env, 0, this.numEnvs - 1);
    if (typeof state !== "object" || state === null) throw invalidParameter("state", "an object", state);
    this.native.setState(env, state);
  }

  /** The hand-written controller's actions for every env ([envs][2][2]; an env-owned array). */
  scriptedActions(): Float32Array {
    this.native.scriptedActions(this.scripted);
    return this.scripted;
  }

  /**
   * The competitive controller's actions for every env ([envs][2][2]; an env-owned array,
   * not the one scriptedActions() fills): each racket returns the balls it can reach, aimed to land far from
   * the opponent's racket (native/core/env/competitive.h, docs/competitive.md).
   */
  competitiveActions(): Float32Array {
    this.native.competitiveActions(this.competitive);
    return this.competitive;
  }

  /** The whole batch state (RNG, physics, counters, observation stacks) as bytes, for checkpoints. */
  saveState(): Uint8Array {
    return this.native.saveState();
  }

  /**
   * Restores saveState() bytes of an env with the same numEnvs and options (else TennisTrainError
   * ERR_INVALID_ARG and nothing changes); stepping then continues bit-identically. Returns the
   * restored observations to act on.
   */
  loadState(bytes: Uint8Array): Float32Array {
    if (!(bytes instanceof Uint8Array)) throw invalidParameter("bytes", "a Uint8Array or Buffer", bytes);
    const obs = this.obsBuffers[this.current];
    this.native.loadState(bytes, obs);
    return obs;
  }

  /** Frees the native envs; later calls throw TennisTrainError ERR_DISPOSED. Idempotent. */
  dispose(): void {
    this.native.dispose();
  }

  get disposed(): boolean {
    return this.native.disposed;
  }

  private checkActions(actions: Float32Array): void {
    assertFloat32Array("actions", actions, this.numEnvs * kActionFloats);
    assertFiniteArray("actions", actions);
  }

  // The next obs buffer (the one not handed out last) and where the native step writes.
  private targets(): { obs: Float32Array; nextObs: Float32Array } {
    const obs = this.obsBuffers[1 - this.current];
    return { obs, nextObs: this.autoReset ? this.nextObsBuffer : obs };
  }

  private finish(obs: Float32Array, nextObs: Float32Array): StepResult {
    this.current = 1 - this.current;
    if (this.autoReset) {
      obs.set(nextObs);
      if (this.dones.some((d) => d !== 0)) this.native.resetWhere(this.dones, obs);
    }
    return { obs, nextObs, rewards: this.rewards, dones: this.dones, maxReached: this.maxReached };
  }
}

/** unityagents' BrainInfo, as the Udacity notebook reads it (one env, two agents). */
export interface BrainInfo {
  /** 2 x 24 observations. */
  vector_observations: number[][];
  /** Per-agent rewards of the last step. */
  rewards: number[];
  /** Per-agent done flags of the last step. */
  local_done: boolean[];
  /** Per-agent: the episode ended at the step cap. */
  max_reached: boolean[];
  /** The agents' ids, as unityagents lists them. */
  agents: number[];
}

/**
 * One env behind the notebook's interface: `reset()` and `step(actions)` return a BrainInfo with
 * plain arrays, actions may be number[][] (2 x 2) or a Float32Array(4). Reset after every done, as
 * the notebook does (this view never resets on its own).
 */
export class NotebookTennisEnv {
  readonly brain_names = [BRAIN_NAME];
  readonly num_agents = AGENTS;
  readonly action_size = ACTION_SIZE;
  readonly state_size = OBS_SIZE;
  private readonly env: TennisEnv;
  private readonly actions = new Float32Array(kActionFloats);

  constructor(options: Omit<TennisEnvOptions, "numEnvs" | "autoReset" | "threads">) {
    validateOptions(options, true);
    for (const key of ["numEnvs", "autoReset", "threads"]) {
      if (key in options) throw new TypeError(`Unknown option ${key} for options of NotebookTennisEnv`);
    }
    this.env = new TennisEnv({ ...options, numEnvs: 1 });
  }

  /** env.reset(train_mode=True)[brain_name]. */
  reset(): BrainInfo {
    const obs = this.env.reset();
    return info(obs, [0, 0], [false, false], [false, false]);
  }

  /** env.step(actions)[brain_name]; actions [[a0, a1], [b0, b1]] of finite numbers. */
  step(actions: number[][] | Float32Array): BrainInfo {
    if (actions instanceof Float32Array) {
      assertFloat32Array("actions", actions, kActionFloats);
      this.actions.set(actions);
    } else {
      if (!Array.isArray(actions) || actions.length !== AGENTS) {
        throw invalidParameter("actions", `a Float32Array(${kActionFloats}) or an array of ${AGENTS} pairs`, actions);
      }
      for (let i = 0; i < AGENTS; i++) {
        const row = actions[i];
        if (!Array.isArray(row) || row.length !== ACTION_SIZE || row.some((v) => typeof v !== "number")) {
          throw invalidParameter(`actions[${i}]`, `an array of ${ACTION_SIZE} numbers`, row);
        }
      }
      const flat = new Float32Array(kActionFloats);
      for (let i = 0; i < AGENTS; i++) for (let k = 0; k < ACTION_SIZE; k++) flat[i * ACTION_SIZE + k] = actions[i][k];
      assertFiniteArray("actions", flat);
      this.actions.set(flat);
    }
    const r = this.env.step(this.actions);
    return info(
      r.nextObs,
      [r.rewards[0], r.rewards[1]],
      [r.dones[0] !== 0, r.dones[1] !== 0],
      [r.maxReached[0] !== 0, r.maxReached[1] !== 0],
    );
  }

  /** The underlying one-env TennisEnv (state(), scriptedActions(), dispose()). */
  get batch(): TennisEnv {
    return this.env;
  }

  close(): void {
    this.env.dispose();
  }
}

function info(obs: Float32Array, rewards: number[], dones: boolean[], maxReached: boolean[]): BrainInfo {
  const vector_observations = [0, 1].map((i) => Array.from(obs.subarray(i * OBS_SIZE, (i + 1) * OBS_SIZE)));
  return { vector_observations, rewards, local_done: dones, max_reached: maxReached, agents: [0, 1] };
}
