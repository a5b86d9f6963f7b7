// Checkpoints of a training run: every train.checkpointEvery episodes and at the end, each the whole
// state a resumed run needs to continue exactly (learner, buffer, n-step accumulator, kept policy, envs,
// loop counters, log positions).
import { statfsSync, writeFileSync } from "node:fs";
import { join } from "node:path";

import type { Config } from "../config/types.ts";
import { writeCheckpoint } from "./checkpoint.ts";
import { killPoint } from "./kill-point.ts";
import { kTrainerFile, type SavedState } from "./loop-state.ts";
import { writeJson } from "./run-dir.ts";
import { logLengths } from "./run-logs.ts";
import type { Run } from "./setup.ts";

/** Whether the episodes a step finished (`finishedNow`, ending at `episodes`) crossed a multiple of train.checkpointEvery. */
export function checkpointDue(t: Config["train"], episodes: number, finishedNow: number): boolean {
  return finishedNow > 0 && t.checkpointEvery > 0 &&
    Math.floor(episodes / t.checkpointEvery) > Math.floor((episodes - finishedNow) / t.checkpointEvery);
}

/** The checkpoint folder's name after `episodes` episodes: ep0000100. */
export function episodeLabel(episodes: number): string {
  return `ep${String(episodes).padStart(7, "0")}`;
}

/** Writes a checkpoint of the run now; `final` marks the one a finished run ends with. */
export async function writeRunCheckpoint(run: Run, label: string, final?: SavedState["final"]): Promise<void> {
  const { runDir, buffer, agent, accumulator, selector, env, state, warmup, tracker, norm, logger, clock } = run;
  await writeCheckpoint(runDir, label, async (dir) => {
    await buffer.save(join(dir, "buffer.bin"));
    ensureRoomForAgent(dir, agent.parameterCount);
    await agent.save(join(dir, "agent.pt"));
    killPoint("checkpoint-agent");
    writeFileSync(join(dir, "n_step.bin"), accumulator.saveState());
    selector?.save(dir);
    if (env.saveState) writeFileSync(join(dir, "env.bin"), env.saveState());
    const snapshot: SavedState = {
      ...state, wallBefore: clock.wall(), warmupRng: warmup.state32, tracker: tracker.toJSON(), norm: norm?.toJSON(),
      log: { pending: logger.pending(), files: logLengths(runDir, logger.files()) }, final,
    };
    writeJson(join(dir, kTrainerFile), snapshot);
  });
}

/** agent.pt takes about 8.3 bytes per parameter plus 50 KB; twice that and 1 MiB more is asked for. */
const kAgentBytesPerParameter = 16;
const kAgentSlackBytes = 1 << 20;

/**
 * Throws ENOSPC unless `dir`'s disk has room for agent.pt: LibTorch's save aborts the whole process when
 * the disk fills up mid-write (it throws from a destructor), where every other write fails cleanly.
 */
function ensureRoomForAgent(dir: string, parameterCount: number): void {
  const needed = kAgentBytesPerParameter * parameterCount + kAgentSlackBytes;
  const { bavail, bsize } = statfsSync(dir);
  if (bavail * bsize >= needed) return;
  const error: NodeJS.ErrnoException = new Error(`ENOSPC: no space left on device: agent.pt needs about ${needed} bytes, ${bavail * bsize} free in ${dir}`);
  error.code = "ENOSPC";
  throw error;
}
