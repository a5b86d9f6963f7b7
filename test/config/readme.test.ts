// The README's options table is generated from the schema and must be current.
import { expect } from "chai";
import { readFileSync } from "node:fs";
import { join } from "node:path";

import { packageRoot } from "../../binding/package.ts";
import { optionsTable } from "../../src/lib/config/docs.ts";

describe("README options table", () => {
  it("matches the schema (regenerate with node --import tsx scripts/gen-options-table.ts)", () => {
    const readme = readFileSync(join(packageRoot, "README.md"), "utf8");
    expect(readme).to.contain(optionsTable());
  });
});
