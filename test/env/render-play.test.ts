// The env's library functions: the PNG render, the notebook's random-agent cell, the scripted
// evaluation and the env bench (its shape only: tests never check timing).
import { expect } from "chai";
import { PNG } from "pngjs";

import { TennisEnv } from "../../binding/env.ts";
import { benchEnv } from "../../bench/env.ts";
import { randomPlay } from "../../src/lib/env/random-play.ts";
import { racketCorners, renderPng } from "../../src/lib/env/render.ts";
import { evalScripted } from "../../src/lib/env/scripted-eval.ts";
import { envOptions } from "../helpers/env-options.ts";

describe("env/render", () => {
  const env = new TennisEnv(envOptions({ seed: 0 }));
  env.reset();
  const state = env.state();

  function pixel(png: PNG, x: number, y: number): number[] {
    const i = (Math.round(y) * png.width + Math.round(x)) * 4;
    return Array.from(png.data.subarray(i, i + 3));
  }
  // World -> pixel for the default 780-pixel image (the view spans x in [-13.2, 13.2], y up to 7.4).
  const scale = 780 / 26.4;
  const toPixel = (x: number, y: number) => [(x + 13.2) * scale, (7.4 - y) * scale];

  it("draws the ball, both rackets as rotated rectangles, the net and the floor", () => {
    const png = PNG.sync.read(renderPng(state));
    expect(png.width).to.equal(780);
    expect(png.height).to.be.within(330, 350);
    expect(pixel(png, ...(toPixel(state.ballX, state.ballY) as [number, number]))).to.deep.equal([214, 230, 40]);
    for (const [agent, color] of [
      [0, [40, 90, 210]],
      [1, [215, 70, 40]],
    ] as const) {
      const corners = racketCorners(state, agent);
      const cx = corners.reduce((a, c) => a + c[0], 0) / 4;
      const cy = corners.reduce((a, c) => a + c[1], 0) / 4;
      expect(pixel(png, ...(toPixel(cx, cy) as [number, number]))).to.deep.equal(color);
      // the rectangle is tilted: a point beside the centre along x, beyond the half width, is not racket
      expect(pixel(png, ...(toPixel(cx + 0.95, cy + 0.55) as [number, number]))).to.not.deep.equal(color);
    }
    expect(pixel(png, ...(toPixel(0, -2) as [number, number]))).to.deep.equal([40, 40, 40]); // net
    expect(pixel(png, ...(toPixel(5, -3.6) as [number, number]))).to.deep.equal([92, 150, 84]); // floor
  });

  it("racket corners match the spec's collider (agent 1 at the origin)", () => {
    const corners = racketCorners({ racketX: [0, 0], racketY: [0, 0] }, 1);
    const expected = [
      [0.79663, -0.49677],
      [0.1657, -1.39784],
      [-1.37021, -0.32238],
      [-0.73928, 0.57869],
    ];
    for (const [ex, ey] of expected) {
      expect(corners.some(([x, y]) => Math.abs(x - ex) < 1e-4 && Math.abs(y - ey) < 1e-4), `corner ${ex}, ${ey}`).to.equal(true);
    }
  });

  it("follows the state and the requested width", () => {
    const a = renderPng(state);
    const b = renderPng({ ...state, ballX: -state.ballX });
    expect(a.equals(b)).to.equal(false);
    expect(PNG.sync.read(renderPng(state, { width: 400 })).width).to.equal(400);
  });
});

describe("env/random-play, scripted-eval, bench", function () {
  this.timeout(60_000);

  it("randomPlay reproduces the notebook cell: per-episode max score and steps, deterministic", () => {
    const a = randomPlay({ episodes: 5, seed: 0 });
    const b = randomPlay({ episodes: 5, seed: 0 });
    expect(a).to.deep.equal(b);
    expect(a.episodes).to.have.length(5);
    for (const e of a.episodes) {
      expect(e.steps).to.be.within(12, 1001);
      expect(e.score).to.be.within(-0.01, 3);
    }
    expect(a.mean_steps).to.equal(a.episodes.reduce((s, e) => s + e.steps, 0) / 5);
    expect(a.min_steps).to.equal(Math.min(...a.episodes.map((e) => e.steps)));
    expect(a.histogram.reduce((s, h) => s + h.count, 0)).to.equal(5);
    expect(randomPlay({ episodes: 5, seed: 1 })).to.not.deep.equal(a);
  });

  it("evalScripted keeps every clean-reset rally to the step cap at about 2.7", () => {
    const r = evalScripted({ episodes: 3, seed: 1, cleanReset: true });
    expect(r.capped).to.equal(3);
    expect(r.scores).to.have.length(3);
    for (const s of r.scores) expect(s).to.be.closeTo(2.7, 0.11);
  });

  it("benchEnv reports one row per batch size and thread count", () => {
    const r = benchEnv({ envCounts: [1, 16], threads: [1, 2], seconds: 0.02 });
    expect(r.rows.map((row) => [row.envs, row.threads])).to.deep.equal([
      [1, 1],
      [1, 2],
      [16, 1],
      [16, 2],
    ]);
    for (const row of r.rows) expect(row.steps_per_s).to.be.greaterThan(0);
    expect(r.best_steps_per_s).to.equal(Math.max(...r.rows.map((row) => row.steps_per_s)));
  });
});
