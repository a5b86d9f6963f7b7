// Studies end to end on a cheap stand-in trainer (toy-runner.ts): median pruning stops a hopeless
// trial early, a crashed trial is recorded as failed, a study killed mid-way resumes and finishes with
// the same number of trials, and `runTune` leaves a table, a usable best config and a PNG.
import Database from "better-sqlite3";
import { expect } from "chai";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { PNG } from "pngjs";

import { packageRoot } from "../../binding/package.ts";
import { UsageError } from "../../src/apps/cli/common.ts";
import { runTune } from "../../src/apps/cli/tune.ts";
import { resolveConfig } from "../../src/lib/config/resolve.ts";
import { shouldPrune } from "../../src/apps/tune/pruner.ts";
import { bestTrialsTable, trialsCsv } from "../../src/apps/tune/report.ts";
import type { Sampler } from "../../src/apps/tune/samplers.ts";
import { parseSpace } from "../../src/apps/tune/space.ts";
import { withStore } from "../../src/apps/tune/store.ts";
import { defaultStorage, runStudy, StudyMismatchError, type StudyOptions } from "../../src/apps/tune/study.ts";

const here = dirname(fileURLToPath(import.meta.url));
const kToyRunner = join(here, "toy-runner.ts");

/** Hands out the given parameter sets in order (trials run one at a time). */
function scripted(sets: Record<string, unknown>[]): Sampler {
  let next = 0;
  return { name: "random", sample: () => sets[next++] };
}

const space = parseSpace({
  base: { train: { episodes: 400 } },
  params: {
    "agent.lrActor": { type: "loguniform", low: 1e-6, high: 1e-1 },
    "agent.batchNorm": { type: "categorical", choices: [false, true] },
  },
  pruner: { every: 50, startupTrials: 2, warmupEpisodes: 100 },
});

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("tune studies (stand-in trainer)", function () {
  this.timeout(60_000);
  const root = mkdtempSync(join(tmpdir(), "tennis-tune-"));
  after(() => rmSync(root, { recursive: true, force: true }));
  const base = (dir: string, overrides: Partial<StudyOptions> = {}): StudyOptions => ({
    dir: join(root, dir),
    space,
    trials: 3,
    parallel: 1,
    runner: kToyRunner,
    threadsPerTrial: 1,
    ...overrides,
  });

  it("prunes at a checkpoint a trial whose moving average is below the median of complete trials", () => {
    const input = { episode: 100, value: 0.01, othersAtStep: [0.2, 0.3], completeTrials: 2 };
    const settings = { every: 50, startupTrials: 2, warmupEpisodes: 100 };
    expect(shouldPrune(settings, input)).to.equal(true);
    expect(shouldPrune(settings, { ...input, value: 0.26 })).to.equal(false);
    expect(shouldPrune(settings, { ...input, completeTrials: 1 })).to.equal(false);
    expect(shouldPrune(settings, { ...input, episode: 50 })).to.equal(false);
    expect(shouldPrune({ ...settings, every: 0 }, input)).to.equal(false);
    expect(shouldPrune(settings, { ...input, othersAtStep: [] })).to.equal(false);
  });

  it("stops a hopeless trial early and records it as pruned", async () => {
    const good = { "agent.lrActor": 1e-3, "agent.batchNorm": false };
    const hopeless = { "agent.lrActor": 1e-5, "agent.batchNorm": false };
    const result = await runStudy(base("prune", { samplerOverride: scripted([good, { ...good, "agent.lrActor": 1.2e-3 }, hopeless]) }));
    expect(result.trials.map((t) => t.state)).to.deep.equal(["complete", "complete", "pruned"]);
    expect(result.trials[0].seeds[0]).to.include({ solved: true, episodesToSolve: 150, value: 150 });
    const pruned = result.trials[2];
    expect(pruned.reached).to.equal(100);
    // The budget is 400 episodes; it stopped right after the checkpoint at 100 (SIGTERM between episodes).
    expect(pruned.seeds[0].episodes).to.be.within(100, 110);
    expect(pruned.objective).to.equal(null);
    expect(result.best?.number).to.equal(0);
  });

  it("records a crashed trial as failed with the runner's last words, and carries on", async () => {
    const ok = { "agent.lrActor": 1e-3, "agent.batchNorm": false };
    const crash = { "agent.lrActor": 1e-3, "agent.batchNorm": true };
    const result = await runStudy(base("crash", { samplerOverride: scripted([ok, crash, ok]) }));
    expect(result.trials.map((t) => t.state)).to.deep.equal(["complete", "failed", "complete"]);
    expect(result.trials[1].error).to.equal("the run's process exited with code 3: toy trainer: simulated native crash");
    expect(result.trials[1].seeds[0]).to.include({ state: "failed", episodes: 3 });
  });

  it("resumes a study killed mid-way and finishes with the same number of trials", async () => {
    const dir = join(root, "killed");
    const trials = 6;
    const spec = { space: { base: { train: { episodes: 300 } }, params: { "agent.lrActor": { type: "loguniform", low: 1e-4, high: 1e-2 } } }, trials, parallel: 2, sampler: "random" };
    const child = spawn(process.execPath, ["--import", "tsx", join(here, "study-process.ts"), dir, JSON.stringify(spec)], {
      cwd: packageRoot,
      stdio: ["ignore", "pipe", "inherit"],
      env: { ...process.env, TOY_EPISODE_MS: "3" },
    });
    // Killed once two trials are finished and a later one's trainer has started.
    const finished = new Set<number>();
    const started = new Set<number>();
    let killing = false;
    let finishedAtKill = 0;
    const closed = new Promise((resolve) => child.on("close", resolve));
    const pidFile = (n: number) => join(dir, "trials", `trial-${String(n).padStart(4, "0")}__seed-0__try-1`, "toy.pid");
    createInterface({ input: child.stdout }).on("line", async (line) => {
      const done = /^trial (\d+) (complete|pruned|failed)/.exec(line);
      if (done) finished.add(Number(done[1]));
      const start = /^trial (\d+) started/.exec(line);
      if (start) started.add(Number(start[1]));
      const pending = [...started].filter((n) => !finished.has(n));
      if (killing || finished.size < 2 || pending.length === 0) return;
      killing = true;
      for (let i = 0; i < 100 && !existsSync(pidFile(pending[0])); i++) await new Promise((r) => setTimeout(r, 50));
      finishedAtKill = finished.size;
      child.kill("SIGKILL");
    });
    await closed;

    // What the killed study left: its finished trials, and at least one still marked running.
    const before = await withStore(defaultStorage(dir), "killed", {}, (store) => store.trials());
    const finishedBefore = before.filter((t) => ["complete", "pruned", "failed"].includes(t.state));
    const running = before.filter((t) => t.state === "running");
    expect(finishedBefore.length).to.be.at.least(2);
    expect(finishedBefore.length).to.be.at.most(finishedAtKill + 1);
    expect(running.length).to.be.at.least(1);

    // The orphaned trial processes stop by themselves once the study is gone (parent-guard.ts).
    const orphanPids = running.flatMap((t) => {
      const pidFile = join(dir, "trials", `trial-${String(t.number).padStart(4, "0")}__seed-0__try-1`, "toy.pid");
      return existsSync(pidFile) ? [Number(readFileSync(pidFile, "utf8"))] : [];
    });
    expect(orphanPids.length).to.be.at.least(1);
    for (let i = 0; i < 100 && orphanPids.some(processAlive); i++) await new Promise((r) => setTimeout(r, 50));
    expect(orphanPids.filter(processAlive)).to.deep.equal([]);

    const lines: string[] = [];
    const result = await runStudy({ ...base("killed"), space: parseSpace(spec.space), trials, parallel: 2, sampler: "random", log: (l) => lines.push(l) });
    expect(lines[0]).to.match(new RegExp(`^Resuming the study in .*: ${finishedBefore.length} of ${trials} trials finished; trials? ${running.map((t) => t.number).join(", ")} interrupted last time will run again$`));
    expect(result.interrupted).to.equal(false);
    expect(result.resumedFrom).to.equal(finishedBefore.length);
    expect(result.trials.map((t) => t.number)).to.deep.equal([0, 1, 2, 3, 4, 5]);
    expect(result.trials.every((t) => ["complete", "pruned", "failed"].includes(t.state))).to.equal(true);
    for (const t of finishedBefore) expect(result.trials[t.number]).to.deep.equal(t);
    for (const t of running) {
      expect(result.trials[t.number].attempts).to.equal(2);
      expect(result.trials[t.number].params).to.deep.equal(t.params);
    }
  });

  it("stops on its signal, puts the running trial back in the queue, and resumes it", async () => {
    const stop = new AbortController();
    const ok = { "agent.lrActor": 1e-3, "agent.batchNorm": false };
    const noPruning = { ...space, pruner: { ...space.pruner, every: 0 } };
    const options = base("stopped", { space: noPruning, trials: 3, samplerOverride: scripted([ok, { ...ok, "agent.lrActor": 2e-3 }, { ...ok, "agent.lrActor": 5e-4 }]) });
    const first = await runStudy({ ...options, signal: stop.signal, log: (line) => line.startsWith("trial 1 started") && setTimeout(() => stop.abort(), 200) });
    expect(first.interrupted).to.equal(true);
    expect(first.trials.map((t) => [t.number, t.state])).to.deep.equal([[0, "complete"], [1, "waiting"]]);
    const second = await runStudy(options);
    expect(second.interrupted).to.equal(false);
    expect(second.trials.map((t) => [t.state, t.attempts])).to.deep.equal([["complete", 1], ["complete", 2], ["complete", 1]]);
    expect(second.trials[1].params["agent.lrActor"]).to.equal(2e-3);
  });

  it("refuses to resume with other settings", async () => {
    const options = base("prune", { samplerOverride: scripted([]) });
    let error: unknown;
    try {
      await runStudy({ ...options, seeds: [0, 1], objective: "wall" });
    } catch (err) {
      error = err;
    }
    expect(error).to.be.instanceOf(StudyMismatchError);
    expect((error as StudyMismatchError).problems).to.deep.equal(["--objective: the study uses episodes, not wall", "--seeds: the study uses 0, not 0,1"]);
  });

  it("runTune prints the best trials, writes a best config usable with --config and an objective PNG", async () => {
    const spaceFile = join(root, "small.json");
    writeFileSync(spaceFile, JSON.stringify({
      base: { train: { episodes: 300 }, agent: { gamma: 0.98 } },
      params: { "agent.lrActor": { type: "loguniform", low: 1e-4, high: 1e-2 }, "agent.tau": { type: "uniform", low: 0.005, high: 0.05 } },
    }));
    const lines: string[] = [];
    const result = await runTune({ space: spaceFile, trials: 4, parallel: 2, seeds: "0,1", sampler: "random", study: join(root, "cli"), runner: kToyRunner, threadsPerTrial: 1, print: (l) => lines.push(l) });
    expect(result.trials).to.equal(4);
    expect(result.complete + result.pruned + result.failed).to.equal(4);
    expect(result.best).to.not.equal(null);
    expect(result.best!.seeds.length).to.equal(2);
    const table = lines.join("\n");
    expect(table).to.contain("Best trials (objective: episodes to solve, lower is better;");
    expect(table).to.match(new RegExp(`\\n1 +${result.best!.trial} +${result.best!.objective.toFixed(1)} `));
    // One line per finished trial, with the study's count so far.
    const finishedLines = lines.filter((l) => /^trial \d+ (complete|pruned|failed) \[\d\/4\]/.test(l));
    expect(finishedLines.map((l) => l.match(/\[(\d)\/4\]/)![1]).sort()).to.deep.equal(["1", "2", "3", "4"]);

    const csv = readFileSync(result.csv, "utf8").trim().split("\n");
    expect(csv[0]).to.equal("trial,state,objective,objective_is_penalty,seeds,solved_seeds,episodes_to_solve,attempts,reached,started_at,ended_at,error,agent.lrActor,agent.tau");
    expect(csv.length).to.equal(5);
    const bestRow = csv.find((row) => row.startsWith(`${result.best!.trial},`))!.split(",");
    expect(bestRow.slice(1, 5)).to.deep.equal(["complete", String(result.best!.objective), "false", "0;1"]);
    expect(Number(bestRow[12])).to.equal(result.best!.params["agent.lrActor"]);
    const exported = JSON.parse(readFileSync(result.studyJson, "utf8"));
    expect(exported.trials.length).to.equal(4);
    expect(exported.best).to.deep.include({ trial: result.best!.trial, objective: result.best!.objective, penalty: false });
    expect(exported.settings.seeds).to.deep.equal([0, 1]);

    const best = JSON.parse(readFileSync(result.bestConfig!, "utf8"));
    const config = resolveConfig({ file: result.bestConfig! });
    expect(config.agent.lrActor).to.equal(result.best!.params["agent.lrActor"]);
    expect(config.agent.tau).to.equal(result.best!.params["agent.tau"]);
    expect(config.agent.gamma).to.equal(0.98);
    expect(config.train.episodes).to.equal(300);
    expect(best).to.not.have.property("seed");
    expect(best).to.not.have.property("threads");

    // objective.png is objective.svg rendered: labelled axes and a legend (test/log/plot.test.ts checks the chart).
    expect(PNG.sync.read(readFileSync(result.plot)).width).to.be.greaterThan(800);
    const svg = readFileSync(result.plot.replace(/\.png$/, ".svg"), "utf8");
    expect(svg).to.contain(">Trial</text>").and.contain(">Episodes to solve (unsolved: penalty)</text>").and.contain(">best so far</text>");
    expect(svg).to.contain(`>${result.complete} complete of 4 trials; lower is better</text>`);
  });

  it("shows an unsolved trial's objective as a penalty, in the table, the line and the CSV", async () => {
    const solved = { "agent.lrActor": 1e-3, "agent.batchNorm": false };
    const unsolved = { "agent.lrActor": 3e-5, "agent.batchNorm": false };
    const noPruning = { ...space, pruner: { ...space.pruner, every: 0 } };
    const lines: string[] = [];
    const result = await runStudy(base("penalty", { space: noPruning, trials: 2, samplerOverride: scripted([solved, unsolved]), log: (l) => lines.push(l) }));
    expect(lines.find((l) => l.startsWith("trial 0 complete"))).to.equal("trial 0 complete [1/2]: episodes to solve 150.0 (seed 0: solved at 150)");
    expect(lines.find((l) => l.startsWith("trial 1 complete"))).to.match(/^trial 1 complete \[2\/2\]: penalty \d+\.\d \(seed 0: unsolved, best avg 0\.\d{3}\)$/);
    const table = bestTrialsTable(result.trials, result.settings).split("\n");
    expect(table[1]).to.match(/^rank +trial +objective +per seed +parameters$/);
    expect(table[2]).to.match(/^1 +0 +150\.0 +0:solved@150 /);
    expect(table[3]).to.match(new RegExp(`^2 +1 +penalty ${result.trials[1].objective!.toFixed(1)} +0:avg 0\\.\\d{3} `));
    const csv = trialsCsv(result.trials, result.settings).trim().split("\n");
    expect(csv[2].split(",").slice(0, 4)).to.deep.equal(["1", "complete", String(result.trials[1].objective), "true"]);
  });

  it("runTune names a bad --storage and bad worker timings; a study file of the old layout is refused by name", async () => {
    let error: unknown;
    try {
      await runTune({ space: "x.json", trials: 1, storage: "mysql://db/x", heartbeat: 5, grace: 5, retries: 0.5 });
    } catch (err) {
      error = err;
    }
    expect(error).to.be.instanceOf(UsageError);
    expect((error as Error).message).to.equal([
      'Expected sqlite:PATH or postgresql://USER@HOST[:PORT]/DATABASE for --storage but received "mysql://db/x"',
      "Expected integer >= 0 for --retries but received 0.5",
      "Expected --grace (5 s) longer than --heartbeat (5 s): a live worker would lose its trials",
    ].join("\n"));

    const legacy = join(root, "legacy", "study.sqlite");
    mkdirSync(dirname(legacy), { recursive: true });
    const db = new Database(legacy);
    db.exec("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)");
    db.close();
    let refused: unknown;
    try {
      await runStudy(base("legacy"));
    } catch (err) {
      refused = err;
    }
    expect((refused as Error).message).to.equal(`sqlite:${legacy} holds a study of an older tennis-train (tables meta and trials), which this version does not read: start a new --study folder`);
  });

  it("runTune names bad command options", async () => {
    let error: unknown;
    try {
      await runTune({ space: "x.json", trials: 0, parallel: 2, objective: "episode", sampler: "bayes", seeds: "0,a" });
    } catch (err) {
      error = err;
    }
    expect(error).to.be.instanceOf(UsageError);
    expect((error as Error).message).to.equal([
      'Expected comma-separated integers between 0 and 4294967295 for --seeds but received "0,a"',
      "Expected integer >= 1 for --trials but received 0",
      'Expected one of episodes, wall for --objective but received "episode" (did you mean episodes?)',
      'Expected one of tpe, random for --sampler but received "bayes"',
    ].join("\n"));
  });
});
