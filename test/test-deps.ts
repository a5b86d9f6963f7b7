// The test-only dependencies outside Node (Debian packages that scripts/setup.sh installs as root with
// apt): Python modules of /usr/bin/python3 and Chromium. Each probe returns why a test cannot run, or
// null when it can; skipBecause() skips a test or suite, printing that reason.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

/** The Debian Python that has the packages (the first python3 on PATH may not). */
export const PYTHON = "/usr/bin/python3";
/** Where Debian's chromium package puts the browser; CHROMIUM_PATH overrides it. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

/** Debian package of each Python module the tests import. */
const kDebianPackage = {
  torch: "python3-torch",
  numpy: "python3-numpy",
  zmq: "python3-zmq",
  PIL: "python3-pil",
  onnx: "python3-onnx",
} as const;
export type PythonModule = keyof typeof kDebianPackage;

const kHowToInstall = "`npm run setup` installs it as root";

/** Why PYTHON cannot import every one of `modules` (null when it can). */
export function pythonModulesMissing(modules: PythonModule[]): string | null {
  if (!existsSync(PYTHON)) return `${PYTHON} not found (Debian package python3; ${kHowToInstall})`;
  const lacking = modules.filter((module) => spawnSync(PYTHON, ["-c", `import ${module}`]).status !== 0);
  if (lacking.length === 0) return null;
  const packages = lacking.map((module) => kDebianPackage[module]);
  return `${PYTHON} lacks ${lacking.join(", ")} (apt-get install ${packages.join(" ")}; ${kHowToInstall})`;
}

/** Why there is no browser for the end-to-end tests (null when there is). */
export function chromiumMissing(): string | null {
  if (existsSync(CHROMIUM)) return null;
  return `no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH; ${kHowToInstall})`;
}

/** Skips the running test, or a suite from its before hook, printing the reason. */
export function skipBecause(context: Mocha.Context, reason: string): never {
  console.log(`      skipped: ${reason}`);
  context.skip();
}
