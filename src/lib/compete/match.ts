// Matches on the competitive Tennis (docs/tennis-env.md section 9): two players, each a checkpoint's
// greedy policy, the scripted competitive controller, the cooperative rally controller or uniform
// random actions, play N points on a batch of native envs. Player A takes side 0 in even episodes and
// side 1 in odd ones, so neither the serve nor the court side favours a player. Every step is one
// act() per player on the whole batch.
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";

import { ACTION_SIZE, AGENTS, TennisEnv } from "../../../binding/env.ts";
import { JOINT_ACTION, JOINT_OBS } from "../../../binding/shapes.ts";
import { invalidParameter } from "../../../binding/validate.ts";
import { Maddpg } from "../../../binding/maddpg.ts";
import type { Config } from "../config/types.ts";
import { withDefaultVariant } from "../env/vec-env.ts";
import { verifyCheckpoint, latestCheckpoint } from "../trainer/checkpoint.ts";
import { runConfigOf } from "../trainer/evaluate.ts";
import { kTrainerFile, loadObsNorm } from "../trainer/loop-state.ts";
import { maddpgOptions } from "../trainer/maddpg-options.ts";
import { RunningNorm } from "../trainer/normalize.ts";
import { Rng } from "../util/rng.ts";
import { jsonElo, scoreEstimate, type Record3 } from "./elo.ts";

/** Envs a match plays at once unless told otherwise (fewer when it has fewer episodes). */
export const kDefaultMatchEnvs = 64;
/** Most envs a match plays at once. */
export const kMaxMatchEnvs = 4096;

/** The first snapshot of a self-play run's learner in each of its checkpoint folders (its parameters in
 * getParameters() order; its observation statistics: trainer.json selfPlay.first_norm). */
export const kFirstSnapshotFile = "first_snapshot.bin";
/** What a SPEC starts with to name the first snapshot of a self-play run instead of its latest policy. */
const kFirstPrefix = "first:";

/** Who plays: a checkpoint folder's greedy actors (with `first`, the self-play run's first snapshot that
 * the folder keeps), the scripted competitive controller, the cooperative rally controller, or random actions. */
export type PlayerSpec =
  | { kind: "checkpoint"; checkpoint: string; label: string; first?: boolean }
  | { kind: "scripted"; label: "scripted" }
  | { kind: "rally"; label: "rally" }
  | { kind: "random"; label: "random" };

/** A SPEC that names nothing playable; the message says what was given and what a SPEC is. */
export class PlayerSpecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PlayerSpecError";
  }
}

/** What a SPEC may be, for messages and help. */
export const kSpecHelp = "a run directory, a checkpoint folder, first:<self-play run or checkpoint>, scripted, rally or random";

/**
 * The player a SPEC names: `scripted`, `rally`, `random`, a run directory / checkpoint folder (its latest
 * complete checkpoint), or `first:` and one of those (the self-play run's first snapshot). `what` names
 * the SPEC in errors ("--a").
 */
export function parsePlayerSpec(spec: unknown, what = "SPEC"): PlayerSpec {
  if (typeof spec !== "string" || spec === "") throw new PlayerSpecError(invalidParameter(what, kSpecHelp, spec).message);
  if (spec === "scripted" || spec === "rally" || spec === "random") return { kind: spec, label: spec } as PlayerSpec;
  if (spec.startsWith(kFirstPrefix)) return firstSnapshotSpec(spec.slice(kFirstPrefix.length), what);
  const checkpoint = latestCheckpoint(resolve(spec));
  if (checkpoint === null) {
    const problem = existsSync(spec) ? "it holds no complete checkpoint" : "no such file or directory";
    throw new PlayerSpecError(`No player at ${spec} for ${what}: ${problem} (a SPEC is ${kSpecHelp})`);
  }
  return { kind: "checkpoint", checkpoint, label: checkpointLabel(checkpoint) };
}

/** first:PATH: the first snapshot kept by PATH's latest checkpoint (a self-play run's). */
function firstSnapshotSpec(path: string, what: string): PlayerSpec {
  const inner = parsePlayerSpec(path, what);
  if (inner.kind !== "checkpoint") throw new PlayerSpecError(`${kFirstPrefix}${path} for ${what}: only a self-play run or checkpoint has a first snapshot`);
  if (!existsSync(join(inner.checkpoint, kFirstSnapshotFile))) {
    throw new PlayerSpecError(`${kFirstPrefix}${path} for ${what}: ${inner.checkpoint} holds no ${kFirstSnapshotFile} (not a self-play run)`);
  }
  return { ...inner, label: `${inner.label} first snapshot`, first: true };
}

/** "<run directory name>/<checkpoint name>" of a checkpoint folder RUN/checkpoints/NAME. */
export function checkpointLabel(checkpoint: string): string {
  const parts = resolve(checkpoint).split(/[\\/]/);
  return `${parts[parts.length - 3]}/${parts[parts.length - 1]}`;
}

/** A player acting on a whole batch: joint actions [n][2][2] for both sides, as it would play each. */
export interface Player {
  readonly label: string;
  /** Actions for obs [n][2][24] (raw) of `env`; an array the player owns, valid until its next act(). */
  act(env: TennisEnv, obs: Float32Array): Float32Array;
  dispose(): void;
}

/** A learner's greedy actors (no noise) on its observation statistics; with per-agent actors, agent k's
 * actor plays side k. It frees the learner on dispose() only when it owns it. */
export class LearnerPlayer implements Player {
  private readonly normalized: Float32Array;
  private readonly actions: Float32Array;

  constructor(
    readonly label: string,
    private readonly learner: Maddpg,
    private readonly norm: RunningNorm | null,
    numEnvs: number,
    private readonly owned = false,
  ) {
    this.normalized = new Float32Array(numEnvs * JOINT_OBS);
    this.actions = new Float32Array(numEnvs * JOINT_ACTION);
  }

  act(_env: TennisEnv, obs: Float32Array): Float32Array {
    return this.learner.act(this.norm ? this.norm.normalize(obs, this.normalized) : obs, this.actions, false);
  }

  dispose(): void {
    if (this.owned) this.learner.dispose();
  }
}

/** The scripted competitive controller (TennisEnv.competitiveActions, native). */
class ScriptedPlayer implements Player {
  readonly label = "scripted";
  act(env: TennisEnv): Float32Array {
    return env.competitiveActions();
  }
  dispose(): void {}
}

/** The cooperative hand-written controller (TennisEnv.scriptedActions): it lobs every ball to x = 6. */
class RallyPlayer implements Player {
  readonly label = "rally";
  act(env: TennisEnv): Float32Array {
    return env.scriptedActions();
  }
  dispose(): void {}
}

/** Uniform random actions in [-1, 1), seeded. */
class RandomPlayer implements Player {
  readonly label = "random";
  private readonly rng: Rng;
  private readonly actions: Float32Array;
  constructor(seed: number, numEnvs: number) {
    this.rng = new Rng(seed);
    this.actions = new Float32Array(numEnvs * JOINT_ACTION);
  }
  act(): Float32Array {
    return this.rng.fillSigned(this.actions);
  }
  dispose(): void {}
}

/** The run config of a checkpoint player (null for scripted and random). */
export function specConfig(spec: PlayerSpec): Config | null {
  return spec.kind === "checkpoint" ? runConfigOf(spec.checkpoint) : null;
}

/**
 * A player for `numEnvs` envs. Checkpoints are verified and loaded (their run's config: network shape,
 * observation normalisation); random players draw from Rng(seed).
 */
export async function createPlayer(spec: PlayerSpec, numEnvs: number, seed: number): Promise<Player> {
  if (spec.kind === "scripted") return new ScriptedPlayer();
  if (spec.kind === "rally") return new RallyPlayer();
  if (spec.kind === "random") return new RandomPlayer(seed, numEnvs);
  verifyCheckpoint(spec.checkpoint);
  const learner = new Maddpg(maddpgOptions(runConfigOf(spec.checkpoint)));
  try {
    await learner.load(join(spec.checkpoint, "agent.pt"));
    if (spec.first) learner.setParameters(readFirstSnapshot(spec.checkpoint));
  } catch (err) {
    learner.dispose();
    throw err;
  }
  return new LearnerPlayer(spec.label, learner, spec.first ? firstSnapshotNorm(spec.checkpoint) : loadObsNorm(spec.checkpoint), numEnvs, true);
}

/** The first snapshot's parameters in a self-play checkpoint folder. */
function readFirstSnapshot(checkpoint: string): Float32Array {
  const bytes = readFileSync(join(checkpoint, kFirstSnapshotFile));
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

/** The first snapshot's observation statistics (trainer.json selfPlay.first_norm; null without normalisation). */
function firstSnapshotNorm(checkpoint: string): RunningNorm | null {
  const saved = JSON.parse(readFileSync(join(checkpoint, kTrainerFile), "utf8")) as { selfPlay?: { first_norm?: ReturnType<RunningNorm["toJSON"]> | null } };
  const norm = saved.selfPlay?.first_norm;
  return norm ? RunningNorm.fromJSON(norm) : null;
}

/**
 * out[e] = a's actions on side sideOfA[e] and b's on the other side, for every env e: the joint actions
 * of a batch where A plays side 0 in some envs and side 1 in others.
 */
export function gatherSides(a: Float32Array, b: Float32Array, sideOfA: Uint8Array, out: Float32Array): Float32Array {
  const n = sideOfA.length;
  for (let e = 0; e < n; e++) {
    const base = e * JOINT_ACTION;
    const ia = base + sideOfA[e] * ACTION_SIZE;
    const ib = base + (1 - sideOfA[e]) * ACTION_SIZE;
    out[ia] = a[ia];
    out[ia + 1] = a[ia + 1];
    out[ib] = b[ib];
    out[ib + 1] = b[ib + 1];
  }
  return out;
}

/** The observation variant both players were trained on (slots 6-7: ball velocity or the build's copy). */
export function matchObservations(specs: PlayerSpec[]): { observeBallVelocity: boolean } {
  const seen = new Map<boolean, string>();
  for (const spec of specs) {
    const config = specConfig(spec);
    if (config !== null && !seen.has(config.env.observeBallVelocity)) seen.set(config.env.observeBallVelocity, spec.label);
  }
  if (seen.size > 1) {
    throw new PlayerSpecError(`${seen.get(true)} observes the ball velocity (env.observeBallVelocity) and ${seen.get(false)} does not: they cannot play one env`);
  }
  return { observeBallVelocity: seen.has(true) };
}

export interface MatchOptions {
  a: PlayerSpec;
  b: PlayerSpec;
  /** Points played; integer >= 1. */
  episodes: number;
  /** Env i is seeded seed + i; random players draw from seeds derived from it. Default 0. */
  seed?: number;
  /** Envs stepped together; the result depends on it (which env plays which episode). Default min(episodes, 64). */
  envs?: number;
}

/** A match from A's side. Steps count env decisions (0.1 s each) from the serve. */
export interface MatchResult extends Record3 {
  a: string;
  b: string;
  episodes: number;
  seed: number;
  envs: number;
  /** A's record with A on side 0 (even episodes) and on side 1 (odd episodes). */
  by_side: [Record3, Record3];
  /** (wins + draws / 2) / episodes, with its Wilson 95% interval. */
  score: number;
  score_low: number;
  score_high: number;
  /** Elo difference A - B that the score implies, and that of the interval's ends (null: infinite). */
  elo: number | null;
  elo_low: number | null;
  elo_high: number | null;
  /** Rally length: mean env steps from the serve to the step that decided the point, over decided points (null if none). */
  mean_rally_steps: number | null;
  /** Per episode, A's result: "W", "L" or "D" (a draw: the point was not decided within the 1001-step cap). */
  outcomes: string;
}

/** Plays a match (both players created and freed here). */
export async function playMatch(options: MatchOptions): Promise<MatchResult> {
  const { episodes } = options;
  if (!Number.isInteger(episodes) || episodes < 1) throw new RangeError(`Expected integer >= 1 for episodes but received ${episodes}`);
  const seed = options.seed ?? 0;
  const envs = options.envs ?? Math.min(episodes, kDefaultMatchEnvs);
  if (!Number.isInteger(envs) || envs < 1 || envs > kMaxMatchEnvs) throw new RangeError(`Expected integer between 1 and ${kMaxMatchEnvs} for envs but received ${envs}`);
  const observations = matchObservations([options.a, options.b]);
  // Distinct streams for the two players, so random against random is no mirror game.
  const a = await createPlayer(options.a, envs, (seed * 2 + 1) >>> 0);
  let b: Player | null = null;
  try {
    b = await createPlayer(options.b, envs, (seed * 2 + 2) >>> 0);
    return runMatch(a, b, { episodes, seed, envs, ...observations });
  } finally {
    a.dispose();
    b?.dispose();
  }
}

/** Plays `episodes` points between two ready players on `envs` envs (the players stay alive). */
export function runMatch(a: Player, b: Player, options: { episodes: number; seed: number; envs: number; observeBallVelocity?: boolean }): MatchResult {
  const { episodes, seed, envs: n } = options;
  const env = new TennisEnv({
    ...withDefaultVariant({ mode: "competitive", cleanReset: true, observeBallVelocity: options.observeBallVelocity }),
    numEnvs: n,
    seed,
    autoReset: true,
  });
  const outcomes = new Uint8Array(episodes);
  const kWin = 1, kLoss = 2, kDraw = 3;
  // The episode each env plays (-1: none left) and A's side in it; episodes go to envs as they free up.
  const episodeOf = new Int32Array(n).fill(-1);
  const sideOfA = new Uint8Array(n);
  const steps = new Int32Array(n);
  const joint = new Float32Array(n * JOINT_ACTION);
  let next = 0;
  let finished = 0;
  let rallySteps = 0;
  let decided = 0;
  const assign = (e: number) => {
    episodeOf[e] = next < episodes ? next++ : -1;
    sideOfA[e] = episodeOf[e] >= 0 ? episodeOf[e] % 2 : 0;
    steps[e] = 0;
  };
  try {
    for (let e = 0; e < n; e++) assign(e);
    let obs = env.reset();
    while (finished < episodes) {
      gatherSides(a.act(env, obs), b.act(env, obs), sideOfA, joint);
      const r = env.step(joint);
      for (let e = 0; e < n; e++) {
        if (episodeOf[e] < 0) continue;
        steps[e] += 1;
        if (r.dones[e * AGENTS] === 0) continue;
        const reward = r.rewards[e * AGENTS + sideOfA[e]];
        outcomes[episodeOf[e]] = reward > 0 ? kWin : reward < 0 ? kLoss : kDraw;
        if (reward !== 0) {
          rallySteps += steps[e];
          decided += 1;
        }
        finished += 1;
        assign(e);
      }
      obs = r.obs;
    }
  } finally {
    env.dispose();
  }
  const record = (parity: number | null): Record3 => {
    const r = { wins: 0, losses: 0, draws: 0 };
    outcomes.forEach((o, i) => {
      if (parity !== null && i % 2 !== parity) return;
      if (o === kWin) r.wins += 1;
      else if (o === kLoss) r.losses += 1;
      else r.draws += 1;
    });
    return r;
  };
  const total = record(null);
  const estimate = scoreEstimate(total);
  return {
    a: a.label,
    b: b.label,
    episodes,
    seed,
    envs: n,
    ...total,
    by_side: [record(0), record(1)],
    score: estimate.score,
    score_low: estimate.scoreLow,
    score_high: estimate.scoreHigh,
    elo: jsonElo(estimate.elo),
    elo_low: jsonElo(estimate.eloLow),
    elo_high: jsonElo(estimate.eloHigh),
    mean_rally_steps: decided > 0 ? rallySteps / decided : null,
    outcomes: Array.from(outcomes, (o) => (o === kWin ? "W" : o === kLoss ? "L" : "D")).join(""),
  };
}
