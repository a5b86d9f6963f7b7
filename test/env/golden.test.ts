// The built-in Tennis against golden trajectories of the numpy prototype of the build's rules
// (docs/tennis-env.md), recorded into test/fixtures/env/ by test/env/record_env_fixtures.py: the same
// seed and actions give the same observations and rewards step by step -- to float rounding while no
// racket has touched the ball since the serve, closely after -- and the same dones and capped
// episodes; the hand-written controller computes the prototype's actions; random play has the
// prototype's episode-length distribution.
import { expect } from "chai";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";

import { TennisEnv, type TennisMode } from "../../binding/env.ts";
import { packageRoot } from "../../binding/package.ts";
import { randomPlay } from "../../src/lib/env/random-play.ts";
import { envOptions } from "../helpers/env-options.ts";

const kFixtures = join(packageRoot, "test", "fixtures", "env");
// No contact since the serve: float32 state, same operations; differences are rounding (~2e-7).
const kExactTol = 1e-5;
// After contacts: the solver is the prototype's, but double-precision details (hypot, a rest height
// kept in float32) differ by ulps; observed max ~1e-4.
const kCloseTol = 1e-3;

interface GoldenStep {
  actions: Float32Array;
  obs: Float32Array;
  rewards: Float32Array;
  dones: Float32Array;
  maxReached: Float32Array;
  /** Racket touches since the ball was last served, up to the end of the step. */
  contacts: number;
}

interface GoldenEpisode {
  resetObs: Float32Array;
  /** Racket touches since the ball was last served, at the end of the reset. */
  resetContacts: number;
  steps: GoldenStep[];
}

interface Golden {
  env: { seed: number; cleanReset: boolean; mode: TennisMode };
  play: "random" | "scripted";
  startupObs: Float32Array;
  episodes: GoldenEpisode[];
}

/** Reads test/fixtures/env/<name>.bin.gz: a JSON header line, then float32 records (see the recorder). */
function readGolden(name: string): Golden {
  const bytes = gunzipSync(readFileSync(join(kFixtures, `${name}.bin.gz`)));
  const newline = bytes.indexOf(0x0a);
  const header = JSON.parse(bytes.subarray(0, newline).toString("utf8"));
  const body = bytes.subarray(newline + 1);
  const values = new Float32Array(body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength));
  let at = 0;
  const take = (count: number): Float32Array => values.subarray(at, (at += count));
  const layout = header.stepLayout as Record<keyof GoldenStep, number>;
  const startupObs = take(header.resetLayout.obs);
  const episodes = (header.episodeSteps as number[]).map((length): GoldenEpisode => {
    const resetObs = take(header.resetLayout.obs);
    const resetContacts = take(header.resetLayout.contacts)[0];
    const steps = Array.from({ length }, (): GoldenStep => ({
      actions: take(layout.actions),
      obs: take(layout.obs),
      rewards: take(layout.rewards),
      dones: take(layout.dones),
      maxReached: take(layout.maxReached),
      contacts: take(layout.contacts)[0],
    }));
    return { resetObs, resetContacts, steps };
  });
  expect(at, `${name}: values in the file`).to.equal(values.length);
  return { env: header.env, play: header.play, startupObs, episodes };
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).to.equal(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

/** Largest differences from the golden values, split at the first contact since the serve. */
class Differences {
  exact = 0;
  close = 0;
  add(diff: number, contacts: number): void {
    if (contacts === 0) this.exact = Math.max(this.exact, diff);
    else this.close = Math.max(this.close, diff);
  }
}

interface Replayed {
  obs: Differences;
  actions: number;
  steps: number;
  withContact: number;
}

/** Replays the golden actions on a fresh env; dones and caps must agree at every step. */
function replay(name: string, golden: Golden): Replayed {
  const env = new TennisEnv(envOptions(golden.env));
  const obs = new Differences();
  let actions = 0;
  let steps = 0;
  let withContact = 0;
  obs.add(maxAbsDiff(env.reset(), golden.startupObs), 0);
  golden.episodes.forEach((episode, e) => {
    obs.add(maxAbsDiff(env.reset(), episode.resetObs), episode.resetContacts);
    episode.steps.forEach((s, t) => {
      if (golden.play === "scripted") actions = Math.max(actions, maxAbsDiff(env.scriptedActions(), s.actions));
      const r = env.step(s.actions);
      const where = `${name}, episode ${e}, step ${t + 1}`;
      expect(Array.from(r.dones), `dones in ${where}`).to.deep.equal(Array.from(s.dones));
      expect(Array.from(r.maxReached), `maxReached in ${where}`).to.deep.equal(Array.from(s.maxReached));
      obs.add(Math.max(maxAbsDiff(r.obs, s.obs), maxAbsDiff(r.rewards, s.rewards)), s.contacts);
    });
    steps += episode.steps.length;
    withContact += episode.steps.some((s) => s.contacts > 0) ? 1 : 0;
  });
  console.log(`      ${golden.episodes.length} episodes, ${steps} steps, ${withContact} with a contact: max |diff| ` +
    `${obs.exact.toExponential(2)} before a contact, ${obs.close.toExponential(2)} after` +
    (golden.play === "scripted" ? `; controller actions differ by ${actions.toExponential(2)}` : ""));
  return { obs, actions, steps, withContact };
}

/** Sum over episodes of each agent's rewards, and how many episodes ended on the step cap. */
function outcomes(golden: Golden): { totals: [number, number]; capped: number } {
  const totals: [number, number] = [0, 0];
  let capped = 0;
  for (const episode of golden.episodes) {
    for (const s of episode.steps) {
      totals[0] += s.rewards[0];
      totals[1] += s.rewards[1];
    }
    capped += episode.steps[episode.steps.length - 1].maxReached[0];
  }
  return { totals, capped };
}

describe("env/golden trajectories of the prototype", function () {
  this.timeout(120_000);

  for (const name of ["random-faithful", "random-clean", "random-competitive"]) {
    it(`${name}: random actions give the prototype's observations, rewards and dones`, () => {
      const golden = readGolden(name);
      const r = replay(name, golden);
      expect(r.withContact, "episodes whose comparison passes a contact").to.be.at.least(5);
      if (golden.env.mode === "competitive") {
        for (const episode of golden.episodes) {
          const total = episode.steps.reduce((sum, s) => sum + s.rewards[0], 0);
          expect(Math.abs(total), "one point per episode").to.equal(1);
        }
        expect(outcomes(golden).totals.reduce((a, b) => a + b)).to.equal(0);
      }
      expect(r.obs.exact).to.be.at.most(kExactTol);
      expect(r.obs.close).to.be.at.most(kCloseTol);
    });
  }

  it("scripted-clean: the controller keeps a rally to the 1001-step cap, as in the prototype", () => {
    const golden = readGolden("scripted-clean");
    const r = replay("scripted-clean", golden);
    expect(r.steps).to.equal(1001);
    expect(outcomes(golden).capped).to.equal(1);
    expect(r.obs.exact).to.be.at.most(kExactTol);
    expect(r.obs.close).to.be.at.most(kCloseTol);
    expect(r.actions).to.be.at.most(kCloseTol);
  });

  it("scripted-competitive: capped rallies are draws, and the build's reset leaves the ball in play", () => {
    const golden = readGolden("scripted-competitive");
    const r = replay("scripted-competitive", golden);
    expect(outcomes(golden)).to.deep.equal({ totals: [0, 0], capped: 2 });
    expect(golden.episodes[1].resetContacts, "touches carried over by the reset").to.be.greaterThan(0);
    expect(r.obs.exact).to.be.at.most(kExactTol);
    expect(r.obs.close).to.be.at.most(kCloseTol);
    expect(r.actions).to.be.at.most(kCloseTol);
  });

  it("plays randomly like the prototype (1000 notebook episodes: mean length, share of 14-step episodes)", () => {
    const proto = JSON.parse(readFileSync(join(kFixtures, "random-stats.json"), "utf8"));
    const native = randomPlay({ episodes: proto.episodes, seed: proto.seed });
    console.log(`      prototype: mean length ${proto.mean_steps.toFixed(2)}, 14-step share ${proto.share_14.toFixed(3)}, ` +
      `mean score ${proto.mean_score.toFixed(4)}; native: ${native.mean_steps.toFixed(2)}, ` +
      `${native.share_14_steps.toFixed(3)}, ${native.mean_score.toFixed(4)}`);
    expect(Math.abs(native.mean_steps / proto.mean_steps - 1)).to.be.at.most(0.1);
    expect(Math.abs(native.share_14_steps / proto.share_14 - 1)).to.be.at.most(0.1);
  });
});
