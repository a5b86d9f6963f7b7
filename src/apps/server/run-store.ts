// The runs folder as the server sees it: run ids are plain directory names checked against a strict
// pattern and resolved inside the runs folder (symlinks included), so no id or file name can escape it.
import { closeSync, constants, existsSync, fstatSync, lstatSync, openSync, readFileSync, readSync, readdirSync, realpathSync, statSync, type Stats } from "node:fs";
import { isAbsolute, join, relative, resolve, sep } from "node:path";

import { isSafeName } from "../../lib/config/names.ts";
import { kCheckpointsDir, latestCheckpoint } from "../../lib/trainer/checkpoint.ts";
import { HttpError } from "./http.ts";

/** Files of a run directory the API serves as they are. */
export const kRunFiles: Record<string, string> = {
  "config.json": "application/json; charset=utf-8",
  "summary.json": "application/json; charset=utf-8",
  "metrics.jsonl": "application/x-ndjson; charset=utf-8",
  "scores.png": "image/png",
  "stderr.log": "text/plain; charset=utf-8",
};

/** Bytes read from the end of metrics.jsonl to find the latest episode row (rows take under 1 KiB). */
const kTailBytes = 16 << 10;

/** `child` resolved (through symlinks when it exists) lies strictly inside `root`. */
export function isInside(root: string, child: string): boolean {
  const real = (p: string) => (existsSync(p) ? realpathSync(p) : resolve(p));
  const rel = relative(real(root), real(child));
  return rel !== "" && rel !== ".." && !rel.startsWith(`..${sep}`) && !isAbsolute(rel);
}

/** `path` is a regular file itself (not a symlink to one) inside `root`: the only files the API reads or serves. */
export function isServableFile(root: string, path: string): boolean {
  return lstatOrNull(path)?.isFile() === true && isInside(root, path);
}

/** lstat of `path`, or null when it cannot be read (absent, or a parent that is not a folder). */
function lstatOrNull(path: string): Stats | null {
  try {
    return lstatSync(path);
  } catch {
    return null;
  }
}

/** The last line of `text` that parses as a JSON object holding `key`, or null. */
function lastRowWith(text: string, key: string): Record<string, unknown> | null {
  // The first line may be cut by the window and the last may be half written: both fail to parse.
  for (const line of text.split("\n").reverse()) {
    try {
      const row = JSON.parse(line) as unknown;
      if (typeof row === "object" && row !== null && key in row) return row as Record<string, unknown>;
    } catch {
      continue;
    }
  }
  return null;
}

export class RunStore {
  readonly root: string;
  /** lastMetricsRow's answer per file and key, kept while the file's size and mtime stay the same. */
  private readonly lastRows = new Map<string, { size: number; mtimeMs: number; row: Record<string, unknown> | null }>();

  constructor(runsDir: string) {
    this.root = resolve(runsDir);
  }

  /** The directory of run `id`, after checking the id; 400 for a bad id. */
  dirOf(id: string): string {
    if (!isSafeName(id)) throw new HttpError(400, `Invalid run id ${JSON.stringify(id)}`);
    const dir = join(this.root, id);
    if (existsSync(dir) && !isInside(this.root, dir)) throw new HttpError(400, `Run id ${JSON.stringify(id)} leaves the runs folder`);
    return dir;
  }

  /** The directory of an existing run; 404 when there is none. */
  existingDir(id: string): string {
    const dir = this.dirOf(id);
    if (!this.isRunDir(dir)) throw new HttpError(404, `No run ${id}`);
    return dir;
  }

  /** A run directory holds a config.json of its own (a symlinked one does not count). */
  private isRunDir(dir: string): boolean {
    return isServableFile(this.root, join(dir, "config.json"));
  }

  /** Ids of every run directory (those holding a config.json), oldest first. */
  list(): string[] {
    if (!existsSync(this.root)) return [];
    const created = (name: string) => statSync(join(this.root, name, "config.json")).mtimeMs;
    return readdirSync(this.root)
      .filter((name) => isSafeName(name) && this.isRunDir(join(this.root, name)))
      .sort((a, b) => created(a) - created(b) || a.localeCompare(b));
  }

  readJson(id: string, file: string): unknown | null {
    const path = join(this.existingDir(id), file);
    if (!isServableFile(this.root, path)) return null;
    try {
      return JSON.parse(readFileSync(path, "utf8"));
    } catch {
      return null;
    }
  }

  /**
   * The last metrics row that has `key` among the last kTailBytes of the run's metrics.jsonl (a run
   * started from the CLI reports its progress only there); null when there is none. Only a regular
   * file is read: not a symlink, and not a FIFO (opened without blocking, then refused).
   */
  lastMetricsRow(id: string, key: string): Record<string, unknown> | null {
    let fd: number;
    try {
      fd = openSync(join(this.existingDir(id), "metrics.jsonl"), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    } catch {
      return null;
    }
    try {
      const stats = fstatSync(fd);
      if (!stats.isFile()) return null;
      const { size, mtimeMs } = stats;
      const cacheKey = `${id}\n${key}`;
      const cached = this.lastRows.get(cacheKey);
      if (cached?.size === size && cached.mtimeMs === mtimeMs) return cached.row;
      const length = Math.min(size, kTailBytes);
      const buffer = Buffer.alloc(length);
      readSync(fd, buffer, 0, length, size - length);
      const row = lastRowWith(buffer.toString("utf8"), key);
      this.lastRows.set(cacheKey, { size, mtimeMs, row });
      return row;
    } finally {
      closeSync(fd);
    }
  }

  /** Path of a whitelisted run file; 404 when absent, 403 when it is a symlink or not a regular file. */
  filePath(id: string, file: string): string {
    if (!(file in kRunFiles)) throw new HttpError(404, `No file ${JSON.stringify(file)} is served for runs`);
    const path = join(this.existingDir(id), file);
    if (lstatOrNull(path) === null) throw new HttpError(404, `Run ${id} has no ${file} yet`);
    if (!isServableFile(this.root, path)) throw new HttpError(403, `${file} of run ${id} is not a regular file: links are not followed`);
    return path;
  }

  /** Complete checkpoints of a run, oldest first, with their files. */
  checkpoints(id: string): { name: string; files: { name: string; bytes: number }[] }[] {
    const root = join(this.existingDir(id), kCheckpointsDir);
    if (!existsSync(root)) return [];
    return readdirSync(root)
      .filter((name) => isSafeName(name) && existsSync(join(root, name, "COMPLETE")))
      .sort()
      .map((name) => ({
        name,
        files: readdirSync(join(root, name))
          .filter((f) => isSafeName(f) && isServableFile(this.root, join(root, name, f)))
          .map((f) => ({ name: f, bytes: statSync(join(root, name, f)).size })),
      }));
  }

  /** The latest complete checkpoint's folder name, or null. */
  latestCheckpoint(id: string): string | null {
    const dir = latestCheckpoint(this.existingDir(id));
    return dir ? (dir.split(sep).pop() ?? null) : null;
  }

  /** Path of one file of a checkpoint (`latest` names the latest), checked to stay in the run. */
  checkpointFile(id: string, checkpoint: string, file: string): string {
    const name = checkpoint === "latest" ? this.latestCheckpoint(id) : checkpoint;
    if (!name || !isSafeName(name) || !isSafeName(file)) throw new HttpError(404, `No checkpoint ${checkpoint} in run ${id}`);
    const dir = join(this.existingDir(id), kCheckpointsDir, name);
    if (!existsSync(join(dir, "COMPLETE"))) throw new HttpError(404, `No complete checkpoint ${name} in run ${id}`);
    const path = join(dir, file);
    if (!isServableFile(this.root, path)) throw new HttpError(404, `No file ${file} in checkpoint ${name}`);
    return path;
  }
}
