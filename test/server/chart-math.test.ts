// The dashboard's pure helpers (src/apps/server/public/chart-math.js): tick values and labels without float
// noise, log-axis ticks, TensorBoard's debiased EMA, config differences between runs and the ETA.
import { expect } from "chai";

// @ts-expect-error -- a browser module without type declarations; its exports are typed below.
import * as untyped from "../../src/apps/server/public/chart-math.js";

const { configDifferences, emaSmooth, etaSeconds, formatBytes, formatDuration, formatNumber, linearTicks, logTicks } = untyped as {
  configDifferences(configs: object[]): string[];
  emaSmooth(values: number[], weight: number): number[];
  etaSeconds(run: { episodes: number; budget: number; elapsedS: number }): number | null;
  formatBytes(bytes: number): string;
  formatDuration(seconds: number): string;
  formatNumber(v: number, digits?: number): string;
  linearTicks(lo: number, hi: number, count?: number): { ticks: number[]; step: number };
  logTicks(lo10: number, hi10: number, count?: number): number[];
};

describe("dashboard chart helpers", function () {
  it("puts linear ticks on round values, 0 exactly 0 (never 6.9e-18)", function () {
    const { ticks } = linearTicks(-0.3, 0.4, 4);
    expect(ticks).to.deep.equal([-0.2, 0, 0.2, 0.4]);
    for (const [lo, hi] of [[-0.1, 0.7], [-1.05, 2.6], [-3e-5, 7e-5]] as const) {
      for (const t of linearTicks(lo, hi).ticks) expect(formatNumber(t)).not.to.match(/e-1\d/);
      expect(linearTicks(lo, hi).ticks.map((v) => formatNumber(v))).to.include("0");
    }
    expect(linearTicks(0.1, 0.9).ticks.map((v) => formatNumber(v))).to.deep.equal(["0.2", "0.4", "0.6", "0.8"]);
  });

  it("labels numbers briefly: exponents only for tiny or huge values", function () {
    expect([0, 1, 2.5, 0.0012, 1.4000000208616257, 0.00005963012578967465, -2.5e-5, 2e7].map((v) => formatNumber(v))).to.deep.equal(["0", "1", "2.5", "0.0012", "1.4", "5.963e-5", "-2.5e-5", "2e7"]);
  });

  it("puts log ticks on decades when the range spans them, else on 1-2-5 values", function () {
    expect(logTicks(-5, -1)).to.deep.equal([1e-5, 1e-4, 1e-3, 1e-2, 1e-1]);
    expect(logTicks(-8, 2).length).to.be.at.most(6);
    expect(logTicks(Math.log10(0.15), Math.log10(0.9))).to.deep.equal([0.2, 0.5]);
    for (const t of logTicks(Math.log10(0.31), Math.log10(0.33))) expect(t).to.be.within(0.31, 0.33);
  });

  it("smooths as TensorBoard does: debiased EMA, weight 0 leaves the values", function () {
    expect(emaSmooth([1, 2, 3], 0)).to.deep.equal([1, 2, 3]);
    const smoothed = emaSmooth([1, 1, 1, 10], 0.5);
    // Debiased: a constant series stays constant from the first point.
    expect(smoothed.slice(0, 3)).to.deep.equal([1, 1, 1]);
    // 0.5 * 1 + 0.5 * 10 over the debias weight 1 - 0.5^4.
    expect(smoothed[3]).to.be.closeTo((0.5 * (1 - 0.5 ** 3) + 0.5 * 10) / (1 - 0.5 ** 4), 1e-12);
  });

  it("finds the hyperparameters that differ between runs, leaving out where they log", function () {
    const base = { seed: 0, train: { batchSize: 256, episodes: 2000 }, agent: { hidden: [256, 256] }, log: { runsDir: "runs", progress: true } };
    const other = { seed: 1, train: { batchSize: 256, episodes: 2000 }, agent: { hidden: [128, 128] }, log: { runsDir: "/tmp/x", progress: false } };
    expect(configDifferences([base, other])).to.deep.equal(["agent.hidden", "seed"]);
    expect(configDifferences([base])).to.deep.equal([]);
  });

  it("estimates the time to the episode budget and formats durations and sizes", function () {
    expect(etaSeconds({ episodes: 100, budget: 400, elapsedS: 50 })).to.equal(150);
    expect(etaSeconds({ episodes: 0, budget: 400, elapsedS: 5 })).to.equal(null);
    expect([45, 200, 3720].map(formatDuration)).to.deep.equal(["45 s", "3 min 20 s", "1 h 02 min"]);
    expect([0, 812, 3482, 12.1 * 1024 ** 2].map(formatBytes)).to.deep.equal(["0 B", "812 B", "3.4 KiB", "12.1 MiB"]);
  });
});
