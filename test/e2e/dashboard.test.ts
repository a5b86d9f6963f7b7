// End to end in headless Chromium (Debian's chromium + playwright-core): start the server, start a
// short real training run through the API, watch the score chart fill and the rally canvas draw a
// greedy episode of the run's checkpoint, and save a screenshot.
import { expect } from "chai";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Browser } from "playwright-core";

import { serve, type RunningServer } from "../../src/server/server.ts";
import { CHROMIUM, chromiumMissing, skipBecause } from "../test-deps.ts";

/** The screenshot lands here (override with TENNIS_TRAIN_E2E_OUT) for a person to look at. */
const kOutDir = process.env.TENNIS_TRAIN_E2E_OUT ?? join(tmpdir(), "tennis-train-e2e");

describe("e2e: dashboard in headless Chromium", function () {
  this.timeout(180_000);
  let runsDir: string;
  let srv: RunningServer;
  let browser: Browser;

  before(async function () {
    const missing = chromiumMissing();
    if (missing) skipBecause(this, missing);
    runsDir = mkdtempSync(join(tmpdir(), "tennis-e2e-"));
    srv = await serve({ port: 0, token: "e2e-token-0123456789", runsDir, maxConcurrent: 1 });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"] });
  });

  after(async function () {
    await browser?.close();
    await srv?.close();
    if (runsDir) rmSync(runsDir, { recursive: true, force: true });
  });

  it("shows a live run: chart points grow, the rally canvas draws, screenshot saved", async function () {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1100 } });
    const pageErrors: string[] = [];
    page.on("pageerror", (err) => pageErrors.push(err.message));
    await page.goto(`${srv.url}/#token=${srv.token}`);
    // The token moved from the fragment into the page's field (and out of the address bar).
    expect(await page.inputValue("#token")).to.equal(srv.token);
    expect(page.url()).not.to.contain("token");

    // Start the run from the dashboard's form (a POST /api/runs with the token), so the page follows
    // it from its first episode. Long enough (150 episodes) to see the chart grow; stopped at the end.
    const config = {
      name: "e2e",
      threads: 1,
      train: { episodes: 150, warmupSteps: 200, batchSize: 64, checkpointEvery: 10, window: 10 },
      buffer: { capacity: 5000 },
      agent: { hidden: [32, 32] },
      log: { tensorboard: false },
    };
    await page.fill("#new-config", JSON.stringify(config, null, 2));
    await page.click("#start");
    await page.waitForFunction(() => document.getElementById("run-title")!.textContent!.startsWith("tennis__e2e__"), null, { timeout: 10_000 });
    const id = (await page.textContent("#run-title"))!;
    expect(await page.$(`tr[data-run-id="${id}"]`)).not.to.equal(null);
    await page.waitForFunction(() => Number(document.getElementById("chart-score")!.dataset.points) > 0, null, { timeout: 30_000 });
    const early = Number(await page.getAttribute("#chart-score", "data-points"));
    // The chart keeps updating as episodes arrive over the stream.
    await page.waitForFunction((n) => Number(document.getElementById("chart-score")!.dataset.points) > n, early, { timeout: 30_000 });
    // The rally: a greedy episode of a checkpoint of this run, drawn frame after frame.
    await page.waitForFunction(() => Number(document.getElementById("rally")!.dataset.framesDrawn) >= 5, null, { timeout: 90_000 });
    // (A run that already ended shows its final checkpoint, "-selected" when policy selection restored one.)
    expect(await page.getAttribute("#rally", "data-checkpoint")).to.match(/^ep\d+(-selected)?$/);
    // The canvas shows the court with both rackets' colours and the ball's (as render.ts draws them).
    // (A string, not a function: tsx's helpers that wrap named functions do not exist in the page.)
    const colours = (await page.evaluate(`(() => {
      const canvas = document.getElementById("rally");
      const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
      const near = (r, g, b) => {
        let n = 0;
        for (let i = 0; i < data.length; i += 4) if (Math.abs(data[i] - r) + Math.abs(data[i + 1] - g) + Math.abs(data[i + 2] - b) < 12) n++;
        return n;
      };
      return { right: near(40, 90, 210), left: near(215, 70, 40), ball: near(214, 230, 40), floor: near(92, 150, 84) };
    })()`)) as Record<string, number>;
    for (const [what, n] of Object.entries(colours)) expect(n, what).to.be.above(20);

    await page.waitForFunction(() => document.getElementById("config")!.textContent!.includes('"e2e"'));
    mkdirSync(kOutDir, { recursive: true });
    const shot = join(kOutDir, "dashboard.png");
    await page.screenshot({ path: shot, fullPage: true });
    console.log(`      screenshot: ${shot}`);
    expect(existsSync(shot)).to.equal(true);

    // Stop the run with the dashboard's button (if it has not finished already). Checked and clicked in
    // one step in the page: a run that finishes between a check here and a click hides the button.
    await page.evaluate(`(() => { const stop = document.getElementById("stop"); if (!stop.hidden) stop.click(); })()`);
    await page.waitForFunction(() => ["stopped", "finished"].includes(document.getElementById("run-state")!.textContent!), null, { timeout: 30_000 });
    // Every metrics row reached the chart exactly once (score and moving average per episode).
    const { rows } = (await (await fetch(`${srv.url}/api/runs/${id}/metrics`)).json()) as { rows: Record<string, number>[] };
    const expected = rows.filter((r) => "rollout/score" in r).length * 2;
    expect(expected).to.be.above(0);
    await page.waitForFunction((n) => Number(document.getElementById("chart-score")!.dataset.points) === n, expected, { timeout: 10_000 }).catch(async () => {
      throw new Error(`chart has ${await page.getAttribute("#chart-score", "data-points")} points, expected ${expected}`);
    });
    expect(pageErrors).to.deep.equal([]);
  });
});
