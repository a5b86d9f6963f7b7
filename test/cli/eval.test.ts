// `tennis-train eval --checkpoint RUN`: greedy play of a run's checkpoint, on the reset the run's own
// checks and final evaluation used (train.evalCleanReset) unless --clean-reset says otherwise.
import { expect } from "chai";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { checkpointEvalConfig } from "../../src/apps/cli/play.ts";
import { resolveConfig } from "../../src/lib/config/resolve.ts";
import { latestCheckpoint } from "../../src/lib/trainer/checkpoint.ts";
import { evalCheckpoint } from "../../src/lib/trainer/evaluate.ts";
import { train } from "../../src/lib/trainer/train.ts";
import { runCli } from "./cli.test.ts";

function tinyConfig(runsDir: string, train: Record<string, unknown> = {}) {
  return resolveConfig({
    fileObject: {
      threads: 1,
      train: { episodes: 3, warmupSteps: 60, batchSize: 32, checkpointEvery: 0, selectEvery: 0, evalEpisodes: 0, ...train },
      buffer: { capacity: 5000 },
      agent: { hidden: [16, 16] },
      log: { runsDir, tensorboard: false, progress: false },
    },
  });
}

describe("cli eval", function () {
  this.timeout(180_000);

  it("plays a run's checkpoint as the run's own evaluation would, or on the reset --clean-reset names", async () => {
    const runsDir = mkdtempSync(join(tmpdir(), "tt-eval-"));
    const config = tinyConfig(runsDir);
    const checkpoint = latestCheckpoint((await train(config, { quiet: true })).run_dir)!;
    expect(config.env.cleanReset).to.equal(false);
    expect(checkpointEvalConfig(checkpoint).env.cleanReset).to.equal(true);
    expect(checkpointEvalConfig(checkpoint, false).env.cleanReset).to.equal(false);

    const expected = await evalCheckpoint(checkpointEvalConfig(checkpoint), checkpoint, 6, 5);
    const { code, stdout, stderr } = runCli(["eval", "--checkpoint", checkpoint, "--episodes", "6", "--seed", "5", "--json"]);
    expect(code, stderr).to.equal(0);
    expect(JSON.parse(stdout.trim().split("\n").pop()!)).to.include({ policy: "checkpoint", episodes: 6, mean_score: expected.mean_score });
  });

  it("keeps the faithful reset of a run that evaluated on it (train.evalCleanReset false)", async () => {
    const runsDir = mkdtempSync(join(tmpdir(), "tt-eval-"));
    const run = await train(tinyConfig(runsDir, { episodes: 1, evalCleanReset: false }), { quiet: true });
    const checkpoint = latestCheckpoint(run.run_dir)!;
    expect(checkpointEvalConfig(checkpoint).env.cleanReset).to.equal(false);
    expect(checkpointEvalConfig(checkpoint, true).env.cleanReset).to.equal(true);
  });
});
