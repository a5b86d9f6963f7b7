import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { expect } from "chai";

import { benchSolve, formatSolveRow, median, parseSeeds } from "../../bench/solve.ts";
import { resolveConfig } from "../../src/lib/config/resolve.ts";

describe("bench solve", function () {
  this.timeout(180_000);

  it("parses seed lists and takes medians", () => {
    expect(parseSeeds("0-2,7")).to.deep.equal([0, 1, 2, 7]);
    expect(() => parseSeeds("3-1")).to.throw(/ascending/);
    expect(median([5, 1, 3])).to.equal(3);
    expect(median([4, 1, 3, 2])).to.equal(2.5);
    expect(median([])).to.equal(null);
  });

  it("reports each seed's whole run, final evaluation and polish verdict, and their medians and lowest", async () => {
    const runsDir = mkdtempSync(join(tmpdir(), "tt-bench-solve-"));
    // A target every run meets at its 5th episode, then polishing towards a target no check reaches.
    const config = resolveConfig({
      fileObject: {
        threads: 1,
        train: { episodes: 40, window: 5, targetScore: -1, warmupSteps: 60, batchSize: 32, checkpointEvery: 0, selectEvery: 2, selectEpisodes: 1, polishTarget: 50, polishEpisodes: 4, evalEpisodes: 3 },
        buffer: { capacity: 5000 },
        agent: { hidden: [16, 16] },
        log: { runsDir, tensorboard: false, progress: false },
      },
    });
    const result = await benchSolve(config, [0, 1]);
    expect(result.solved_count).to.equal(2);
    for (const row of result.runs) {
      expect(row).to.include({ solved: true, episodes_to_solve: 5, episodes: 9, polish_reached: false });
      expect(row.total_wall_s).to.be.at.least(row.wall_s);
      expect(formatSolveRow(row)).to.contain("whole run 9 episodes").and.contain("(below the polish target)");
    }
    expect(result.median_total_wall_s).to.equal(median(result.runs.map((r) => r.total_wall_s)));
    expect(result.min_final_eval).to.equal(Math.min(...result.runs.map((r) => r.final_eval_mean!)));
  });
});
