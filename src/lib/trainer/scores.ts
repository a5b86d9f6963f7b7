// The score as Udacity defines it: per episode, each agent's summed reward, then the max over the two
// agents; the moving average over the last `window` episodes; solved when it reaches the target, at
// the episode where that window ends.
import { AGENTS } from "../../../binding/shapes.ts";

/** One finished episode. */
export interface EpisodeResult {
  /** 1-based episode number over all envs, in the order episodes finished. */
  episode: number;
  /** Max over agents of the summed (unshaped) reward. */
  score: number;
  /** Each agent's summed reward. */
  agentScores: [number, number];
  steps: number;
  /** Moving average over the last `window` episodes (fewer at the start). */
  average: number;
}

export class ScoreTracker {
  private readonly sums: Float64Array;
  private readonly steps: Int32Array;
  private readonly recent: number[] = [];
  private recentSum = 0;
  private episodes = 0;
  private best = -Infinity;
  /** Episode at which the average first reached the target (the window's last episode), or null. */
  solvedAt: number | null = null;

  constructor(
    readonly numEnvs: number,
    readonly window = 100,
    readonly target = 0.5,
  ) {
    this.sums = new Float64Array(numEnvs * AGENTS);
    this.steps = new Int32Array(numEnvs);
  }

  get episodeCount(): number {
    return this.episodes;
  }

  /** Steps of env e's episode in flight. */
  stepsOf(e: number): number {
    return this.steps[e];
  }

  /** Best moving average seen over full windows (or -Infinity before the first full window). */
  get bestAverage(): number {
    return this.best;
  }

  get average(): number {
    return this.recent.length ? this.recentSum / this.recent.length : 0;
  }

  /**
   * Adds one vectorized step: rewards [envs][2] and dones [envs][2] (an env's episode ends when
   * either agent is done). Returns the episodes that ended with this step.
   */
  addStep(rewards: Float32Array, dones: Float32Array): EpisodeResult[] {
    const finished: EpisodeResult[] = [];
    for (let e = 0; e < this.numEnvs; e++) {
      this.sums[AGENTS * e] += rewards[AGENTS * e];
      this.sums[AGENTS * e + 1] += rewards[AGENTS * e + 1];
      this.steps[e] += 1;
      if (dones[AGENTS * e] !== 0 || dones[AGENTS * e + 1] !== 0) finished.push(this.finishEpisode(e));
    }
    return finished;
  }

  /** Forgets env e's episode in flight without scoring it (an episode lost with a remote server). */
  discardEpisode(e: number): void {
    this.sums[AGENTS * e] = this.sums[AGENTS * e + 1] = 0;
    this.steps[e] = 0;
  }

  /** Ends env e's episode now (e.g. the loop's max-steps cut). */
  finishEpisode(e: number): EpisodeResult {
    const agentScores: [number, number] = [this.sums[AGENTS * e], this.sums[AGENTS * e + 1]];
    const score = Math.max(agentScores[0], agentScores[1]);
    const steps = this.steps[e];
    this.sums[AGENTS * e] = this.sums[AGENTS * e + 1] = 0;
    this.steps[e] = 0;
    this.episodes += 1;
    this.recent.push(score);
    this.recentSum += score;
    if (this.recent.length > this.window) this.recentSum -= this.recent.shift()!;
    const average = this.recentSum / this.recent.length;
    if (this.recent.length === this.window) {
      this.best = Math.max(this.best, average);
      if (this.solvedAt === null && average >= this.target - 1e-9) this.solvedAt = this.episodes;
    }
    return { episode: this.episodes, score, agentScores, steps, average };
  }

  /** State for checkpoints (everything needed to continue the bookkeeping exactly). */
  toJSON() {
    return {
      sums: Array.from(this.sums),
      steps: Array.from(this.steps),
      recent: this.recent.slice(),
      episodes: this.episodes,
      best: this.best === -Infinity ? null : this.best,
      solvedAt: this.solvedAt,
    };
  }

  static fromJSON(state: ReturnType<ScoreTracker["toJSON"]>, window: number, target: number): ScoreTracker {
    const tracker = new ScoreTracker(state.steps.length, window, target);
    tracker.sums.set(state.sums);
    tracker.steps.set(state.steps);
    for (const s of state.recent) tracker.recent.push(s);
    tracker.recentSum = state.recent.reduce((a, b) => a + b, 0);
    tracker.episodes = state.episodes;
    tracker.best = state.best ?? -Infinity;
    tracker.solvedAt = state.solvedAt;
    return tracker;
  }
}
