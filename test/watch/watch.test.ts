// `watch`: the GIF of a greedy rally (frame count, frames that differ, the ball where the replay says
// it is) and the replay page server, on a real tiny run's checkpoint.
import { expect } from "chai";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { playGreedyEpisode } from "../../src/apps/server/replay.ts";
import { latestCheckpoint } from "../../src/lib/trainer/checkpoint.ts";
import { runWatch, serveWatch, type GifResult } from "../../src/apps/watch/watch.ts";
import { tinyRun } from "../server/tiny-run.ts";
import { decodeGif } from "./gif-decode.ts";

/** Least-squares fit y = a x + b; returns the slope and the largest residual. */
function fit(xs: number[], ys: number[]): { slope: number; worst: number } {
  const n = xs.length;
  const mx = xs.reduce((s, v) => s + v, 0) / n;
  const my = ys.reduce((s, v) => s + v, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    sxy += (xs[i] - mx) * (ys[i] - my);
    sxx += (xs[i] - mx) ** 2;
  }
  const slope = sxy / sxx;
  const worst = Math.max(...xs.map((x, i) => Math.abs(my + slope * (x - mx) - ys[i])));
  return { slope, worst };
}

describe("watch", function () {
  this.timeout(60_000);
  let run: Awaited<ReturnType<typeof tinyRun>>;
  let outDir: string;

  before(async function () {
    run = await tinyRun();
    outDir = mkdtempSync(join(tmpdir(), "tennis-watch-"));
  });

  after(function () {
    if (run) rmSync(run.runsDir, { recursive: true, force: true });
    if (outDir) rmSync(outDir, { recursive: true, force: true });
  });

  it("--out writes a GIF with one frame per step of the greedy rally, the ball where the replay puts it", async function () {
    const out = join(outDir, "rally.gif");
    const result = (await runWatch({ checkpoint: run.runDir, out })) as GifResult;
    const replay = await playGreedyEpisode(run.runDir);
    const gif = decodeGif(readFileSync(out));
    expect(result.frames).to.equal(replay.frames.length);
    expect(gif.frames).to.have.length(replay.frames.length);
    expect(gif.frames.length).to.be.at.least(10);
    expect(gif.frames[0].delayCs).to.equal(10); // 0.1 s per decision: real time
    expect(gif.loop).to.equal(0);
    // Consecutive frames differ (the ball falls every step), and nearly all frames are distinct.
    const distinct = new Set(gif.frames.map((f) => Buffer.from(f.indices).toString("base64")));
    expect(distinct.size).to.be.at.least(gif.frames.length - 1);
    // The ball (render.ts's ball colour) sits where the replay says: pixel centroid linear in world y.
    const ball = gif.palette.findIndex(([r, g, b]) => r === 214 && g === 230 && b === 40);
    expect(ball).to.be.at.least(0);
    const centroids = gif.frames.map((f) => {
      let [sx, sy, n] = [0, 0, 0];
      f.indices.forEach((v, i) => {
        if (v !== ball) return;
        sx += i % gif.width;
        sy += Math.floor(i / gif.width);
        n += 1;
      });
      return n > 0 ? [sx / n, sy / n] : null;
    });
    const shown = replay.frames.map((f, i) => ({ world: f.ball, pixel: centroids[i] })).filter((p) => p.pixel && p.world[1] < 6.5);
    expect(shown.length).to.be.at.least(gif.frames.length - 2);
    const yFit = fit(shown.map((p) => p.world[1]), shown.map((p) => p.pixel![1]));
    expect(yFit.slope).to.be.below(-5); // up in the world is up in the picture
    expect(yFit.worst).to.be.below(2);
    const xs = shown.map((p) => p.world[0]);
    if (Math.max(...xs) - Math.min(...xs) > 0.5) {
      const xFit = fit(xs, shown.map((p) => p.pixel![0]));
      expect(xFit.slope).to.be.above(5);
      expect(xFit.worst).to.be.below(2);
    }
  });

  it("accepts a checkpoint folder as well as a run directory, and names what is missing", async function () {
    const out = join(outDir, "from-checkpoint.gif");
    const result = (await runWatch({ checkpoint: latestCheckpoint(run.runDir)!, out, seed: 3, maxSteps: 5 })) as GifResult;
    expect(decodeGif(readFileSync(out)).frames).to.have.length(result.frames);
    expect(result.frames).to.be.at.most(6);
    let message = "";
    await runWatch({ checkpoint: outDir, out: join(outDir, "none.gif") }).catch((err: Error) => (message = err.message));
    expect(message).to.contain(`No complete checkpoint in ${outDir}`);
  });

  it("serves the replay page for the checkpoint", async function () {
    const watching = await serveWatch({ checkpoint: run.runDir, port: 0 });
    try {
      const page = await fetch(`${watching.url}/`);
      expect(await page.text()).to.contain('id="rally"');
      const health = (await (await fetch(`${watching.url}/api/health`)).json()) as { mode: string; checkpoint: string };
      expect(health.mode).to.equal("watch");
      const replay = (await (await fetch(`${watching.url}/api/replay?seed=5`)).json()) as { seed: number; frames: unknown[] };
      expect(replay.seed).to.equal(5);
      expect(replay.frames.length).to.be.at.least(2);
      expect((await fetch(`${watching.url}/api/replay?seed=x`)).status).to.equal(400);
      expect((await fetch(`${watching.url}/api/replay`, { method: "POST" })).status).to.equal(405);
    } finally {
      await watching.close();
    }
  });
});
