// Competitive mode's own defaults (configs/competitive.json): applied under a config file and flags
// when env.mode is competitive, valid against the schema, and nowhere else.
import { expect } from "chai";

import { checkConfig } from "../../src/lib/config/check.ts";
import { competitiveDefaults, mergeConfig, resolveConfig } from "../../src/lib/config/resolve.ts";
import { schemaDefaults } from "../../src/lib/config/schema.ts";

describe("competitive mode's defaults", () => {
  it("apply when a flag or the config file picks competitive mode", () => {
    for (const config of [resolveConfig({ flags: { env: { mode: "competitive" } } }), resolveConfig({ fileObject: { env: { mode: "competitive" } } })]) {
      expect(config.train.nStep).to.equal(5);
      expect(config.agent.hidden).to.deep.equal([128, 128]);
      expect(config.noise.decayEpisodes).to.equal(1000);
      expect(config.env.cleanReset).to.equal(true);
      expect(config.train).to.include({ episodes: 4500, maxSteps: 200, batchSize: 256 });
      expect(config.selfPlay).to.include({ latestRatio: 0.25, scriptedRatio: 0.5, checkEvery: 250, keepBest: true });
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
    expect(cooperative.env.cleanReset).to.equal(false);
    expect(cooperative.selfPlay.scriptedRatio).to.equal(0);
  });

  it("refuse opponent shares (selfPlay.latestRatio + selfPlay.scriptedRatio) above 1", () => {
    const config = resolveConfig({ flags: { env: { mode: "competitive" } } });
    expect(checkConfig({ ...config, selfPlay: { ...config.selfPlay, latestRatio: 0.5, scriptedRatio: 0.5 } })).to.deep.equal([]);
    expect(checkConfig({ ...config, selfPlay: { ...config.selfPlay, latestRatio: 0.6, scriptedRatio: 0.5 } })).to.deep.equal([
      "`selfPlay.latestRatio` (0.6) and `selfPlay.scriptedRatio` (0.5) are shares of the opponent draws: their sum must not exceed 1",
    ]);
  });

  it("are a valid config layer of existing options", () => {
    const layer = competitiveDefaults();
    expect(() => resolveConfig({ fileObject: layer })).to.not.throw();
    const merged = mergeConfig(schemaDefaults(), layer);
    expect(Object.keys(merged).sort()).to.deep.equal(Object.keys(schemaDefaults()).sort());
  });
});
