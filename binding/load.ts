// The only place that loads the .node file: tries each candidate, checks its version against
// package.json, hands it the TennisTrainError class, or fails with one message that explains itself.
import { createRequire } from "node:module";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";

import { TennisTrainError } from "./errors.ts";
import { packageRoot, packageVersion } from "./package.ts";

const require = createRequire(import.meta.url);

/** Raw addon exports; the classes and functions are typed by the binding file that uses them. */
export type Addon = Record<string, any> & { version: string };

/** Where the addon is looked for, in order: $TENNIS_TRAIN_ADDON, build/Release, build/Debug. */
export function addonCandidates(env: NodeJS.ProcessEnv = process.env): string[] {
  const candidates: string[] = [];
  if (env.TENNIS_TRAIN_ADDON) candidates.push(resolve(env.TENNIS_TRAIN_ADDON));
  candidates.push(join(packageRoot, "build", "Release", "tennis_train.node"));
  candidates.push(join(packageRoot, "build", "Debug", "tennis_train.node"));
  return candidates;
}

/**
 * Loads the first candidate that opens and has the expected version. On failure the thrown
 * TennisTrainError (code ERR_ADDON_LOAD or ERR_ADDON_VERSION) lists every path and why it failed.
 */
export function loadAddon(candidates: string[] = addonCandidates(), expectedVersion = packageVersion): Addon {
  const failures: string[] = [];
  let versionMismatch = false;
  for (const path of candidates) {
    if (!existsSync(path)) {
      failures.push(`${path}: not found`);
      continue;
    }
    let addon: Addon;
    try {
      addon = require(path) as Addon;
    } catch (err) {
      failures.push(`${path}: ${(err as Error).message.split("\n")[0]}`);
      continue;
    }
    if (addon.version !== expectedVersion) {
      versionMismatch = true;
      failures.push(`${path}: addon version ${addon.version} differs from package version ${expectedVersion}`);
      continue;
    }
    addon.setErrorClass(TennisTrainError);
    return addon;
  }
  const fixes = [
    "run `npm run setup` (installs LibTorch where missing and builds the addon), or `npm run build` to rebuild it",
    "if LibTorch lives elsewhere, set LIBTORCH to an unzipped libtorch folder (or Torch_DIR) and rebuild",
    "if a shared library is missing at load, check that the LibTorch the addon was built against is still installed",
    "set TENNIS_TRAIN_ADDON to the path of a tennis_train.node built for this version",
  ];
  throw new TennisTrainError(
    `Could not load the tennis-train native addon. Tried:\n${failures.map((f) => `  - ${f}`).join("\n")}\n` +
      `Possible solutions:\n${fixes.map((f) => `  - ${f}`).join("\n")}`,
    versionMismatch ? "ERR_ADDON_VERSION" : "ERR_ADDON_LOAD",
  );
}

let loaded: Addon | undefined;

/** The addon, loaded on first use (so `--help` and config checks work without a build). */
export function getAddon(): Addon {
  loaded ??= loadAddon();
  return loaded;
}

/** Lazy view of the addon's exports: `addon.TennisEnv` loads the addon on first access. */
export const addon: Addon = new Proxy({} as Addon, {
  get: (_target, key) => Reflect.get(getAddon(), key),
  has: (_target, key) => Reflect.has(getAddon(), key),
});
