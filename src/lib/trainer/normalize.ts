// Running mean/std normalisation of observations (train.normalizeObs). Both agents' observations
// are mirrored views of one game, so one set of 24 statistics serves both. On by default: raw
// positions and velocities of several units drove the fresh actor's tanh into saturation within the
// first updates (bench/RESULTS.md). JS-side: it touches 48 floats per env per step, small next to an update.
import { OBS_SIZE } from "../../../binding/shapes.ts";

/** Clip of normalised values, in standard deviations. */
export const kClip = 5;
/** Added to the variance before its square root. */
const kVarEpsilon = 1e-8;

export class RunningNorm {
  private count = 1e-4;
  readonly mean: Float64Array;
  readonly var: Float64Array;

  constructor(readonly size = OBS_SIZE) {
    this.mean = new Float64Array(size);
    this.var = new Float64Array(size).fill(1);
  }

  /** Folds rows of `size` floats into the statistics (parallel-variance update, Chan et al.). */
  update(rows: Float32Array): void {
    const n = rows.length / this.size;
    const batchMean = new Float64Array(this.size);
    const batchVar = new Float64Array(this.size);
    for (let r = 0; r < n; r++) for (let j = 0; j < this.size; j++) batchMean[j] += rows[r * this.size + j] / n;
    for (let r = 0; r < n; r++) {
      for (let j = 0; j < this.size; j++) batchVar[j] += (rows[r * this.size + j] - batchMean[j]) ** 2 / n;
    }
    const total = this.count + n;
    for (let j = 0; j < this.size; j++) {
      const delta = batchMean[j] - this.mean[j];
      this.mean[j] += (delta * n) / total;
      this.var[j] = (this.var[j] * this.count + batchVar[j] * n + (delta * delta * this.count * n) / total) / total;
    }
    this.count = total;
  }

  /** out = clip((rows - mean) / std(), -5, 5), row by row. */
  normalize(rows: Float32Array, out: Float32Array): Float32Array {
    for (let i = 0; i < rows.length; i++) {
      const j = i % this.size;
      const z = (rows[i] - this.mean[j]) / Math.sqrt(this.var[j] + kVarEpsilon);
      out[i] = Math.max(-kClip, Math.min(kClip, z));
    }
    return out;
  }

  /** The divisor of normalize() per slot: sqrt(var + 1e-8). */
  std(): Float64Array {
    return this.var.map((v) => Math.sqrt(v + kVarEpsilon));
  }

  toJSON() {
    return { count: this.count, mean: Array.from(this.mean), var: Array.from(this.var) };
  }

  static fromJSON(state: ReturnType<RunningNorm["toJSON"]>): RunningNorm {
    const norm = new RunningNorm(state.mean.length);
    norm.count = state.count;
    norm.mean.set(state.mean);
    norm.var.set(state.var);
    return norm;
  }
}
