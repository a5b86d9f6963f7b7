// Config resolution: schema defaults < file < flags, messages that name field, expectation and value.
import { expect } from "chai";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { checkConfig, checkRuntime } from "../../src/lib/config/check.ts";
import { flagsToConfig } from "../../src/lib/config/flags.ts";
import { ConfigError, didYouMean, resolveConfig } from "../../src/lib/config/resolve.ts";
import { isSafeName, kMaxConfigNameLength, namePattern } from "../../src/lib/config/names.ts";
import { nodeAt, optionLeaves, schemaDefaults, schemaPath } from "../../src/lib/config/schema.ts";
import type { Config } from "../../src/lib/config/types.ts";
import { resolveImpl } from "../../src/lib/trainer/maddpg-options.ts";

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  expect.fail("expected a ConfigError");
}

const dir = mkdtempSync(join(tmpdir(), "tt-config-"));
function writeJson(name: string, value: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify(value));
  return path;
}

describe("config schema", () => {
  it("gives every option a type, a default and a description, and unique flags", () => {
    const leaves = optionLeaves();
    expect(leaves.length).to.be.greaterThan(40);
    for (const leaf of leaves) {
      expect(leaf.node.type, leaf.path).to.be.a("string");
      expect(leaf.node.default, leaf.path).not.to.equal(undefined);
      expect(leaf.node.description, leaf.path).to.match(/\.$/);
    }
    const flags = leaves.map((l) => l.flag);
    expect(new Set(flags).size).to.equal(flags.length);
  });

  it("defaults validate against the schema and the cross-field rules", () => {
    const config = resolveConfig();
    expect(config).to.deep.equal(schemaDefaults());
    expect(checkConfig(config)).to.deep.equal([]);
  });

  it("configs/default.json resolves to the schema defaults plus its name", () => {
    const config = resolveConfig({ file: join(schemaPath, "..", "default.json") });
    expect(config.name).to.equal("default");
    expect(config).to.deep.equal(schemaDefaults());
  });
});

describe("config resolution", () => {
  it("applies defaults < file < flags", () => {
    const file = writeJson("layers.json", { seed: 7, train: { batchSize: 128, episodes: 50 } });
    const config = resolveConfig({ file, flags: { train: { episodes: 30 } } });
    expect(config.seed).to.equal(7);
    expect(config.train.batchSize).to.equal(128);
    expect(config.train.episodes).to.equal(30);
    expect(config.agent.gamma).to.equal(0.99);
  });

  it("names a wrong type, an out-of-range value and an unknown key together", () => {
    const file = writeJson("bad.json", { train: { batchSize: "big", episodes: 0 }, agnet: { tau: 0.1 } });
    expect(problemsOf(() => resolveConfig({ file }))).to.deep.equal([
      `Unknown option \`agnet\` in ${file} (did you mean \`agent\`?)`,
      `Expected integer between 1 and 1000000 for \`train.episodes\` but received 0 of type number in ${file}`,
      `Expected integer between 1 and 65536 for \`train.batchSize\` but received "big" of type string in ${file}`,
    ]);
  });

  it("suggests the sibling key for a misspelt nested key", () => {
    const problems = problemsOf(() => resolveConfig({ fileObject: { agent: { lrActr: 0.001 } } }));
    expect(problems).to.deep.equal(["Unknown option `agent.lrActr` in the config (did you mean `agent.lrActor`?)"]);
  });

  it("names enums and array items", () => {
    const problems = problemsOf(() => resolveConfig({ fileObject: { device: "tpu", agent: { hidden: [128, 0] } } }));
    expect(problems).to.deep.equal([
      'Expected one of "cpu", "cuda" for `device` but received "tpu" of type string in the config',
      "Expected array of integer between 1 and 4096 (1 to 8 items) for `agent.hidden` but received Array of length 2 in the config",
    ]);
  });

  it("rejects a file that is not JSON or not an object", () => {
    const notJson = join(dir, "broken.json");
    writeFileSync(notJson, "{ seed: 1 ");
    expect(problemsOf(() => resolveConfig({ file: notJson }))[0]).to.match(/^Config file .*broken\.json is not valid JSON/);
    expect(problemsOf(() => resolveConfig({ fileObject: [1, 2] }))).to.deep.equal([
      "Expected a JSON object in the config but received Array of length 2",
    ]);
    expect(problemsOf(() => resolveConfig({ file: join(dir, "missing.json") }))[0]).to.match(/^Cannot read config file/);
  });

  it("rejects NaN and ±Infinity (JSON's 1e309) by field, in files and flags, even within a range", () => {
    const path = join(dir, "huge.json");
    writeFileSync(path, '{"train": {"targetScore": 1e309, "negSamplingRatio": -1e309}}');
    expect(problemsOf(() => resolveConfig({ file: path }))).to.deep.equal([
      `Expected number between -1 and 1 for \`train.negSamplingRatio\` but received -Infinity of type number in ${path}`,
      `Expected finite number for \`train.targetScore\` but received Infinity of type number in ${path}`,
    ]);
    expect(problemsOf(() => resolveConfig({ flags: { noise: { sigma: NaN } } }))).to.deep.equal([
      "Expected number between 0 and 10 for `noise.sigma` but received NaN of type number in the command-line flags",
    ]);
  });

  it("reports flag errors as coming from the command line", () => {
    const problems = problemsOf(() => resolveConfig({ flags: { agent: { gamma: 2 } } }));
    expect(problems).to.deep.equal(["Expected number between 0 and 1 for `agent.gamma` but received 2 of type number in the command-line flags"]);
  });

  it("maps flags onto config paths, and --cuda onto device", () => {
    expect(flagsToConfig({ "batch-size": 64, episodes: 3, cuda: true, unrelated: 1 })).to.deep.equal({
      train: { batchSize: 64, episodes: 3 },
      device: "cuda",
    });
  });
});

describe("checkConfig", () => {
  const base = () => structuredClone(schemaDefaults()) as unknown as Config;

  it("batch larger than the buffer", () => {
    const config = base();
    config.buffer.capacity = 50;
    expect(checkConfig(config)).to.deep.equal(["`train.batchSize` (64) must not exceed `buffer.capacity` (50)"]);
  });

  it("remote env without addresses, and addresses without remote", () => {
    const config = base();
    config.env.kind = "remote";
    expect(checkConfig(config)[0]).to.contain("needs at least one address");
    config.env.kind = "builtin";
    config.env.addresses = ["tcp://127.0.0.1:5555"];
    expect(checkConfig(config)[0]).to.contain("`env.addresses` is set but `env.kind` is builtin");
  });

  it("cuda requested where none is usable", () => {
    const config = base();
    config.device = "cuda";
    expect(checkRuntime(config, { cudaAvailable: false })[0]).to.contain("no CUDA device is usable");
    expect(checkRuntime(config, { cudaAvailable: true })).to.deep.equal([]);
  });

  it("prioritized replay with the notebook's sampling filters", () => {
    const config = base();
    config.buffer.prioritized = true;
    expect(checkConfig(config)).to.deep.equal([]);
    config.train.negSamplingRatio = 0.3;
    expect(checkConfig(config)[0]).to.contain("`buffer.prioritized` cannot be combined");
  });

  it("the fused update with options only the libtorch one has", () => {
    const config = base();
    config.agent.impl = "fused";
    config.agent.layerNorm = true;
    config.device = "cuda";
    expect(checkConfig(config)).to.deep.equal(["`agent.impl` = fused does not support `agent.layerNorm`, `device` = cuda; use --impl libtorch (or auto)"]);
    config.agent.impl = "auto";
    expect(checkConfig(config)).to.deep.equal([]);
  });

  it("the CUDA-graph update off the GPU or with BatchNorm, and what auto picks", () => {
    const config = base();
    config.agent.impl = "graph";
    config.agent.batchNorm = true;
    expect(checkConfig(config)).to.deep.equal([
      "`agent.impl` = graph (CUDA graphs) does not support `agent.batchNorm`, `device` = cpu; use --impl libtorch (or auto)",
    ]);
    config.agent.impl = "auto";
    expect(resolveImpl(config)).to.equal("libtorch");
    config.device = "cuda";
    expect(resolveImpl(config)).to.equal("libtorch");
    config.agent.batchNorm = false;
    expect(resolveImpl(config)).to.equal("graph");
    config.device = "cpu";
    expect(resolveImpl(config)).to.equal("fused");
  });

  it("a noise schedule that grows", () => {
    const config = base();
    config.noise.scaleEnd = 2;
    expect(checkConfig(config)[0]).to.contain("must not exceed `noise.scaleStart`");
  });
});

describe("didYouMean", () => {
  it("finds close names and ignores far ones", () => {
    expect(didYouMean("batchSzie", ["batchSize", "episodes"])).to.equal("batchSize");
    expect(didYouMean("zzz", ["batchSize", "episodes"])).to.equal(undefined);
  });
});

describe("schema file", () => {
  it("is valid JSON with draft-07 $schema", () => {
    expect(JSON.parse(readFileSync(schemaPath, "utf8")).$schema).to.contain("draft-07");
  });

  it("states the one name rule of src/lib/config/names.ts for `name`", () => {
    expect(nodeAt("name")!.pattern).to.equal(namePattern(kMaxConfigNameLength).source);
    for (const name of ["a..b", "..", ".", ".x", "a/b", "", "x".repeat(65)]) expect(isSafeName(name) && name.length <= 64, name).to.equal(false);
    for (const name of ["a.b", "tuned-x_1", "x".repeat(64)]) expect(new RegExp(nodeAt("name")!.pattern!).test(name), name).to.equal(true);
  });
});
