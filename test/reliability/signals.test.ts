// Signals and concurrent writers: SIGTERM stops `train` as SIGINT does (checkpoint, summary, exact
// resume); one run directory has one writer (a second `--resume` exits 2, a SIGKILLed writer's lock is
// taken over); `bench buffer` leaves no shared-memory segment after SIGINT, SIGTERM or SIGKILL.
import { expect } from "chai";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";

import { ReplayBuffer } from "../../binding/buffer.ts";
import { packageRoot } from "../../binding/package.ts";
import { resolveConfig } from "../../src/lib/config/resolve.ts";
import { latestCheckpoint } from "../../src/lib/trainer/checkpoint.ts";
import { kLockFile, lockRunDir, RunDirBusyError } from "../../src/lib/trainer/run-lock.ts";
import { train } from "../../src/lib/trainer/train.ts";
import { freshRunsDir, onlyRun, reliabilityConfig, resume, runRecord, spawnCli } from "./resume.test.ts";

/** Polls `ready` every 20 ms for up to a minute. */
async function waitFor(what: string, ready: () => boolean): Promise<void> {
  for (const started = Date.now(); !ready(); ) {
    if (Date.now() - started > 60_000) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe("reliability: signals", function () {
  this.timeout(120_000);
  let reference: Awaited<ReturnType<typeof runRecord>>;

  before(async () => {
    const { runsDir } = freshRunsDir("tt-rel-ref-");
    reference = await runRecord((await train(resolveConfig({ fileObject: reliabilityConfig(runsDir) }), { quiet: true })).run_dir);
  });

  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    it(`train on ${signal} stops with a checkpoint and a summary, and resumes exactly`, async () => {
      const { runsDir: stoppedDir, configFile } = freshRunsDir("tt-rel-signal-");
      // The signal arrives just after the checkpoint of episode 6; the run stops within the next step.
      const stopped = await spawnCli(["--config", configFile], { TENNIS_TRAIN_KILL_AT: `checkpoint-pointed:2:${signal}` }).exited;
      expect(stopped.code, stopped.stderr).to.equal(0);
      expect(stopped.stderr).to.contain(`Interrupted (${signal}): stopping after this step with a checkpoint`);
      const runDir = onlyRun(stoppedDir);
      expect(JSON.parse(readFileSync(join(runDir, "summary.json"), "utf8"))).to.include({ stopped: "interrupted", episodes: 6 });
      expect(latestCheckpoint(runDir)).to.equal(join(runDir, "checkpoints", "ep0000006-interrupted"));
      await resume(runDir);
      // The interrupted run keeps its extra checkpoint (ep0000006-interrupted) among the last three.
      const { checkpoints, ...resumed } = await runRecord(runDir);
      expect(checkpoints).to.deep.equal(["ep0000006-interrupted", "ep0000009", "ep0000012", "latest"]);
      const { checkpoints: _uninterrupted, ...expected } = reference;
      expect(resumed).to.deep.equal(expected);
    });
  }
});

describe("reliability: one writer per run directory", function () {
  this.timeout(120_000);

  it("a second --resume of a run being written exits 2 naming the writer; a SIGKILLed writer's lock is taken over", async () => {
    const { runsDir } = freshRunsDir("tt-rel-lock-");
    const first = await train(resolveConfig({ fileObject: reliabilityConfig(runsDir) }), { quiet: true });
    const runDir = first.run_dir;
    // The finished 12-episode run goes on to a budget it will not reach while this test runs.
    const writer = spawnCli(["--resume", runDir, "--episodes", "100000"]);
    await waitFor("the writer's lock and a new checkpoint", () => latestCheckpoint(runDir)?.endsWith("ep0000015") === true);
    expect(JSON.parse(readFileSync(join(runDir, kLockFile), "utf8")).pid).to.equal(writer.child.pid);
    const second = await spawnCli(["--resume", runDir]).exited;
    expect(second.code, second.stderr).to.equal(2);
    expect(second.stderr.trim()).to.equal(
      `run directory ${runDir} is in use by process ${writer.child.pid} (${join(runDir, kLockFile)}); stop that run first, or delete the lock file if no run writes there`,
    );
    writer.child.kill("SIGKILL");
    await writer.exited;
    expect(existsSync(join(runDir, kLockFile)), "a SIGKILLed writer leaves its lock").to.equal(true);
    const resumed = await resume(runDir);
    expect(resumed.episodes).to.be.greaterThan(12);
    expect(existsSync(join(runDir, kLockFile)), "released at the end").to.equal(false);
  });

  it("lockRunDir: one holder at a time, a dead holder's lock is stale, an unreadable one too, a dead writer's aside file goes", () => {
    const { runsDir } = freshRunsDir("tt-rel-lock-unit-");
    const lock = lockRunDir(runsDir);
    expect(() => lockRunDir(runsDir)).to.throw(RunDirBusyError, `is in use by process ${process.pid}`);
    lock.release();
    lockRunDir(runsDir).release();
    const dead = spawnSync(process.execPath, ["-e", ""]).pid;
    writeFileSync(join(runsDir, kLockFile), JSON.stringify({ pid: dead, host: hostname() }));
    lockRunDir(runsDir).release();
    writeFileSync(join(runsDir, kLockFile), "{\"pi");
    // The lock is written aside as .lock-<pid> and linked into place; a kill in between leaves the aside file.
    writeFileSync(join(runsDir, `.${kLockFile}-${dead}`), "{}");
    lockRunDir(runsDir).release();
    expect(readdirSync(runsDir).filter((f) => f.includes(kLockFile))).to.deep.equal([]);
  });
});

describe("reliability: bench buffer's shared memory", function () {
  this.timeout(120_000);

  /** A bench of a small buffer in a child process; resolves with its pid once its segment exists. */
  function startBench() {
    const code = `const { benchBuffer } = await import(${JSON.stringify(join(packageRoot, "bench", "buffer.ts"))}); await benchBuffer({ capacity: 20000, seconds: 30 });`;
    const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code], { cwd: packageRoot, stdio: "ignore" });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on("close", (_code, signal) => resolve(signal)));
    const segments = () => readdirSync("/dev/shm").filter((f) => f.startsWith(`tennis-train-bench-${child.pid}-`));
    // Ready once the segment can be attached to: its header (with the owner's pid) is written.
    const attachable = () => segments().length > 0 && ReplayBuffer.attach(`/${segments()[0]}`).dispose() === undefined;
    return { child, exited, segments, ready: waitFor("the bench's shm segment", () => { try { return attachable(); } catch { return false; } }) };
  }

  it("SIGINT and SIGTERM remove the segment; a SIGKILLed bench's segment goes when the next bench starts", async () => {
    const killed = startBench();
    await killed.ready;
    killed.child.kill("SIGKILL");
    expect(await killed.exited).to.equal("SIGKILL");
    expect(killed.segments(), "SIGKILL leaves the segment").to.have.length(1);
    // A bench killed while creating its segment leaves one without a header: its name holds the pid.
    const headerless = `/dev/shm/tennis-train-bench-${spawnSync(process.execPath, ["-e", ""]).pid}-0-0`;
    writeFileSync(headerless, Buffer.alloc(4096));
    const benches = [startBench(), startBench()];
    await Promise.all(benches.map((b) => b.ready));
    expect(killed.segments(), "swept by the next bench's start").to.deep.equal([]);
    expect(existsSync(headerless), "swept by the next bench's start").to.equal(false);
    benches[0].child.kill("SIGINT");
    benches[1].child.kill("SIGTERM");
    expect(await Promise.all(benches.map((b) => b.exited))).to.deep.equal(["SIGINT", "SIGTERM"]);
    for (const bench of benches) expect(bench.segments()).to.deep.equal([]);
  });
});
