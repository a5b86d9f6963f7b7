// The study store as two workers see it, each with its own connection to one SQLite file: claims up to
// the budget, waiting on the other's trials, the pruner's view of the other's checkpoints, and a trial
// taken from a worker whose heartbeats stopped (its late result is refused, the retry runs it again).
import { expect } from "chai";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { StudyStore, type Worker } from "../../src/apps/tune/store.ts";
import { parseSpace } from "../../src/apps/tune/space.ts";

const settings = {
  version: 1 as const,
  space: parseSpace({ params: { "agent.tau": { type: "uniform", low: 0.001, high: 0.1 } } }),
  config: {},
  objective: "episodes" as const,
  seeds: [0],
  sampler: "random" as const,
  samplerSeed: 0,
  trials: 2,
};
const workerA: Worker = { id: "host-a:1:x", host: "host-a", pid: 1 };
const workerB: Worker = { id: "host-b:2:y", host: "host-b", pid: 2 };
const seedResult = { seed: 0, state: "complete" as const, runDir: "r", solved: true, episodesToSolve: 150, episodes: 150, wallS: 1, bestAverage: 0.6, value: 150 };

describe("tune study store (two workers, one SQLite file)", () => {
  const root = mkdtempSync(join(tmpdir(), "tennis-store-"));
  after(() => rmSync(root, { recursive: true, force: true }));

  it("claims distinct numbers up to the budget, then waits for the other worker's trial, then is done", async () => {
    const storage = `sqlite:${join(root, "claims.sqlite")}`;
    const [a, b] = [await StudyStore.open(storage, "s"), await StudyStore.open(storage, "s")];
    try {
      expect(await a.ensureSettings(settings)).to.equal(null);
      expect(await b.ensureSettings(settings)).to.deep.equal(settings);
      const sampled: number[] = [];
      const sample = (n: number) => (sampled.push(n), { "agent.tau": 0.01 * (n + 1) });
      const first = await a.claim(workerA, 2, sample);
      const second = await b.claim(workerB, 2, sample);
      expect([first.kind, second.kind]).to.deep.equal(["trial", "trial"]);
      expect(sampled).to.deep.equal([0, 1]);
      // The budget is reached: A waits while B's trial runs, and is done once it is finished.
      expect((await a.claim(workerA, 2, sample)).kind).to.equal("wait");
      expect(await b.finish(workerB, 1, { state: "complete", objective: 150, seeds: [seedResult] })).to.equal(true);
      // A's own running trial is no reason to wait.
      expect((await a.claim(workerA, 2, sample)).kind).to.equal("done");
      expect(sampled).to.deep.equal([0, 1]);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it("shows the pruner the checkpoints of complete trials run by the other worker", async () => {
    const storage = `sqlite:${join(root, "pruner.sqlite")}`;
    const [a, b] = [await StudyStore.open(storage, "s"), await StudyStore.open(storage, "s")];
    try {
      await a.ensureSettings(settings);
      await a.claim(workerA, 2, () => ({}));
      await a.addIntermediate(0, 0, 50, 0.25);
      expect(await b.completeAt(0, 50)).to.deep.equal([]);
      await a.finish(workerA, 0, { state: "complete", objective: 150, seeds: [seedResult] });
      expect(await b.completeAt(0, 50)).to.deep.equal([0.25]);
      expect(await b.completeCount()).to.equal(1);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it("takes a trial whose worker sent no heartbeat within the grace period; the late result is refused, the retry runs it", async () => {
    const storage = `sqlite:${join(root, "lost.sqlite")}`;
    const [a, b] = [await StudyStore.open(storage, "s"), await StudyStore.open(storage, "s")];
    try {
      await a.ensureSettings(settings);
      await a.claim(workerA, 1, () => ({ "agent.tau": 0.02 }));
      expect(await a.heartbeat(workerA, [0])).to.deep.equal([0]);
      const reap = { graceS: 0.2, retries: 1, localPids: false };
      expect(await b.reapLost(workerB, reap)).to.deep.equal([]);
      await new Promise((r) => setTimeout(r, 400));
      const [lost] = await b.reapLost(workerB, reap);
      expect(lost).to.deep.include({ number: 0, worker: workerA.id, retried: true });
      expect(lost.reason).to.match(/^worker host-a:1:x sent no heartbeat for \d+\.\d s$/);
      // A learns it lost the trial: its heartbeat no longer holds it and its result is not written.
      expect(await a.heartbeat(workerA, [0])).to.deep.equal([]);
      expect(await a.finish(workerA, 0, { state: "complete", objective: 99, seeds: [seedResult] })).to.equal(false);
      const retry = await b.claim(workerB, 1, () => ({ "agent.tau": 0.5 }));
      expect(retry.kind).to.equal("trial");
      if (retry.kind !== "trial") return;
      expect(retry.trial).to.deep.include({ number: 0, attempts: 2, params: { "agent.tau": 0.02 } });
      expect(await b.finish(workerB, 0, { state: "complete", objective: 150, seeds: [seedResult] })).to.equal(true);
      // The result of the attempt that ran is the one recorded; the note says why the first attempt ended.
      const [trial] = await a.trials();
      expect(trial).to.deep.include({ state: "complete", objective: 150, attempts: 2, error: lost.reason });
    } finally {
      await a.close();
      await b.close();
    }
  });

  it("fails a lost trial that has no retries left", async () => {
    const storage = `sqlite:${join(root, "failed.sqlite")}`;
    const [a, b] = [await StudyStore.open(storage, "s"), await StudyStore.open(storage, "s")];
    try {
      await a.ensureSettings(settings);
      await a.claim(workerA, 1, () => ({}));
      await new Promise((r) => setTimeout(r, 300));
      const [lost] = await b.reapLost(workerB, { graceS: 0.1, retries: 0, localPids: false });
      expect(lost).to.deep.include({ number: 0, retried: false });
      expect((await b.trials())[0]).to.deep.include({ state: "failed", error: lost.reason, attempts: 1 });
      expect((await b.claim(workerB, 1, () => ({}))).kind).to.equal("done");
    } finally {
      await a.close();
      await b.close();
    }
  });
});
