// A real, tiny training run (native trainer) for the replay and watch tests: a few episodes with a
// small network, so it has a checkpoint in a couple of seconds.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { resolveConfig } from "../../src/lib/config/resolve.ts";
import type { Config } from "../../src/lib/config/types.ts";
import { train } from "../../src/lib/trainer/train.ts";

export async function tinyRun(episodes = 6, runsDir = mkdtempSync(join(tmpdir(), "tennis-tiny-"))): Promise<{ runsDir: string; runDir: string; config: Config }> {
  const config = resolveConfig({
    fileObject: {
      name: "tiny",
      threads: 1,
      train: { episodes, warmupSteps: 60, batchSize: 32, checkpointEvery: 0 },
      buffer: { capacity: 5000 },
      agent: { hidden: [16, 16] },
      log: { runsDir, tensorboard: false, progress: false },
    },
  });
  const summary = await train(config, { quiet: true });
  return { runsDir, runDir: summary.run_dir, config };
}
