// The opponents of self-play (ML-Agents' self_play): a window of the learner's newest snapshots, each
// with the Elo rating the learner had when it was taken, and the seeded draw of the next opponent (a
// snapshot, the learner as it is now, or the scripted competitive controller).
import { Rng } from "../util/rng.ts";
import type { RunningNorm } from "../trainer/normalize.ts";

/** Rating of the first snapshot, which anchors every other rating of a run (ML-Agents' initial_elo). */
export const kInitialElo = 1200;

/** One past learner: its parameters (getParameters() order) and observation statistics. */
export interface Snapshot {
  /** 0-based number of the snapshot in the run (0: the learner at the start of learning). */
  id: number;
  /** Env steps of the run when it was taken. */
  envSteps: number;
  /** The learner's Elo rating when it was taken; it stays fixed. */
  rating: number;
  params: Float32Array;
  norm: ReturnType<RunningNorm["toJSON"]> | null;
}

/** What the next opponent is: a snapshot of the pool, the learner as it is now ("latest"), or the
 * scripted competitive controller. */
export type OpponentChoice = { kind: "snapshot"; snapshot: Snapshot } | { kind: "latest" } | { kind: "scripted" };

/** Pool options (the selfPlay config section's names). */
export interface PoolOptions {
  /** Snapshots kept: the newest `window`; integer >= 1. */
  window: number;
  /** Probability in [0, 1] that a draw picks the learner as it is now. */
  latestRatio: number;
  /** Probability in [0, 1 - latestRatio] that a draw picks the scripted controller (default 0). */
  scriptedRatio?: number;
  /** Seeds the draws. */
  seed: number;
}

export class OpponentPool {
  readonly window: number;
  readonly latestRatio: number;
  readonly scriptedRatio: number;
  private readonly rng: Rng;
  private readonly kept: Snapshot[] = [];
  private taken = 0;

  constructor(options: PoolOptions) {
    if (!Number.isInteger(options.window) || options.window < 1) throw new RangeError(`Expected integer >= 1 for window but received ${options.window}`);
    if (!(options.latestRatio >= 0 && options.latestRatio <= 1)) throw new RangeError(`Expected number between 0 and 1 for latestRatio but received ${options.latestRatio}`);
    this.window = options.window;
    const scriptedRatio = options.scriptedRatio ?? 0;
    if (!(scriptedRatio >= 0 && scriptedRatio <= 1 - options.latestRatio + 1e-12)) {
      throw new RangeError(`Expected number between 0 and ${1 - options.latestRatio} (1 - latestRatio) for scriptedRatio but received ${scriptedRatio}`);
    }
    this.latestRatio = options.latestRatio;
    this.scriptedRatio = scriptedRatio;
    // Apart from the other RNGs seeded with the run's seed.
    this.rng = new Rng((options.seed ^ 0x5bd1e995) >>> 0);
  }

  /** The snapshots in the pool, oldest first. */
  get snapshots(): readonly Snapshot[] {
    return this.kept;
  }

  /** Snapshots taken so far (also those that left the window). */
  get count(): number {
    return this.taken;
  }

  /** Adds a snapshot (params are copied); the oldest leaves once the pool holds more than `window`. */
  add(params: Float32Array, rating: number, envSteps: number, norm: Snapshot["norm"]): Snapshot {
    const snapshot: Snapshot = { id: this.taken, envSteps, rating, params: params.slice(), norm: norm && structuredClone(norm) };
    this.taken += 1;
    this.kept.push(snapshot);
    if (this.kept.length > this.window) this.kept.shift();
    return snapshot;
  }

  /** The next opponent: with probability latestRatio the learner as it is now, with probability
   * scriptedRatio the scripted controller, else a snapshot drawn uniformly from the window (the learner
   * while the window is empty). Two draws per call, so the sequence of choices depends only on the seed
   * and the pool's contents. */
  sample(): OpponentChoice {
    const u = this.rng.next();
    const pick = this.rng.index(Math.max(1, this.kept.length));
    if (u < this.latestRatio) return { kind: "latest" };
    if (u < this.latestRatio + this.scriptedRatio) return { kind: "scripted" };
    if (this.kept.length === 0) return { kind: "latest" };
    return { kind: "snapshot", snapshot: this.kept[pick] };
  }

  /** State for checkpoints, without the parameters (saved apart as one binary file, see paramsBytes). */
  toJSON() {
    return { rng: this.rng.state32, taken: this.taken, snapshots: this.kept.map(({ params: _params, ...meta }) => meta) };
  }

  /** Every kept snapshot's parameters, back to back in pool order. */
  paramsBytes(): Uint8Array {
    const total = this.kept.reduce((a, s) => a + s.params.length, 0);
    const out = new Float32Array(total);
    let offset = 0;
    for (const s of this.kept) {
      out.set(s.params, offset);
      offset += s.params.length;
    }
    return new Uint8Array(out.buffer);
  }

  /** A pool restored from toJSON() and paramsBytes() (each snapshot holds parameterCount floats). */
  static restore(options: PoolOptions, state: ReturnType<OpponentPool["toJSON"]>, bytes: Uint8Array, parameterCount: number): OpponentPool {
    const pool = new OpponentPool(options);
    const floats = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
    if (floats.length !== state.snapshots.length * parameterCount) {
      throw new Error(`the pool's parameters hold ${floats.length} floats, not ${state.snapshots.length} snapshots of ${parameterCount}`);
    }
    state.snapshots.forEach((meta, i) => pool.kept.push({ ...meta, params: floats.slice(i * parameterCount, (i + 1) * parameterCount) }));
    pool.taken = state.taken;
    pool.rng.state32 = state.rng;
    return pool;
  }
}
