// Self-play training on tiny budgets: the Elo series, checks and checkpoints it writes, the same run
// for the same seed, the hit bonus, and the CLI's competitive run.
import { expect } from "chai";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { addHitBonus, checkScore, cutLongPoints, kFirstSnapshotFile, kPoolFile, kScriptedId, type SelfPlayCheck, type SelfPlaySummary } from "../../src/lib/compete/self-play.ts";
import { parsePlayerSpec, playMatch } from "../../src/lib/compete/match.ts";
import { resolveConfig } from "../../src/lib/config/resolve.ts";
import { latestCheckpoint } from "../../src/lib/trainer/checkpoint.ts";
import { evalCheckpoint } from "../../src/lib/trainer/evaluate.ts";
import { train } from "../../src/lib/trainer/train.ts";

const packageRoot = join(import.meta.dirname, "..", "..");

/** Runs the CLI as a user does (bin/tennis-train.js). */
function runCli(args: string[]) {
  const result = spawnSync(process.execPath, [join(packageRoot, "bin", "tennis-train.js"), ...args], { cwd: packageRoot, encoding: "utf8", timeout: 170_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** A small, fast competitive config: tiny nets, short warm-up, snapshots and swaps every few points. */
function tinyConfig(runsDir: string, episodes: number, selfPlay: Record<string, unknown> = {}) {
  return resolveConfig({
    fileObject: {
      threads: 1,
      env: { mode: "competitive" },
      train: { episodes, warmupSteps: 60, batchSize: 32, checkpointEvery: 10, evalEpisodes: 4 },
      buffer: { capacity: 5000 },
      agent: { hidden: [32, 32] },
      selfPlay: { saveSteps: 60, swapSteps: 30, checkEvery: 10, checkPoints: 4, ...selfPlay },
      log: { runsDir, tensorboard: false, progress: false },
    },
  });
}

function metricsOf(runDir: string): Record<string, number>[] {
  return readFileSync(join(runDir, "metrics.jsonl"), "utf8").trim().split("\n").map((line) => JSON.parse(line));
}

describe("self-play training", function () {
  this.timeout(180_000);
  const runsDir = mkdtempSync(join(tmpdir(), "tt-self-play-"));

  it("writes the Elo series, the checks, checkpoints with the pool, and a self-play summary", async () => {
    const summary = (await train(tinyConfig(runsDir, 30), { quiet: true })) as SelfPlaySummary;
    const dir = summary.run_dir;
    expect(summary).to.include({ solved: false, episodes: 30, stopped: "episodes" });
    const rows = metricsOf(dir);
    expect(rows.map((r) => r.step)).to.deep.equal(Array.from({ length: 30 }, (_, i) => i + 1));
    const rated = rows.filter((r) => "selfplay/elo" in r);
    expect(rated.length).to.be.greaterThan(20);
    for (const r of rated) {
      expect(r["selfplay/result"]).to.be.oneOf([-1, 0, 1]);
      if ("selfplay/win_rate100" in r) expect(r["selfplay/win_rate100"]).to.be.within(0, 1);
      expect(r["selfplay/pool_size"]).to.be.within(1, 10);
      expect(r["selfplay/opponent"]).to.be.at.least(kScriptedId);
    }
    // The rating moves by at most K = 16 per point against the pool, up on a win, down on a loss.
    let before = 1200;
    for (const r of rated.filter((row) => row["selfplay/opponent"] !== kScriptedId)) {
      const change = r["selfplay/elo"] - before;
      expect(Math.abs(change)).to.be.at.most(16);
      if (r["selfplay/result"] !== 0) expect(Math.sign(change)).to.equal(r["selfplay/result"]);
      before = r["selfplay/elo"];
    }
    expect(summary.self_play.elo).to.be.closeTo(before, 1e-3);
    expect(rows.filter((r) => "eval/win_rate_vs_random" in r).map((r) => r.step)).to.deep.equal([10, 20, 30]);
    expect(summary.self_play.checks.map((c) => c.episode)).to.deep.equal([10, 20, 30]);
    expect(summary.self_play.final_check?.vs_random.points).to.equal(4);
    expect(summary.self_play.snapshots).to.be.greaterThan(1);
    expect(summary.self_play.pool[0]).to.deep.include({ id: 0, rating: 1200 });
    const latest = latestCheckpoint(dir)!;
    expect(latest).to.not.equal(null);
    for (const file of ["agent.pt", kPoolFile, kFirstSnapshotFile, "trainer.json", "manifest.json"]) expect(existsSync(join(latest, file)), file).to.equal(true);
    expect(readdirSync(join(dir, "checkpoints")).filter((d) => d.startsWith("ep"))).to.include.members(["ep0000020", "ep0000030"]);
    expect(JSON.parse(readFileSync(join(dir, "summary.json"), "utf8")).self_play.snapshots).to.equal(summary.self_play.snapshots);
    // first:RUN plays the first snapshot: the parameters and statistics the checkpoint keeps for it.
    const firstSpec = parsePlayerSpec(`first:${dir}`);
    expect(firstSpec).to.deep.include({ kind: "checkpoint", checkpoint: latest, first: true });
    const vsFirst = await playMatch({ a: firstSpec, b: parsePlayerSpec("random"), episodes: 4, seed: 1 });
    expect(vsFirst.a).to.match(/ first snapshot$/);
    expect(vsFirst.wins + vsFirst.losses + vsFirst.draws).to.equal(4);
    // The checkpoint is one that eval reads as it reads any run's.
    const greedy = await evalCheckpoint(tinyConfig(runsDir, 30), latest, 2, 0);
    expect(greedy.scores).to.have.length(2);
  });

  it("plays the scripted controller in a share of the points, which leave the Elo as it is, and checks against it", async () => {
    const config = tinyConfig(runsDir, 30, { scriptedRatio: 0.5 });
    const summary = (await train({ ...config, env: { ...config.env, cleanReset: true }, train: { ...config.train, maxSteps: 20 } }, { quiet: true })) as SelfPlaySummary;
    // train.maxSteps: no point is longer; the ones cut there are draws.
    const steps = metricsOf(summary.run_dir).map((r) => r["rollout/episode_steps"]);
    expect(Math.max(...steps)).to.equal(20);
    for (const r of metricsOf(summary.run_dir)) if (r["rollout/episode_steps"] === 20 && "selfplay/result" in r) expect(r["selfplay/result"]).to.equal(0);
    const rows = metricsOf(summary.run_dir).filter((r) => "selfplay/opponent" in r);
    const scripted = rows.filter((r) => r["selfplay/opponent"] === kScriptedId);
    expect(scripted.length).to.be.greaterThan(0);
    expect(rows.length - scripted.length).to.be.greaterThan(0);
    let before = 1200;
    for (const r of rows) {
      if (r["selfplay/opponent"] === kScriptedId) {
        expect(r["selfplay/elo"]).to.equal(before);
        expect(r).to.not.have.property("selfplay/opponent_elo");
      }
      before = r["selfplay/elo"];
    }
    for (const check of [...summary.self_play.checks, summary.self_play.final_check!]) expect(check.vs_scripted.points).to.equal(4);
    expect(metricsOf(summary.run_dir).filter((r) => "eval/win_rate_vs_scripted" in r).map((r) => r.step)).to.deep.equal([10, 20, 30]);
  });

  it("ends with the best-checked policy when it beat the last one (selfPlay.keepBest), in a -selected checkpoint", async () => {
    const summary = (await train(tinyConfig(runsDir, 30), { quiet: true })) as SelfPlaySummary;
    const { checks, final_check: final, last_check: last } = summary.self_play;
    const selection = summary.selection!;
    const bestChecked = Math.max(...checks.map(checkScore));
    const lastScore = checkScore(last!);
    expect(selection.restored).to.equal(bestChecked > lastScore);
    if (selection.restored) {
      expect(selection.check_score).to.equal(bestChecked);
      expect(checks.find((c) => c.episode === selection.episode && checkScore(c) === bestChecked)).to.not.equal(undefined);
      expect(latestCheckpoint(summary.run_dir)!).to.match(/ep0000030-selected$/);
    } else {
      expect(selection).to.deep.include({ episode: 30, check_score: lastScore, restored: false });
      expect(latestCheckpoint(summary.run_dir)!).to.match(/ep0000030$/);
      expect(final).to.deep.equal(last);
    }
    const off = (await train(tinyConfig(runsDir, 30, { keepBest: false }), { quiet: true })) as SelfPlaySummary;
    expect(off.selection!.restored).to.equal(false);
    expect(latestCheckpoint(off.run_dir)!).to.match(/ep0000030$/);
  });

  it("cuts the points that reach maxSteps steps, and counts the steps of every point from its start", () => {
    const pointSteps = Int32Array.of(2, 0, 4);
    const out = new Float32Array(6);
    // Env 0 reaches 3 steps, env 1 ends by itself, env 2 was past the limit and ends by itself as well.
    expect(cutLongPoints(pointSteps, Float32Array.of(0, 0, 1, 1, 1, 1), 3, out)).to.equal(true);
    expect(Array.from(out)).to.deep.equal([1, 1, 1, 1, 1, 1]);
    expect(Array.from(pointSteps)).to.deep.equal([0, 0, 0]);
    expect(cutLongPoints(pointSteps, new Float32Array(6), 3, out)).to.equal(false);
    expect(Array.from(out)).to.deep.equal([0, 0, 0, 0, 0, 0]);
    expect(Array.from(pointSteps)).to.deep.equal([1, 1, 1]);
  });

  it("ranks checks by the mean score (draws count half) against random play and the scripted controller", () => {
    const points = (wins: number, draws: number) => ({ points: 100, wins, losses: 100 - wins - draws, draws, winRate: wins / 100 });
    const check: SelfPlayCheck = { episode: 5, vs_random: points(90, 0), vs_first: points(10, 0), vs_scripted: points(20, 40) };
    expect(checkScore(check)).to.be.closeTo((0.9 + 0.4) / 2, 1e-12);
  });

  it("trains the same run twice for the same seed", async () => {
    const [a, b] = [await train(tinyConfig(runsDir, 20), { quiet: true }), await train(tinyConfig(runsDir, 20), { quiet: true })];
    expect(metricsOf(a.run_dir)).to.deep.equal(metricsOf(b.run_dir));
    expect((a as SelfPlaySummary).self_play.elo).to.equal((b as SelfPlaySummary).self_play.elo);
  });

  it("starts the actors afresh after train.stallEpisodes points without a ball sent over by the learner", async () => {
    const config = tinyConfig(runsDir, 30);
    const summary = await train({ ...config, train: { ...config.train, stallEpisodes: 3 }, selfPlay: { ...config.selfPlay, checkEvery: 0 } }, { quiet: true });
    expect(summary.diagnostics.actor_resets).to.be.greaterThan(0);
    const none = await train({ ...config, train: { ...config.train, stallEpisodes: 0 }, selfPlay: { ...config.selfPlay, checkEvery: 0 } }, { quiet: true });
    expect(none.diagnostics.actor_resets).to.equal(0);
  });

  it("adds the hit bonus to the racket whose ball crossed the net and takes it from the other, not on a point's last step", () => {
    const obs = new Float32Array(2 * 48);
    const next = new Float32Array(2 * 48);
    const ballX = (rows: Float32Array, row: number, x: number) => (rows[row * 24 + 20] = x);
    ballX(obs, 0, -0.3); ballX(next, 0, 0.2); // env 0, agent 0: sent it over
    ballX(obs, 1, 0.3); ballX(next, 1, -0.2); // env 0, agent 1: it came to its side
    ballX(obs, 2, -0.3); ballX(next, 2, 0.2); // env 1 ends its point this step
    const rewards = Float32Array.of(0, 0, 1, -1);
    const out = addHitBonus(obs, next, rewards, Float32Array.of(0, 0, 1, 1), 0.1, new Float32Array(4));
    expect(Array.from(out)).to.deep.equal([Math.fround(0.1), Math.fround(-0.1), 1, -1]);
  });

  it("`tennis-train --mode competitive` prints the self-play lines; --resume of such a run is refused", () => {
    const args = ["--mode", "competitive", "--episodes", "20", "--runs-dir", runsDir, "--name", "cli", "--log-every", "10", "--threads", "1",
      "--hidden", "32", "32", "--warmup-steps", "60", "--batch-size", "32", "--self-play-check-every", "10", "--self-play-check-points", "4", "--eval-episodes", "4"];
    const { code, stdout, stderr } = runCli(args);
    expect(code, stderr).to.equal(0);
    expect(stdout).to.match(
      /Point 10 \| Elo \d+ \| (won \d+% of the last \d+ vs the pool|no point vs the pool yet) \| opponent (itself \(\d+\)|snapshot \d+ \(\d+\)|scripted) \| pool \d+ \| Steps \d+ \| Updates \d+ \| \d+ steps\/s/,
    );
    expect(stdout).to.match(/Check after point 10: vs random \d+\/4 won \(\d+ lost, \d+ drawn\), vs first snapshot \d+\/4 won \(\d+ lost, \d+ drawn\), vs scripted \d+\/4 won/);
    expect(stdout).to.match(/Self-play: 20 points in \d+ s \(\d+ env steps, \d+ updates\); Elo \d+ \(first snapshot 1200\), \d+ snapshots\./);
    expect(stdout).to.not.contain("solved");
    const [run] = readdirSync(runsDir).filter((d) => d.startsWith("tennis__cli__"));
    const resumed = runCli(["--resume", join(runsDir, run)]);
    expect(resumed.code).to.equal(1);
    expect(resumed.stderr).to.contain("self-play runs cannot be resumed");
  });
});
