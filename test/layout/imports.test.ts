// Imports point down the layers (binding <- src/lib <- src/apps, bench) and form no cycle: the rules
// of .dependency-cruiser.cjs, checked over the sources, and shown to catch each kind of violation.
import { expect } from "chai";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

import { packageRoot } from "../../binding/package.ts";

const kConfig = join(packageRoot, ".dependency-cruiser.cjs");
const kDepcruise = join(packageRoot, "node_modules", "dependency-cruiser", "bin", "dependency-cruise.mjs");

/** Runs dependency-cruiser with the repo's rules over `paths` in `cwd`; returns its exit status and report. */
function cruise(cwd: string, paths: string[]): { status: number | null; report: string } {
  const result = spawnSync(process.execPath, [kDepcruise, "--config", kConfig, "--output-type", "err", ...paths], { cwd, encoding: "utf8" });
  return { status: result.status, report: `${result.stdout}${result.stderr}` };
}

describe("import layers", function () {
  this.timeout(120000);

  it("the sources have no import cycle and no import up the layers", () => {
    const { status, report } = cruise(packageRoot, ["src", "binding", "bench", "scripts", "bin"]);
    expect(status, report).to.equal(0);
    expect(report).to.contain("no dependency violations found");
  });

  it("the rules catch a cycle, src/lib importing src/apps or bench, bench importing src/apps, binding importing src", () => {
    const dir = mkdtempSync(join(tmpdir(), "tt-imports-"));
    try {
      const files: Record<string, string> = {
        "src/lib/a.ts": 'import { b } from "../apps/b.ts";\nimport { c } from "../../bench/c.ts";\nexport const a = b + c;\n',
        "src/apps/b.ts": "export const b = 1;\n",
        "bench/c.ts": 'import { b } from "../src/apps/b.ts";\nexport const c = b;\n',
        "binding/d.ts": 'import type { Config } from "../src/lib/e.ts";\nexport const d: Config = {};\n',
        "src/lib/e.ts": 'import { f } from "./f.ts";\nexport type Config = Record<string, number>;\nexport const e = f;\n',
        "src/lib/f.ts": 'import { e } from "./e.ts";\nexport const f = () => e;\n',
      };
      for (const [path, text] of Object.entries(files)) {
        mkdirSync(join(dir, dirname(path)), { recursive: true });
        writeFileSync(join(dir, path), text);
      }
      const { status, report } = cruise(dir, ["src", "bench", "binding"]);
      expect(status, report).to.not.equal(0);
      expect(report).to.contain("lib-not-to-apps: src/lib/a.ts → src/apps/b.ts");
      expect(report).to.contain("lib-not-to-apps: src/lib/a.ts → bench/c.ts");
      expect(report).to.contain("bench-not-to-apps: bench/c.ts → src/apps/b.ts");
      expect(report).to.contain("binding-not-to-src: binding/d.ts → src/lib/e.ts");
      expect(report).to.match(/no-circular: src\/lib\/e\.ts → \s*src\/lib\/f\.ts →\s*src\/lib\/e\.ts/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
