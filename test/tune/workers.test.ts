// Several worker processes on one study (study-process.ts over the stand-in trainer): two on one SQLite
// file, and three on a PostgreSQL server started for the test, one of them SIGKILLed mid-trial and the
// database restarted mid-study. The study ends at its budget with each trial number once, every result a
// worker printed present, and the killed worker's trial taken over after its heartbeats stop. Also the
// seed sweep and `tune --status`.
import { expect } from "chai";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

import { packageRoot } from "../../binding/package.ts";
import { runTune, runTuneStatus } from "../../src/apps/cli/tune.ts";
import { StudyStore, withStore, type TrialRow } from "../../src/apps/tune/store.ts";
import { postgresUnavailable, startPostgres, type PostgresServer } from "./postgres-server.ts";

const here = dirname(fileURLToPath(import.meta.url));

interface WorkerProcess {
  child: ChildProcess;
  lines: string[];
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>;
}

function startWorker(dir: string, overrides: Record<string, unknown>, onLine: (line: string) => void = () => undefined): WorkerProcess {
  const child = spawn(process.execPath, ["--import", "tsx", join(here, "study-process.ts"), dir, JSON.stringify(overrides)], {
    cwd: packageRoot,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, TOY_EPISODE_MS: "4" },
  });
  const lines: string[] = [];
  createInterface({ input: child.stdout! }).on("line", (line) => {
    lines.push(line);
    onLine(line);
  });
  child.stderr!.on("data", (chunk: Buffer) => lines.push(`stderr: ${chunk.toString("utf8").trim()}`));
  const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  return { child, lines, exited };
}

/** The study settings every worker of a test passes (the same, as real workers would). */
function workerSpec(storage: string, trials: number): Record<string, unknown> {
  return {
    space: { base: { train: { episodes: 300 } }, params: { "agent.lrActor": { type: "loguniform", low: 3e-4, high: 3e-3 } }, pruner: { every: 50, startupTrials: 2, warmupEpisodes: 100 } },
    trials,
    parallel: 1,
    sampler: "random",
    storage,
    name: "shared",
    heartbeatS: 0.5,
    graceS: 4,
    retries: 1,
    retryWindowMs: 60_000,
  };
}

const kFinishedLine = /^trial (\d+) (complete|pruned|failed) \[\d+\/\d+\]/;
const kCompleteLine = /^trial (\d+) complete \[\d+\/\d+\]: (?:episodes to solve|penalty) (\d+\.\d)/;

/** Budget reached with each number once, all finished, and every result a worker printed is in the study. */
function expectCompleteStudy(trials: TrialRow[], budget: number, lines: readonly string[]): void {
  expect(trials.map((t) => t.number)).to.deep.equal(Array.from({ length: budget }, (_, i) => i));
  expect(trials.filter((t) => !["complete", "pruned", "failed"].includes(t.state))).to.deep.equal([]);
  const printed = lines.flatMap((line) => {
    const m = kCompleteLine.exec(line);
    return m ? [[Number(m[1]), m[2]] as const] : [];
  });
  expect(printed.length).to.equal(trials.filter((t) => t.state === "complete").length);
  for (const [number, objective] of printed) {
    expect(trials[number].state, `trial ${number}`).to.equal("complete");
    expect(trials[number].objective!.toFixed(1), `trial ${number}`).to.equal(objective);
  }
  // No trial finished twice (by two workers).
  const finished = lines.flatMap((line) => kFinishedLine.exec(line)?.[1] ?? []);
  expect(new Set(finished).size).to.equal(finished.length);
}

async function waitFor(condition: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const trialPidFile = (dir: string, n: number) => join(dir, "trials", `trial-${String(n).padStart(4, "0")}__seed-0__try-1`, "toy.pid");

describe("tune workers sharing a study", function () {
  this.timeout(180_000);
  const root = mkdtempSync(join(tmpdir(), "tennis-workers-"));
  after(() => rmSync(root, { recursive: true, force: true }));

  it("two workers on one SQLite file finish the budget together, each trial once", async () => {
    const storage = `sqlite:${join(root, "one.sqlite")}`;
    const dirs = [join(root, "a", "shared"), join(root, "b", "shared")];
    const workers = dirs.map((dir) => startWorker(dir, workerSpec(storage, 6)));
    const codes = await Promise.all(workers.map((w) => w.exited));
    const lines = workers.flatMap((w) => w.lines);
    expect(codes, lines.join("\n")).to.deep.equal([0, 0]);
    const trials = await withStore(storage, "shared", {}, (store) => store.trials());
    expectCompleteStudy(trials, 6, lines);
    for (const w of workers) expect(w.lines.filter((l) => /^trial \d+ started/.test(l)).length, w.lines.join("\n")).to.be.at.least(1);
    expect(trials.every((t) => t.attempts === 1)).to.equal(true);

    const printed: string[] = [];
    const status = await runTuneStatus({ storage, study: dirs[1], print: (l) => printed.push(l) });
    expect(status).to.include({ budget: 6, finished: 6 });
    expect(printed[0]).to.match(new RegExp(`^Study shared in sqlite:${join(root, "one.sqlite")}: 6 of 6 trials finished \\(\\d complete, \\d pruned, \\d failed, 0 running, 0 waiting\\)\\nBest: trial \\d`));
  });

  it("a seed sweep runs one trial per seed of the fixed config", async () => {
    const lines: string[] = [];
    const result = await runTune({ sweep: true, seeds: "3-5,9", study: join(root, "sweep"), runner: join(here, "toy-runner.ts"), threadsPerTrial: 1, print: (l) => lines.push(l) });
    expect(result.trials).to.equal(4);
    const exported = JSON.parse(readFileSync(result.studyJson, "utf8"));
    expect(exported.trials.map((t: TrialRow) => t.seeds.map((s) => s.seed))).to.deep.equal([[3], [4], [5], [9]]);
    expect(exported.trials.map((t: TrialRow) => t.params)).to.deep.equal([{}, {}, {}, {}]);
    expect(lines[0]).to.match(/: a sweep of 4 seeds, 1 at a time, objective episodes$/);
    // The stand-in's training ignores the seed: every seed solves at the same episode.
    expect(lines.find((l) => l.startsWith("Sweep:"))).to.match(/^Sweep: 4 of 4 seeds solved; episodes to solve: median (\d+) \(\1 to \1\)$/);
  });

  describe("on PostgreSQL", function () {
    let server: PostgresServer | null = null;
    before(async function () {
      const why = postgresUnavailable();
      if (why) {
        console.log(`      skipped: ${why}`);
        this.skip();
      }
      server = await startPostgres();
    });
    after(() => server?.destroy());

    it("workers opening a new study at once: one creates it, the others read its settings", async () => {
      const settings = { version: 1 as const, space: { base: {}, params: {}, pruner: { every: 0, startupTrials: 0, warmupEpisodes: 0 } }, config: {}, objective: "episodes" as const, seeds: [0], sampler: "random" as const, samplerSeed: 0, trials: 3 };
      const stores = await Promise.all([0, 1, 2, 3].map(() => StudyStore.open(server!.url, "at-once")));
      try {
        const stored = await Promise.all(stores.map((store) => store.ensureSettings(settings)));
        expect(stored.filter((s) => s === null).length).to.equal(1);
        for (const s of stored.filter((s) => s !== null)) expect(s).to.deep.equal(settings);
      } finally {
        await Promise.all(stores.map((store) => store.close()));
      }
    });

    it("three workers, one SIGKILLed mid-trial, the database restarted mid-study: 12 trials, each once, no result lost", async () => {
      const spec = workerSpec(server!.url, 12);
      const dirs = [0, 1, 2].map((i) => join(root, `host-${i}`, "shared"));
      let victimTrial: number | null = null;
      // The first worker is killed while the trainer of its first trial runs.
      const victim = startWorker(dirs[0], spec, (line) => {
        const started = /^trial (\d+) started/.exec(line);
        if (!started || victimTrial !== null) return;
        victimTrial = Number(started[1]);
        void waitFor(() => existsSync(trialPidFile(dirs[0], victimTrial!)), 20_000, "the victim's trainer").then(() => victim.child.kill("SIGKILL"));
      });
      const survivors = [1, 2].map((i) => startWorker(dirs[i], spec));
      expect(await victim.exited).to.equal(null);
      expect(victim.lines.some((l) => l.startsWith(`trial ${victimTrial} complete`))).to.equal(false);

      // Once the survivors have finished three trials, the database goes away for 1.5 s.
      const finishedBySurvivors = () => survivors.flatMap((w) => w.lines).filter((l) => kFinishedLine.test(l)).length;
      await waitFor(() => finishedBySurvivors() >= 3, 120_000, "three finished trials");
      server!.stop();
      await new Promise((r) => setTimeout(r, 1500));
      server!.start();

      const codes = await Promise.all(survivors.map((w) => w.exited));
      const lines = [...victim.lines, ...survivors.flatMap((w) => w.lines)];
      expect(codes, lines.join("\n")).to.deep.equal([0, 0]);
      expect(lines.some((l) => l.startsWith("database unreachable")), "a worker retried through the restart").to.equal(true);

      const trials = await withStore(server!.url, "shared", {}, (store) => store.trials());
      expectCompleteStudy(trials, 12, lines);
      // The killed worker's trial: taken after its heartbeats stopped, then run again by a survivor.
      const taken = trials[victimTrial!];
      expect(taken.error).to.match(/^worker \S+ sent no heartbeat for \d+\.\d s$/);
      expect(taken.attempts).to.equal(2);
      expect(["complete", "pruned", "failed"]).to.include(taken.state);
      const survivorStarts = survivors.flatMap((w) => w.lines).filter((l) => l.startsWith(`trial ${victimTrial} started (attempt 2)`));
      expect(survivorStarts.length).to.equal(1);
      // Every other trial ran once: one start line each, over all workers.
      const starts = lines.flatMap((l) => /^trial (\d+) started/.exec(l)?.[1] ?? []).map(Number);
      for (const t of trials) expect(starts.filter((n) => n === t.number).length, `starts of trial ${t.number}`).to.equal(t.attempts);

      const printed: string[] = [];
      const status = await runTuneStatus({ storage: server!.url, study: dirs[2], print: (l) => printed.push(l) });
      expect(status).to.include({ budget: 12, finished: 12 });
      expect(printed[0]).to.match(new RegExp(`^Study shared in ${server!.url}: 12 of 12 trials finished`));
    });
  });
});
