// The built-in Tennis through the binding: shapes, argument checks that leave the env untouched (in
// the TS layer and again natively), determinism, the autoReset loop, async stepping, checkpoints and
// the notebook-shaped single-env view.
import { expect } from "chai";

import { NotebookTennisEnv, TennisEnv, type NativeTennisEnvConstructor, type TennisEnvOptions } from "../../binding/env.ts";
import { TennisTrainError } from "../../binding/errors.ts";
import { addon } from "../../binding/load.ts";
import { NormalRng } from "../../src/lib/env/random-play.ts";
import { envOptions } from "../helpers/env-options.ts";
import { withDefaultVariant } from "../../src/lib/env/vec-env.ts";

function actionsFor(rng: NormalRng, n: number): Float32Array {
  return rng.fillClipped(new Float32Array(n * 4));
}

// Plays `steps` random steps on env and returns a copy of everything it returned.
function play(env: TennisEnv, steps: number, seed: number): number[] {
  const rng = new NormalRng(seed);
  const trace = Array.from(env.reset());
  for (let t = 0; t < steps; t++) {
    const r = env.step(actionsFor(rng, env.numEnvs));
    trace.push(...r.obs, ...r.nextObs, ...r.rewards, ...r.dones, ...r.maxReached);
  }
  return trace;
}

function caught(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error("expected a throw");
}

describe("env/TennisEnv", () => {
  it("returns arrays shaped [envs][2][24] and [envs][2]", () => {
    const env = new TennisEnv(envOptions({ numEnvs: 3, seed: 1 }));
    const obs = env.reset();
    expect(obs).to.be.instanceOf(Float32Array).with.length(3 * 2 * 24);
    const r = env.step(new Float32Array(3 * 4));
    expect(r.obs).to.have.length(144);
    expect(r.nextObs).to.equal(r.obs); // without autoReset they are the same array
    expect(r.rewards).to.have.length(6);
    expect(r.dones).to.have.length(6);
    expect(r.maxReached).to.have.length(6);
    // agent 0 of env 0 sees the serve at 6 = the newest frame's slot 5 (index 21)
    expect(r.obs[21]).to.be.greaterThan(5.8).and.lessThan(6);
    env.dispose();
  });

  it("rejects bad actions with a TypeError naming them and leaves the env untouched", () => {
    const env = new TennisEnv(envOptions({ numEnvs: 2, seed: 5 }));
    const twin = new TennisEnv(envOptions({ numEnvs: 2, seed: 5 }));
    env.reset();
    twin.reset();
    const rng = new NormalRng(9);
    for (let t = 0; t < 3; t++) {
      const a = actionsFor(rng, 2);
      env.step(a);
      twin.step(a);
    }
    const before = JSON.stringify([env.state(0), env.state(1)]);
    const nan = new Float32Array(8);
    nan[3] = NaN;
    const inf = new Float32Array(8);
    inf[6] = -Infinity;
    const cases: [unknown, RegExp][] = [
      [nan, /Expected finite numbers for actions but received NaN at index 3/],
      [inf, /Expected finite numbers for actions but received -Infinity at index 6/],
      [new Float32Array(7), /Expected a Float32Array of length 8 for actions but received Float32Array of length 7/],
      [new Float64Array(8), /Expected a Float32Array for actions but received Float64Array of length 8/],
      [[0, 0, 0, 0, 0, 0, 0, 0], /Expected a Float32Array for actions but received Array of length 8/],
      [undefined, /Expected a Float32Array for actions but received undefined/],
    ];
    for (const [bad, message] of cases) {
      const err = caught(() => env.step(bad as Float32Array));
      expect(err).to.be.instanceOf(TypeError);
      expect(err.message).to.match(message);
    }
    expect(JSON.stringify([env.state(0), env.state(1)])).to.equal(before);
    // and the next valid step continues exactly like the twin that never saw the bad calls
    const a = actionsFor(rng, 2);
    expect(Array.from(env.step(a).obs)).to.deep.equal(Array.from(twin.step(a).obs));
    env.dispose();
    twin.dispose();
  });

  it("rechecks natively: bad arrays reaching the addon are TypeErrors and change nothing", () => {
    const Native = addon.TennisEnv as NativeTennisEnvConstructor;
    const env = new Native(1, 3, {});
    const obs = new Float32Array(48);
    const rewards = new Float32Array(2);
    const dones = new Float32Array(2);
    env.reset(obs);
    const before = JSON.stringify(env.state(0));
    const nan = Float32Array.from([0, 0, NaN, 0]);
    expect(() => env.step(nan, obs, rewards, dones)).to.throw(TypeError, /actions must be finite, got nan at index 2/);
    expect(() => env.step(new Float32Array(3), obs, rewards, dones)).to.throw(TypeError, /actions must be a Float32Array of length 4, got 3/);
    expect(() => env.step(new Float32Array(4), new Float32Array(47), rewards, dones)).to.throw(TypeError, /obs must be a Float32Array of length 48/);
    expect(() => env.step(new Float32Array(4), obs, rewards, dones, 0)).to.throw(RangeError, /threads must be in \[1, 256\]/);
    expect(() => env.state(1)).to.throw(RangeError, /env must be in \[0, 0\]/);
    expect(() => new Native(0, 0, {})).to.throw(RangeError, /numEnvs must be in/);
    expect(() => new Native(1, 0, { mode: "zero-sum" as never })).to.throw(TypeError, /options.mode must be/);
    expect(JSON.stringify(env.state(0))).to.equal(before);
    env.dispose();
  });

  it("validates options", () => {
    expect(() => new TennisEnv(envOptions({ numEnvs: 0 }))).to.throw(TypeError, /Expected integer between 1 and 1048576 for numEnvs but received 0/);
    expect(() => new TennisEnv(envOptions({ seed: -1 }))).to.throw(TypeError, /for seed/);
    expect(() => new TennisEnv(envOptions({ mode: "zero-sum" as never }))).to.throw(TypeError, /Expected one of "cooperative", "competitive" for mode/);
    expect(() => new TennisEnv(envOptions({ cleanreset: true } as never))).to.throw(TypeError, /Unknown option cleanreset/);
    // No defaults: the variant is the config's to choose.
    expect(() => new TennisEnv({ numEnvs: 1, seed: 0 } as TennisEnvOptions)).to.throw(TypeError, "Expected boolean for cleanReset but received undefined of type undefined");
  });

  it("is deterministic per seed, independent of threads, and seeds env i with seed + i", () => {
    const a = play(new TennisEnv(envOptions({ numEnvs: 300, seed: 7 })), 60, 1);
    const b = play(new TennisEnv(envOptions({ numEnvs: 300, seed: 7, threads: 2 })), 60, 1);
    expect(b).to.deep.equal(a);
    const c = play(new TennisEnv(envOptions({ numEnvs: 300, seed: 8 })), 1, 1);
    expect(c.slice(0, 48)).to.not.deep.equal(a.slice(0, 48));
    const batch = new TennisEnv(envOptions({ numEnvs: 4, seed: 10 }));
    const single = new TennisEnv(envOptions({ numEnvs: 1, seed: 12 }));
    expect(Array.from(batch.reset().subarray(96, 144))).to.deep.equal(Array.from(single.reset()));
  });

  it("keeps the obs it handed out intact for one more step (alternating buffers)", () => {
    const env = new TennisEnv(envOptions({ numEnvs: 2, seed: 3 }));
    const obs0 = env.reset();
    const copy0 = Array.from(obs0);
    const r1 = env.step(new Float32Array(8).fill(0.5));
    expect(Array.from(obs0)).to.deep.equal(copy0);
    expect(r1.obs).to.not.equal(obs0);
    const copy1 = Array.from(r1.obs);
    env.step(new Float32Array(8));
    expect(Array.from(r1.obs)).to.deep.equal(copy1);
  });

  it("autoReset resets done envs like the notebook loop, keeping the step's nextObs", () => {
    const auto = new TennisEnv(envOptions({ numEnvs: 3, seed: 21, autoReset: true }));
    const manual = new TennisEnv(envOptions({ numEnvs: 3, seed: 21 }));
    auto.reset();
    manual.reset();
    const rng = new NormalRng(4);
    let resets = 0;
    for (let t = 0; t < 120; t++) {
      const a = actionsFor(rng, 3);
      const ra = auto.step(a);
      const rm = manual.step(a);
      expect(Array.from(ra.nextObs)).to.deep.equal(Array.from(rm.obs));
      expect(Array.from(ra.dones)).to.deep.equal(Array.from(rm.dones));
      if (rm.dones.some((d) => d !== 0)) {
        resets += 1;
        const after = manual.resetWhere(rm.dones);
        expect(Array.from(ra.obs)).to.deep.equal(Array.from(after));
        const e = rm.dones.findIndex((d) => d !== 0) >> 1;
        // a reset env starts a new observation stack: 16 zeros, then the current frame
        expect(Array.from(ra.obs.subarray(e * 48, e * 48 + 16))).to.deep.equal(new Array(16).fill(0));
      } else {
        expect(Array.from(ra.obs)).to.deep.equal(Array.from(ra.nextObs));
      }
    }
    expect(resets).to.be.greaterThan(3);
  });

  it("stepAsync matches step, and the env is busy until it settles", async () => {
    const env = new TennisEnv(envOptions({ numEnvs: 50, seed: 2, threads: 2 }));
    const twin = new TennisEnv(envOptions({ numEnvs: 50, seed: 2 }));
    env.reset();
    twin.reset();
    const rng = new NormalRng(6);
    for (let t = 0; t < 20; t++) {
      const a = actionsFor(rng, 50);
      const pending = env.stepAsync(a);
      const err = caught(() => env.step(a)) as TennisTrainError;
      expect(err).to.be.instanceOf(TennisTrainError);
      expect(err.code).to.equal("ERR_BUSY");
      expect(() => env.state(0)).to.throw(TennisTrainError, /busy/);
      const r = await pending;
      const expected = twin.step(a);
      expect(Array.from(r.obs)).to.deep.equal(Array.from(expected.obs));
      expect(Array.from(r.rewards)).to.deep.equal(Array.from(expected.rewards));
    }
  });

  it("stepAsync copies the actions before returning", async () => {
    const env = new TennisEnv(envOptions({ numEnvs: 2, seed: 2 }));
    const twin = new TennisEnv(envOptions({ numEnvs: 2, seed: 2 }));
    env.reset();
    twin.reset();
    const a = new Float32Array(8).fill(0.7);
    const pending = env.stepAsync(a);
    a.fill(-0.7);
    const r = await pending;
    expect(Array.from(r.obs)).to.deep.equal(Array.from(twin.step(new Float32Array(8).fill(0.7)).obs));
  });

  it("throws ERR_DISPOSED after dispose", () => {
    const env = new TennisEnv(envOptions());
    env.reset();
    env.dispose();
    env.dispose();
    expect(env.disposed).to.equal(true);
    const err = caught(() => env.step(new Float32Array(4))) as TennisTrainError;
    expect(err.code).to.equal("ERR_DISPOSED");
  });

  it("saveState / loadState continue bit-identically and refuse another shape", () => {
    const env = new TennisEnv(envOptions({ numEnvs: 4, seed: 30 }));
    let last = env.reset();
    const rng = new NormalRng(77);
    for (let t = 0; t < 25; t++) last = env.step(actionsFor(rng, 4)).obs;
    const bytes = env.saveState();
    const restored = new TennisEnv(envOptions({ numEnvs: 4, seed: 999 }));
    expect(Array.from(restored.loadState(bytes))).to.deep.equal(Array.from(last));
    for (let t = 0; t < 50; t++) {
      const a = actionsFor(rng, 4);
      expect(Array.from(restored.step(a).obs)).to.deep.equal(Array.from(env.step(a).obs));
    }
    const err = caught(() => new TennisEnv(envOptions({ numEnvs: 3 })).loadState(bytes)) as TennisTrainError;
    expect(err).to.be.instanceOf(TennisTrainError);
    expect(err.code).to.equal("ERR_INVALID_ARG");
    expect(err.message).to.match(/saved with 4 envs/);
  });

  it("scripted actions keep a rally going", () => {
    const env = new TennisEnv(envOptions({ numEnvs: 2, seed: 1, cleanReset: true }));
    env.reset();
    let crossings = 0;
    for (let t = 0; t < 300; t++) {
      const r = env.step(env.scriptedActions());
      expect(r.dones[0]).to.equal(0);
      crossings += r.rewards.filter((x) => x > 0).length;
    }
    expect(crossings).to.be.greaterThan(20);
  });

  it("setState crafts states for tests (a crossing pays index 0 when nobody hit)", () => {
    const env = new TennisEnv(envOptions({ seed: 0 }));
    env.reset();
    env.setState(0, { ballX: 0.45, ballY: 3, ballVx: 9, ballVy: 0, ballInOver: true, lastHitter: -1 });
    const r = env.step(new Float32Array(4));
    expect(r.rewards[0]).to.be.closeTo(0.1, 1e-7);
    expect(r.rewards[1]).to.equal(0);
    expect(env.state().lastHitter).to.equal(1);
    expect(() => env.setState(0, { lastHitter: 2 })).to.throw(RangeError, /state.lastHitter must be in \[-1, 1\]/);
  });
});

describe("env/NotebookTennisEnv", () => {
  it("looks like the notebook's BrainInfo", () => {
    const env = new NotebookTennisEnv({ ...withDefaultVariant(), seed: 0 });
    const info = env.reset();
    expect(env.brain_names).to.deep.equal(["TennisBrain"]);
    expect(info.vector_observations).to.have.length(2);
    expect(info.vector_observations[0]).to.have.length(24);
    // the published start-up observation of agent 0
    expect(info.vector_observations[0][16]).to.be.closeTo(-6.6527863, 1e-6);
    expect(info.vector_observations[0][20]).to.be.closeTo(6.8317208, 1e-6);
    let t = 0;
    let done = false;
    while (!done) {
      const next = env.step([
        [0, 0],
        [0, 0],
      ]);
      expect(next.rewards).to.have.length(2);
      expect(next.local_done).to.have.length(2);
      done = next.local_done.some(Boolean);
      t += 1;
    }
    expect(t).to.be.within(13, 100); // the serve falls (here onto agent 1's idle racket) and is lost
    expect(() => env.step([[0, NaN], [0, 0]])).to.throw(TypeError, /Expected finite numbers for actions but received NaN at index 1/);
    expect(() => env.step([[0, 0]])).to.throw(TypeError, /Expected a Float32Array\(4\) or an array of 2 pairs for actions/);
    expect(() => env.step([[0, 0], [0, "1" as never]])).to.throw(TypeError, /Expected an array of 2 numbers for actions\[1\]/);
    env.close();
  });
});
