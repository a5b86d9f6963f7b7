// Running observation normalisation.
import { expect } from "chai";

import { RunningNorm } from "../../src/lib/trainer/normalize.ts";

describe("RunningNorm", () => {
  it("tracks the mean and variance of rows fed in several batches", () => {
    const norm = new RunningNorm(2);
    const rows = Array.from({ length: 1000 }, (_, i) => [i % 10, 3 + 2 * Math.sin(i)]);
    for (let b = 0; b < 10; b++) norm.update(Float32Array.from(rows.slice(b * 100, (b + 1) * 100).flat()));
    const mean = [0, 1].map((j) => rows.reduce((s, r) => s + r[j], 0) / rows.length);
    const variance = [0, 1].map((j) => rows.reduce((s, r) => s + (r[j] - mean[j]) ** 2, 0) / rows.length);
    expect(norm.mean[0]).to.be.closeTo(mean[0], 1e-3);
    expect(norm.mean[1]).to.be.closeTo(mean[1], 1e-3);
    expect(norm.var[0]).to.be.closeTo(variance[0], 1e-2);
    expect(norm.var[1]).to.be.closeTo(variance[1], 1e-2);
  });

  it("normalises and clips, and survives a checkpoint round trip", () => {
    const norm = new RunningNorm(1);
    norm.update(Float32Array.from([1, 3, 1, 3]));
    const out = norm.normalize(Float32Array.from([2, 3, 100]), new Float32Array(3));
    expect(out[0]).to.be.closeTo(0, 1e-3);
    expect(out[1]).to.be.closeTo(1, 1e-3);
    expect(out[2]).to.equal(5);
    const copy = RunningNorm.fromJSON(JSON.parse(JSON.stringify(norm)));
    expect(Array.from(copy.normalize(Float32Array.from([2.5]), new Float32Array(1)))).to.deep.equal(Array.from(norm.normalize(Float32Array.from([2.5]), new Float32Array(1))));
  });
});
