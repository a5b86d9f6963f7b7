// Run directories: runs/<env>__<config>__<seed>__<unixtime>/ holding config.json, metrics.jsonl,
// TensorBoard events, checkpoints/, summary.json and scores.png.
import { existsSync, mkdirSync, renameSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

import type { Config } from "../config/types.ts";

/** Creates a fresh run directory for `config` and writes the resolved config into it. */
export function createRunDir(config: Config, now = Date.now()): string {
  const env = config.env.kind === "builtin" ? "tennis" : "tennis-remote";
  let dir = resolve(config.log.runsDir, `${env}__${config.name}__${config.seed}__${Math.floor(now / 1000)}`);
  for (let n = 2; existsSync(dir); n++) dir = dir.replace(/(__\d+)(-\d+)?$/, `$1-${n}`);
  mkdirSync(dir, { recursive: true });
  writeJson(join(dir, "config.json"), config);
  return dir;
}

/** Writes `value` as indented JSON, whole or not at all: a kill midway leaves the file as it was. */
export function writeJson(path: string, value: unknown): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`);
  renameSync(tmp, path);
}
