// Competitive mode's own defaults (configs/competitive.json): applied under a config file and flags
// when env.mode is competitive, valid against the schema, and nowhere else.
import { expect } from "chai";

import { competitiveDefaults, mergeConfig, resolveConfig } from "../../src/lib/config/resolve.ts";
import { schemaDefaults } from "../../src/lib/config/schema.ts";

describe("competitive mode's defaults", () => {
  it("apply when a flag or the config file picks competitive mode", () => {
    for (const config of [resolveConfig({ flags: { env: { mode: "competitive" } } }), resolveConfig({ fileObject: { env: { mode: "competitive" } } })]) {
      expect(config.train.nStep).to.equal(5);
      expect(config.agent.hidden).to.deep.equal([128, 128]);
      expect(config.noise.decayEpisodes).to.equal(1000);
    }
  });

  it("give way to the config file and the flags, and leave cooperative mode alone", () => {
    const fromFile = resolveConfig({ fileObject: { env: { mode: "competitive" }, train: { nStep: 2 } }, flags: { agent: { hidden: [64] } } });
    expect(fromFile.train.nStep).to.equal(2);
    expect(fromFile.agent.hidden).to.deep.equal([64]);
    expect(fromFile.noise.decayEpisodes).to.equal(1000);
    const cooperative = resolveConfig({ flags: { env: { mode: "cooperative" } } });
    expect(cooperative.train.nStep).to.equal(1);
    expect(cooperative.agent.hidden).to.deep.equal([256, 256]);
  });

  it("are a valid config layer of existing options", () => {
    const layer = competitiveDefaults();
    expect(() => resolveConfig({ fileObject: layer })).to.not.throw();
    const merged = mergeConfig(schemaDefaults(), layer);
    expect(Object.keys(merged).sort()).to.deep.equal(Object.keys(schemaDefaults()).sort());
  });
});
