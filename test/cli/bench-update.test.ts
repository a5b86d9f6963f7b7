// `tennis-train bench update`: the native bench and the reference measured side by side, rows per
// implementation, ratios from their medians; CUDA mode on a machine without CUDA says why, row-less.
import { expect } from "chai";

import { runtimeInfo } from "../../binding/index.ts";
import { benchUpdate, formatBenchUpdate } from "../../bench/update.ts";
import { runCli } from "./cli.test.ts";

describe("bench update", function () {
  this.timeout(180_000);

  it("measures libtorch, fused and the reference on the CPU and gives their ratios", () => {
    const result = benchUpdate({ seconds: 0.3, threads: [1], batch: 64, hidden: [32, 32], repeats: 1 });
    const impls = result.rows.map((r) => r.impl).sort();
    expect(impls).to.include.members(["fused", "libtorch"]);
    for (const r of result.rows) expect(r.updates_per_s).to.be.greaterThan(0);
    expect(result.ratios.fused_vs_libtorch["1"]).to.be.closeTo(result.medians.fused["1"] / result.medians.libtorch["1"], 1e-9);
    if (impls.includes("reference")) {
      expect(result.ratio_fused_vs_reference).to.equal(result.medians.fused["1"] / result.medians.reference["1"]);
    } else {
      expect(result.notes.join("\n")).to.match(/reference/);
    }
    expect(result.ratios.graph_vs_reference).to.deep.equal({});
    expect(formatBenchUpdate(result)).to.contain("fused / libtorch at 1 thread:");
    expect(formatBenchUpdate(result)).not.to.contain("medians of");
  });

  it("with repeats, the native bench and the reference take turns and the ratios use the medians", () => {
    const result = benchUpdate({ seconds: 0.2, threads: [1], batch: 64, hidden: [32, 32], impls: ["fused"], repeats: 3 });
    const fused = result.rows.filter((r) => r.impl === "fused");
    expect(fused.map((r) => r.repeat)).to.deep.equal([0, 1, 2]);
    const sorted = fused.map((r) => r.updates_per_s).sort((a, b) => a - b);
    expect(result.medians.fused["1"]).to.equal(sorted[1]);
    const reference = result.rows.filter((r) => r.impl === "reference");
    if (reference.length > 0) {
      expect(reference.map((r) => r.repeat)).to.deep.equal([0, 1, 2]);
      expect(formatBenchUpdate(result)).to.contain("(medians of 3 rounds)");
    }
  });

  it("--repeats is checked: a whole number from 1 to 100, for bench update only", () => {
    for (const [value, received] of [["0", "0"], ["1.5", "1.5"]]) {
      const { code, stderr } = runCli(["bench", "update", "--repeats", value]);
      expect(code).to.equal(2);
      expect(stderr.trim()).to.equal(`Expected integer between 1 and 100 for --repeats but received ${received} of type number`);
    }
    const { code, stderr } = runCli(["bench", "env", "--repeats", "2"]);
    expect(code).to.equal(2);
    expect(stderr).to.contain("--repeats applies to bench update only");
  });

  it("in CUDA mode without a CUDA device, reports why each side is missing", function () {
    if (runtimeInfo().cudaAvailable) this.skip();
    const result = benchUpdate({ seconds: 0.2, device: "cuda" });
    expect(result.rows).to.deep.equal([]);
    expect(result.notes.join("\n")).to.contain('device is "cuda" but CUDA is not available to this build');
    expect(result.ratios.graph_vs_reference).to.deep.equal({});
  });
});
