// n-step returns from JS: exact discounted sums on a crafted sequence, the flush at an episode end,
// independent envs, n = 1 as a pass-through, saved state, and argument checks.
import { expect } from "chai";

import { NStepAccumulator, ReplayBuffer } from "../../binding/buffer.ts";
import { TennisTrainError } from "../../binding/errors.ts";
import { bufferOptions } from "../helpers/buffer-options.ts";

/** One step of `envs` envs at time t: obs/actions/nextObs tagged 100 e + t, agent 1 gets twice agent 0's reward. */
function step(envs: number, t: number, rewards: number[], dones: number[]) {
  const s = {
    obs: new Float32Array(envs * 48),
    actions: new Float32Array(envs * 4),
    rewards: new Float32Array(envs * 2),
    nextObs: new Float32Array(envs * 48),
    dones: new Float32Array(envs * 2),
  };
  for (let e = 0; e < envs; e++) {
    s.obs.fill(100 * e + t, e * 48, e * 48 + 48);
    s.nextObs.fill(100 * e + t + 1, e * 48, e * 48 + 48);
    s.actions.fill(-(100 * e + t), e * 4, e * 4 + 4);
    s.rewards.set([rewards[e], 2 * rewards[e]], e * 2);
    s.dones.set([dones[e], dones[e]], e * 2);
  }
  return s;
}

/** Slot k as [env * 100 + step of obs, reward of agent 0, reward of agent 1, tag of nextObs, done]. */
function record(buffer: ReplayBuffer, k: number): number[] {
  const r = buffer.readSlot(k)!;
  return [r[0], r[52], r[53], r[54], r[102]];
}

describe("NStepAccumulator", () => {
  it("sums n discounted rewards per env and flushes an env's ring when its episode ends", () => {
    const buffer = new ReplayBuffer(bufferOptions({ capacity: 64 }));
    const acc = new NStepAccumulator(2, 3, 0.5);
    const rewards = [[1, 16], [2, 32], [4, 64], [8, 128], [1, 256]];
    const dones = [[0, 0], [0, 0], [0, 0], [1, 0], [0, 0]];
    const added = rewards.map((r, t) => {
      const s = step(2, t, r, dones[t]);
      return acc.add(buffer, s.obs, s.actions, s.rewards, s.nextObs, s.dones);
    });
    expect(added).to.deep.equal([0, 0, 2, 4, 1]);
    expect([...Array(7).keys()].map((k) => record(buffer, k))).to.deep.equal([
      [0, 3, 6, 3, 0], // env 0 step 0: 1 + 2/2 + 4/4
      [100, 48, 96, 103, 0], // env 1 step 0: 16 + 32/2 + 64/4
      [1, 6, 12, 4, 1], // env 0's episode ends at step 3: steps 1, 2, 3 with 3, 2, 1 rewards, done
      [2, 8, 16, 4, 1],
      [3, 8, 16, 4, 1],
      [101, 96, 192, 104, 0], // env 1 goes on
      [102, 192, 384, 105, 0],
    ]);
    buffer.dispose();
  });

  it("stores every step unchanged with n = 1, and a saved state resumes exactly", () => {
    const [a, b] = [new ReplayBuffer(bufferOptions({ capacity: 64 })), new ReplayBuffer(bufferOptions({ capacity: 64 }))];
    const one = new NStepAccumulator(2, 1, 0.99);
    const s = step(2, 0, [0.1, -0.01], [1, 0]);
    expect(one.add(a, s.obs, s.actions, s.rewards, s.nextObs, s.dones)).to.equal(2);
    expect([record(a, 0), record(a, 1)]).to.deep.equal([[0, 0.1, 0.2, 1, 1], [100, -0.01, -0.02, 101, 0]].map((r) => Array.from(new Float32Array(r))));
    expect(one.saveState()).to.have.length(2 * (1 + 54));

    const first = new NStepAccumulator(1, 4, 0.9);
    const second = new NStepAccumulator(1, 4, 0.9);
    const steps = [...Array(6).keys()].map((t) => step(1, t, [1 + t], [t === 4 ? 1 : 0]));
    for (const x of steps.slice(0, 2)) first.add(a, x.obs, x.actions, x.rewards, x.nextObs, x.dones);
    second.loadState(first.saveState());
    const from = a.totalAdded;
    for (const x of steps.slice(2)) {
      first.add(a, x.obs, x.actions, x.rewards, x.nextObs, x.dones);
      second.add(b, x.obs, x.actions, x.rewards, x.nextObs, x.dones);
    }
    expect(b.totalAdded).to.equal(a.totalAdded - from).and.to.be.greaterThan(0);
    for (let k = 0; k < b.totalAdded; k++) expect(b.readSlot(k)).to.deep.equal(a.readSlot(from + k));
    a.dispose();
    b.dispose();
  });

  it("drops a lost env's step and pending steps", () => {
    const buffer = new ReplayBuffer(bufferOptions({ capacity: 64 }));
    const acc = new NStepAccumulator(2, 2, 1);
    const s0 = step(2, 0, [1, 10], [0, 0]);
    acc.add(buffer, s0.obs, s0.actions, s0.rewards, s0.nextObs, s0.dones);
    const s1 = step(2, 1, [2, 20], [0, 0]);
    expect(acc.add(buffer, s1.obs, s1.actions, s1.rewards, s1.nextObs, s1.dones, new Float32Array([1, 1, 0, 0]))).to.equal(1);
    expect(record(buffer, 0)).to.deep.equal([100, 30, 60, 102, 0]);
    buffer.dispose();
  });

  it("rejects bad arguments on both sides of the boundary", () => {
    expect(() => new NStepAccumulator(1, 0, 0.99)).to.throw(TypeError, "n");
    expect(() => new NStepAccumulator(1, 3, 1.5)).to.throw(TypeError, "gamma");
    const acc = new NStepAccumulator(2, 3, 0.99);
    const buffer = new ReplayBuffer(bufferOptions({ capacity: 8 }));
    const s = step(1, 0, [0], [0]);
    expect(() => acc.add(buffer, s.obs, s.actions, s.rewards, s.nextObs, s.dones)).to.throw(TypeError, "obs");
    expect(() => acc.add({} as ReplayBuffer, s.obs, s.actions, s.rewards, s.nextObs, s.dones)).to.throw(TypeError, "buffer");
    const bad = acc.saveState();
    bad[0] = 3;
    try {
      acc.loadState(bad);
      expect.fail("loadState accepted 3 pending steps for n = 3");
    } catch (err) {
      expect(err).to.be.instanceOf(TennisTrainError);
      expect((err as TennisTrainError).code).to.equal("ERR_INVALID_ARG");
    }
    buffer.dispose();
  });
});
