// Damaged and half-written checkpoints: a changed or cut-short file is named on resume and eval (one
// line, no stack trace); a pointed-to checkpoint is never rewritten and readers fall back to the newest
// complete one; a failed write (a full disk) leaves no temporary folder behind.
import { expect } from "chai";
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";

import { resolveConfig } from "../../src/lib/config/resolve.ts";
import { kCheckpointsDir, kManifestFile, latestCheckpoint, writeCheckpoint } from "../../src/lib/trainer/checkpoint.ts";
import { train } from "../../src/lib/trainer/train.ts";
import { freshRunsDir, reliabilityConfig, resume, spawnCli } from "./resume.test.ts";

/** A copy of `runDir` whose latest checkpoint `damage` changes; returns the copy and the name of its
 * latest checkpoint after the damage. */
function damagedCopy(runDir: string, damage: (checkpointDir: string) => void): { runDir: string; checkpoint: string } {
  const copy = join(mkdtempSync(join(tmpdir(), "tt-rel-damaged-")), basename(runDir));
  cpSync(runDir, copy, { recursive: true });
  damage(latestCheckpoint(copy)!);
  return { runDir: copy, checkpoint: basename(latestCheckpoint(copy)!) };
}

function flipBit(path: string, byte: number): void {
  const data = readFileSync(path);
  data[byte] ^= 0x10;
  writeFileSync(path, data);
}

/** Rewrites trainer.json with `edit` applied and drops the manifest, as in a checkpoint from before manifests. */
function editTrainerState(edit: (state: Record<string, unknown>) => unknown): (dir: string) => void {
  return (dir) => {
    const path = join(dir, "trainer.json");
    writeFileSync(path, JSON.stringify(edit(JSON.parse(readFileSync(path, "utf8")))));
    rmSync(join(dir, kManifestFile), { force: true });
  };
}

async function resumeError(runDir: string): Promise<string> {
  try {
    await resume(runDir);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error(`resuming ${runDir} did not fail`);
}

describe("reliability: damaged checkpoints", function () {
  this.timeout(120_000);
  let finished: string;

  before(async () => {
    const { runsDir } = freshRunsDir("tt-rel-ckpt-");
    finished = (await train(resolveConfig({ fileObject: reliabilityConfig(runsDir) }), { quiet: true })).run_dir;
  });

  const cases: [string, (dir: string) => void, (checkpoint: string) => string][] = [
    ["a 1-bit flip in agent.pt", (dir) => flipBit(join(dir, "agent.pt"), 2000), (c) => `checkpoint ${c}: agent.pt: sha256 mismatch (file changed after it was written)`],
    ["a 1-bit flip in buffer.bin", (dir) => flipBit(join(dir, "buffer.bin"), 5000), (c) => `checkpoint ${c}: buffer.bin: sha256 mismatch (file changed after it was written)`],
    ["a cut-short select.bin", (dir) => truncateSync(join(dir, "select.bin"), 100), (c) => `checkpoint ${c}: select.bin: 100 bytes, 14744 when written (cut short or changed after it was written)`],
    ["a missing env.bin", (dir) => rmSync(join(dir, "env.bin")), (c) => `checkpoint ${c}: env.bin: missing`],
    ["a changed trainer.json", (dir) => writeFileSync(join(dir, "trainer.json"), "{}"), (c) => `checkpoint ${c}: trainer.json: 2 bytes, ${readFileSync(join(finished, kCheckpointsDir, c, "trainer.json")).length} when written (cut short or changed after it was written)`],
    ["a manifest that is not JSON", (dir) => writeFileSync(join(dir, kManifestFile), "{\"files"), (c) => `checkpoint ${c}: manifest.json: not valid JSON (Unterminated string in JSON at position 7)`],
    // Checkpoints from before manifests: the loader's own checks name the field.
    ["trainer.json (no manifest) that is not JSON", (dir) => { writeFileSync(join(dir, "trainer.json"), "{\"sco"); rmSync(join(dir, kManifestFile), { force: true }); }, (c) => `checkpoint ${c}: trainer.json: not valid JSON (Unterminated string in JSON at position 5)`],
    ["trainer.json (no manifest) with scores not an array", editTrainerState((s) => ({ ...s, scores: 5 })), (c) => `checkpoint ${c}: trainer.json: \`scores\` is not an array of numbers`],
    ["trainer.json (no manifest) without envSteps", editTrainerState(({ envSteps: _gone, ...s }) => s), (c) => `checkpoint ${c}: trainer.json: \`envSteps\` is missing`],
    // A finished run's resume reads no select.bin, so the final checkpoint goes and the one before is damaged.
    ["select.bin (no manifest) cut short", (final) => {
      rmSync(final, { recursive: true });
      const dir = join(dirname(final), "ep0000009");
      truncateSync(join(dir, "select.bin"), 100);
      rmSync(join(dir, kManifestFile), { force: true });
    }, (c) => `checkpoint ${c}: select.bin: 100 bytes, expected 14744 (3686 float32 parameters of the kept policy)`],
  ];
  for (const [what, damage, message] of cases) {
    it(`${what}: resume fails naming the checkpoint, the file and what is wrong, and writes nothing`, async () => {
      const { runDir, checkpoint } = damagedCopy(finished, damage);
      const before = readdirSync(join(runDir, kCheckpointsDir)).sort();
      expect(await resumeError(runDir)).to.equal(message(checkpoint));
      expect(readdirSync(join(runDir, kCheckpointsDir)).sort()).to.deep.equal(before);
    });
  }

  it("eval of a damaged checkpoint prints one line naming it and exits 1", async () => {
    const { runDir, checkpoint } = damagedCopy(finished, (dir) => flipBit(join(dir, "agent.pt"), 2000));
    const { code, stdout, stderr } = await spawnCli(["eval", "--checkpoint", runDir, "--episodes", "1"]).exited;
    expect(code).to.equal(1);
    expect(stdout).to.equal("");
    expect(stderr).to.equal(`tennis-train: checkpoint ${checkpoint}: agent.pt: sha256 mismatch (file changed after it was written)\n`);
  });

  it("watch of a damaged checkpoint prints one line naming it, exits 1 and writes no GIF", async () => {
    const { runDir, checkpoint } = damagedCopy(finished, (dir) => flipBit(join(dir, "agent.pt"), 2000));
    const gif = join(runDir, "rally.gif");
    const { code, stdout, stderr } = await spawnCli(["watch", "--checkpoint", runDir, "--out", gif]).exited;
    expect(code).to.equal(1);
    expect(stdout).to.equal("");
    expect(stderr).to.equal(`tennis-train: checkpoint ${checkpoint}: agent.pt: sha256 mismatch (file changed after it was written)\n`);
    expect(existsSync(gif)).to.equal(false);
  });
});

describe("reliability: atomic checkpoints", function () {
  this.timeout(120_000);

  it("a checkpoint name already taken gets a new folder; the taken one is never rewritten", async () => {
    const run = mkdtempSync(join(tmpdir(), "tt-rel-atomic-"));
    const first = await writeCheckpoint(run, "ep0000001", (dir) => writeFileSync(join(dir, "state.json"), "first"));
    const second = await writeCheckpoint(run, "ep0000001", (dir) => writeFileSync(join(dir, "state.json"), "second"));
    expect(basename(second)).to.equal("ep0000001-2");
    expect(readFileSync(join(first, "state.json"), "utf8")).to.equal("first");
    expect(latestCheckpoint(run)).to.equal(second);
  });

  it("latest is the newest complete checkpoint when the pointed one is missing or incomplete", async () => {
    const run = mkdtempSync(join(tmpdir(), "tt-rel-atomic-"));
    for (const name of ["ep0000001", "ep0000002", "ep0000003"]) await writeCheckpoint(run, name, (dir) => writeFileSync(join(dir, "state.json"), name));
    const root = join(run, kCheckpointsDir);
    rmSync(join(root, "ep0000003", "COMPLETE"));
    expect(latestCheckpoint(run)).to.equal(join(root, "ep0000002"));
    rmSync(join(root, "ep0000002"), { recursive: true });
    expect(latestCheckpoint(run)).to.equal(join(root, "ep0000001"));
  });

  it("a write that fails on a full disk (ENOSPC) leaves no temporary folder, and the last checkpoint stands", async () => {
    const run = mkdtempSync(join(tmpdir(), "tt-rel-enospc-"));
    const good = await writeCheckpoint(run, "ep0000001", (dir) => writeFileSync(join(dir, "state.json"), "good"));
    for (let attempt = 0; attempt < 3; attempt++) {
      let error: NodeJS.ErrnoException | null = null;
      await writeCheckpoint(run, "ep0000002", (dir) => {
        writeFileSync(join(dir, "state.json"), "partial");
        writeFileSync("/dev/full", "no room"); // the kernel's always-full device: a real ENOSPC
      }).catch((err) => (error = err));
      expect(error!.code).to.equal("ENOSPC");
    }
    expect(readdirSync(join(run, kCheckpointsDir)).sort()).to.deep.equal(["ep0000001", "latest"]);
    expect(latestCheckpoint(run)).to.equal(good);
  });

  it("a run on a disk that fills up fails cleanly each time, leaves no temporary folder, and resumes once there is room", async function () {
    const { runsDir } = freshRunsDir("tt-rel-full-");
    const done = await train(resolveConfig({ fileObject: reliabilityConfig(runsDir) }), { quiet: true });
    const disk = mkdtempSync(join(tmpdir(), "tt-rel-tmpfs-"));
    if (spawnSync("mount", ["-t", "tmpfs", "-o", "size=4m", "tmpfs", disk]).status !== 0) this.skip(); // needs root
    try {
      const runDir = join(disk, basename(done.run_dir));
      cpSync(done.run_dir, runDir, { recursive: true });
      // Fill the disk but for 200 KiB: the logs and the next checkpoint's buffer.bin fit, agent.pt does not
      // (LibTorch would abort the process on a full disk, so the room is checked before it saves).
      const filler = join(disk, "filler");
      writeFileSync(filler, Buffer.alloc(0));
      for (let kb = 0; ; kb++) {
        try {
          writeFileSync(filler, Buffer.alloc(1024), { flag: "a" });
        } catch {
          truncateSync(filler, Math.max(0, (kb - 200) * 1024));
          break;
        }
      }
      const config = resolveConfig({ file: join(runDir, "config.json"), flags: { train: { episodes: 15 } } });
      for (let attempt = 0; attempt < 2; attempt++) {
        const error = await train(config, { resume: runDir, quiet: true }).then(() => null, (err: NodeJS.ErrnoException) => err);
        expect(error?.code, String(error)).to.equal("ENOSPC");
        expect(error?.message).to.match(/^ENOSPC: no space left on device: agent\.pt needs about \d+ bytes, \d+ free in /);
        expect(readdirSync(join(runDir, kCheckpointsDir)).filter((e) => e.startsWith(".")), "temporary folders").to.deep.equal([]);
        expect(latestCheckpoint(runDir)).to.equal(join(runDir, kCheckpointsDir, "ep0000012"));
      }
      rmSync(filler);
      expect((await train(config, { resume: runDir, quiet: true })).episodes).to.equal(15);
    } finally {
      spawnSync("umount", [disk]);
    }
  });

  it("temporary folders of a killed writer are removed when the run is next resumed", async () => {
    const { runsDir } = freshRunsDir("tt-rel-stale-");
    const done = await train(resolveConfig({ fileObject: reliabilityConfig(runsDir) }), { quiet: true });
    const root = join(done.run_dir, kCheckpointsDir);
    for (const stale of [".tmp-ep0000099-999999", ".old-ep0000003-999999"]) mkdirSync(join(root, stale));
    writeFileSync(join(root, ".latest.tmp-999999"), "ep0000099\n");
    await resume(done.run_dir);
    expect(readdirSync(root).filter((e) => e.startsWith("."))).to.deep.equal([]);
    expect(existsSync(join(root, "ep0000012"))).to.equal(true);
  });
});
