// The environment interface the trainer steps: N envs at once, the built-in native Tennis or remote
// env servers over the ZeroMQ bridge. Arrays are views the env owns and reuses (copy what you keep).
import { resolveConfig } from "../config/resolve.ts";
import type { Config } from "../config/types.ts";
import { TennisEnv, type StepResult as TennisStepResult, type TennisEnvOptions } from "../../../binding/env.ts";

export interface StepResult extends TennisStepResult {
  /**
   * [envs][2]: 1 where the env's episode was lost (a remote server died and came back); those rows
   * are marked done but are no real transitions: the trainer neither stores nor scores them.
   */
  lost?: Float32Array;
}

export interface VecEnv {
  /** Envs stepped together (for remote: summed over all servers). */
  readonly numEnvs: number;
  /** Unity env.reset() on every env; observations [envs][2][24]. */
  reset(): Promise<Float32Array>;
  /**
   * One decision in every env; actions [envs][2][2]. Envs that report done are reset (the notebook's
   * env.reset() after a done): `obs` holds what to act on next, `nextObs` what the step returned.
   */
  step(actions: Float32Array): Promise<StepResult>;
  /** Serialized state for exact resume, where the env supports it (built-in only). */
  saveState?(): Uint8Array;
  /** Restores saveState() output; returns the observations to act on. */
  loadState?(state: Uint8Array): Float32Array;
  close(): Promise<void>;
}

/** The built-in env options a config asks for (variants and mode; not the env count or seed). */
export function envVariant(config: Config): EnvVariant {
  const { cleanReset, observeBallVelocity, fixLastHitter, mode } = config.env;
  return { cleanReset, observeBallVelocity, fixLastHitter, mode };
}

/** The env options that make a variant of the built-in Tennis. */
export type EnvVariant = Pick<TennisEnvOptions, "cleanReset" | "observeBallVelocity" | "fixLastHitter" | "mode">;

/** `partial` with each unset variant field at the schema's default (`env.*`). */
export function withDefaultVariant(partial: Partial<EnvVariant> = {}): EnvVariant {
  const defaults = envVariant(resolveConfig());
  return {
    cleanReset: partial.cleanReset ?? defaults.cleanReset,
    observeBallVelocity: partial.observeBallVelocity ?? defaults.observeBallVelocity,
    fixLastHitter: partial.fixLastHitter ?? defaults.fixLastHitter,
    mode: partial.mode ?? defaults.mode,
  };
}

/** The built-in native Tennis as a VecEnv (steps synchronously: a step costs microseconds). */
export class BuiltinVecEnv implements VecEnv {
  readonly env: TennisEnv;

  constructor(options: Omit<TennisEnvOptions, "autoReset">) {
    this.env = new TennisEnv({ ...options, autoReset: true });
  }

  get numEnvs(): number {
    return this.env.numEnvs;
  }

  async reset(): Promise<Float32Array> {
    return this.env.reset();
  }

  async step(actions: Float32Array): Promise<StepResult> {
    return this.env.step(actions);
  }

  saveState(): Uint8Array {
    return this.env.saveState();
  }

  loadState(state: Uint8Array): Float32Array {
    return this.env.loadState(state);
  }

  async close(): Promise<void> {
    this.env.dispose();
  }
}
