// Atomic checkpoint writes: a kill during a write leaves the previous checkpoint loadable.
import { expect } from "chai";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { kCheckpointsDir, latestCheckpoint, writeCheckpoint } from "../../src/lib/trainer/checkpoint.ts";

describe("checkpoints", () => {
  it("points `latest` at the newest complete checkpoint and prunes old ones", async () => {
    const run = mkdtempSync(join(tmpdir(), "tt-ckpt-"));
    for (const name of ["ep000001", "ep000002", "ep000003", "ep000004"]) {
      await writeCheckpoint(run, name, (dir) => writeFileSync(join(dir, "state.json"), JSON.stringify({ name })), 2);
    }
    const latest = latestCheckpoint(run)!;
    expect(JSON.parse(readFileSync(join(latest, "state.json"), "utf8")).name).to.equal("ep000004");
    expect(existsSync(join(run, kCheckpointsDir, "ep000003"))).to.equal(true);
    expect(existsSync(join(run, kCheckpointsDir, "ep000002"))).to.equal(false);
  });

  it("a write that dies midway leaves the previous checkpoint as latest", async () => {
    const run = mkdtempSync(join(tmpdir(), "tt-ckpt-"));
    await writeCheckpoint(run, "ep000001", (dir) => writeFileSync(join(dir, "state.json"), "{\"ok\":1}"));
    let failed = false;
    try {
      await writeCheckpoint(run, "ep000002", (dir) => {
        writeFileSync(join(dir, "state.json"), "{\"par");
        throw new Error("killed");
      });
    } catch {
      failed = true;
    }
    expect(failed).to.equal(true);
    expect(latestCheckpoint(run)).to.equal(join(run, kCheckpointsDir, "ep000001"));
    expect(JSON.parse(readFileSync(join(latestCheckpoint(run)!, "state.json"), "utf8"))).to.deep.equal({ ok: 1 });
  });

  it("accepts a checkpoint folder itself and rejects an incomplete one", () => {
    const dir = mkdtempSync(join(tmpdir(), "tt-ckpt-"));
    expect(latestCheckpoint(dir)).to.equal(null);
    writeFileSync(join(dir, "COMPLETE"), "x");
    expect(latestCheckpoint(dir)).to.equal(dir);
    const run = mkdtempSync(join(tmpdir(), "tt-ckpt-"));
    mkdirSync(join(run, kCheckpointsDir, "ep1"), { recursive: true });
    writeFileSync(join(run, kCheckpointsDir, "latest"), "ep1\n");
    expect(latestCheckpoint(run)).to.equal(null);
  });
});
