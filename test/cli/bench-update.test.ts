// `tennis-train bench update`: the native bench and the reference measured side by side, rows per
// implementation, ratios from their medians; CUDA mode on a machine without CUDA says why, row-less.
import { expect } from "chai";

import { runtimeInfo } from "../../binding/index.ts";
import { benchUpdate, formatBenchUpdate } from "../../bench/update.ts";

describe("bench update", function () {
  this.timeout(180_000);

  it("measures libtorch, fused and the reference on the CPU and gives their ratios", () => {
    const result = benchUpdate({ seconds: 0.3, threads: [1], batch: 64, hidden: [32, 32] });
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
  });

  it("in CUDA mode without a CUDA device, reports why each side is missing", function () {
    if (runtimeInfo().cudaAvailable) this.skip();
    const result = benchUpdate({ seconds: 0.2, device: "cuda" });
    expect(result.rows).to.deep.equal([]);
    expect(result.notes.join("\n")).to.contain('device is "cuda" but CUDA is not available to this build');
    expect(result.ratios.graph_vs_reference).to.deep.equal({});
  });
});
