// src/lib/config/types.ts is generated from the schema and must be what the generator writes now.
import { expect } from "chai";
import { readFileSync } from "node:fs";

import { configTypesPath, configTypesSource } from "../../scripts/gen-config-types.ts";

describe("config types", () => {
  it("src/lib/config/types.ts matches the schema (regenerate with node --import tsx scripts/gen-config-types.ts)", async () => {
    expect(readFileSync(configTypesPath, "utf8")).to.equal(await configTypesSource());
  });
});
