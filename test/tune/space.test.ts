// The search space: every problem named with the option, what was expected and what was received,
// unknown keys with did-you-mean, ranges checked against configs/schema.json.
import { expect } from "chai";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { ConfigError } from "../../src/lib/config/resolve.ts";
import { nestParams, parseSpace, readSpaceFile, SpaceError } from "../../src/apps/tune/space.ts";

function problemsOf(raw: unknown): string[] {
  try {
    parseSpace(raw, "space.json");
  } catch (err) {
    expect(err).to.be.instanceOf(SpaceError);
    expect(err).to.be.instanceOf(ConfigError);
    return (err as SpaceError).problems;
  }
  throw new Error("expected the space to be rejected");
}

describe("tune search space", () => {
  it("accepts the four parameter kinds and fills the defaults", () => {
    const space = parseSpace({
      base: { train: { episodes: 200 } },
      params: {
        "agent.lrActor": { type: "loguniform", low: 1e-4, high: 3e-3 },
        "agent.tau": { type: "uniform", low: 0.001, high: 0.05 },
        "noise.decayEpisodes": { type: "int", low: 50, high: 500, step: 50 },
        "train.batchSize": { type: "int", low: 32, high: 512, log: true },
        "agent.hidden": { type: "categorical", choices: [[64, 64], [128, 128]] },
      },
    });
    expect(space.params["noise.decayEpisodes"]).to.deep.equal({ type: "int", low: 50, high: 500, step: 50, log: false });
    expect(space.params["train.batchSize"]).to.deep.equal({ type: "int", low: 32, high: 512, step: 1, log: true });
    expect(space.pruner).to.deep.equal({ every: 50, startupTrials: 2, warmupEpisodes: 100 });
    expect(space.base).to.deep.equal({ train: { episodes: 200 } });
  });

  it("names unknown keys and options with did-you-mean", () => {
    expect(
      problemsOf({
        parms: {},
        base: { agent: { lrActr: 1e-3 } },
        params: {
          "agent.lrActr": { type: "loguniform", low: 1e-4, high: 1e-2 },
          lrCritic: { type: "loguniform", low: 1e-4, high: 1e-2 },
          "noise.decayEpisodes": { type: "int", low: 50, high: 500, stepp: 2 },
          "agent.gamma": { type: "logunifrom", low: 0.9, high: 0.999 },
        },
        pruner: { evry: 25 },
      }),
    ).to.deep.equal([
      "Unknown key `parms` of space.json (did you mean `params`?)",
      "Unknown option `agent.lrActr` in `base` of space.json (did you mean `agent.lrActor`?)",
      "Unknown option `agent.lrActr` in `params` of space.json (did you mean `agent.lrActor`?)",
      "Unknown option `lrCritic` in `params` of space.json (did you mean `agent.lrCritic`?)",
      "Unknown key `stepp` in `params.noise.decayEpisodes` of space.json (did you mean `step`?)",
      'Expected one of "uniform", "loguniform", "int", "categorical" for `params.agent.gamma.type` but received "logunifrom" of type string in space.json (did you mean "loguniform"?)',
      "Unknown key `evry` in `pruner` of space.json (did you mean `every`?)",
    ]);
  });

  it("keeps ranges inside the schema's and names the bound", () => {
    expect(
      problemsOf({
        params: {
          "agent.tau": { type: "uniform", low: 0, high: 0.05 },
          "agent.gamma": { type: "uniform", low: 0.9, high: 1.5 },
          "train.window": { type: "int", low: 0, high: 10 },
          "agent.policyDelay": { type: "int", low: 3, high: 1 },
          "noise.sigma": { type: "loguniform", low: 0, high: 1 },
          "noise.decayEpisodes": { type: "int", low: 50, high: 500, step: 100 },
        },
      }),
    ).to.deep.equal([
      "Expected number > 0 and <= 1 (the schema's range of `agent.tau`) for `params.agent.tau.low` but received 0 of type number in space.json",
      "Expected number between 0 and 1 (the schema's range of `agent.gamma`) for `params.agent.gamma.high` but received 1.5 of type number in space.json",
      "Expected integer between 1 and 10000 (the schema's range of `train.window`) for `params.train.window.low` but received 0 of type number in space.json",
      "Expected `low` (3) below `high` (1) in `params.agent.policyDelay` of space.json",
      "Expected number > 0 (a log scale) for `params.noise.sigma.low` but received 0 of type number in space.json",
      "Expected `high` - `low` (450) to be a multiple of `step` (100) in `params.noise.decayEpisodes` of space.json",
    ]);
  });

  it("matches each parameter kind to the option's type", () => {
    expect(
      problemsOf({
        params: {
          "agent.hidden": { type: "loguniform", low: 1, high: 2 },
          "train.batchSize": { type: "uniform", low: 32, high: 64 },
          "train.warmupSteps": { type: "int", low: 0.5, high: 100 },
          "agent.layerNorm": { type: "categorical", choices: [true, "no"] },
          "noise.kind": { type: "categorical", choices: [] },
        },
      }),
    ).to.deep.equal([
      "`agent.hidden` accepts array of integer between 1 and 4096 (1 to 8 items): a loguniform parameter cannot set it (use categorical) in space.json",
      "`train.batchSize` accepts integer between 1 and 65536: a uniform parameter cannot set it (use int) in space.json",
      "Expected integer for `params.train.warmupSteps.low` but received 0.5 of type number in space.json",
      'Expected boolean for `agent.layerNorm` but received "no" of type string in choice 2 of `params.agent.layerNorm` of space.json',
      "Expected a non-empty array for `params.noise.kind.choices` but received Array of length 0 in space.json",
    ]);
  });

  it("refuses groups and the options tune sets itself", () => {
    expect(
      problemsOf({
        params: {
          agent: { type: "int", low: 1, high: 2 },
          seed: { type: "int", low: 0, high: 3 },
          threads: { type: "int", low: 1, high: 2 },
        },
      }),
    ).to.deep.equal([
      "`agent` in `params` of space.json is a group of options, not an option: name one of its options, e.g. `agent.hidden`",
      "`seed` cannot be searched (in `params` of space.json): tune sets it from --seeds",
      "`threads` cannot be searched (in `params` of space.json): tune gives each trial its own thread budget (cores / --parallel)",
    ]);
    expect(problemsOf({ params: {} })).to.deep.equal([
      "Expected an object of at least one parameter (config path -> {type, ...}) for `params` but received object in space.json",
    ]);
  });

  it("reads a file and names it, and reports bad JSON", () => {
    const dir = mkdtempSync(join(tmpdir(), "tennis-space-"));
    try {
      const good = join(dir, "good.json");
      writeFileSync(good, JSON.stringify({ params: { "agent.tau": { type: "uniform", low: 0.01, high: 0.1 } } }));
      expect(readSpaceFile(good).params["agent.tau"]).to.deep.equal({ type: "uniform", low: 0.01, high: 0.1 });
      const bad = join(dir, "bad.json");
      writeFileSync(bad, JSON.stringify({ params: { "agent.tau": { type: "uniform", low: 0.01, high: 2 } } }));
      expect(() => readSpaceFile(bad)).to.throw(
        SpaceError,
        `Invalid search space ${bad}:\n  - Expected number > 0 and <= 1 (the schema's range of \`agent.tau\`) for \`params.agent.tau.high\` but received 2 of type number in ${bad}`,
      );
      const broken = join(dir, "broken.json");
      writeFileSync(broken, "{ params: ");
      expect(() => readSpaceFile(broken)).to.throw(SpaceError, `${broken} is not valid JSON`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("nests dotted parameters into a partial config", () => {
    expect(nestParams({ "agent.tau": 0.02, "agent.hidden": [64], "noise.decayEpisodes": 100 })).to.deep.equal({
      agent: { tau: 0.02, hidden: [64] },
      noise: { decayEpisodes: 100 },
    });
  });
});
