// The run's charts: the SVG text carries the axis titles, tick labels, legend, solved marker and the
// polishing phase; the PNG is the SVG rendered (PNG signature, twice the SVG's size).
import { expect } from "chai";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PNG } from "pngjs";

import { diagnosticsSpec, objectiveSpec, renderChart, scoresSpec, writeChart, writeRunPlots } from "../../src/lib/log/plot.ts";

/** The text of every <text> element of an SVG, entities decoded. */
function svgTexts(svg: string): string[] {
  return [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1].replace(/&amp;/g, "&").replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&#39;/g, "'").replace(/&quot;/g, '"'));
}

/** 300 episodes whose average crosses 0.5 at episode 180. */
function run(episodes = 300) {
  const scores = Array.from({ length: episodes }, (_, i): number => (i < 150 ? 0.05 : 1.2));
  const averages = scores.map((_, i) => {
    const window = scores.slice(Math.max(0, i - 99), i + 1);
    return window.reduce((a, b) => a + b) / window.length;
  });
  return { scores, averages, target: 0.5, window: 100, episodes };
}

describe("run charts", function () {
  this.timeout(60_000);

  it("writes the SVG alone where no PNG can be rendered (no @resvg/resvg-js, as in the one-file bundle)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tt-plot-"));
    const base = join(dir, "scores");
    const written = await writeChart(scoresSpec({ ...run(), solvedAt: 180 }), base, async () => null);
    expect(written).to.deep.equal([`${base}.svg`]);
    expect(readFileSync(`${base}.svg`, "utf8")).to.contain("solved at episode 180");
    expect(existsSync(`${base}.png`)).to.equal(false);
  });

  it("scores: axis titles, tick labels, legend, the solved marker and the polishing phase are in the SVG", async () => {
    const { svg, png } = await renderChart(scoresSpec({ ...run(), solvedAt: 180 }));
    const texts = svgTexts(svg);
    expect(texts).to.include.members(["Episode", "Score (max over agents)", "Score per episode"]);
    expect(texts).to.include.members(["0", "100", "200", "300", "0.4", "1.0"]);
    expect(texts).to.include.members(["episode score", "100-episode average", "target 0.5"]);
    expect(texts).to.include("solved at episode 180");
    expect(texts).to.include("polishing");
    expect(texts).to.include("solved at episode 180; trained on to episode 300");
    // The target and the solve are drawn as rules, not only named.
    expect(svg).to.contain('<line aria-label="target: 0.5" role="graphics-symbol" aria-roledescription="rule mark"');
    expect(svg).to.contain('<line aria-label="episode: 180" role="graphics-symbol" aria-roledescription="rule mark"');
    const image = PNG.sync.read(png!);
    const width = Number(/<svg[^>]* width="(\d+)"/.exec(svg)![1]);
    expect(image.width).to.equal(2 * width);
  });

  it("an unsolved run has no solved marker and no polishing phase; a run that stops at solving has no polishing", async () => {
    const unsolved = svgTexts((await renderChart(scoresSpec({ ...run(120), solvedAt: null }))).svg);
    expect(unsolved).to.include("120 episodes, not solved");
    expect(unsolved.some((t) => t.startsWith("solved at"))).to.equal(false);
    expect(unsolved).not.to.include("polishing");
    const stopped = svgTexts((await renderChart(scoresSpec({ ...run(180), solvedAt: 180 }))).svg);
    expect(stopped).to.include("solved at episode 180");
    expect(stopped).not.to.include("polishing");
  });

  it("diagnostics: a titled panel per quantity with axis titles, legends and the solve marked", async () => {
    const records = Array.from({ length: 60 }, (_, i) => ({
      step: i + 1,
      "train/critic_loss": 1e-4 * (i + 1),
      "train/actor_loss": -i / 10,
      "train/q_mean": i / 10,
      "train/critic_grad_norm": 0.5,
      "train/actor_grad_norm": 0.01,
      "train/action_saturation": 0.25,
    }));
    const texts = svgTexts((await renderChart(diagnosticsSpec(records, { episodes: 60, solvedAt: 40 }))).svg);
    expect(texts).to.include.members(["Training diagnostics", "Critic loss (log)", "Actor loss", "Q (batch mean)", "Gradient norm (log)", "Action saturation"]);
    expect(texts).to.include.members(["critic", "actor", "actor loss (-Q)"]);
    expect(texts.filter((t) => t === "Episode")).to.have.length(5);
    expect(texts.filter((t) => t === "solved at episode 40")).to.have.length(5);
    expect(texts).to.include.members(["0.0001", "0.001", "0.01", "−6", "60"]);
  });

  it("writeRunPlots writes scores and diagnostics as SVG and PNG from the run's metrics.jsonl", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tt-plot-"));
    writeFileSync(join(dir, "metrics.jsonl"), `${JSON.stringify({ step: 1, "train/critic_loss": 0.5 })}\n${JSON.stringify({ step: 2, "train/critic_loss": 0.25 })}\n`);
    const written = await writeRunPlots(dir, { ...run(2), solvedAt: null });
    expect(written.map((p) => p.slice(dir.length + 1))).to.deep.equal(["scores.svg", "scores.png", "diagnostics.svg", "diagnostics.png"]);
    for (const path of written) expect(existsSync(path)).to.equal(true);
    expect(readFileSync(join(dir, "diagnostics.svg"), "utf8")).to.contain("Critic loss (log)");
  });

  it("a study's objective per trial: axis titles, ticks, legend with the best so far, pruned and failed", async () => {
    const trials = [
      { number: 0, state: "complete", objective: 240 },
      { number: 1, state: "pruned", objective: null },
      { number: 2, state: "complete", objective: 180 },
      { number: 3, state: "failed", objective: null },
      { number: 4, state: "complete", objective: 210 },
    ];
    const texts = svgTexts((await renderChart(objectiveSpec(trials, "Episodes to solve"))).svg);
    expect(texts).to.include.members(["Objective per trial", "3 complete of 5 trials; lower is better", "Trial", "Episodes to solve"]);
    expect(texts).to.include.members(["0", "1", "2", "3", "4", "180", "200", "240"]);
    expect(texts).to.include.members(["complete trial", "best so far", "pruned", "failed"]);
  });
});
