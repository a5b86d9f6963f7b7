// The self-play opponent pool: the window it keeps, the shares of draws that pick the latest learner
// and the scripted controller, the same choices for the same seed, and its checkpoint round trip.
import { expect } from "chai";

import { kInitialElo, OpponentPool } from "../../src/lib/compete/opponent-pool.ts";

/** A pool holding snapshots 0..count-1 (one float each: its id); scriptedRatio left out when undefined. */
function poolOf(count: number, window: number, latestRatio: number, seed = 0, scriptedRatio?: number): OpponentPool {
  const pool = new OpponentPool({ window, latestRatio, seed, ...(scriptedRatio === undefined ? {} : { scriptedRatio }) });
  for (let i = 0; i < count; i++) pool.add(Float32Array.of(i), kInitialElo + i, 100 * i, null);
  return pool;
}

/** Each draw as a snapshot id, -1 for the latest learner, -2 for the scripted controller. */
function draws(pool: OpponentPool, count: number): number[] {
  return Array.from({ length: count }, () => {
    const choice = pool.sample();
    return choice.kind === "latest" ? -1 : choice.kind === "scripted" ? -2 : choice.snapshot.id;
  });
}

describe("self-play opponent pool", () => {
  it("keeps the newest `window` snapshots and draws only from them", () => {
    const pool = poolOf(25, 10, 0.5);
    expect(pool.count).to.equal(25);
    expect(pool.snapshots.map((s) => s.id)).to.deep.equal([15, 16, 17, 18, 19, 20, 21, 22, 23, 24]);
    const ids = draws(pool, 4000).filter((id) => id >= 0);
    expect(Math.min(...ids)).to.equal(15);
    expect(Math.max(...ids)).to.equal(24);
    // Uniform over the window: each snapshot near 1/10 of the snapshot draws.
    for (let id = 15; id < 25; id++) expect(ids.filter((x) => x === id).length / ids.length).to.be.closeTo(0.1, 0.03);
  });

  it("picks the latest learner in latestRatio of the draws (always while empty, never at 0)", () => {
    for (const ratio of [0, 0.25, 0.5, 1]) {
      const latest = draws(poolOf(5, 10, ratio), 4000).filter((id) => id === -1).length / 4000;
      expect(latest, `latestRatio ${ratio}`).to.be.closeTo(ratio, 0.03);
    }
    expect(draws(poolOf(0, 10, 0), 20)).to.deep.equal(new Array(20).fill(-1));
  });

  it("picks the scripted controller in scriptedRatio of the draws, the latest learner in latestRatio", () => {
    for (const [latest, scripted] of [[0.5, 0.25], [0, 1], [0.3, 0.7], [0.25, 0]]) {
      const ids = draws(poolOf(5, 10, latest, 1, scripted), 4000);
      expect(ids.filter((id) => id === -2).length / 4000, `scriptedRatio ${scripted}`).to.be.closeTo(scripted, 0.03);
      expect(ids.filter((id) => id === -1).length / 4000, `latestRatio ${latest}`).to.be.closeTo(latest, 0.03);
    }
    // A ratio of 0 leaves the draws as they were without the option.
    expect(draws(poolOf(12, 10, 0.5, 7, 0), 200)).to.deep.equal(draws(poolOf(12, 10, 0.5, 7), 200));
  });

  it("draws the same opponents for the same seed, others for another", () => {
    expect(draws(poolOf(12, 10, 0.5, 7), 200)).to.deep.equal(draws(poolOf(12, 10, 0.5, 7), 200));
    expect(draws(poolOf(12, 10, 0.5, 7), 200)).to.not.deep.equal(draws(poolOf(12, 10, 0.5, 8), 200));
  });

  it("copies the parameters it is given and keeps each snapshot's rating", () => {
    const pool = new OpponentPool({ window: 2, latestRatio: 0, seed: 0 });
    const params = Float32Array.of(1, 2, 3);
    pool.add(params, 1234.5, 10, null);
    params[0] = 99;
    expect(Array.from(pool.snapshots[0].params)).to.deep.equal([1, 2, 3]);
    expect(pool.snapshots[0]).to.include({ id: 0, rating: 1234.5, envSteps: 10 });
  });

  it("restores from its checkpoint state and goes on drawing as the original", () => {
    const pool = new OpponentPool({ window: 3, latestRatio: 0.5, seed: 3 });
    for (let i = 0; i < 5; i++) pool.add(Float32Array.of(i, -i), 1200 + i, i, { count: i, mean: [i], var: [1] });
    draws(pool, 7);
    const copy = OpponentPool.restore({ window: 3, latestRatio: 0.5, seed: 3 }, JSON.parse(JSON.stringify(pool.toJSON())), pool.paramsBytes(), 2);
    expect(copy.snapshots.map((s) => [s.id, s.rating, Array.from(s.params)])).to.deep.equal(pool.snapshots.map((s) => [s.id, s.rating, Array.from(s.params)]));
    expect(copy.count).to.equal(5);
    expect(draws(copy, 50)).to.deep.equal(draws(pool, 50));
    expect(() => OpponentPool.restore({ window: 3, latestRatio: 0.5, seed: 3 }, pool.toJSON(), pool.paramsBytes(), 3)).to.throw(
      "the pool's parameters hold 6 floats, not 3 snapshots of 3",
    );
  });

  it("rejects a scripted share beyond 1 - latestRatio", () => {
    expect(() => new OpponentPool({ window: 1, latestRatio: 0.5, scriptedRatio: 0.6, seed: 0 })).to.throw(
      RangeError,
      "Expected number between 0 and 0.5 (1 - latestRatio) for scriptedRatio but received 0.6",
    );
    expect(() => new OpponentPool({ window: 1, latestRatio: 0.7, scriptedRatio: 0.3, seed: 0 })).to.not.throw();
  });

  it("rejects a window below 1 and a ratio outside [0, 1]", () => {
    expect(() => new OpponentPool({ window: 0, latestRatio: 0.5, seed: 0 })).to.throw(RangeError, "Expected integer >= 1 for window but received 0");
    expect(() => new OpponentPool({ window: 1, latestRatio: 1.5, seed: 0 })).to.throw(RangeError, "Expected number between 0 and 1 for latestRatio but received 1.5");
  });
});
