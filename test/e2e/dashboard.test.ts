// End to end in headless Chromium (Debian's chromium + playwright-core): a run trained beforehand as
// the CLI would, then the server; the page starts a short real training run through the API, the score
// chart fills and the rally canvas draws a greedy episode of the run's checkpoint; the two runs are
// overlaid on the charts, compared in the runs table, charted with a picked tag, by env step and on a
// log scale, with screenshots saved as test artefacts; no request of the page fails along the way.
import { expect } from "chai";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";

import { resolveConfig } from "../../src/lib/config/resolve.ts";
import { serve, type RunningServer } from "../../src/apps/server/server.ts";
import { train } from "../../src/lib/trainer/train.ts";
import { CHROMIUM, chromiumMissing, skipBecause } from "../test-deps.ts";

/** Screenshots land here (override with TENNIS_TRAIN_E2E_OUT) for a person to look at. */
const kOutDir = process.env.TENNIS_TRAIN_E2E_OUT ?? join(tmpdir(), "tennis-train-e2e");

/** A short run as `tennis-train train` makes it: diag/* and select/* rows, a final evaluation. */
async function cliRun(runsDir: string): Promise<string> {
  const config = resolveConfig({
    fileObject: {
      name: "cli",
      seed: 1,
      threads: 1,
      train: { episodes: 12, warmupSteps: 60, batchSize: 32, checkpointEvery: 0, window: 10, selectEvery: 5, selectEpisodes: 2, evalEpisodes: 3 },
      buffer: { capacity: 5000 },
      agent: { hidden: [16, 16] },
      log: { runsDir, tensorboard: false, progress: false, every: 5 },
    },
  });
  return basename((await train(config, { quiet: true })).run_dir);
}

async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(kOutDir, { recursive: true });
  const shot = join(kOutDir, name);
  await page.screenshot({ path: shot, fullPage: true });
  console.log(`      screenshot: ${shot}`);
  expect(existsSync(shot)).to.equal(true);
}

/** Attribute `name` of the chart of `tag`. */
const chartData = (page: Page, tag: string, name: string) => page.getAttribute(`canvas[data-tag="${tag}"]`, name);

describe("e2e: dashboard in headless Chromium", function () {
  this.timeout(180_000);
  let runsDir: string;
  let srv: RunningServer;
  let browser: Browser;
  let cliId: string;

  before(async function () {
    const missing = chromiumMissing();
    if (missing) skipBecause(this, missing);
    runsDir = mkdtempSync(join(tmpdir(), "tennis-e2e-"));
    cliId = await cliRun(runsDir);
    srv = await serve({ port: 0, token: "e2e-token-0123456789", runsDir, maxConcurrent: 1 });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"] });
  });

  after(async function () {
    await browser?.close();
    await srv?.close();
    if (runsDir) rmSync(runsDir, { recursive: true, force: true });
  });

  it("follows a live run, overlays it with a CLI run (table, tags, smoothing, log scale), screenshots saved", async function () {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1100 } });
    const pageErrors: string[] = [];
    page.on("pageerror", (err) => pageErrors.push(err.message));
    // A new run has no checkpoint for a while: the page must not fill the console with failed requests.
    page.on("console", (message) => message.type() === "error" && pageErrors.push(`console: ${message.text()}`));
    page.on("response", (res) => res.status() >= 400 && pageErrors.push(`${res.status()} ${res.url()}`));
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
    await page.waitForFunction(() => Number(document.querySelector<HTMLElement>('canvas[data-tag="rollout/score"]')?.dataset.points) > 0, null, { timeout: 30_000 });
    const early = Number(await chartData(page, "rollout/score", "data-points"));
    // The chart keeps updating as episodes arrive over the stream.
    await page.waitForFunction((n) => Number(document.querySelector<HTMLElement>('canvas[data-tag="rollout/score"]')!.dataset.points) > n, early, { timeout: 30_000 });
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

    await page.waitForFunction(() => document.getElementById("config")!.textContent!.includes("e2e"));
    await screenshot(page, "dashboard.png");

    // The CLI run's row: its moving average, episodes to solve (not solved) and final evaluation.
    const cell = (run: string, key: string) => page.textContent(`tr[data-run-id="${run}"] td[data-key="${key}"]`);
    expect(await cell(cliId, "average")).to.match(/^-?\d+\.\d{3}$/);
    expect(await cell(cliId, "solved")).to.equal("not solved");
    expect(await cell(cliId, "eval")).to.match(/^-?\d+\.\d{3}$/);
    // The hyperparameters that differ between the two runs are columns; those they share are not.
    await page.waitForSelector('th[data-key="config:train.episodes"]', { timeout: 10_000 });
    expect(await cell(cliId, "config:train.episodes")).to.equal("12");
    expect(await cell(id, "config:train.episodes")).to.equal("150");
    expect(await page.$('th[data-key="config:agent.gamma"]')).to.equal(null);
    // Sorting by episodes to the budget, one way then the other.
    const order = () => page.$$eval("#runs tbody tr", (rows) => rows.map((r) => (r as HTMLElement).dataset.runId));
    await page.click('th[data-key="config:train.episodes"]');
    expect(await order()).to.deep.equal([cliId, id]);
    await page.click('th[data-key="config:train.episodes"]');
    expect(await order()).to.deep.equal([id, cliId]);

    // Overlay: tick both runs; each chart draws one line per run.
    await page.click(`tr[data-run-id="${cliId}"] input.compare`);
    await page.click(`tr[data-run-id="${id}"] input.compare`);
    await page.waitForFunction(() => document.querySelector<HTMLElement>('canvas[data-tag="rollout/score_mean100"]')!.dataset.series === "2", null, { timeout: 10_000 });
    // Every logged tag can be picked, diag/* and select/* included.
    for (const tag of ["select/check_score", "diag/obs_std_agent0", "time/env_steps"]) await page.waitForSelector(`#tags input[value="${tag}"]`, { timeout: 10_000 });
    await page.check('#tags input[value="select/check_score"]');
    await page.waitForFunction(() => Number(document.querySelector<HTMLElement>('canvas[data-tag="select/check_score"]')?.dataset.points) > 0, null, { timeout: 10_000 });
    // Linear ticks are round numbers, never float noise such as 6.9e-18.
    const linearTicks = (await chartData(page, "train/critic_loss", "data-yticks"))!.split(" ");
    expect(linearTicks.length).to.be.above(1);
    for (const tick of linearTicks) expect(tick).to.match(/^-?(\d+(\.\d+)?|\d(\.\d+)?e-?\d)$/).and.not.match(/e-1\d/);
    // Heavier smoothing, as TensorBoard's slider.
    await page.evaluate(`(() => { const s = document.getElementById("smoothing"); s.value = "0.9"; s.dispatchEvent(new Event("input")); })()`);
    expect(await page.textContent("#smoothing-value")).to.equal("0.90");
    // Under the pointer, each run's value at its nearest step.
    await page.hover('canvas[data-tag="rollout/score_mean100"]', { position: { x: 80, y: 100 } });
    await page.waitForFunction(
      ([a, b]) => {
        const lines = document.querySelector<HTMLElement>('canvas[data-tag="rollout/score_mean100"]')!.dataset.hover!.split("\n");
        return lines.length === 2 && lines.some((l) => l.startsWith(a)) && lines.some((l) => l.startsWith(b));
      },
      [cliId.replace(/^tennis__/, ""), id.replace(/^tennis__/, "")],
      { timeout: 5_000 },
    );
    await screenshot(page, "dashboard-overlay.png");
    // Env steps on the x axis, as CleanRL and Stable-Baselines3 plot, then the episode again.
    const lastX = async () => Number(await chartData(page, "rollout/score", "data-last-step"));
    const lastEpisode = await lastX();
    await page.selectOption("#x-axis", "env_steps");
    await page.waitForFunction((n) => Number(document.querySelector<HTMLElement>('canvas[data-tag="rollout/score"]')!.dataset.lastStep) > n * 10, lastEpisode, { timeout: 5_000 });
    await page.selectOption("#x-axis", "step");
    // (Every episode has at least 14 env steps; the run has at most 150 episodes.)
    await page.waitForFunction(() => Number(document.querySelector<HTMLElement>('canvas[data-tag="rollout/score"]')!.dataset.lastStep) <= 150, null, { timeout: 5_000 });

    // Log scale: the losses' ticks become powers of ten (or 1-2-5 values within a decade).
    await page.check("#log-scale");
    await page.waitForFunction(() => document.querySelector<HTMLElement>('canvas[data-tag="train/critic_loss"]')!.dataset.log === "true");
    const logTicks = (await chartData(page, "train/critic_loss", "data-yticks"))!.split(" ");
    expect(logTicks.length).to.be.above(1);
    for (const tick of logTicks) expect(tick).to.match(/^([125]e-?\d+|0\.0*[125]|[125]0*)$/);
    await screenshot(page, "dashboard-log.png");
    await page.uncheck("#log-scale");

    // Stop the run with the dashboard's button (if it has not finished already). Checked and clicked in
    // one step in the page: a run that finishes between a check here and a click hides the button.
    await page.evaluate(`(() => { const stop = document.getElementById("stop"); if (!stop.hidden) stop.click(); })()`);
    await page.waitForFunction(() => ["stopped", "finished"].includes(document.getElementById("run-state")!.textContent!), null, { timeout: 30_000 });
    // Every metrics row of both runs reached the score chart exactly once.
    const scoreRows = async (run: string) => {
      const page = (await (await fetch(`${srv.url}/api/runs/${run}/metrics?limit=5000`)).json()) as { rows: Record<string, number>[]; next: number; total: number };
      expect(page.next).to.equal(page.total);
      return page.rows.filter((r) => "rollout/score" in r).length;
    };
    const expected = (await scoreRows(id)) + (await scoreRows(cliId));
    expect(expected).to.be.above(12);
    await page.waitForFunction((n) => Number(document.querySelector<HTMLElement>('canvas[data-tag="rollout/score"]')!.dataset.points) === n, expected, { timeout: 10_000 }).catch(async () => {
      throw new Error(`chart has ${await chartData(page, "rollout/score", "data-points")} points, expected ${expected}`);
    });
    // The summary and the checkpoints read as text, not JSON, and without the COMPLETE marker.
    await page.waitForSelector("#summary table.kv", { timeout: 10_000 });
    expect(await page.textContent("#summary")).not.to.match(/^\s*\{/);
    expect(await page.textContent("#checkpoints")).to.contain("agent.pt").and.not.contain("COMPLETE");
    expect(pageErrors).to.deep.equal([]);
  });
});
