// Collection: one vectorized step of every env (warm-up or policy actions), its transitions stored
// (n-step accumulated, rewards shaped, observations normalised) and its finished episodes scored.
import { AGENTS, JOINT_ACTION, JOINT_OBS } from "../../../binding/shapes.ts";
import type { EpisodeResult, ScoreTracker } from "./scores.ts";
import type { Run } from "./setup.ts";
import { shapeRewards } from "./shaping.ts";

/** What one step collected: the episodes it finished and the observations to act on next. */
export interface Collected {
  finished: EpisodeResult[];
  obs: Float32Array;
}

/** Steps a run's envs; owns the step's action, normalised-observation and shaped-reward arrays. */
export class Collector {
  readonly #actions: Float32Array;
  readonly #normObs: Float32Array;
  readonly #normNextObs: Float32Array;
  readonly #shaped: Float32Array;
  readonly #unstored: Float32Array;

  /** `n`: envs stepped together. */
  constructor(n: number) {
    this.#actions = new Float32Array(n * JOINT_ACTION);
    this.#normObs = new Float32Array(n * JOINT_OBS);
    this.#normNextObs = new Float32Array(n * JOINT_OBS);
    this.#shaped = new Float32Array(n * AGENTS);
    this.#unstored = new Float32Array(n * AGENTS);
  }

  /**
   * One step from `run.obs`: the policy's noisy actions once `learning`, uniform warm-up actions before.
   * Envs whose episode was lost (a remote server restarted) store nothing scoreable: their episode is
   * discarded. Every env whose episode ended gets its exploration noise reset.
   */
  async step(run: Run, learning: boolean): Promise<Collected> {
    const { config: { train: t }, env, n, agent, norm, buffer, accumulator, tracker, state } = run;
    const actions = this.#actions;
    const seen = norm ? norm.normalize(run.obs, this.#normObs) : run.obs;
    if (learning) agent.act(seen, actions, true);
    else run.warmup.fillSigned(actions);
    const step = await env.step(actions);
    state.envSteps += n;
    shapeRewards(t.rewardShaping, t.shapingFactor, step.rewards, step.dones, this.#shaped);
    const lost = step.lost && step.lost.some((v) => v !== 0) ? step.lost : null;
    if (norm) norm.update(step.nextObs);
    const nextSeen = norm ? norm.normalize(step.nextObs, this.#normNextObs) : step.nextObs;
    const unstored = unstoredMask(t.maxStoredStepsPerEpisode, tracker, lost, this.#unstored);
    accumulator.add(buffer, seen, actions, this.#shaped, nextSeen, step.dones, unstored ?? undefined);
    if (lost) for (let e = 0; e < n; e++) if (lost[AGENTS * e] !== 0) tracker.discardEpisode(e);
    const finished = tracker.addStep(step.rewards, lost ? keptDones(step.dones, lost) : step.dones);
    if (finished.length > 0) agent.resetNoise(doneMask(step.dones, n));
    return { finished, obs: step.obs };
  }
}

/**
 * The envs whose step is not stored, as the accumulator's `lost` mask [envs][2] (written into `out`): the
 * lost ones, and with `cap` > 0 (train.maxStoredStepsPerEpisode) those whose episode has had `cap` steps
 * already (the tracker counts them before this step). Null when every env's step is stored.
 */
export function unstoredMask(cap: number, tracker: Pick<ScoreTracker, "numEnvs" | "stepsOf">, lost: Float32Array | null, out: Float32Array): Float32Array | null {
  if (cap === 0) return lost;
  let any = false;
  for (let e = 0; e < tracker.numEnvs; e++) {
    const drop = tracker.stepsOf(e) >= cap || (lost !== null && lost[AGENTS * e] !== 0);
    out[AGENTS * e] = out[AGENTS * e + 1] = drop ? 1 : 0;
    any ||= drop;
  }
  return any ? out : null;
}

/** dones with the lost envs' rows cleared (their episode was discarded, not finished). */
export function keptDones(dones: Float32Array, lost: Float32Array): Float32Array {
  return dones.map((d, i) => (lost[i] !== 0 ? 0 : d));
}

/** 1 for each env whose episode ended in this step (either agent done). */
export function doneMask(dones: Float32Array, n: number): Uint8Array {
  const mask = new Uint8Array(n);
  for (let e = 0; e < n; e++) mask[e] = dones[AGENTS * e] !== 0 || dones[AGENTS * e + 1] !== 0 ? 1 : 0;
  return mask;
}
