// Console output of a training run: the notebook's line every N episodes and a progress bar on a TTY.
import type { EpisodeResult } from "./scores.ts";

/** "Episode 25 | Last Score: 0.10 (0.10/-0.01) | Moving Average 0.012 | Steps 14 | Updates 900 | 812 steps/s" */
export function episodeLine(ep: EpisodeResult, updates: number, stepsPerSecond: number): string {
  const [a, b] = ep.agentScores;
  return (
    `Episode ${ep.episode} | Last Score: ${ep.score.toFixed(2)} (${a.toFixed(2)}/${b.toFixed(2)}) | ` +
    `Moving Average ${ep.average.toFixed(3)} | Steps ${ep.steps} | Updates ${updates} | ${Math.round(stepsPerSecond)} steps/s`
  );
}

/** A one-line progress bar redrawn in place on a TTY stream; silent elsewhere. */
export class ProgressBar {
  private lastDraw = 0;

  constructor(
    private readonly total: number,
    private readonly stream: NodeJS.WriteStream = process.stderr,
    private readonly enabled = Boolean(process.stderr.isTTY),
  ) {}

  update(done: number, text: string): void {
    if (!this.enabled || Date.now() - this.lastDraw < 200) return;
    this.lastDraw = Date.now();
    const width = 30;
    const filled = Math.round((width * Math.min(done, this.total)) / this.total);
    this.stream.write(`\r[${"#".repeat(filled)}${" ".repeat(width - filled)}] ${done}/${this.total} ${text}\x1b[K`);
  }

  /** Clears the bar so a normal line can be printed. */
  clear(): void {
    if (this.enabled) this.stream.write("\r\x1b[K");
  }
}
