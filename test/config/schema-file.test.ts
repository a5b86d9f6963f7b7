// configs/schema.json is the only place a default or a bound is written: a copy of it with other
// defaults and bounds, and nothing else changed, changes the resolved config, the options the trainer
// hands the learner, and what the native learner does with them.
import { expect } from "chai";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { ReplayBuffer } from "../../binding/buffer.ts";
import { AGENTS, JOINT_ACTION, JOINT_OBS, Maddpg } from "../../binding/maddpg.ts";
import { ConfigError, resolveConfig } from "../../src/lib/config/resolve.ts";
import { schemaPath, type SchemaNode } from "../../src/lib/config/schema.ts";
import { maddpgOptions } from "../../src/lib/trainer/maddpg-options.ts";

describe("a copy of the schema with other defaults", function () {
  this.timeout(60000);
  let dir = "";
  let copy = "";
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "tt-schema-"));
    const schema = JSON.parse(readFileSync(schemaPath, "utf8")) as SchemaNode;
    const section = (name: string) => schema.properties![name].properties!;
    section("train").batchSize = { ...section("train").batchSize, default: 40, maximum: 64 };
    section("agent").hidden = { ...section("agent").hidden, default: [24, 20] };
    section("agent").lrActor = { ...section("agent").lrActor, default: 0.002 };
    section("buffer").capacity = { ...section("buffer").capacity, default: 500 };
    copy = join(dir, "schema.json");
    writeFileSync(copy, JSON.stringify(schema));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("resolves to its defaults, and the learner options follow", () => {
    const stock = resolveConfig();
    expect([stock.train.batchSize, stock.agent.hidden, stock.agent.lrActor, stock.buffer.capacity]).to.deep.equal([64, [256, 256], 0.0003, 100000]);
    const config = resolveConfig({ schemaFile: copy });
    expect([config.train.batchSize, config.agent.hidden, config.agent.lrActor, config.buffer.capacity]).to.deep.equal([40, [24, 20], 0.002, 500]);
    const options = maddpgOptions(config);
    expect([options.batchSize, options.actorHidden, options.criticHidden, options.lrActor]).to.deep.equal([40, [24, 20], [24, 20], 0.002]);
  });

  it("applies its bounds to files and flags", () => {
    expect(resolveConfig({ flags: { train: { batchSize: 100 } } }).train.batchSize).to.equal(100);
    try {
      resolveConfig({ schemaFile: copy, flags: { train: { batchSize: 100 } } });
      expect.fail("no ConfigError");
    } catch (err) {
      expect((err as ConfigError).problems).to.deep.equal([
        "Expected integer between 1 and 64 for `train.batchSize` but received 100 of type number in the command-line flags",
      ]);
    }
  });

  it("the native learner samples its batch size and builds its widths", async () => {
    const config = resolveConfig({ schemaFile: copy, fileObject: { threads: 1 } });
    const learner = new Maddpg(maddpgOptions(config));
    const buffer = new ReplayBuffer({ ...config.buffer, seed: config.seed });
    const rows = 64;
    const fill = (n: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 0.5);
    buffer.add(fill(rows * JOINT_OBS), fill(rows * JOINT_ACTION), fill(rows * AGENTS), fill(rows * JOINT_OBS), new Float32Array(rows * AGENTS));
    try {
      expect(buffer.capacity).to.equal(500);
      const stats = await learner.update(buffer, 1);
      expect(stats.tdErrors).to.have.length(40);
      const shapes = Object.fromEntries(learner.parameterLayout().map((p) => [p.name, p.shape]));
      expect(shapes["shared/actor/fc.0.weight"]).to.deep.equal([24, 24]);
      expect(shapes["shared/actor/fc.1.weight"]).to.deep.equal([20, 24]);
    } finally {
      learner.dispose();
      buffer.dispose();
    }
  });
});
