// Matches and leagues on the competitive Tennis (src/lib/compete/match.ts, league.ts): side columns
// gathered per env, determinism per seed, side swapping, the scripted controller against random
// play, the league's rating fit and a league of two tiny trained checkpoints.
import { expect } from "chai";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { fitRatings, leagueSpecs, playLeague } from "../../src/lib/compete/league.ts";
import { PlayerSpecError, gatherSides, parsePlayerSpec, playMatch, runMatch, type Player } from "../../src/lib/compete/match.ts";
import { resolveConfig } from "../../src/lib/config/resolve.ts";
import { train } from "../../src/lib/trainer/train.ts";

const scripted = parsePlayerSpec("scripted");
const random = parsePlayerSpec("random");

/** A tiny trained run (a few episodes, small networks, a checkpoint every episode) under runsDir. */
export async function tinyRun(runsDir: string, seed: number): Promise<string> {
  const config = resolveConfig({
    fileObject: {
      seed,
      threads: 1,
      train: { episodes: 3, warmupSteps: 60, batchSize: 32, checkpointEvery: 1, selectEvery: 0, evalEpisodes: 0 },
      buffer: { capacity: 5000 },
      agent: { hidden: [16, 16] },
      log: { runsDir, tensorboard: false, progress: false },
    },
  });
  return (await train(config, { quiet: true })).run_dir;
}

describe("compete/match", function () {
  this.timeout(300_000);

  it("gatherSides takes A's pair on A's side and B's on the other, per env", () => {
    const a = Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8]);
    const b = Float32Array.from([-1, -2, -3, -4, -5, -6, -7, -8]);
    const out = gatherSides(a, b, Uint8Array.from([0, 1]), new Float32Array(8));
    expect(Array.from(out)).to.deep.equal([1, 2, -3, -4, -5, -6, 7, 8]);
  });

  it("a SPEC names scripted, rally, random or a checkpoint; anything else is a PlayerSpecError", () => {
    expect(scripted).to.deep.equal({ kind: "scripted", label: "scripted" });
    expect(random).to.deep.equal({ kind: "random", label: "random" });
    expect(parsePlayerSpec("rally")).to.deep.equal({ kind: "rally", label: "rally" });
    const missing = join(tmpdir(), "tt-no-such-run");
    expect(() => parsePlayerSpec(missing, "--a")).to.throw(
      PlayerSpecError,
      `No player at ${missing} for --a: no such file or directory (a SPEC is a run directory, a checkpoint folder, first:<self-play run or checkpoint>, scripted, rally or random)`,
    );
    const empty = mkdtempSync(join(tmpdir(), "tt-empty-"));
    expect(() => parsePlayerSpec(empty, "--b")).to.throw(PlayerSpecError, `No player at ${empty} for --b: it holds no complete checkpoint`);
    expect(() => parsePlayerSpec("", "--a")).to.throw(PlayerSpecError, 'Expected a run directory, a checkpoint folder, first:<self-play run or checkpoint>, scripted, rally or random for --a but received ""');
  });

  it("first: names a self-play run's first snapshot, and nothing else", () => {
    expect(() => parsePlayerSpec("first:random", "--a")).to.throw(PlayerSpecError, "first:random for --a: only a self-play run or checkpoint has a first snapshot");
    const missing = join(tmpdir(), "tt-no-such-run");
    expect(() => parsePlayerSpec(`first:${missing}`, "--a")).to.throw(PlayerSpecError, `No player at ${missing} for --a`);
  });

  it("is deterministic per seed and depends on it", async () => {
    const first = await playMatch({ a: scripted, b: random, episodes: 40, seed: 3, envs: 8 });
    const again = await playMatch({ a: scripted, b: random, episodes: 40, seed: 3, envs: 8 });
    expect(again).to.deep.equal(first);
    const other = await playMatch({ a: random, b: random, episodes: 40, seed: 4, envs: 8 });
    const otherAgain = await playMatch({ a: random, b: random, episodes: 40, seed: 5, envs: 8 });
    expect(other.outcomes).to.not.equal(otherAgain.outcomes);
    expect(first.outcomes).to.have.length(40);
    expect(first.wins + first.losses + first.draws).to.equal(40);
    expect(first.by_side[0].wins + first.by_side[0].losses + first.by_side[0].draws).to.equal(20);
  });

  it("the scripted controller beats random play on both sides, as A and as B", async () => {
    const asA = await playMatch({ a: scripted, b: random, episodes: 100, seed: 0 });
    const asB = await playMatch({ a: random, b: scripted, episodes: 100, seed: 0 });
    // If A's actions did not reach side 1 in odd episodes, A's odd-episode record would be random's.
    for (const side of [0, 1]) {
      expect(asA.by_side[side].wins, `scripted as A on side ${side}`).to.be.at.least(45);
      expect(asB.by_side[side].losses, `scripted as B, A on side ${side}`).to.be.at.least(45);
    }
    expect(asA.score).to.be.at.least(0.9);
    expect(Math.abs(asA.score - (1 - asB.score))).to.be.at.most(0.1);
    expect(asA.elo_low).to.be.greaterThan(300);
    expect(asA.mean_rally_steps).to.be.a("number");
  });

  it("a player on side 1 controls side 1", () => {
    // A runs its rackets to the net (action +1 on every row), B stands still. Two envs, two episodes:
    // env 0 plays episode 0 (A on side 0), env 1 episode 1 (A on side 1). Observation slot 16 is the
    // newest frame's m * racket x: the net line is -1 in each racket's frame, the start -6 to -8.
    const racketX: number[][] = [];
    const runner: Player = {
      label: "runner",
      act: (env, obs) => {
        racketX.push([0, 1, 2, 3].map((row) => obs[row * 24 + 16]));
        return new Float32Array(env.numEnvs * 4).fill(1);
      },
      dispose: () => {},
    };
    const still: Player = { label: "still", act: (env) => new Float32Array(env.numEnvs * 4), dispose: () => {} };
    runMatch(runner, still, { episodes: 2, seed: 0, envs: 2 });
    const [env0agent0, env0agent1, env1agent0, env1agent1] = racketX[3];
    expect(env0agent0).to.be.greaterThan(-2);
    expect(env0agent1).to.be.lessThan(-5);
    expect(env1agent0).to.be.lessThan(-5);
    expect(env1agent1).to.be.greaterThan(-2);
  });

  it("fits Bradley-Terry ratings: two players, and a transitive three", () => {
    // A beat B 30 to 10: with one virtual draw, 30.5 of 41 points: Elo 400 log10(30.5 / 10.5) = 185.25.
    const two = fitRatings({ points: [[0, 30], [10, 0]], games: [[0, 40], [40, 0]] }, 1);
    expect(two.rating[1]).to.equal(0);
    expect(two.rating[0]).to.be.closeTo(400 * Math.log10(30.5 / 10.5), 1e-6);
    // Wald interval: SE of theta = 1 / sqrt(n p (1 - p)) with n = 41, p = 30.5 / 41.
    const p = 30.5 / 41;
    const half = (1.959963984540054 / Math.sqrt(41 * p * (1 - p))) * (400 / Math.LN10);
    expect(two.high[0] - two.rating[0]).to.be.closeTo(half, 1e-6);
    const three = fitRatings(
      { points: [[0, 15, 18], [5, 0, 14], [2, 6, 0]], games: [[0, 20, 20], [20, 0, 20], [20, 20, 0]] },
      null,
    );
    expect(three.rating[0]).to.be.greaterThan(three.rating[1]);
    expect(three.rating[1]).to.be.greaterThan(three.rating[2]);
    expect(three.rating.reduce((a, r) => a + r, 0)).to.be.closeTo(0, 1e-9);
  });

  it("a league of two tiny runs' checkpoints and the anchors writes ratings as Markdown and JSON", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tt-league-"));
    const runs = [await tinyRun(join(dir, "runs"), 0), await tinyRun(join(dir, "runs"), 1)];
    expect(() => leagueSpecs([runs[0]], "latest", [])).to.throw(PlayerSpecError, "A league needs at least 2 players, got 1");
    expect(leagueSpecs(runs, "all", []).length).to.be.greaterThan(2);
    const league = await playLeague({ runs, anchors: ["scripted", "random"], episodes: 12, seed: 0 });
    expect(league.players.map((p) => p.label)).to.include.members(["scripted", "random"]);
    expect(league.players).to.have.length(4);
    expect(league.pairings).to.have.length(6);
    const byLabel = new Map(league.players.map((p) => [p.label, p]));
    expect(byLabel.get("random")!.rating).to.equal(0);
    expect(byLabel.get("scripted")!.rating).to.be.greaterThan(0);
    for (const p of league.players) {
      expect(p.games).to.equal(36);
      expect(p.rating_low).to.be.at.most(p.rating);
      expect(p.rating_high).to.be.at.least(p.rating);
    }
    const again = await playLeague({ runs, anchors: ["scripted", "random"], episodes: 12, seed: 0 });
    expect(again).to.deep.equal(league);
    const { writeLeague } = await import("../../src/lib/compete/league.ts");
    const files = writeLeague(league, join(dir, "out"));
    expect(existsSync(files.markdown)).to.equal(true);
    expect(readFileSync(files.markdown, "utf8")).to.match(/\| 1 \| \S+ \| [+-]?\d+ \|/);
    expect(JSON.parse(readFileSync(files.json, "utf8")).players).to.have.length(4);
  });
});
