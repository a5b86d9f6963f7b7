// Atomic checkpoints: each is written into a temporary folder, sealed with a manifest (size and sha256
// of every file) and a COMPLETE marker, and renamed into place; then the `latest` pointer file is
// replaced by rename. A checkpoint folder is never modified once it exists: a name already taken gets a
// suffix, and pruning renames a folder out of sight before deleting it. A kill at any moment leaves every
// complete checkpoint intact, and readers take the newest complete one. Loading verifies the manifest, so
// a file changed or cut short after it was written is named.
import { createHash } from "node:crypto";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";

import { killPoint } from "./kill-point.ts";

export const kCheckpointsDir = "checkpoints";
const kLatestFile = "latest";
const kCompleteFile = "COMPLETE";
/** Sizes and sha256 of every other file of a checkpoint, written just before COMPLETE. */
export const kManifestFile = "manifest.json";
/** Prefixes of the folders and files a writer uses before a rename; any left at a start are stale. */
const kTempPrefixes = [".tmp-", ".old-", `.${kLatestFile}.tmp-`];

/** A checkpoint that cannot be used, with the folder and file named in the message. */
export class CheckpointError extends Error {
  constructor(dir: string, file: string, problem: string) {
    super(`checkpoint ${basename(dir)}: ${file}: ${problem}`);
    this.name = "CheckpointError";
  }
}

interface Manifest {
  files: Record<string, { bytes: number; sha256: string }>;
}

/**
 * Writes checkpoint `name` under runDir/checkpoints with `write(dir)` filling a fresh folder, points
 * `latest` at it and prunes all but the newest `keep`. Returns its folder (named `name`, or `name-2`, ...
 * when `name` is taken). On failure (a full disk, say) the temporary folder is removed and the error
 * rethrown; the checkpoints before stay as they were.
 */
export async function writeCheckpoint(runDir: string, name: string, write: (dir: string) => Promise<void> | void, keep = 3): Promise<string> {
  const root = join(runDir, kCheckpointsDir);
  mkdirSync(root, { recursive: true });
  const label = freeName(root, name);
  const tmp = join(root, `.tmp-${label}-${process.pid}`);
  const final = join(root, label);
  try {
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp);
    await write(tmp);
    killPoint("checkpoint-files");
    writeFileSync(join(tmp, kManifestFile), `${JSON.stringify(manifestOf(tmp), null, 2)}\n`);
    writeFileSync(join(tmp, kCompleteFile), `${new Date().toISOString()}\n`);
    killPoint("checkpoint-sealed");
    renameSync(tmp, final);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
  killPoint("checkpoint-renamed");
  pointLatest(root, label);
  killPoint("checkpoint-pointed");
  prune(root, label, keep);
  return final;
}

/** Replaces the `latest` pointer file by rename. */
function pointLatest(root: string, label: string): void {
  const pointerTmp = join(root, `.${kLatestFile}.tmp-${process.pid}`);
  try {
    writeFileSync(pointerTmp, `${label}\n`);
    renameSync(pointerTmp, join(root, kLatestFile));
  } catch (err) {
    rmSync(pointerTmp, { force: true });
    throw err;
  }
}

/** Finishes what a writer killed after a checkpoint's rename left undone: points `latest` at the newest
 * complete checkpoint and prunes all but the newest `keep`. Only the run's writer may call it. */
export function settleCheckpoints(runDir: string, keep = 3): void {
  const newest = latestCheckpoint(runDir);
  if (newest === null) return;
  const root = join(runDir, kCheckpointsDir);
  const pointer = join(root, kLatestFile);
  if (!existsSync(pointer) || readFileSync(pointer, "utf8").trim() !== basename(newest)) pointLatest(root, basename(newest));
  prune(root, basename(newest), keep);
}

/** `name`, or the first of `name-2`, `name-3`, ... that no folder (complete or not) holds yet. */
function freeName(root: string, name: string): string {
  let label = name;
  for (let n = 2; existsSync(join(root, label)); n++) label = `${name}-${n}`;
  return label;
}

/**
 * The folder of the latest complete checkpoint of a run (or a checkpoint folder itself), or null: the
 * newest complete one by name. That is the one `latest` points at, except after a kill between a
 * checkpoint's rename and the pointer's, or when the pointed one is gone; the folder decides, not the pointer.
 */
export function latestCheckpoint(runOrCheckpointDir: string): string | null {
  if (isComplete(runOrCheckpointDir)) return runOrCheckpointDir;
  const root = join(runOrCheckpointDir, kCheckpointsDir);
  if (!existsSync(root)) return null;
  const newest = checkpointNames(root).reverse().find((name) => isComplete(join(root, name)));
  return newest === undefined ? null : join(root, newest);
}

function isComplete(dir: string): boolean {
  return existsSync(join(dir, kCompleteFile));
}

/** Checkpoint folder names under a checkpoints folder, oldest first (names sort by episode). */
function checkpointNames(root: string): string[] {
  return readdirSync(root)
    .filter((entry) => !entry.startsWith(".") && entry !== kLatestFile)
    .sort();
}

/** Removes what a killed writer left in a run's checkpoints folder (temporary and half-pruned folders).
 * Only the run's writer may call it: it holds the run directory's lock. */
export function removeStaleTemps(runDir: string): void {
  const root = join(runDir, kCheckpointsDir);
  if (!existsSync(root)) return;
  for (const entry of readdirSync(root)) {
    if (kTempPrefixes.some((prefix) => entry.startsWith(prefix))) rmSync(join(root, entry), { recursive: true, force: true });
  }
}

/**
 * Throws CheckpointError unless every file of the manifest is there with its size and sha256.
 * A checkpoint written before manifests existed (COMPLETE but no manifest) passes unchecked.
 */
export function verifyCheckpoint(dir: string): void {
  if (!isComplete(dir)) throw new CheckpointError(dir, kCompleteFile, "missing (the checkpoint was not completely written)");
  const path = join(dir, kManifestFile);
  if (!existsSync(path)) return;
  const manifest = readManifest(dir, path);
  for (const [file, expected] of Object.entries(manifest.files)) {
    const stats = statSync(join(dir, file), { throwIfNoEntry: false });
    if (stats === undefined) throw new CheckpointError(dir, file, "missing");
    if (stats.size !== expected.bytes) {
      throw new CheckpointError(dir, file, `${stats.size} bytes, ${expected.bytes} when written (cut short or changed after it was written)`);
    }
    if (sha256File(join(dir, file)) !== expected.sha256) throw new CheckpointError(dir, file, "sha256 mismatch (file changed after it was written)");
  }
}

function readManifest(dir: string, path: string): Manifest {
  let manifest: unknown;
  try {
    manifest = JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    throw new CheckpointError(dir, kManifestFile, `not valid JSON (${(err as Error).message})`);
  }
  const files = (manifest as Partial<Manifest> | null)?.files;
  const valid = typeof files === "object" && files !== null &&
    Object.values(files).every((f) => Number.isInteger(f?.bytes) && typeof f?.sha256 === "string");
  if (!valid) throw new CheckpointError(dir, kManifestFile, "expected {files: {name: {bytes, sha256}}}");
  return manifest as Manifest;
}

/** Sizes and sha256 of the files in a checkpoint folder being written. */
function manifestOf(dir: string): Manifest {
  const files: Manifest["files"] = {};
  for (const file of readdirSync(dir).sort()) {
    const path = join(dir, file);
    files[file] = { bytes: statSync(path).size, sha256: sha256File(path) };
  }
  return { files };
}

/** Hex sha256 of a file, read in 4 MiB pieces (replay buffers can exceed one Buffer). */
function sha256File(path: string): string {
  const hash = createHash("sha256");
  const chunk = Buffer.allocUnsafe(4 << 20);
  const fd = openSync(path, "r");
  try {
    for (let n; (n = readSync(fd, chunk, 0, chunk.length, null)) > 0; ) hash.update(chunk.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return hash.digest("hex");
}

/** Removes all but the newest `keep` checkpoints (`current` always stays); each is renamed out of
 * sight first, so a kill midway never leaves a half-deleted folder that looks like a checkpoint. */
function prune(root: string, current: string, keep: number): void {
  const others = checkpointNames(root).filter((entry) => entry !== current);
  for (const entry of others.slice(0, Math.max(0, others.length - (keep - 1)))) {
    const doomed = join(root, `.old-${entry}-${process.pid}`);
    renameSync(join(root, entry), doomed);
    rmSync(doomed, { recursive: true, force: true });
  }
}
