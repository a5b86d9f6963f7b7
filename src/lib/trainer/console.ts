// Console output of a training run: the notebook's line every N episodes, the notebook's "Environment
// solved" line the moment the moving average reaches the target, and the progress display (a cli-progress
// bar on a TTY, plain periodic lines elsewhere).
import { clearLine, cursorTo } from "node:readline";

import { SingleBar } from "cli-progress";

import type { Config } from "../config/types.ts";
import type { EpisodeResult } from "./scores.ts";

/** "Episode 25 | Last Score: 0.10 (0.10/-0.01) | Moving Average 0.012 | Steps 14 | Updates 900 | 812 steps/s" */
export function episodeLine(ep: EpisodeResult, updates: number, stepsPerSecond: number): string {
  const [a, b] = ep.agentScores;
  return (
    `Episode ${ep.episode} | Last Score: ${ep.score.toFixed(2)} (${a.toFixed(2)}/${b.toFixed(2)}) | ` +
    `Moving Average ${ep.average.toFixed(3)} | Steps ${ep.steps} | Updates ${updates} | ${Math.round(stepsPerSecond)} steps/s`
  );
}

/** The notebook's line at the solving episode, with the average and the wall time: "Environment solved in
 * 204 episodes!  Average Score: 0.503 (100-episode average, 132.1 s)". */
export function solvedLine(episode: number, average: number, window: number, wallSeconds: number): string {
  return `Environment solved in ${episode} episodes!\tAverage Score: ${average.toFixed(3)} (${window}-episode average, ${formatDuration(wallSeconds)})`;
}

/** What a run does after solving, as one line; `bestCheck` is the best greedy check so far (-Infinity: none). */
export function afterSolveLine(config: Config, bestCheck: number): string {
  const t = config.train;
  if (!t.stopWhenSolved) return `Training on to episode ${t.episodes} (train.stopWhenSolved is off).`;
  if (!polishes(t)) return "Stopping here (no polishing: train.polishTarget, train.polishEpisodes or train.selectEvery is 0).";
  if (bestCheck >= t.polishTarget) return `Stopping here: a greedy check already scored ${bestCheck.toFixed(2)} (train.polishTarget ${t.polishTarget}).`;
  return (
    `Now training on until a greedy check scores ${t.polishTarget}, for at most ${t.polishEpisodes} more episodes ` +
    `(train.polishTarget; --polish-target 0 stops here).`
  );
}

/** Whether a config polishes after solving (checks on, a polish target and episodes for it). */
export function polishes(t: Config["train"]): boolean {
  return t.selectEvery > 0 && t.polishTarget > 0 && t.polishEpisodes > 0;
}

/** The line of a solved, polishing run whose final policy's check stayed below train.polishTarget (null
 * when it reached it, or when the run did not polish). */
export function shortfallLine(config: Config, selection: { check_score: number; check_episodes: number } | null, episodes: number, solvedAt: number | null): string | null {
  const t = config.train;
  if (!polishes(t) || solvedAt === null || selection === null || selection.check_score >= t.polishTarget) return null;
  return (
    `Warning: the final policy falls short of train.polishTarget ${t.polishTarget}: its check scored ${selection.check_score.toFixed(2)} ` +
    `over ${selection.check_episodes} greedy episodes after ${episodes - solvedAt} polishing episodes (train.polishEpisodes ${t.polishEpisodes}). ` +
    `Train on from it with --resume RUN_DIR --episodes N, or run again with a larger --polish-episodes.`
  );
}

/** "42 s", "3m05s", "1h02m". */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

/** Where a run stands, as the progress display shows it. */
export interface ProgressSnapshot {
  episode: number;
  /** Moving average after `episode`. */
  average: number;
  envSteps: number;
  updates: number;
  /** Wall seconds of the run so far. */
  elapsed: number;
  /** Episode at which the run solved, or null. */
  solvedAt: number | null;
}

/** Episodes back over which the moving average's slope is measured for the estimate. */
const kSlopeEpisodes = 50;

/**
 * Seconds until the moving average reaches `target` if it keeps rising as over its last 50 episodes,
 * at the recent seconds per episode; null when it is not rising (or too few episodes are known).
 * `averages[i]` and `times[i]` are the moving average and the wall seconds after episode i + 1.
 */
export function estimateSecondsToTarget(averages: readonly number[], times: readonly number[], target: number): number | null {
  const n = averages.length;
  if (n <= kSlopeEpisodes) return null;
  const now = averages[n - 1];
  if (now >= target) return 0;
  const perEpisode = (averages[n - 1] - averages[n - 1 - kSlopeEpisodes]) / kSlopeEpisodes;
  if (!(perEpisode > 0)) return null;
  const secondsPerEpisode = (times[n - 1] - times[n - 1 - kSlopeEpisodes]) / kSlopeEpisodes;
  return ((target - now) / perEpisode) * secondsPerEpisode;
}

/** Options of TrainingProgress. */
export interface ProgressOptions {
  /** The moving average that solves the task (train.targetScore). */
  target: number;
  /** Where the display goes (stderr by default). */
  stream?: NodeJS.WriteStream;
  /** A bar redrawn in place (true on a TTY) or plain lines (false). */
  tty?: boolean;
  /** Seconds between plain lines (default 30). */
  lineSeconds?: number;
  /** Wall clock in seconds (tests pass their own). */
  now?: () => number;
}

/**
 * The progress of a training run against the target score: on a TTY a cli-progress bar whose fill is the
 * moving average over the target (not the episode budget, which a run that solves rarely reaches), with
 * episodes, steps/s, updates/s, elapsed time and an estimate; elsewhere the same figures as a plain line
 * every `lineSeconds`.
 */
export class TrainingProgress {
  readonly #stream: NodeJS.WriteStream;
  readonly #bar: SingleBar | null;
  readonly #target: number;
  readonly #lineSeconds: number;
  readonly #now: () => number;
  readonly #averages: number[] = [];
  readonly #times: number[] = [];
  #lastLine: number;
  #rateFrom: { time: number; envSteps: number; updates: number } | null = null;
  #rates = { sps: 0, ups: 0 };

  constructor(options: ProgressOptions) {
    this.#stream = options.stream ?? process.stderr;
    this.#target = options.target;
    this.#lineSeconds = options.lineSeconds ?? 30;
    this.#now = options.now ?? (() => Date.now() / 1000);
    this.#lastLine = this.#now();
    const tty = options.tty ?? Boolean(this.#stream.isTTY);
    this.#bar = tty
      ? new SingleBar({
          stream: this.#stream,
          format: "{bar} avg {average}/{target} | episode {episode} | {sps} steps/s | {ups} updates/s | {elapsed} | {estimate}",
          barsize: 24,
          barCompleteChar: "\u2588",
          barIncompleteChar: "\u2591",
          hideCursor: false,
          gracefulExit: false,
          clearOnComplete: true,
          forceRedraw: true,
          fps: 5,
        })
      : null;
    this.#bar?.start(1000, 0, this.#payload(null));
  }

  /** Records the run's state after an episode and redraws the bar (or prints a line when one is due). */
  update(snapshot: ProgressSnapshot): void {
    this.#averages.push(snapshot.average);
    this.#times.push(snapshot.elapsed);
    this.#measureRates(snapshot);
    const fill = snapshot.solvedAt !== null ? 1 : Math.max(0, Math.min(1, snapshot.average / this.#target));
    if (this.#bar) {
      this.#bar.update(Math.round(fill * 1000), this.#payload(snapshot));
      return;
    }
    if (this.#now() - this.#lastLine < this.#lineSeconds) return;
    this.#lastLine = this.#now();
    const p = this.#payload(snapshot);
    this.#stream.write(`Progress: avg ${p.average}/${p.target} | episode ${p.episode} | ${p.sps} steps/s | ${p.ups} updates/s | elapsed ${p.elapsed} | ${p.estimate}\n`);
  }

  /** Clears the bar's line so that a normal line can be printed; the bar comes back at its next redraw.
   * The cursor goes back by an escape sequence, as cli-progress moves it, not by "\r" (which a terminal
   * may turn into a new line). */
  clear(): void {
    if (!this.#bar) return;
    cursorTo(this.#stream, 0);
    clearLine(this.#stream, 0);
  }

  /** Removes the bar for good (at the end of a run). */
  stop(): void {
    this.#bar?.stop();
  }

  /** Steps/s and updates/s over at least the last 2 seconds. */
  #measureRates(snapshot: ProgressSnapshot): void {
    const time = this.#now();
    if (this.#rateFrom === null) {
      this.#rateFrom = { time, envSteps: snapshot.envSteps, updates: snapshot.updates };
      return;
    }
    const dt = time - this.#rateFrom.time;
    if (dt < 2) return;
    this.#rates = { sps: (snapshot.envSteps - this.#rateFrom.envSteps) / dt, ups: (snapshot.updates - this.#rateFrom.updates) / dt };
    this.#rateFrom = { time, envSteps: snapshot.envSteps, updates: snapshot.updates };
  }

  #payload(snapshot: ProgressSnapshot | null) {
    const estimate = (): string => {
      if (snapshot === null) return "starting";
      if (snapshot.solvedAt !== null) return `solved at episode ${snapshot.solvedAt}, training on`;
      const seconds = estimateSecondsToTarget(this.#averages, this.#times, this.#target);
      return seconds === null ? "estimate: when the average rises" : `~${formatDuration(seconds)} to target at this rate`;
    };
    return {
      average: (snapshot?.average ?? 0).toFixed(3),
      target: this.#target,
      episode: snapshot?.episode ?? 0,
      sps: Math.round(this.#rates.sps),
      ups: Math.round(this.#rates.ups),
      elapsed: formatDuration(snapshot?.elapsed ?? 0),
      estimate: estimate(),
    };
  }
}
