// Score bookkeeping on scripted reward sequences, and each shaping function.
import { expect } from "chai";

import { ScoreTracker } from "../../src/lib/trainer/scores.ts";
import { shapeRewards } from "../../src/lib/trainer/shaping.ts";

const f32 = (values: number[]) => new Float32Array(values);

describe("ScoreTracker", () => {
  it("scores an episode as the max over agents of summed rewards", () => {
    const tracker = new ScoreTracker(1, 3, 0.5);
    expect(tracker.addStep(f32([0.1, 0]), f32([0, 0]))).to.deep.equal([]);
    expect(tracker.addStep(f32([0, 0.1]), f32([0, 0]))).to.deep.equal([]);
    const [ep] = tracker.addStep(f32([0.1, -0.01]), f32([1, 1]));
    expect(ep.episode).to.equal(1);
    expect(ep.steps).to.equal(3);
    expect(ep.agentScores[0]).to.be.closeTo(0.2, 1e-6);
    expect(ep.agentScores[1]).to.be.closeTo(0.09, 1e-6);
    expect(ep.score).to.be.closeTo(0.2, 1e-6);
  });

  it("solves at the episode where the first full window reaching the target ends", () => {
    const tracker = new ScoreTracker(1, 3, 0.5);
    const scores = [0, 1, 1, 0, 0.6, 0.9];
    const ends = scores.map((s) => tracker.addStep(f32([s, 0]), f32([1, 1]))[0]);
    // windows: [0,1,1]=0.667 ends at episode 3 -> solved at 3 (not earlier: no full window before)
    expect(tracker.solvedAt).to.equal(3);
    expect(ends[2].average).to.be.closeTo(2 / 3, 1e-9);
    expect(ends[3].average).to.be.closeTo(2 / 3, 1e-9);
    expect(ends[4].average).to.be.closeTo(1.6 / 3, 1e-6);
    expect(tracker.bestAverage).to.be.closeTo(2 / 3, 1e-9);
  });

  it("does not count partial windows as solved", () => {
    const tracker = new ScoreTracker(1, 100, 0.5);
    for (let i = 0; i < 99; i++) tracker.addStep(f32([2.6, 0]), f32([1, 1]));
    expect(tracker.solvedAt).to.equal(null);
    tracker.addStep(f32([2.6, 0]), f32([1, 1]));
    expect(tracker.solvedAt).to.equal(100);
  });

  it("keeps envs apart and numbers episodes in finishing order", () => {
    const tracker = new ScoreTracker(2, 100, 0.5);
    tracker.addStep(f32([0.1, 0, 0, 0.3]), f32([0, 0, 1, 1]));
    const ends = tracker.addStep(f32([0.1, 0, 0, 0.2]), f32([1, 1, 1, 1]));
    expect(ends.map((e) => e.episode)).to.deep.equal([2, 3]);
    expect(ends[0].score).to.be.closeTo(0.2, 1e-6);
    expect(ends[1].score).to.be.closeTo(0.2, 1e-6);
    expect(tracker.episodeCount).to.equal(3);
  });

  it("round-trips through its checkpoint state", () => {
    const tracker = new ScoreTracker(1, 2, 0.5);
    tracker.addStep(f32([0.3, 0]), f32([1, 1]));
    tracker.addStep(f32([0.1, 0]), f32([0, 0]));
    const copy = ScoreTracker.fromJSON(JSON.parse(JSON.stringify(tracker)), 2, 0.5);
    const a = tracker.addStep(f32([0.9, 0]), f32([1, 1]))[0];
    const b = copy.addStep(f32([0.9, 0]), f32([1, 1]))[0];
    expect(b).to.deep.equal(a);
    expect(copy.solvedAt).to.equal(tracker.solvedAt);
  });
});

describe("reward shaping", () => {
  const rewards = f32([0.1, -0.01, 0, 0]);
  const dones = f32([0, 1, 0, 0]);

  it("none leaves rewards unchanged", () => {
    expect(Array.from(shapeRewards("none", 100, rewards, dones, new Float32Array(4)))).to.deep.equal(Array.from(rewards));
  });

  it("scale_positive multiplies only positive rewards", () => {
    const out = shapeRewards("scale_positive", 100, rewards, dones, new Float32Array(4));
    expect(out[0]).to.be.closeTo(10, 1e-5);
    expect(out[1]).to.be.closeTo(-0.01, 1e-7);
    expect(out[2]).to.equal(0);
  });

  it("survival_bonus adds the factor for agents not done", () => {
    const out = shapeRewards("survival_bonus", 0.01, rewards, dones, new Float32Array(4));
    expect(out[0]).to.be.closeTo(0.11, 1e-6);
    expect(out[1]).to.be.closeTo(-0.01, 1e-7);
    expect(out[3]).to.be.closeTo(0.01, 1e-7);
  });
});
