// The samplers: values stay inside the space, draws are reproducible from the seed, the Parzen
// estimator is a density, and TPE finds better points than random search on a known toy objective.
import { expect } from "chai";

import { Rng, mixSeed } from "../../src/lib/util/rng.ts";
import { erf, makeSampler, observationWeights, ParzenEstimator, splitGoodBad, type Observation, type Sampler } from "../../src/apps/tune/samplers.ts";
import { parseSpace } from "../../src/apps/tune/space.ts";

const space = parseSpace({
  params: {
    "agent.lrActor": { type: "loguniform", low: 1e-5, high: 1e-1 },
    "agent.tau": { type: "uniform", low: 0.001, high: 0.1 },
    "noise.decayEpisodes": { type: "int", low: 0, high: 1000, step: 10 },
    "train.batchSize": { type: "int", low: 16, high: 1024, log: true },
    "agent.hidden": { type: "categorical", choices: [[32], [64, 64], [128, 128], [256, 256]] },
  },
});

/** A bowl with its minimum 0 at lrActor = 5e-4, tau = 0.02, decay 300, batch 128, hidden [128, 128]. */
function toyObjective(p: Record<string, unknown>): number {
  const lr = Math.log10(p["agent.lrActor"] as number) - Math.log10(5e-4);
  const tau = ((p["agent.tau"] as number) - 0.02) / 0.02;
  const decay = ((p["noise.decayEpisodes"] as number) - 300) / 200;
  const batch = Math.log2(p["train.batchSize"] as number) - 7;
  const hidden = JSON.stringify(p["agent.hidden"]) === "[128,128]" ? 0 : 1;
  return lr * lr + tau * tau + decay * decay + 0.25 * batch * batch + hidden;
}

/** The best toy objective found in `trials` sequential trials. */
function bestAfter(sampler: Sampler, seed: number, trials: number): number {
  const history: Observation[] = [];
  for (let n = 0; n < trials; n++) {
    const params = sampler.sample(space.params, history, new Rng(mixSeed(seed, n)));
    history.push({ number: n, params, state: "complete", objective: toyObjective(params) });
  }
  return Math.min(...history.map((h) => h.objective!));
}

function checkInside(params: Record<string, unknown>): void {
  const lr = params["agent.lrActor"] as number;
  expect(lr).to.be.within(1e-5, 1e-1);
  expect(params["agent.tau"] as number).to.be.within(0.001, 0.1);
  const decay = params["noise.decayEpisodes"] as number;
  expect(decay % 10).to.equal(0);
  expect(decay).to.be.within(0, 1000);
  const batch = params["train.batchSize"] as number;
  expect(Number.isInteger(batch)).to.equal(true);
  expect(batch).to.be.within(16, 1024);
  expect([[32], [64, 64], [128, 128], [256, 256]]).to.deep.include(params["agent.hidden"]);
}

describe("tune samplers", () => {
  it("random and TPE draws stay inside the space, on the int grid and among the choices", () => {
    for (const name of ["random", "tpe"] as const) {
      const sampler = makeSampler(name, { startupTrials: 5 });
      const history: Observation[] = [];
      for (let n = 0; n < 40; n++) {
        const params = sampler.sample(space.params, history, new Rng(mixSeed(7, n)));
        checkInside(params);
        history.push({ number: n, params, state: n % 5 === 4 ? "pruned" : "complete", objective: n % 5 === 4 ? null : toyObjective(params) });
      }
    }
  });

  it("draws the same parameters from the same seed and history", () => {
    const history: Observation[] = [];
    const random = makeSampler("random");
    for (let n = 0; n < 12; n++) {
      const params = random.sample(space.params, history, new Rng(mixSeed(1, n)));
      history.push({ number: n, params, state: "complete", objective: toyObjective(params) });
    }
    const tpe = makeSampler("tpe", { startupTrials: 10 });
    const a = tpe.sample(space.params, history, new Rng(42));
    const b = tpe.sample(space.params, history, new Rng(42));
    const c = tpe.sample(space.params, history, new Rng(43));
    expect(a).to.deep.equal(b);
    expect(a).to.not.deep.equal(c);
  });

  it("covers a log-uniform range evenly in log space", () => {
    const sampler = makeSampler("random");
    const decades = [0, 0, 0, 0];
    for (let n = 0; n < 4000; n++) {
      const lr = sampler.sample(space.params, [], new Rng(mixSeed(3, n)))["agent.lrActor"] as number;
      decades[Math.min(3, Math.floor(Math.log10(lr) + 5))] += 1;
    }
    for (const count of decades) expect(count).to.be.within(850, 1150);
  });

  it("builds a Parzen estimator that integrates to 1 over its interval", () => {
    const estimator = new ParzenEstimator([0.1, 0.15, 0.8], [1, 1, 1], 0, 1);
    let integral = 0;
    const steps = 20000;
    for (let i = 0; i < steps; i++) integral += Math.exp(estimator.logPdf((i + 0.5) / steps)) / steps;
    expect(integral).to.be.closeTo(1, 1e-3);
    expect(estimator.logPdf(0.12)).to.be.greaterThan(estimator.logPdf(0.5));
    expect(erf(0.5)).to.be.closeTo(0.5204998778, 1e-6);
    expect(erf(-1.5)).to.be.closeTo(-0.9661051465, 1e-6);
  });

  it("puts the best quarter of complete trials in the good group, pruned trials always bad", () => {
    const obs = (number: number, objective: number | null): Observation => ({ number, params: {}, state: objective === null ? "pruned" : "complete", objective });
    const { good, bad } = splitGoodBad([obs(0, 5), obs(1, null), obs(2, 1), obs(3, 3), obs(4, null), obs(5, 2), obs(6, 9), obs(7, 4)], 0.25);
    expect(good.map((o) => o.number)).to.deep.equal([2, 5]);
    expect(bad.map((o) => o.number)).to.deep.equal([0, 1, 3, 4, 6, 7]);
    expect(observationWeights(3)).to.deep.equal([1, 1, 1]);
    const ramp = observationWeights(30);
    expect(ramp.length).to.equal(30);
    expect(ramp[0]).to.be.closeTo(1 / 30, 1e-12);
    expect(ramp.slice(5)).to.deep.equal(new Array(25).fill(1));
  });

  it("TPE beats random search on a toy objective over 50 trials, across seeds", () => {
    const seeds = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
    const random = seeds.map((s) => bestAfter(makeSampler("random"), s, 50));
    const tpe = seeds.map((s) => bestAfter(makeSampler("tpe", { startupTrials: 10 }), s, 50));
    const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
    const wins = seeds.filter((_, i) => tpe[i] < random[i]).length;
    console.log(`      best toy objective after 50 trials, mean of ${seeds.length} seeds: random ${mean(random).toFixed(3)}, TPE ${mean(tpe).toFixed(3)} (TPE better on ${wins} seeds)`);
    expect(mean(tpe)).to.be.below(0.8 * mean(random));
    expect(wins).to.be.at.least(6);
  });
});
