// What a training run prints: the run directory first, the notebook's solved line at the solving episode
// with what happens next, and the progress display (a bar on a TTY, plain periodic lines elsewhere).
import { expect } from "chai";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";

import { resolveConfig } from "../../src/lib/config/resolve.ts";
import { afterSolveLine, estimateSecondsToTarget, formatDuration, shortfallLine, TrainingProgress } from "../../src/lib/trainer/console.ts";
import { runCli } from "../cli/cli.test.ts";

/** A stream that keeps what is written, claiming to be a TTY or not. */
function captureStream(tty: boolean): { stream: NodeJS.WriteStream; text: () => string } {
  const stream = new PassThrough() as unknown as NodeJS.WriteStream & PassThrough;
  const chunks: string[] = [];
  stream.on("data", (chunk: Buffer) => chunks.push(chunk.toString()));
  Object.assign(stream, { isTTY: tty, columns: 160 });
  return { stream, text: () => chunks.join("") };
}

const snapshot = (episode: number, average: number, elapsed: number, solvedAt: number | null = null) =>
  ({ episode, average, envSteps: episode * 20, updates: episode * 60, elapsed, solvedAt });

describe("training console", function () {
  this.timeout(180_000);

  it("prints the run directory first and the solved line at the solving episode, then what happens next", () => {
    const runsDir = mkdtempSync(join(tmpdir(), "tt-console-"));
    // Target -1: the 10-episode average reaches it at episode 10; --no-stop-when-solved trains on to 20.
    const args = ["--episodes", "20", "--window", "10", "--target-score", "-1", "--no-stop-when-solved", "--log-every", "5",
      "--runs-dir", runsDir, "--threads", "1", "--eval-episodes", "0", "--hidden", "32", "32", "--warmup-steps", "60"];
    const { code, stdout, stderr } = runCli(args);
    expect(code, stderr).to.equal(0);
    const lines = stdout.trim().split("\n");
    expect(lines[0]).to.match(new RegExp(`^Run directory: ${runsDir}/tennis__default__0__\\d+$`));
    const solved = lines.findIndex((l) => /^Environment solved in 10 episodes!\tAverage Score: -?\d\.\d{3} \(10-episode average, \d+ s\)$/.test(l));
    expect(solved, stdout).to.be.greaterThan(0);
    expect(lines[solved + 1]).to.equal("Training on to episode 20 (train.stopWhenSolved is off).");
    // At the solving episode: after the line of episode 10, before the line of episode 15 and the end of the run.
    expect(lines.findIndex((l) => l.startsWith("Episode 10 |"))).to.be.lessThan(solved);
    expect(lines.findIndex((l) => l.startsWith("Episode 15 |"))).to.be.greaterThan(solved);
    expect(lines.findIndex((l) => l.startsWith("Solved in 10 episodes"))).to.be.greaterThan(solved);
  });

  it("says what a solved run does next: polish until a check scores train.polishTarget, or stop", () => {
    const config = resolveConfig({});
    expect(afterSolveLine(config, 1.2)).to.equal(
      "Now training on until a greedy check scores 2.55, for at most 500 more episodes (train.polishTarget; --polish-target 0 stops here).",
    );
    expect(afterSolveLine(config, 2.6)).to.equal("Stopping here: a greedy check already scored 2.60 (train.polishTarget 2.55).");
    expect(afterSolveLine(resolveConfig({ flags: { train: { polishTarget: 0 } } }), -Infinity)).to.match(/^Stopping here \(no polishing/);
  });

  it("says plainly when the final policy of a solved, polishing run stays below train.polishTarget", () => {
    const config = resolveConfig({});
    expect(shortfallLine(config, { check_score: 0.6, check_episodes: 20 }, 610, 310)).to.equal(
      "Warning: the final policy falls short of train.polishTarget 2.55: its check scored 0.60 over 20 greedy episodes after 300 polishing episodes " +
        "(train.polishEpisodes 500). Train on from it with --resume RUN_DIR --episodes N, or run again with a larger --polish-episodes.",
    );
    expect(shortfallLine(config, { check_score: 2.55, check_episodes: 100 }, 400, 310)).to.equal(null);
    expect(shortfallLine(config, { check_score: 0.6, check_episodes: 20 }, 610, null), "not solved").to.equal(null);
    expect(shortfallLine(resolveConfig({ flags: { train: { polishTarget: 0 } } }), { check_score: 0.6, check_episodes: 20 }, 310, 310)).to.equal(null);
  });

  it("estimates the time to the target from the average's recent rise, and none while it does not rise", () => {
    const times = Array.from({ length: 101 }, (_, i) => i * 2);
    const rising = times.map((_, i) => i / 200);
    // 0.5 now, +0.005 per episode, 2 s per episode: 100 episodes to 1.0, 200 s.
    expect(estimateSecondsToTarget(rising, times, 1.0)).to.be.closeTo(200, 1e-9);
    expect(estimateSecondsToTarget(rising.map(() => 0.1), times, 1.0)).to.equal(null);
    expect(estimateSecondsToTarget(rising.slice(0, 40), times.slice(0, 40), 1.0)).to.equal(null);
    expect(formatDuration(42)).to.equal("42 s");
    expect(formatDuration(185)).to.equal("3m05s");
    expect(formatDuration(3720)).to.equal("1h02m");
  });

  it("not on a TTY: a plain line every lineSeconds with average, target, episode, rates, elapsed and estimate", () => {
    const { stream, text } = captureStream(false);
    let now = 0;
    const progress = new TrainingProgress({ target: 0.5, stream, lineSeconds: 30, now: () => now });
    for (let episode = 1; episode <= 100; episode++) {
      now = episode;
      progress.update(snapshot(episode, episode / 400, episode));
    }
    progress.stop();
    const lines = text().trim().split("\n");
    expect(lines).to.have.length(3);
    expect(lines[0]).to.equal("Progress: avg 0.075/0.5 | episode 30 | 20 steps/s | 60 updates/s | elapsed 30 s | estimate: when the average rises");
    expect(lines[2]).to.match(/^Progress: avg 0\.225\/0\.5 \| episode 90 \| 20 steps\/s \| 60 updates\/s \| elapsed 1m30s \| ~1m50s to target at this rate$/);
  });

  it("on a TTY: a bar filled by the average over the target, not by the episode budget", () => {
    const { stream, text } = captureStream(true);
    let now = 0;
    const progress = new TrainingProgress({ target: 0.5, stream, now: () => now });
    now = 10;
    progress.update(snapshot(150, 0.25, 10));
    now = 20;
    progress.update(snapshot(200, 0.25, 20));
    // Cleared for a line of text by escape sequences (a "\r" may become a new line on a terminal).
    progress.clear();
    expect(text().endsWith("\x1b[0K\x1b[1G\x1b[2K"), JSON.stringify(text().slice(-40))).to.equal(true);
    progress.stop();
    const drawn = text();
    // Half the target: half of the 24-character bar is filled.
    expect(drawn).to.contain(`${"\u2588".repeat(12)}${"\u2591".repeat(12)} avg 0.250/0.5 | episode 200 | 100 steps/s | 300 updates/s | 20 s |`);
    // Stopped, the bar clears its line.
    expect(drawn.endsWith("\x1b[1G\x1b[2K")).to.equal(true);
  });
});
