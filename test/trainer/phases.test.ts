// The training loop's phases on their own: collection (collect.ts), the update schedule (learn.ts),
// the learning-health checks (health.ts), the stop rule (stopping.ts) and the checkpoint schedule
// (run-checkpoint.ts).
import { expect } from "chai";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import type { Maddpg, UpdateStats } from "../../binding/maddpg.ts";
import { JOINT_OBS } from "../../binding/shapes.ts";
import { resolveConfig } from "../../src/lib/config/resolve.ts";
import type { Config } from "../../src/lib/config/types.ts";
import { Collector, doneMask, keptDones, unstoredMask } from "../../src/lib/trainer/collect.ts";
import { checkDeadGradients, restartStalledActors } from "../../src/lib/trainer/health.ts";
import { updatesDue } from "../../src/lib/trainer/learn.ts";
import type { LoopState } from "../../src/lib/trainer/loop-state.ts";
import { checkpointDue, episodeLabel } from "../../src/lib/trainer/run-checkpoint.ts";
import type { EpisodeResult } from "../../src/lib/trainer/scores.ts";
import { openRun, type Run } from "../../src/lib/trainer/setup.ts";
import { polishing, stopAfterStep } from "../../src/lib/trainer/stopping.ts";

function config(file: Record<string, unknown> = {}, train: Record<string, unknown> = {}): Config {
  return resolveConfig({
    fileObject: {
      threads: 1,
      train: { episodes: 100, warmupSteps: 60, batchSize: 32, checkpointEvery: 0, selectEvery: 0, ...train },
      buffer: { capacity: 5000 },
      agent: { hidden: [16, 16] },
      log: { runsDir: tmpdir(), tensorboard: false, progress: false },
      ...file,
    },
  });
}

/** Frees what openRun opened and removes its run directory. */
async function closeRun(run: Run, dir: string): Promise<void> {
  await run.env.close();
  run.logger.close();
  run.buffer.dispose();
  run.agent.dispose();
  rmSync(dir, { recursive: true, force: true });
}

const episode = (score: number): EpisodeResult => ({ episode: 1, score, average: score, steps: 14, agentScores: [score, score] });

describe("training phases", function () {
  this.timeout(60000);

  describe("collect", () => {
    it("steps every env once per call, stores each step and scores finished episodes as the tracker does", async () => {
      const dir = mkdtempSync(join(tmpdir(), "tt-phases-"));
      const opened = await openRun(config({ env: { envs: 3 } }), undefined, dir, () => {});
      expect(opened).to.have.property("run");
      const { run } = opened as { run: Run };
      try {
        const collector = new Collector(run.n);
        let finished = 0;
        for (let i = 0; i < 40; i++) {
          const step = await collector.step(run, false);
          expect(step.obs).to.have.length(run.n * JOINT_OBS);
          run.obs = step.obs;
          finished += step.finished.length;
          for (const ep of step.finished) expect(ep.steps).to.be.greaterThan(0);
        }
        // 3 envs x 40 steps; n-step 1 stores every transition at once.
        expect(run.state.envSteps).to.equal(120);
        expect(run.buffer.totalAdded).to.equal(120);
        expect(run.tracker.episodeCount).to.equal(finished);
        expect(finished).to.be.greaterThan(0);
        // Warm-up actions come from the run's warm-up RNG: it moved on.
        expect(run.warmup.state32).to.not.equal(0);
      } finally {
        await closeRun(run, dir);
      }
    });

    it("stores only the first train.maxStoredStepsPerEpisode steps of each env's episode", async () => {
      const dir = mkdtempSync(join(tmpdir(), "tt-phases-"));
      const opened = await openRun(config({ env: { envs: 3 } }, { maxStoredStepsPerEpisode: 5 }), undefined, dir, () => {});
      const { run } = opened as { run: Run };
      try {
        const collector = new Collector(run.n);
        let expected = 0;
        let cut = 0;
        for (let i = 0; i < 60; i++) {
          for (let e = 0; e < run.n; e++) {
            if (run.tracker.stepsOf(e) < 5) expected += 1;
            else cut += 1;
          }
          run.obs = (await collector.step(run, false)).obs;
        }
        expect(cut, "some episodes ran past 5 steps").to.be.greaterThan(0);
        expect(run.buffer.totalAdded).to.equal(expected);
        expect(run.state.envSteps).to.equal(180);
      } finally {
        await closeRun(run, dir);
      }
    });

    it("masks out lost envs and, past the cap, envs whose episode has had its stored steps", () => {
      const tracker = { numEnvs: 3, stepsOf: (e: number) => [2, 5, 9][e] };
      const out = new Float32Array(6);
      expect(unstoredMask(0, tracker, null, out)).to.equal(null);
      const lost = Float32Array.of(1, 1, 0, 0, 0, 0);
      expect(unstoredMask(0, tracker, lost, out)).to.equal(lost);
      expect(Array.from(unstoredMask(5, tracker, null, out)!)).to.deep.equal([0, 0, 1, 1, 1, 1]);
      expect(Array.from(unstoredMask(5, tracker, lost, out)!)).to.deep.equal([1, 1, 1, 1, 1, 1]);
      expect(unstoredMask(10, tracker, null, out)).to.equal(null);
    });

    it("a lost env's row is neither done nor scored, and only envs that ended get their noise reset", () => {
      const dones = new Float32Array([1, 1, 0, 0, 1, 0]);
      expect(Array.from(keptDones(dones, new Float32Array([1, 1, 0, 0, 0, 0])))).to.deep.equal([0, 0, 0, 0, 1, 0]);
      expect(Array.from(doneMask(dones, 3))).to.deep.equal([1, 0, 1]);
    });
  });

  describe("learn: the update schedule", () => {
    const t = (train: Record<string, unknown>) => config({}, train).train;
    const state = (envSteps: number, episodeUpdates = 0) => ({ envSteps, episodeUpdates });

    it("is train.updatesPerStep once learning, with enough transitions, on train.trainEvery steps", () => {
      const every3 = t({ updatesPerStep: 4, trainEvery: 3, maxUpdatesPerEpisode: 0 });
      expect(updatesDue(every3, state(6), 2, 1000, true)).to.equal(4); // step 3 of 2 envs (6 env steps)
      expect(updatesDue(every3, state(8), 2, 1000, true)).to.equal(0); // step 4
      expect(updatesDue(every3, state(18), 2, 1000, true)).to.equal(4); // step 9
      expect(updatesDue(every3, state(18), 2, 1000, false)).to.equal(0); // warm-up
      expect(updatesDue(every3, state(18), 2, 31, true)).to.equal(0); // fewer than batchSize stored
    });

    it("gives a long rally only what train.maxUpdatesPerEpisode leaves of its share", () => {
      const capped = t({ updatesPerStep: 4, trainEvery: 1, maxUpdatesPerEpisode: 10 });
      expect(updatesDue(capped, state(5, 0), 1, 1000, true)).to.equal(4);
      expect(updatesDue(capped, state(5, 8), 1, 1000, true)).to.equal(2);
      expect(updatesDue(capped, state(5, 10), 1, 1000, true)).to.equal(0);
      expect(updatesDue(capped, state(5, 12), 1, 1000, true)).to.equal(0);
    });
  });

  describe("health", () => {
    const stats = (actorGradNorm: number, updates = 4, actorUpdates = 4) => ({ actorGradNorm, updates, actorUpdates }) as UpdateStats;
    const loopState = () => ({ deadRun: 0, deadAlarms: 0, stallRun: 0, actorResets: 0 }) as LoopState;

    it("counts dead actor updates in a row and returns the remedy once diagnostics.deadGradUpdates are reached", () => {
      const c = config({ diagnostics: { deadGradThreshold: 1e-3, deadGradUpdates: 8, remedy: "reset_noise" } });
      const s = loopState();
      expect(checkDeadGradients(c, stats(1e-4), s)).to.equal(null);
      expect(s.deadRun).to.equal(4);
      expect(checkDeadGradients(c, stats(1), s)).to.equal(null); // a live update restarts the count
      expect(s.deadRun).to.equal(0);
      expect(checkDeadGradients(c, stats(1e-4, 4, 0), s)).to.equal(null); // critic-only rounds are not counted
      expect(checkDeadGradients(c, stats(1e-4), s)).to.equal(null);
      expect(checkDeadGradients(c, stats(1e-4), s)).to.equal("reset_noise");
      expect([s.deadRun, s.deadAlarms]).to.deep.equal([0, 1]);
    });

    it("restarts the actors after train.stallEpisodes pointless episodes, seeded by the run's seed and the restart count", () => {
      const c = config({ seed: 7 }, { stallEpisodes: 3 });
      const seeds: number[] = [];
      const agent = { resetActors: (seed: number) => seeds.push(seed) } as unknown as Maddpg;
      const s = loopState();
      expect(restartStalledActors(c, [episode(0), episode(-0.01)], s, agent)).to.equal(false);
      expect(restartStalledActors(c, [episode(0.1)], s, agent)).to.equal(false); // a point restarts the count
      expect(restartStalledActors(c, [episode(0), episode(0)], s, agent)).to.equal(false);
      expect(restartStalledActors(c, [episode(0)], s, agent)).to.equal(true);
      expect([s.stallRun, s.actorResets]).to.deep.equal([0, 1]);
      expect(seeds).to.deep.equal([(7 + 0x9e3779b9) >>> 0]);
      expect(restartStalledActors(config({}, { stallEpisodes: 0 }), [episode(0)], s, agent)).to.equal(false);
    });
  });

  describe("stop rule", () => {
    it("stops a solved run at once without checks, and stops any run when train.episodes are done", () => {
      const t = config({}, { polishTarget: 0, episodes: 100 }).train;
      expect(stopAfterStep(t, null, null, 50)).to.equal(null);
      expect(stopAfterStep(t, 40, null, 50)).to.equal("solved");
      expect(stopAfterStep(t, null, null, 100)).to.equal("episodes");
      expect(stopAfterStep(t, 100, null, 100)).to.equal("solved");
      expect(stopAfterStep({ ...t, stopWhenSolved: false }, 40, null, 50)).to.equal(null);
    });

    it("polishes a solved run until a check reaches train.polishTarget, for train.polishEpisodes at most", () => {
      const t = config({}, { selectEvery: 10, polishTarget: 2.5, polishEpisodes: 30, episodes: 1000 }).train;
      expect(polishing(t, 100, -Infinity, 100)).to.equal(true);
      expect(stopAfterStep(t, 100, 1.0, 129)).to.equal(null);
      expect(stopAfterStep(t, 100, 1.0, 130)).to.equal("solved"); // polishEpisodes spent
      expect(stopAfterStep(t, 100, 2.5, 110)).to.equal("solved"); // the target reached
      expect(polishing(t, null, 1.0, 110)).to.equal(false); // not solved: nothing to polish
      expect(polishing(t, 100, null, 110)).to.equal(false); // no checks (train.selectEvery 0)
    });
  });

  describe("checkpoint schedule", () => {
    it("is due when a step's finished episodes cross a multiple of train.checkpointEvery", () => {
      const t = config({}, { checkpointEvery: 25 }).train;
      expect(checkpointDue(t, 25, 1)).to.equal(true);
      expect(checkpointDue(t, 26, 2)).to.equal(true); // episodes 25 and 26 ended in one step of several envs
      expect(checkpointDue(t, 26, 1)).to.equal(false);
      expect(checkpointDue(t, 25, 0)).to.equal(false);
      expect(checkpointDue({ ...t, checkpointEvery: 0 }, 25, 1)).to.equal(false);
      expect(episodeLabel(150)).to.equal("ep0000150");
    });
  });
});
