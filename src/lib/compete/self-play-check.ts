// Greedy checks of a self-play learner: a batch of competitive points against another controller, one
// point per env, all envs stepped together (one native act per controller per step).
import { TennisEnv } from "../../../binding/env.ts";
import type { Maddpg } from "../../../binding/maddpg.ts";
import type { Config } from "../config/types.ts";
import { NormalRng } from "../env/random-play.ts";
import { envVariant } from "../env/vec-env.ts";
import { RunningNorm } from "../trainer/normalize.ts";

/** Something that picks joint actions [envs][2][2] for joint raw observations [envs][2][24]; a match
 * uses only its side's half. */
export interface Controller {
  act(obs: Float32Array, actions: Float32Array): void;
}

/** A learner's greedy actors on its observation statistics. */
export class PolicyController implements Controller {
  private seen = new Float32Array(0);

  constructor(
    private readonly agent: Maddpg,
    private readonly norm: RunningNorm | null,
  ) {}

  act(obs: Float32Array, actions: Float32Array): void {
    if (this.seen.length !== obs.length) this.seen = new Float32Array(obs.length);
    this.agent.act(this.norm ? this.norm.normalize(obs, this.seen) : obs, actions, false);
  }
}

/** The notebook's random agent: standard-normal actions clipped to [-1, 1], seeded. */
export class RandomController implements Controller {
  private readonly rng: NormalRng;

  constructor(seed: number) {
    this.rng = new NormalRng(seed);
  }

  act(_obs: Float32Array, actions: Float32Array): void {
    this.rng.fillClipped(actions);
  }
}

/** Points won, lost and drawn (the 1001-step cap) by the first controller. */
export interface PointsResult {
  points: number;
  wins: number;
  losses: number;
  draws: number;
  /** wins / points. */
  winRate: number;
}

/**
 * Plays `points` points, one per env on re-served courts (env seed `seed` + i), the first controller on
 * side i % 2 of env i and `opponent` on the other; counts each env's first point only.
 */
export function playPoints(config: Config, points: number, seed: number, player: Controller, opponent: Controller): PointsResult {
  const env = new TennisEnv({ numEnvs: points, seed, ...envVariant(config), mode: "competitive", cleanReset: true });
  const mine = new Float32Array(points * 4);
  const theirs = new Float32Array(points * 4);
  const joint = new Float32Array(points * 4);
  const result = new Int8Array(points).fill(2);
  let open = points;
  try {
    let obs = env.reset();
    while (open > 0) {
      player.act(obs, mine);
      opponent.act(obs, theirs);
      for (let e = 0; e < points; e++) mergeSides(joint, mine, theirs, e, e % 2);
      const step = env.step(joint);
      for (let e = 0; e < points; e++) {
        if (result[e] !== 2 || step.dones[2 * e] === 0) continue;
        result[e] = Math.sign(step.rewards[2 * e + (e % 2)]);
        open -= 1;
      }
      obs = step.obs;
    }
  } finally {
    env.dispose();
  }
  const wins = result.filter((r) => r === 1).length;
  const losses = result.filter((r) => r === -1).length;
  return { points, wins, losses, draws: points - wins - losses, winRate: wins / points };
}

/** Writes env e's actions: side `side` from `mine`, the other side from `theirs`. */
export function mergeSides(joint: Float32Array, mine: Float32Array, theirs: Float32Array, e: number, side: number): void {
  const own = 4 * e + 2 * side;
  const other = 4 * e + 2 * (1 - side);
  joint[own] = mine[own];
  joint[own + 1] = mine[own + 1];
  joint[other] = theirs[other];
  joint[other + 1] = theirs[other + 1];
}

/** A RunningNorm from saved statistics (null stays null). */
export function normOf(state: ReturnType<RunningNorm["toJSON"]> | null | undefined): RunningNorm | null {
  return state ? RunningNorm.fromJSON(state) : null;
}
