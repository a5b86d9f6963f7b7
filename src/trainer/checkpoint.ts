// Atomic checkpoints: each is written into a temporary folder and renamed into place, then the
// `latest` pointer file is replaced by rename; a kill at any moment leaves the previous checkpoint
// and pointer intact. Older checkpoints beyond `keep` are pruned.
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const kCheckpointsDir = "checkpoints";
const kLatestFile = "latest";

/** Writes checkpoint `name` under runDir/checkpoints with `write(dir)` filling a fresh folder. */
export async function writeCheckpoint(runDir: string, name: string, write: (dir: string) => Promise<void> | void, keep = 3): Promise<string> {
  const root = join(runDir, kCheckpointsDir);
  mkdirSync(root, { recursive: true });
  const tmp = join(root, `.tmp-${name}-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp);
  await write(tmp);
  writeFileSync(join(tmp, "COMPLETE"), `${new Date().toISOString()}\n`);
  const final = join(root, name);
  rmSync(final, { recursive: true, force: true });
  renameSync(tmp, final);
  const pointerTmp = join(root, `.${kLatestFile}.tmp-${process.pid}`);
  writeFileSync(pointerTmp, `${name}\n`);
  renameSync(pointerTmp, join(root, kLatestFile));
  prune(root, name, keep);
  return final;
}

/** The folder of the latest complete checkpoint of a run (or a checkpoint folder itself), or null. */
export function latestCheckpoint(runOrCheckpointDir: string): string | null {
  if (existsSync(join(runOrCheckpointDir, "COMPLETE"))) return runOrCheckpointDir;
  const root = join(runOrCheckpointDir, kCheckpointsDir);
  const pointer = join(root, kLatestFile);
  if (!existsSync(pointer)) return null;
  const dir = join(root, readFileSync(pointer, "utf8").trim());
  return existsSync(join(dir, "COMPLETE")) ? dir : null;
}

function prune(root: string, current: string, keep: number): void {
  const complete = readdirSync(root)
    .filter((entry) => !entry.startsWith(".") && entry !== kLatestFile && entry !== current)
    .sort();
  for (const entry of complete.slice(0, Math.max(0, complete.length - (keep - 1)))) {
    rmSync(join(root, entry), { recursive: true, force: true });
  }
  for (const entry of readdirSync(root)) {
    if (entry.startsWith(".tmp-") && !entry.endsWith(`-${process.pid}`)) rmSync(join(root, entry), { recursive: true, force: true });
  }
}
