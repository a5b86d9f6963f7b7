// Samplers of the search: random, and the Tree-structured Parzen Estimator (Bergstra et al., "Algorithms
// for Hyper-Parameter Optimization", NeurIPS 2011), independent per parameter as in hyperopt and
// Optuna's default TPESampler. No maintained npm package offers TPE, so it lives here, with tests.
import type { Rng } from "../../lib/util/rng.ts";
import type { IntParam, ParamSpec } from "./space.ts";

/** A finished trial as the samplers see it (failed trials are left out: they say nothing of the space). */
export interface Observation {
  number: number;
  params: Record<string, unknown>;
  state: "complete" | "pruned";
  /** Lower is better; null for pruned trials. */
  objective: number | null;
  /** Last episode a pruned trial reached (later ranks it higher among pruned ones). */
  reached?: number | null;
}

export interface Sampler {
  readonly name: "tpe" | "random";
  /** Draws one value per parameter, given the finished trials so far. */
  sample(params: Record<string, ParamSpec>, history: readonly Observation[], rng: Rng): Record<string, unknown>;
}

export interface TpeOptions {
  /** Finished trials drawn at random before the model takes over. Default 10 (Optuna's). */
  startupTrials?: number;
  /** Candidates drawn from l(x); the one with the best l(x)/g(x) wins. Default 24 (hyperopt, Optuna). */
  candidates?: number;
  /** Share of the finished trials that forms the "good" group. Default 0.25 (hyperopt). */
  gamma?: number;
}

/** Most good trials (hyperopt caps the good group at 25). */
const kMaxGood = 25;
/** Weight of the prior component of each Parzen estimator (hyperopt, Optuna). */
const kPriorWeight = 1;
/** Observations beyond this many get linearly smaller weights, oldest first (Optuna's default_weights). */
const kFlatWeights = 25;

/** The parameter in the space the sampler works in: linear, log, and ints widened by half a step. */
interface NumericDim {
  lo: number;
  hi: number;
  toInternal(value: number): number;
  fromInternal(x: number): number;
}

function numericDim(spec: Exclude<ParamSpec, { type: "categorical" }>): NumericDim {
  const clamp = (v: number) => Math.min(spec.high, Math.max(spec.low, v));
  if (spec.type === "uniform") return { lo: spec.low, hi: spec.high, toInternal: (v) => v, fromInternal: clamp };
  if (spec.type === "loguniform") {
    return { lo: Math.log(spec.low), hi: Math.log(spec.high), toInternal: Math.log, fromInternal: (x) => clamp(Math.exp(x)) };
  }
  // Integers: the interval grows by half a step each side so that rounding gives every grid value an
  // equal share (on a log scale, by half a unit before the log).
  const int = spec as IntParam;
  const { low, step } = int;
  const snap = (v: number) => clamp(low + Math.round((v - low) / step) * step);
  if (int.log) {
    return { lo: Math.log(spec.low - 0.5), hi: Math.log(spec.high + 0.5), toInternal: Math.log, fromInternal: (x) => snap(Math.exp(x)) };
  }
  return { lo: spec.low - step / 2, hi: spec.high + step / 2, toInternal: (v) => v, fromInternal: snap };
}

/** Index of a categorical value among the choices (deep equality through JSON), or -1. */
export function choiceIndex(choices: readonly unknown[], value: unknown): number {
  const text = JSON.stringify(value);
  return choices.findIndex((c) => JSON.stringify(c) === text);
}

/** Draws every parameter independently and uniformly (log-uniformly for log scales). */
export class RandomSampler implements Sampler {
  readonly name = "random";

  sample(params: Record<string, ParamSpec>, _history: readonly Observation[], rng: Rng): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [path, spec] of Object.entries(params)) out[path] = sampleUniform(spec, rng);
    return out;
  }
}

function sampleUniform(spec: ParamSpec, rng: Rng): unknown {
  if (spec.type === "categorical") return structuredClone(spec.choices[rng.index(spec.choices.length)]);
  const dim = numericDim(spec);
  return dim.fromInternal(rng.uniform(dim.lo, dim.hi));
}

/** A mixture of normals truncated to [lo, hi]. */
export class ParzenEstimator {
  readonly mus: number[];
  readonly sigmas: number[];
  readonly weights: number[];
  private readonly logNorms: number[];

  /**
   * hyperopt's adaptive Parzen estimator: one component per observation plus a wide prior at the
   * centre; each component's width is the larger gap to its neighbours, clipped to
   * [(hi - lo) / min(100, 1 + n), hi - lo].
   */
  constructor(observations: readonly number[], observationWeights: readonly number[], readonly lo: number, readonly hi: number) {
    const priorMu = (lo + hi) / 2;
    const priorSigma = hi - lo;
    const points = observations.map((mu, i) => ({ mu, w: observationWeights[i], prior: false }));
    points.push({ mu: priorMu, w: kPriorWeight, prior: true });
    points.sort((a, b) => a.mu - b.mu);
    const n = points.length;
    const minSigma = priorSigma / Math.min(100, 1 + n);
    this.mus = points.map((p) => p.mu);
    this.sigmas = points.map((p, i) => {
      if (p.prior || n === 1) return priorSigma;
      const left = i > 0 ? p.mu - points[i - 1].mu : -Infinity;
      const right = i < n - 1 ? points[i + 1].mu - p.mu : -Infinity;
      return Math.min(priorSigma, Math.max(minSigma, left, right));
    });
    const total = points.reduce((sum, p) => sum + p.w, 0);
    this.weights = points.map((p) => p.w / total);
    this.logNorms = this.mus.map((mu, i) => Math.log(Math.max(1e-300, normalCdf((hi - mu) / this.sigmas[i]) - normalCdf((lo - mu) / this.sigmas[i]))));
  }

  sample(rng: Rng): number {
    const i = rng.weighted(this.weights);
    // The component's mean lies inside [lo, hi], so at least about half of its draws are accepted.
    for (let tries = 0; tries < 100; tries++) {
      const x = this.mus[i] + this.sigmas[i] * rng.normal();
      if (x >= this.lo && x <= this.hi) return x;
    }
    return Math.min(this.hi, Math.max(this.lo, this.mus[i]));
  }

  logPdf(x: number): number {
    const terms = this.mus.map((mu, i) => {
      const z = (x - mu) / this.sigmas[i];
      return Math.log(this.weights[i]) - Math.log(this.sigmas[i]) - 0.5 * Math.log(2 * Math.PI) - 0.5 * z * z - this.logNorms[i];
    });
    return logSumExp(terms);
  }
}

/** TPE: split finished trials into good and bad by objective, model each group's density per
 *  parameter, and keep the candidate with the highest l(x)/g(x). Pruned trials are always "bad". */
export class TpeSampler implements Sampler {
  readonly name = "tpe";
  private readonly startupTrials: number;
  private readonly candidates: number;
  private readonly gamma: number;
  private readonly random = new RandomSampler();

  constructor(options: TpeOptions = {}) {
    this.startupTrials = options.startupTrials ?? 10;
    this.candidates = options.candidates ?? 24;
    this.gamma = options.gamma ?? 0.25;
  }

  sample(params: Record<string, ParamSpec>, history: readonly Observation[], rng: Rng): Record<string, unknown> {
    if (history.length < Math.max(1, this.startupTrials)) return this.random.sample(params, history, rng);
    const { good, bad } = splitGoodBad(history, this.gamma);
    const out: Record<string, unknown> = {};
    for (const [path, spec] of Object.entries(params)) {
      out[path] = spec.type === "categorical" ? this.sampleCategorical(path, spec, good, bad, rng) : this.sampleNumeric(path, spec, good, bad, rng);
    }
    return out;
  }

  private sampleNumeric(path: string, spec: Exclude<ParamSpec, { type: "categorical" }>, good: Observation[], bad: Observation[], rng: Rng): number {
    const dim = numericDim(spec);
    const values = (group: Observation[]) =>
      group.filter((o) => typeof o.params[path] === "number").map((o) => dim.toInternal(o.params[path] as number));
    const goodValues = values(good);
    const badValues = values(bad);
    const l = new ParzenEstimator(goodValues, observationWeights(goodValues.length), dim.lo, dim.hi);
    const g = new ParzenEstimator(badValues, observationWeights(badValues.length), dim.lo, dim.hi);
    let best = NaN;
    let bestScore = -Infinity;
    for (let c = 0; c < this.candidates; c++) {
      const value = dim.fromInternal(l.sample(rng));
      // Scored where the value actually lands (after rounding to the grid for integers).
      const x = dim.toInternal(value);
      const score = l.logPdf(x) - g.logPdf(x);
      if (score > bestScore || Number.isNaN(best)) [best, bestScore] = [value, score];
    }
    return best;
  }

  private sampleCategorical(path: string, spec: Extract<ParamSpec, { type: "categorical" }>, good: Observation[], bad: Observation[], rng: Rng): unknown {
    const k = spec.choices.length;
    const probabilities = (group: Observation[]) => {
      const indices = group.map((o) => choiceIndex(spec.choices, o.params[path])).filter((i) => i >= 0);
      const weights = observationWeights(indices.length);
      const mass = new Array<number>(k).fill(kPriorWeight / k);
      indices.forEach((index, j) => (mass[index] += weights[j]));
      const total = mass.reduce((a, b) => a + b, 0);
      return mass.map((m) => m / total);
    };
    const l = probabilities(good);
    const g = probabilities(bad);
    let best = -1;
    let bestScore = -Infinity;
    for (let c = 0; c < this.candidates; c++) {
      const index = rng.weighted(l);
      const score = Math.log(l[index]) - Math.log(g[index]);
      if (score > bestScore) [best, bestScore] = [index, score];
    }
    return structuredClone(spec.choices[best]);
  }
}

/** Complete trials by objective (ties by number), then pruned ones (those that got further first). */
export function splitGoodBad(history: readonly Observation[], gamma: number): { good: Observation[]; bad: Observation[] } {
  const complete = history.filter((o) => o.state === "complete" && o.objective !== null && Number.isFinite(o.objective));
  const pruned = history.filter((o) => !complete.includes(o));
  complete.sort((a, b) => a.objective! - b.objective! || a.number - b.number);
  pruned.sort((a, b) => (b.reached ?? 0) - (a.reached ?? 0) || a.number - b.number);
  const ranked = [...complete, ...pruned];
  const nGood = Math.max(1, Math.min(Math.ceil(gamma * ranked.length), kMaxGood));
  // Each group keeps trial order, so the recency weights below fall on the oldest trials.
  const byNumber = (a: Observation, b: Observation) => a.number - b.number;
  return { good: ranked.slice(0, nGood).sort(byNumber), bad: ranked.slice(nGood).sort(byNumber) };
}

/** Flat weights up to 25 observations, then a ramp from 1/n for the oldest (Optuna's default_weights). */
export function observationWeights(n: number): number[] {
  if (n < kFlatWeights) return new Array<number>(n).fill(1);
  const ramp = n - kFlatWeights;
  const weights = Array.from({ length: ramp }, (_, i) => (ramp === 1 ? 1 / n : 1 / n + ((1 - 1 / n) * i) / (ramp - 1)));
  return [...weights, ...new Array<number>(kFlatWeights).fill(1)];
}

export function makeSampler(name: "tpe" | "random", options: TpeOptions = {}): Sampler {
  return name === "tpe" ? new TpeSampler(options) : new RandomSampler();
}

function logSumExp(terms: number[]): number {
  const max = Math.max(...terms);
  if (!Number.isFinite(max)) return max;
  return max + Math.log(terms.reduce((sum, t) => sum + Math.exp(t - max), 0));
}

/** Standard normal CDF. */
export function normalCdf(z: number): number {
  return 0.5 * (1 + erf(z / Math.SQRT2));
}

/** Error function (Abramowitz & Stegun 7.1.26; absolute error below 1.5e-7, plenty for density ratios). */
export function erf(x: number): number {
  const sign = x < 0 ? -1 : 1;
  const a = Math.abs(x);
  const t = 1 / (1 + 0.3275911 * a);
  const poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  return sign * (1 - poly * Math.exp(-a * a));
}
