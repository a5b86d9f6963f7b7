// The package's root folder and version, for code that needs them without loading the addon.
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** Repository (package) root: binding/ sits directly under it (so does the one-file CLI bundle's folder). */
export const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** The version in package.json, which the addon must match. */
export const packageVersion: string = JSON.parse(readFileSync(join(packageRoot, "package.json"), "utf8")).version;
