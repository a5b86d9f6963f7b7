// Exact resume after kill -9: a short run is SIGKILLed at each step of its checkpoint writes, inside its
// final evaluation, before its summary and at a random time, then resumed; per-episode scores, every log
// (metrics.jsonl, TensorBoard), the summary and the final checkpoint must equal an uninterrupted run's.
import { expect } from "chai";
import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";

import { packageRoot } from "../../binding/package.ts";
import { Maddpg } from "../../binding/maddpg.ts";
import { resolveConfig } from "../../src/lib/config/resolve.ts";
import { kCheckpointsDir, latestCheckpoint } from "../../src/lib/trainer/checkpoint.ts";
import { maddpgOptions } from "../../src/lib/trainer/maddpg-options.ts";
import { train } from "../../src/lib/trainer/train.ts";
import { readTfRecords } from "../log/log.test.ts";
import { kSpsTag } from "../../src/lib/log/tensorboard.ts";

/** A run of 12 short episodes: checkpoints every 3 (one pruned at the end), policy checks every 4 and a
 * final evaluation, tiny networks; about a second of training. */
export function reliabilityConfig(runsDir: string, episodes = 12) {
  return {
    name: "rel",
    threads: 1,
    train: { episodes, warmupSteps: 60, batchSize: 32, checkpointEvery: 3, selectEvery: 4, selectEpisodes: 2, evalEpisodes: 5 },
    buffer: { capacity: 5000 },
    agent: { hidden: [16, 16] },
    log: { runsDir, every: 4, progress: false },
  };
}

export interface Exited {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Starts `tennis-train ARGS` in the checkout; `exited` settles when it ends. */
export function spawnCli(args: string[], env: NodeJS.ProcessEnv = {}): { child: ChildProcess; exited: Promise<Exited> } {
  const child = spawn(process.execPath, [join(packageRoot, "bin", "tennis-train.js"), ...args], { cwd: packageRoot, env: { ...process.env, ...env } });
  let [stdout, stderr] = ["", ""];
  child.stdout!.on("data", (chunk) => (stdout += chunk));
  child.stderr!.on("data", (chunk) => (stderr += chunk));
  const exited = new Promise<Exited>((resolve) => child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr })));
  return { child, exited };
}

/** Writes the reliability config to a file in a fresh runs folder and returns both. */
export function freshRunsDir(prefix: string, episodes = 12): { runsDir: string; configFile: string } {
  const runsDir = mkdtempSync(join(tmpdir(), prefix));
  const configFile = join(runsDir, "config-in.json");
  writeFileSync(configFile, JSON.stringify(reliabilityConfig(runsDir, episodes)));
  return { runsDir, configFile };
}

/** The one run directory in a runs folder. */
export function onlyRun(runsDir: string): string {
  const runs = readdirSync(runsDir).filter((d) => d.startsWith("tennis__"));
  expect(runs, `runs in ${runsDir}`).to.have.length(1);
  return join(runsDir, runs[0]);
}

/** Resumes a run in this process, as `tennis-train --resume RUN` does. */
export function resume(runDir: string) {
  return train(resolveConfig({ file: join(runDir, "config.json") }), { resume: runDir, quiet: true });
}

const sha256 = (path: string) => sha256Of(readFileSync(path));

/** The learner of a checkpoint: agent.pt's bytes hold memory addresses, so its parameters and counters. */
async function learnerOf(runDir: string, checkpointDir: string) {
  const agent = new Maddpg(maddpgOptions(resolveConfig({ file: join(runDir, "config.json") })));
  try {
    await agent.load(join(checkpointDir, "agent.pt"));
    return { parameters: sha256Of(agent.getParameters()), stats: agent.stats() };
  } finally {
    agent.dispose();
  }
}

const sha256Of = (data: Uint8Array | Float32Array) => createHash("sha256").update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength)).digest("hex");

/** Everything of a run that must not depend on kills and resumes (wall times left out). */
export async function runRecord(runDir: string) {
  const summary = JSON.parse(readFileSync(join(runDir, "summary.json"), "utf8"));
  delete summary.wall_s;
  delete summary.run_dir;
  if (summary.at_solve) delete summary.at_solve.wall_s;
  const root = join(runDir, kCheckpointsDir);
  const latest = latestCheckpoint(runDir)!;
  const checkpointFiles: Record<string, unknown> = {};
  for (const file of readdirSync(latest).sort()) {
    // COMPLETE holds the time of writing; the manifest hashes trainer.json, whose wall time differs.
    if (file === "COMPLETE" || file === "manifest.json" || file === "agent.pt" || file === "trainer.json") continue;
    checkpointFiles[file] = sha256(join(latest, file));
  }
  // The event file's name holds the time the run started.
  const { wallBefore: _wall, log, ...trainerState } = JSON.parse(readFileSync(join(latest, "trainer.json"), "utf8"));
  const tbFiles = readdirSync(join(runDir, "tb"));
  expect(tbFiles, "one TensorBoard event file").to.have.length(1);
  return {
    scores: metricRows(runDir).map((r) => r["rollout/score"]),
    metrics: readFileSync(join(runDir, "metrics.jsonl"), "utf8"),
    // Each event without its wall time (field 1, a double: tag byte + 8 bytes); time/sps events measure the wall clock.
    tensorboard: readTfRecords(join(runDir, "tb", tbFiles[0]))
      .filter((event) => !event.includes(Buffer.from(kSpsTag)))
      .map((event) => event.subarray(9).toString("hex")),
    summary,
    checkpoints: readdirSync(root).filter((e) => !e.startsWith(".")).sort(),
    latestPointer: readFileSync(join(root, "latest"), "utf8"),
    latest: basename(latest),
    checkpointFiles,
    learner: await learnerOf(runDir, latest),
    trainerState: { ...trainerState, log: { pending: log?.pending, fileLengths: Object.values(log?.files ?? {}) } },
    scoresPng: existsSync(join(runDir, "scores.png")),
  };
}

function metricRows(runDir: string): Record<string, number>[] {
  return readFileSync(join(runDir, "metrics.jsonl"), "utf8").trim().split("\n").map((line) => JSON.parse(line));
}

/** Runs `task`s at most `concurrency` at a time (child processes on a small machine). */
function limited(concurrency: number): <T>(task: () => Promise<T>) => Promise<T> {
  let running = 0;
  const waiting: (() => void)[] = [];
  return async (task) => {
    if (running >= concurrency) await new Promise<void>((resolve) => waiting.push(resolve));
    running += 1;
    try {
      return await task();
    } finally {
      running -= 1;
      waiting.shift()?.();
    }
  };
}

// The run's checkpoint writes: ep0000003, 6, 9, then the final one after episode 12 (the 4th), which
// prunes ep0000003. Each point is a place where a SIGKILL once broke resume or changed the result.
const kMidRunPoints = ["checkpoint-agent:2", "checkpoint-sealed:2", "checkpoint-renamed:2", "checkpoint-pointed:3"];
const kEndPoints = ["checkpoint-agent:4", "checkpoint-renamed:4", "checkpoint-pointed:4", "final-eval", "summary"];

describe("reliability: resume after kill -9", function () {
  this.timeout(240_000);
  let reference: Awaited<ReturnType<typeof runRecord>>;
  const killed = new Map<string, Promise<string>>();

  before(async () => {
    // The killed runs start at once (three at a time) and are resumed and compared one by one below.
    const run = limited(3);
    for (const point of [...kMidRunPoints, ...kEndPoints]) killed.set(point, run(() => killedRun(point)));
    for (const done of killed.values()) done.catch(() => undefined);
    const { runsDir } = freshRunsDir("tt-rel-ref-");
    const summary = await train(resolveConfig({ fileObject: reliabilityConfig(runsDir) }), { quiet: true });
    reference = await runRecord(summary.run_dir);
    expect(reference.scores).to.have.length(12);
    expect(summary.updates).to.be.greaterThan(100);
  });

  /** Runs the CLI with TENNIS_TRAIN_KILL_AT=point, expects the SIGKILL; returns the run directory. */
  async function killedRun(point: string): Promise<string> {
    const { runsDir, configFile } = freshRunsDir("tt-rel-kill-");
    const exited = await spawnCli(["--config", configFile, "--json"], { TENNIS_TRAIN_KILL_AT: point }).exited;
    expect(exited.signal, `${point}: ${exited.stderr}`).to.equal("SIGKILL");
    return onlyRun(runsDir);
  }

  async function resumeAndCompare(point: string) {
    const runDir = await killed.get(point)!;
    await resume(runDir);
    expect(await runRecord(runDir), point).to.deep.equal(reference);
  }

  for (const point of kMidRunPoints) {
    it(`killed at ${point} (inside a checkpoint write), resumed: equal to the uninterrupted run`, () => resumeAndCompare(point));
  }

  for (const point of kEndPoints) {
    it(`killed at ${point} (the run's end), resumed: equal to the uninterrupted run`, () => resumeAndCompare(point));
  }

  it("killed at a random time after its first checkpoint, resumed: equal to the uninterrupted run", async () => {
    const { runsDir, configFile } = freshRunsDir("tt-rel-random-");
    const { child, exited } = spawnCli(["--config", configFile]);
    const delay = Math.floor(Math.random() * 1500);
    const started = Date.now();
    for (;;) {
      const runs = readdirSync(runsDir).filter((d) => d.startsWith("tennis__"));
      if (runs.length === 1 && latestCheckpoint(join(runsDir, runs[0])) !== null) break;
      if (child.exitCode !== null || Date.now() - started > 60_000) throw new Error(`no checkpoint appeared: ${(await exited).stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await new Promise((resolve) => setTimeout(resolve, delay));
    child.kill("SIGKILL");
    await exited;
    const runDir = onlyRun(runsDir);
    await resume(runDir);
    expect(await runRecord(runDir), `SIGKILL ${delay} ms after the first checkpoint`).to.deep.equal(reference);
  });

  it("a finished run resumed says it is finished and changes nothing", async () => {
    const { runsDir } = freshRunsDir("tt-rel-done-");
    const summary = await train(resolveConfig({ fileObject: reliabilityConfig(runsDir) }), { quiet: true });
    const before = treeOf(summary.run_dir);
    const { code, stdout, stderr } = await spawnCli(["--resume", summary.run_dir]).exited;
    expect(code, stderr).to.equal(0);
    expect(stdout).to.contain(`${summary.run_dir} is finished (episodes after episode 12); nothing to resume.`);
    expect(treeOf(summary.run_dir)).to.deep.equal(before);
  });

  it("a finished run resumed with a larger --episodes trains on exactly as a longer run", async () => {
    const { runsDir } = freshRunsDir("tt-rel-longer-");
    const longer = await train(resolveConfig({ fileObject: reliabilityConfig(runsDir, 15) }), { quiet: true });
    const first = await train(resolveConfig({ fileObject: reliabilityConfig(runsDir, 12) }), { quiet: true });
    expect(first.selection?.restored, "the 12-episode run ends with its last policy, its training state").to.equal(false);
    const extended = await train(resolveConfig({ fileObject: reliabilityConfig(runsDir, 15) }), { quiet: true, resume: first.run_dir });
    expect(extended.episodes).to.equal(15);
    expect(readFileSync(join(first.run_dir, "metrics.jsonl"), "utf8")).to.equal(readFileSync(join(longer.run_dir, "metrics.jsonl"), "utf8"));
  });
});

/** Every file under a folder with its size, modification time and sha256. */
function treeOf(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of readdirSync(dir, { recursive: true }) as string[]) {
    const path = join(dir, entry);
    const stats = statSync(path);
    if (stats.isFile()) out[entry] = `${stats.size} ${stats.mtimeMs} ${sha256(path)}`;
  }
  return out;
}
