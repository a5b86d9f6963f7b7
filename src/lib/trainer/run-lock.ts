// One writer per run directory: the writer holds RUN/lock, a file created exclusively that names its
// process. A second writer (a second `--resume` of the same run) is refused while that process lives;
// a lock whose process has died on this host (a SIGKILL, a power cut) is stale and taken over.
import { linkSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";

import { processAlive } from "../util/process.ts";

export const kLockFile = "lock";

/** Another live process writes to the run directory. */
export class RunDirBusyError extends Error {
  constructor(runDir: string, owner: LockOwner) {
    const where = owner.host === hostname() ? `process ${owner.pid}` : `process ${owner.pid} on ${owner.host}`;
    super(`run directory ${runDir} is in use by ${where} (${join(runDir, kLockFile)}); stop that run first, or delete the lock file if no run writes there`);
    this.name = "RunDirBusyError";
  }
}

interface LockOwner {
  pid: number;
  host: string;
}

/** A held run-directory lock. */
export interface RunDirLock {
  release(): void;
}

/** Takes the lock of `runDir` for this process, taking over a stale one; throws RunDirBusyError when a
 * live process holds it. */
export function lockRunDir(runDir: string): RunDirLock {
  const path = join(runDir, kLockFile);
  const me: LockOwner = { pid: process.pid, host: hostname() };
  // The lock appears whole or not at all: written aside, then hard-linked into place (link fails if it exists).
  const written = join(runDir, `.${kLockFile}-${process.pid}`);
  writeFileSync(written, `${JSON.stringify(me)}\n`);
  try {
    for (;;) {
      if (tryLink(written, path)) {
        removeDeadAsides(runDir);
        return { release: () => releaseIfOwned(path, me) };
      }
      const owner = readOwner(path);
      if (owner === null) continue;
      if (!isStale(owner)) throw new RunDirBusyError(runDir, owner);
      rmSync(path, { force: true });
    }
  } finally {
    rmSync(written, { force: true });
  }
}

/** Removes the lock files written aside by processes that died before removing theirs. */
function removeDeadAsides(runDir: string): void {
  for (const entry of readdirSync(runDir)) {
    const pid = new RegExp(`^\\.${kLockFile}-(\\d+)$`).exec(entry)?.[1];
    if (pid !== undefined && isStale({ pid: Number(pid), host: hostname() })) rmSync(join(runDir, entry), { force: true });
  }
}

function tryLink(from: string, to: string): boolean {
  try {
    linkSync(from, to);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw err;
  }
}

/** The owner a lock file names (null: no lock file any more); an unreadable one names nobody alive. */
function readOwner(path: string): LockOwner | null {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
  try {
    const owner = JSON.parse(text) as LockOwner;
    if (Number.isInteger(owner.pid) && typeof owner.host === "string") return owner;
  } catch {
    // unreadable: falls through to the dead owner below
  }
  return { pid: 0, host: hostname() };
}

/** A lock of this host whose process is gone (pid 0: an unreadable lock file). */
function isStale(owner: LockOwner): boolean {
  if (owner.host !== hostname()) return false;
  return owner.pid === 0 || !processAlive(owner.pid);
}

function releaseIfOwned(path: string, me: LockOwner): void {
  const owner = readOwner(path);
  if (owner?.pid === me.pid && owner.host === me.host) rmSync(path, { force: true });
}
