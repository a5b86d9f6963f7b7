// Folders a command writes into (the runs folder, a study folder) are created and probed before any
// work starts, one level at a time: Node's recursive mkdir spins forever under /proc, and a folder
// that cannot hold files should fail at once with its field's name, not after training.
import { lstatSync, mkdirSync, mkdtempSync, rmdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";

import { describe } from "../../../binding/validate.ts";

/** The folders from the deepest existing ancestor of `dir` (exclusive) down to `dir`. */
function missingFolders(dir: string): string[] {
  const missing: string[] = [];
  for (let path = resolve(dir); ; path = dirname(path)) {
    try {
      lstatSync(path);
      return missing.reverse();
    } catch {
      if (dirname(path) === path) return missing.reverse();
      missing.push(path);
    }
  }
}

/**
 * Creates `dir` where missing and checks that entries can be made in it. Returns null, or one line
 * naming `field` ("`log.runsDir`", "--study") and what went wrong.
 */
export function writableDirProblem(dir: unknown, field: string): string | null {
  const expected = `Expected a folder that can be created and written for ${field} but received ${describe(dir)}`;
  if (typeof dir !== "string" || dir === "") return expected;
  try {
    for (const folder of missingFolders(dir)) mkdirSync(folder);
    rmdirSync(mkdtempSync(join(dir, ".write-check-")));
  } catch (err) {
    return `${expected}: ${(err as Error).message}`;
  }
  return null;
}
