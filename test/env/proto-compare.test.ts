// The native Tennis against its oracle, the numpy prototype of the spec (shared/reference/tennis_proto.py,
// run by test/env/proto_driver.py on /usr/bin/python3): the same seed and actions give the same
// trajectory up to the first racket contact (1e-5) and a close one after it; random play has the same
// episode-length distribution. Skips, saying why, where python3, numpy or the prototype is missing.
import { expect } from "chai";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";

import { TennisEnv } from "../../binding/env.ts";
import { packageRoot } from "../../binding/load.ts";
import { randomPlay } from "../../src/env/random-play.ts";

const kPython = "/usr/bin/python3";
const kDriver = join(packageRoot, "test", "env", "proto_driver.py");
// Up to the first contact: float32 state, same operations; differences are rounding (~2e-7).
const kExactTol = 1e-5;
// After contacts: the solver is the prototype's, but double-precision details (hypot, a rest height
// kept in float32) differ by ulps; observed max ~1e-4.
const kCloseTol = 1e-3;

interface ProtoStep {
  actions: number[];
  obs: number[];
  rewards: number[];
  dones: boolean[];
  hits: number;
}

// Runs the driver; returns its JSON, or a reason to skip.
function driver(args: string[]): { result?: any; skip?: string } {
  if (!existsSync(kPython)) return { skip: `${kPython} not found` };
  const run = spawnSync(kPython, [kDriver, ...args], { encoding: "utf8", maxBuffer: 1 << 30 });
  if (run.error) return { skip: `${kPython} failed to start: ${run.error.message}` };
  if (run.status !== 0) throw new Error(`proto_driver.py ${args.join(" ")} exited ${run.status}: ${run.stderr}`);
  const result = JSON.parse(run.stdout);
  if (result.skip) return { skip: result.skip };
  return { result };
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).to.equal(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

// Replays proto steps on env (already reset to the same point); returns the largest differences
// before and after the episode's first contact. Dones must agree step by step.
function replay(env: TennisEnv, steps: ProtoStep[]): { before: number; after: number; contactStep: number } {
  let before = 0;
  let after = 0;
  let contactStep = -1;
  steps.forEach((s, t) => {
    const r = env.step(Float32Array.from(s.actions));
    const diff = Math.max(maxAbsDiff(r.obs, s.obs), maxAbsDiff(r.rewards, s.rewards));
    expect([r.dones[0] !== 0, r.dones[1] !== 0], `dones at step ${t + 1}`).to.deep.equal(s.dones);
    if (s.hits === 0) before = Math.max(before, diff);
    else {
      if (contactStep < 0) contactStep = t;
      after = Math.max(after, diff);
    }
  });
  return { before, after, contactStep };
}

describe("env/prototype comparison", function () {
  this.timeout(300_000);

  for (const clean of [false, true]) {
    it(`follows the prototype's trajectories under random actions (${clean ? "clean" : "faithful"} reset)`, function () {
      const seed = clean ? 5 : 0;
      const { result, skip } = driver(["trajectory", String(seed), "60", "3000", ...(clean ? ["clean"] : [])]);
      if (skip) {
        console.log(`      skipped: ${skip}`);
        this.skip();
      }
      const env = new TennisEnv({ seed, cleanReset: clean });
      expect(maxAbsDiff(env.reset(), result.startup_obs)).to.be.at.most(kExactTol);
      let before = 0;
      let after = 0;
      let contacts = 0;
      let steps = 0;
      for (const episode of result.episodes) {
        before = Math.max(before, maxAbsDiff(env.reset(), episode.reset_obs));
        const r = replay(env, episode.steps);
        before = Math.max(before, r.before);
        after = Math.max(after, r.after);
        contacts += r.contactStep >= 0 ? 1 : 0;
        steps += episode.steps.length;
      }
      console.log(`      ${result.episodes.length} episodes, ${steps} steps, ${contacts} with a contact: max |diff| ` +
        `${before.toExponential(2)} before the first contact, ${after.toExponential(2)} after`);
      expect(contacts).to.be.greaterThan(10);
      expect(before).to.be.at.most(kExactTol);
      expect(after).to.be.at.most(kCloseTol);
    });
  }

  it("follows the prototype's controller through a capped rally, and computes the same actions", function () {
    const { result, skip } = driver(["rally", "1", "1001", "clean"]);
    if (skip) {
      console.log(`      skipped: ${skip}`);
      this.skip();
    }
    const env = new TennisEnv({ seed: 1, cleanReset: true });
    env.reset();
    expect(maxAbsDiff(env.reset(), result.reset_obs)).to.be.at.most(kExactTol);
    let actionDiff = 0;
    let before = 0;
    let after = 0;
    for (const s of result.steps as ProtoStep[]) {
      actionDiff = Math.max(actionDiff, maxAbsDiff(env.scriptedActions(), s.actions));
      const r = env.step(Float32Array.from(s.actions));
      const diff = maxAbsDiff(r.obs, s.obs);
      if (s.hits === 0) before = Math.max(before, diff);
      else after = Math.max(after, diff);
    }
    const hits = result.steps[result.steps.length - 1].hits;
    console.log(`      ${result.steps.length} steps, ${hits} hits: max |diff| ${before.toExponential(2)} before the first ` +
      `contact, ${after.toExponential(2)} after; controller actions differ by ${actionDiff.toExponential(2)}`);
    expect(result.steps.length).to.equal(1001);
    expect(before).to.be.at.most(kExactTol);
    expect(after).to.be.at.most(kCloseTol);
    expect(actionDiff).to.be.at.most(kCloseTol);
  });

  it("plays randomly like the prototype (1000 notebook episodes: mean length, share of 14-step episodes)", function () {
    const { result, skip } = driver(["random", "1000", "0"]);
    if (skip) {
      console.log(`      skipped: ${skip}`);
      this.skip();
    }
    const native = randomPlay({ episodes: 1000, seed: 0 });
    console.log(`      prototype: mean length ${result.mean_steps.toFixed(2)}, 14-step share ${result.share_14.toFixed(3)}, ` +
      `mean score ${result.mean_score.toFixed(4)}; native: ${native.mean_steps.toFixed(2)}, ` +
      `${native.share_14_steps.toFixed(3)}, ${native.mean_score.toFixed(4)}`);
    expect(Math.abs(native.mean_steps / result.mean_steps - 1)).to.be.at.most(0.1);
    expect(Math.abs(native.share_14_steps / result.share_14 - 1)).to.be.at.most(0.1);
  });
});
