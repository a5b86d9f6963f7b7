// The Maddpg binding: validation before the crossing, acting in place, async updates with stats and
// the busy guard, checkpoints (resume continues exactly, another architecture is named), updates
// sampled straight from the native replay buffer, and dispose.
import { expect } from "chai";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { ReplayBuffer } from "../../binding/buffer.ts";
import { TennisTrainError } from "../../binding/errors.ts";
import { addon } from "../../binding/load.ts";
import { AGENTS, JOINT_ACTION, JOINT_OBS, Maddpg, type MaddpgOptions, type TransitionBatch } from "../../binding/maddpg.ts";
import { learnerOptions } from "../helpers/maddpg-options.ts";
import { bufferOptions } from "../helpers/buffer-options.ts";

const small: MaddpgOptions = learnerOptions({ actorHidden: [32, 32], criticHidden: [32, 32], batchSize: 16, seed: 1, threads: 1 });

/** A deterministic pseudo-random batch (xorshift), so two calls with one seed give the same rows. */
function makeBatch(rows: number, seed: number): TransitionBatch {
  let state = seed * 2654435761 + 1;
  const next = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return ((state >>> 0) / 4294967296) * 2 - 1;
  };
  const fill = (n: number, scale = 1) => Float32Array.from({ length: n }, () => next() * scale);
  return {
    obs: fill(rows * JOINT_OBS),
    actions: fill(rows * JOINT_ACTION),
    rewards: fill(rows * AGENTS, 0.1),
    nextObs: fill(rows * JOINT_OBS),
    dones: Float32Array.from({ length: rows * AGENTS }, () => (next() > 0.8 ? 1 : 0)),
  };
}

async function rejection(promise: Promise<unknown>): Promise<TennisTrainError> {
  try {
    await promise;
  } catch (err) {
    return err as TennisTrainError;
  }
  throw new Error("expected a rejection");
}

describe("Maddpg binding", function () {
  this.timeout(60000);
  let dir = "";
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "tt-maddpg-"));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("acts for n envs in place, within [-1, 1], and explores only when asked", () => {
    const learner = new Maddpg({ ...small, noise: { ...small.noise, type: "gaussian", gaussianSigma: 0.5 } });
    const obs = makeBatch(3, 1).obs.subarray(0, 3 * JOINT_OBS);
    const actions = new Float32Array(3 * JOINT_ACTION);
    expect(learner.act(obs, actions)).to.equal(actions);
    for (const a of actions) expect(Math.abs(a)).to.be.at.most(1);
    expect(Array.from(learner.act(obs))).to.deep.equal(Array.from(actions));
    const noisy = learner.act(obs, undefined, true);
    expect(Array.from(noisy)).not.to.deep.equal(Array.from(actions));
    expect(learner.stats().noiseSteps).to.equal(1);
    learner.resetNoise([true, false, true]);
    expect(learner.stats().noiseEpisodes).to.equal(2);
    learner.dispose();
  });

  it("rejects bad arguments with a TypeError naming them, before and after the crossing", () => {
    const learner = new Maddpg(small);
    expect(() => learner.act(new Float32Array(47))).to.throw(
      TypeError,
      "Expected a Float32Array whose length is a positive multiple of 48 for obs but received Float32Array of length 47",
    );
    expect(() => learner.act(new Float32Array(48), new Float32Array(5))).to.throw(
      TypeError,
      "Expected a Float32Array of length 4 for actions but received Float32Array of length 5",
    );
    expect(() => new Maddpg({ ...small, gamma: "0.9" as never })).to.throw(TypeError, 'Expected finite number for gamma but received "0.9" of type string');
    expect(() => new Maddpg({ ...small, actorHidden: [] })).to.throw(TypeError, "actorHidden");
    expect(() => new Maddpg({ ...small, batchSize: 0 })).to.throw(TypeError, "Expected integer between 1 and 2147483647 for batchSize but received 0 of type number");
    expect(() => new Maddpg({ ...small, lrActr: 1 } as MaddpgOptions)).to.throw(TypeError, "options.lrActr");
    // No defaults: every option is required.
    const { lrActor: _lrActor, ...withoutLrActor } = small;
    expect(() => new Maddpg(withoutLrActor as MaddpgOptions)).to.throw(
      TypeError,
      "Expected a value (every option is required) for options.lrActor but received undefined of type undefined",
    );
    const { decay: _decay, ...noiseWithoutDecay } = small.noise;
    expect(() => new Maddpg({ ...small, noise: noiseWithoutDecay as MaddpgOptions["noise"] })).to.throw(TypeError, "noise.decay");
    expect(() => new Maddpg({ ...small, impl: "graph" })).to.throw(
      'impl "graph" runs on device "cuda", got device "cpu"; use impl "fused" or "libtorch" on the CPU',
    );
    expect(() => learner.setParameters(new Float32Array(3))).to.throw(TypeError, `length ${learner.parameterCount}`);
    learner.dispose();
  });

  it("native rechecks reject what the wrapper would have caught", () => {
    const native = new addon.Maddpg({ ...small, actorHidden: [8], criticHidden: [8] });
    expect(() => native.act(new Float32Array(47), new Float32Array(4), false)).to.throw(TypeError, "obs must be a Float32Array of length nEnvs * 48");
    expect(() => native.act(new Float32Array(48), new Float32Array(4), 1)).to.throw(TypeError, "explore must be a boolean");
    expect(() => new addon.Maddpg({ ...small, gama: 1 })).to.throw(TypeError, "unknown option gama");
    expect(() => new addon.Maddpg({ ...small, noise: { ...small.noise, sigma: 1 } })).to.throw(TypeError, "unknown option noise.sigma");
    expect(() => new addon.Maddpg({ ...small, tau: "x" })).to.throw(TypeError, "tau must be a number");
    const { lrActor: _lrActor, ...withoutLrActor } = small;
    expect(() => new addon.Maddpg(withoutLrActor)).to.throw(TypeError, "options.lrActor is required");
    const { ouSigma: _ouSigma, ...noiseWithoutSigma } = small.noise;
    expect(() => new addon.Maddpg({ ...small, noise: noiseWithoutSigma })).to.throw(TypeError, "options.noise.ouSigma is required");
    try {
      new addon.Maddpg({ ...small, tau: 3 });
      expect.fail("no throw");
    } catch (err) {
      expect((err as TennisTrainError).code).to.equal("ERR_INVALID_ARG");
      expect((err as Error).message).to.match(/^tau must be in \[0/);
    }
    expect(() => native.updateBatch({ ...makeBatch(2, 1), dones: new Float32Array(3) })).to.throw(
      TypeError,
      "batch.dones must be a Float32Array of length 4, got 3",
    );
    native.dispose();
  });

  it("updates off the main thread, returns stats, and refuses other calls meanwhile", async () => {
    const learner = new Maddpg(small);
    const before = learner.getParameters();
    const pending = learner.updateBatch(makeBatch(16, 2));
    expect(() => learner.act(new Float32Array(JOINT_OBS))).to.throw(TennisTrainError, "busy").with.property("code", "ERR_BUSY");
    expect(learner.stats().busy).to.equal(true);
    const stats = await pending;
    expect(stats.updates).to.equal(1);
    expect(stats.actorUpdates).to.equal(1);
    for (const key of ["criticLoss", "actorLoss", "qMean", "criticGradNorm", "actorGradNorm"] as const) {
      expect(stats[key], key).to.be.a("number").and.satisfy(Number.isFinite);
    }
    expect(stats.saturation).to.be.within(0, 1);
    expect(stats.tdErrors).to.be.instanceOf(Float32Array).with.length(16);
    expect(learner.stats().busy).to.equal(false);
    expect(learner.stats().updates).to.equal(1);
    const after = learner.getParameters();
    expect(after.some((v, i) => v !== before[i])).to.equal(true);
    learner.dispose();
  });

  for (const impl of ["libtorch", "fused"] as const) {
    it(`${impl}: resetActors starts the actors afresh (weights, targets, Adam) and keeps the critics`, async () => {
      const options: MaddpgOptions = { ...small, impl, sharedParameters: true, lrCritic: 1e-12, seed: 3 };
      const learner = new Maddpg(options);
      for (let k = 0; k < 5; k++) await learner.updateBatch(makeBatch(16, 10 + k));
      const layout = learner.parameterLayout();
      const slice = (params: Float32Array, part: (name: string) => boolean) =>
        layout.filter((p) => part(p.name)).flatMap((p) => Array.from(params.subarray(p.offset, p.offset + p.numel)));
      const actor = (name: string) => name.includes("/actor/");
      const targetActor = (name: string) => name.includes("/target_actor/");
      const critics = (name: string) => name.includes("critic");
      const trained = learner.getParameters();

      learner.resetActors(7);
      const reset = learner.getParameters();
      // A shared learner draws its actor first, so a fresh learner of seed 7 holds the same actor.
      const fresh = new Maddpg({ ...options, seed: 7 });
      expect(slice(reset, actor)).to.deep.equal(slice(fresh.getParameters(), actor));
      expect(slice(reset, targetActor)).to.deep.equal(slice(reset, actor));
      expect(slice(reset, critics)).to.deep.equal(slice(trained, critics));
      fresh.dispose();

      // Adam starts again: from the same parameters (the critics all but frozen by a 1e-12 learning
      // rate), the restarted learner takes the same actor step as a fresh one (1.6e-4 apart without the reset).
      const twin = new Maddpg({ ...options, seed: 7 });
      twin.setParameters(reset);
      await learner.updateBatch(makeBatch(16, 20));
      await twin.updateBatch(makeBatch(16, 20));
      expect(slice(learner.getParameters(), actor)).to.not.deep.equal(slice(reset, actor));
      const [mine, theirs] = [learner.getParameters(), twin.getParameters()];
      expect(slice(mine, actor)).to.deep.equal(slice(theirs, actor));
      expect(slice(mine, targetActor)).to.deep.equal(slice(theirs, targetActor));
      // (the critics' Adam states differ, so a 1e-12 step moves their near-zero weights a little apart)
      slice(mine, critics).forEach((v, i) => expect(v).to.be.closeTo(slice(theirs, critics)[i], 1e-9));
      twin.dispose();
      expect(() => learner.resetActors(-1)).to.throw(TypeError, "seed");
      learner.dispose();
    });
  }

  it("rejects a batch holding NaN with an error naming the array and row", async () => {
    const learner = new Maddpg(small);
    const batch = makeBatch(4, 3);
    batch.rewards[5] = NaN;
    const err = await rejection(learner.updateBatch(batch));
    expect(err).to.be.instanceOf(TennisTrainError);
    expect(err.code).to.equal("ERR_INVALID_ARG");
    expect(err.message).to.equal("batch.rewards has a non-finite value (nan) at row 2, column 1");
    expect(learner.stats().busy).to.equal(false);
    learner.dispose();
  });

  it("a checkpoint resumes exactly, and one of another architecture is named", async () => {
    const options: MaddpgOptions = { ...small, twinCritics: true, targetNoise: 0.2, policyDelay: 2, layerNorm: true };
    const straight = new Maddpg(options);
    for (let u = 0; u < 4; u++) await straight.updateBatch(makeBatch(16, 10 + u));

    const first = new Maddpg(options);
    for (let u = 0; u < 2; u++) await first.updateBatch(makeBatch(16, 10 + u));
    const path = join(dir, "resume.pt");
    await first.save(path);
    const resumed = new Maddpg({ ...options, seed: 999 });
    await resumed.load(path);
    for (let u = 2; u < 4; u++) await resumed.updateBatch(makeBatch(16, 10 + u));
    expect(Array.from(resumed.getParameters())).to.deep.equal(Array.from(straight.getParameters()));
    expect(resumed.stats().updates).to.equal(4);

    const other = new Maddpg({ ...options, actorHidden: [16, 16] });
    const err = await rejection(other.load(path));
    expect(err.code).to.equal("ERR_INVALID_ARG");
    expect(err.message).to.contain("actor_hidden is 32,32 in the checkpoint but 16,16 in this model");
    for (const l of [straight, first, resumed, other]) l.dispose();
  });

  it("updates k times sampling straight from the native replay buffer", async () => {
    const buffer = new ReplayBuffer(bufferOptions({ capacity: 256, prioritized: true, seed: 3 }));
    const rows = makeBatch(64, 4);
    buffer.add(rows.obs, rows.actions, rows.rewards, rows.nextObs, rows.dones);
    const learner = new Maddpg(small);
    const stats = await learner.update(buffer, 3);
    expect(stats.updates).to.equal(3);
    expect(stats.tdErrors).to.have.length(16);
    expect(learner.stats().updates).to.equal(3);
    // The TD errors went back as priorities: importance weights of a sample are no longer all equal
    // (fresh records all carry the same maximal priority, so before any feedback they would be).
    const fresh = new ReplayBuffer(bufferOptions({ capacity: 256, prioritized: true, seed: 3 }));
    fresh.add(rows.obs, rows.actions, rows.rewards, rows.nextObs, rows.dones);
    expect(new Set(fresh.sample(32).weights).size).to.equal(1);
    expect(new Set(buffer.sample(32).weights).size).to.be.greaterThan(1);
    fresh.dispose();
    const tooBig = new Maddpg({ ...small, batchSize: 128 });
    const err = await rejection(tooBig.update(buffer, 1));
    expect(err.code).to.equal("ERR_INVALID_ARG");
    expect(() => learner.update({} as ReplayBuffer, 1)).to.throw(TypeError);
    learner.dispose();
    tooBig.dispose();
    buffer.dispose();
  });

  it("impl fused: acts, updates from the buffer with stats, and shares checkpoints with impl libtorch", async () => {
    const fused = new Maddpg({ ...small, impl: "fused", twinCritics: true, targetNoise: 0.2, policyDelay: 2 });
    const plain = new Maddpg({ ...small, impl: "libtorch", twinCritics: true, targetNoise: 0.2, policyDelay: 2 });
    // Same init from the same seed; the same greedy actions.
    expect(Array.from(fused.getParameters())).to.deep.equal(Array.from(plain.getParameters()));
    const obs = makeBatch(3, 21).obs.subarray(0, 3 * JOINT_OBS);
    const a = fused.act(obs);
    const b = plain.act(obs);
    for (let k = 0; k < a.length; k++) expect(a[k]).to.be.closeTo(b[k], 1e-6);

    const buffer = new ReplayBuffer(bufferOptions({ capacity: 256, prioritized: true, seed: 4 }));
    const rows = makeBatch(64, 5);
    buffer.add(rows.obs, rows.actions, rows.rewards, rows.nextObs, rows.dones);
    const stats = await fused.update(buffer, 3);
    expect(stats.updates).to.equal(3);
    expect(stats.actorUpdates).to.equal(2);
    for (const key of ["criticLoss", "actorLoss", "qMean", "criticGradNorm", "actorGradNorm"] as const) {
      expect(stats[key], key).to.be.a("number").and.satisfy(Number.isFinite);
    }
    expect(stats.saturation).to.be.within(0, 1);
    expect(stats.tdErrors).to.have.length(16);

    // A fused checkpoint resumes in libtorch, and both continue alike on the same batches.
    const path = join(dir, "fused.pt");
    await fused.save(path);
    await plain.load(path);
    expect(Array.from(plain.getParameters())).to.deep.equal(Array.from(fused.getParameters()));
    expect(plain.stats().updates).to.equal(3);
    for (let u = 0; u < 3; u++) {
      const batch = makeBatch(16, 30 + u);
      batch.targetNoise = makeBatch(16, 40 + u).actions;
      await fused.updateBatch(batch);
      await plain.updateBatch(batch);
    }
    const x = fused.getParameters();
    const y = plain.getParameters();
    let worst = 0;
    for (let k = 0; k < x.length; k++) worst = Math.max(worst, Math.abs(x[k] - y[k]));
    expect(worst).to.be.below(1e-6);
    for (const l of [fused, plain]) l.dispose();
    buffer.dispose();
  });

  it("impl fused rejects the options it does not support, naming them", () => {
    try {
      new Maddpg({ ...small, impl: "fused", batchNorm: true });
      expect.fail("no throw");
    } catch (err) {
      expect((err as TennisTrainError).code).to.equal("ERR_INVALID_ARG");
      expect((err as Error).message).to.equal(
        'impl "fused" does not support batch_norm (BatchNorm1d in the critics); use impl "libtorch" for it',
      );
    }
  });

  it("after dispose every call throws ERR_DISPOSED", () => {
    const learner = new Maddpg(small);
    learner.dispose();
    learner.dispose();
    expect(() => learner.getParameters()).to.throw(TennisTrainError).with.property("code", "ERR_DISPOSED");
  });
});
