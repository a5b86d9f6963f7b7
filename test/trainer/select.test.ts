// Policy selection (train.selectEvery): the best greedy check is kept and becomes the final policy when
// it beat the last; ties go to the later policy; a check that reaches the polish target is confirmed over
// more episodes; each check plays starts of its own; the kept learner survives a checkpoint; checks do
// not change the training trajectory.
import { expect } from "chai";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { Maddpg } from "../../binding/maddpg.ts";
import { resolveConfig } from "../../src/lib/config/resolve.ts";
import { RunningNorm } from "../../src/lib/trainer/normalize.ts";
import { latestCheckpoint } from "../../src/lib/trainer/checkpoint.ts";
import { evalConfig } from "../../src/lib/trainer/evaluate.ts";
import { PolicySelector } from "../../src/lib/trainer/select.ts";
import { maddpgOptions } from "../../src/lib/trainer/maddpg-options.ts";
import { train } from "../../src/lib/trainer/train.ts";

function config(select: Record<string, number | boolean>, runsDir = tmpdir()) {
  return resolveConfig({
    fileObject: {
      threads: 1,
      train: { episodes: 24, warmupSteps: 60, batchSize: 32, checkpointEvery: 0, ...select },
      buffer: { capacity: 5000 },
      agent: { hidden: [16, 16] },
      log: { runsDir, tensorboard: false, progress: false },
    },
  });
}

/** A check player that returns the scripted scores in turn and records what it was asked to play. */
function scripted(scores: number[], calls: { episodes: number; seed: number }[] = []) {
  let k = 0;
  return (_agent: unknown, _norm: unknown, episodes: number, seed: number) => {
    calls.push({ episodes, seed });
    return scores[k++];
  };
}

describe("policy selection", function () {
  this.timeout(120_000);

  it("is due when a multiple of selectEvery is crossed, also by several episodes at once", () => {
    const selector = new PolicySelector(config({ selectEvery: 10 }));
    expect(selector.due(10, 1)).to.equal(true);
    expect(selector.due(11, 1)).to.equal(false);
    expect(selector.due(21, 3)).to.equal(true);
    expect(selector.due(29, 8)).to.equal(false);
  });

  it("puts back the best checked learner when it beat the last, and says so", () => {
    const agent = new Maddpg({ ...maddpgOptions(config({ selectEvery: 10 })), seed: 3 });
    const selector = new PolicySelector(config({ selectEvery: 10 }), scripted([0.1, 0.5, 0.3]));
    const params = [] as Float32Array[];
    for (const [k, episode] of [10, 20, 30].entries()) {
      agent.setParameters(agent.getParameters().map((x) => x + 0.01 * (k + 1)));
      params.push(agent.getParameters());
      selector.check(agent, null, episode);
    }
    const { selection } = selector.finish(agent, null, 30);
    expect(selection).to.deep.equal({ episode: 20, check_score: 0.5, check_episodes: 20, restored: true });
    expect(Array.from(agent.getParameters())).to.deep.equal(Array.from(params[1]));
    agent.dispose();
  });

  it("keeps the last policy when it ties or beats the best, checking it when it was not just checked", () => {
    const agent = new Maddpg(maddpgOptions(config({ selectEvery: 10 })));
    const before = agent.getParameters();
    const tie = new PolicySelector(config({ selectEvery: 10 }), scripted([0.4, 0.4]));
    tie.check(agent, null, 10);
    expect(tie.finish(agent, null, 14).selection).to.deep.equal({ episode: 14, check_score: 0.4, check_episodes: 20, restored: false });
    expect(Array.from(agent.getParameters())).to.deep.equal(Array.from(before));
    agent.dispose();
  });

  it("confirms a check that reaches train.polishTarget over confirmEpisodes, and plays new starts each check", () => {
    const agent = new Maddpg(maddpgOptions(config({ selectEvery: 10 })));
    const calls: { episodes: number; seed: number }[] = [];
    // Check 1 reaches the target (2.6) but confirms at 2.3; check 2 scores 2.4, below the target: kept.
    const selector = new PolicySelector(config({ selectEvery: 10, polishTarget: 2.55, confirmEpisodes: 50 }), scripted([2.6, 2.3, 2.4], calls));
    expect(selector.check(agent, null, 10)).to.equal(2.3);
    expect(selector.bestScore).to.equal(2.3);
    expect(selector.check(agent, null, 20)).to.equal(2.4);
    expect(calls.map((c) => c.episodes)).to.deep.equal([20, 50, 20]);
    expect(new Set(calls.map((c) => c.seed)).size).to.equal(3);
    expect(selector.finish(agent, null, 20).selection).to.deep.equal({ episode: 20, check_score: 2.4, check_episodes: 20, restored: false });

    // Without confirmation the short check's score stands.
    const unconfirmed = new PolicySelector(config({ selectEvery: 10, polishTarget: 2.55, confirmEpisodes: 0 }), scripted([2.6]));
    expect(unconfirmed.check(agent, null, 10)).to.equal(2.6);
    expect(unconfirmed.finish(agent, null, 10).selection).to.include({ check_score: 2.6, check_episodes: 20 });
    agent.dispose();
  });

  it("carries the kept learner and its observation statistics through a checkpoint folder", () => {
    const cfg = config({ selectEvery: 10 });
    const agent = new Maddpg(maddpgOptions(cfg));
    const dir = mkdtempSync(join(tmpdir(), "tt-select-"));
    const norm = new RunningNorm(24);
    norm.update(new Float32Array(48).map((_, i) => i));
    const first = new PolicySelector(cfg, scripted([0.9]));
    const kept = agent.getParameters();
    first.check(agent, norm, 10);
    const normAtCheck = norm.toJSON();
    first.save(dir);
    agent.setParameters(kept.map((x) => x * 0.5));
    norm.update(new Float32Array(48).fill(7));
    const second = new PolicySelector(cfg, scripted([0.2]));
    second.load(dir, agent.parameterCount);
    const final = second.finish(agent, norm, 20);
    expect(final.selection).to.deep.equal({ episode: 10, check_score: 0.9, check_episodes: 20, restored: true });
    expect(Array.from(agent.getParameters())).to.deep.equal(Array.from(kept));
    expect(final.norm?.toJSON()).to.deep.equal(normAtCheck);
    expect(final.norm?.toJSON()).to.not.deep.equal(norm.toJSON());
    agent.dispose();
  });

  it("leaves the training trajectory unchanged and reports the final policy's check", async () => {
    const runsDir = mkdtempSync(join(tmpdir(), "tt-select-run-"));
    const off = await train(config({ selectEvery: 0 }, runsDir), { quiet: true });
    const on = await train(config({ selectEvery: 4, selectEpisodes: 2 }, runsDir), { quiet: true });
    const scores = (dir: string) =>
      readFileSync(join(dir, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l)).filter((r) => "rollout/score" in r).map((r) => r["rollout/score"]);
    expect(scores(on.run_dir)).to.deep.equal(scores(off.run_dir));
    expect(on.env_steps).to.equal(off.env_steps);
    expect(off.selection).to.equal(null);
    expect(on.selection).to.not.equal(null);
    expect(on.selection!.check_score).to.be.a("number");
  });

  it("checks the policy after the step's updates, so a run that stops at a check ends with the checked policy", async () => {
    const runsDir = mkdtempSync(join(tmpdir(), "tt-select-last-"));
    const summary = await train(config({ selectEvery: 2, selectEpisodes: 2, episodes: 8, polishTarget: 0, evalEpisodes: 0 }, runsDir), { quiet: true });
    const dir = latestCheckpoint(summary.run_dir)!;
    const kept = JSON.parse(readFileSync(join(dir, "select.json"), "utf8"));
    // The last check kept (an untrained policy's checks tie, and ties go to the later policy).
    expect(kept.episode).to.equal(8);
    expect(summary.selection).to.include({ episode: 8, restored: false });
    const agent = new Maddpg(maddpgOptions(config({})));
    await agent.load(join(dir, "agent.pt"));
    const bytes = readFileSync(join(dir, "select.bin"));
    expect(Array.from(new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4))).to.deep.equal(Array.from(agent.getParameters()));
    agent.dispose();
  });

  it("polishes a solved run until a check reaches train.polishTarget, within polishEpisodes", async () => {
    const runsDir = mkdtempSync(join(tmpdir(), "tt-polish-"));
    // A target every run meets at its 5th episode; a polish target no check can reach.
    const solvedEarly = { window: 5, targetScore: -1, selectEvery: 2, selectEpisodes: 1, episodes: 100 };
    const polished = await train(config({ ...solvedEarly, polishTarget: 50, polishEpisodes: 6 }, runsDir), { quiet: true });
    expect(polished.episodes_to_solve).to.equal(5);
    expect(polished.episodes).to.equal(11);
    expect(polished.stopped).to.equal("solved");
    expect(polished.at_solve!.env_steps).to.be.lessThan(polished.env_steps);
    expect(polished.at_solve!.wall_s).to.be.at.most(polished.wall_s);
    expect(polished.polish).to.deep.equal({ target: 50, reached: false });
    // A polish target the first check after solving meets stops the run there.
    const reached = await train(config({ ...solvedEarly, polishTarget: 0.0001, polishEpisodes: 50, targetScore: -1 }, runsDir), { quiet: true });
    expect(reached.episodes).to.be.lessThan(5 + 50);
    expect(reached.selection!.check_score).to.be.at.least(0.0001);
    expect(reached.polish).to.deep.equal({ target: 0.0001, reached: true });
    const plain = await train(config({ ...solvedEarly, polishTarget: 0 }, runsDir), { quiet: true });
    expect(plain.episodes).to.equal(5);
    expect(plain.at_solve!.env_steps).to.equal(plain.env_steps);
    expect(plain.polish).to.equal(undefined);
    // Without policy checks there is nothing to wait for: the run stops at solving.
    expect((await train(config({ ...solvedEarly, selectEvery: 0 }, runsDir), { quiet: true })).episodes).to.equal(5);
  });

  it("checks and the final evaluation play on clean resets unless train.evalCleanReset is off", () => {
    expect(evalConfig(config({ selectEvery: 10 })).env.cleanReset).to.equal(true);
    expect(evalConfig(config({ selectEvery: 10, evalCleanReset: false })).env.cleanReset).to.equal(false);
  });
});
