// Append-only log files of child processes (stderr.log) inside run directories that other users may
// be able to write to.
import { constants, createWriteStream, openSync, type WriteStream } from "node:fs";

/**
 * A stream appending to `path`, created when missing (mode 0644). A symlink at `path` is not followed
 * (O_NOFOLLOW), so the log cannot be redirected onto another file. Returns null when the file cannot
 * be opened; write errors later on are ignored (the stream's owner must not fail with its log).
 */
export function openAppendLog(path: string): WriteStream | null {
  let fd: number;
  try {
    fd = openSync(path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW, 0o644);
  } catch {
    return null;
  }
  const stream = createWriteStream(path, { fd });
  stream.on("error", () => undefined);
  return stream;
}
