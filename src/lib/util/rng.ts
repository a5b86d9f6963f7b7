// Seeded random numbers (mulberry32): a small, fast generator whose whole state is one integer, so a
// draw depends only on the seed and is checkpointed as one number. Used by tune's samplers (a resumed
// study redraws the same), the trainer's warm-up actions, random play and the bridge's drivers.

/** A uniform [0, 1) generator with the few derived draws the samplers need. */
export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** The whole generator state (for checkpoints). */
  get state32(): number {
    return this.state;
  }

  set state32(state: number) {
    this.state = state >>> 0;
  }

  /** Uniform 32-bit unsigned integer (mulberry32). */
  nextU32(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.nextU32() / 4294967296;
  }

  /** Fills `out` with uniform numbers in [-1, 1) (e.g. random actions). */
  fillSigned(out: Float32Array): Float32Array {
    for (let i = 0; i < out.length; i++) out[i] = this.next() * 2 - 1;
    return out;
  }

  /** Uniform in [low, high). */
  uniform(low: number, high: number): number {
    return low + (high - low) * this.next();
  }

  /** Uniform integer in [0, n). */
  index(n: number): number {
    return Math.min(n - 1, Math.floor(this.next() * n));
  }

  /** Standard normal (Box-Muller; 1 - u keeps the log finite). */
  normal(): number {
    const u = 1 - this.next();
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** An index drawn with probability proportional to `weights` (all >= 0, not all 0). */
  weighted(weights: readonly number[]): number {
    const total = weights.reduce((a, b) => a + b, 0);
    let u = this.next() * total;
    for (let i = 0; i < weights.length; i++) {
      u -= weights[i];
      if (u < 0) return i;
    }
    return weights.length - 1;
  }
}

/** Mixes integers into one 32-bit seed (splitmix-style finaliser), e.g. (study seed, trial number). */
export function mixSeed(...parts: number[]): number {
  let h = 0x9e3779b9;
  for (const part of parts) {
    h = Math.imul(h ^ (part >>> 0), 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return h >>> 0;
}
