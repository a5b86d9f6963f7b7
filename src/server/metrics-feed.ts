// Follows a run's metrics.jsonl (the trainer appends one JSON row per episode) and hands new rows to
// every subscriber; one feed per run however many browsers watch it. Works the same for runs started
// by this server and for CLI runs writing into the same runs folder.
import { closeSync, existsSync, openSync, readSync, statSync } from "node:fs";

export type MetricsRow = Record<string, number | string | boolean>;
export type RowsListener = (rows: MetricsRow[], firstIndex: number) => void;

/** Bytes read per poll at most (a long backlog is read over several polls). */
const kChunkBytes = 4 << 20;

export class MetricsFeed {
  /** Every row read so far, in file order. */
  readonly rows: MetricsRow[] = [];
  private offset = 0;
  private partial = "";
  private readonly listeners = new Set<RowsListener>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly path: string,
    private readonly pollMs = 250,
  ) {}

  /** Reads whatever was appended since the last call; returns the new rows. */
  poll(): MetricsRow[] {
    if (!existsSync(this.path)) return [];
    const size = statSync(this.path).size;
    if (size < this.offset) {
      // Truncated or replaced: start over.
      this.offset = 0;
      this.partial = "";
      this.rows.length = 0;
    }
    if (size === this.offset) return [];
    const length = Math.min(size - this.offset, kChunkBytes);
    const buffer = Buffer.alloc(length);
    const fd = openSync(this.path, "r");
    try {
      readSync(fd, buffer, 0, length, this.offset);
    } finally {
      closeSync(fd);
    }
    this.offset += length;
    const text = this.partial + buffer.toString("utf8");
    const lines = text.split("\n");
    // The last piece has no newline yet: the writer may be half-way through it.
    this.partial = lines.pop() ?? "";
    const fresh: MetricsRow[] = [];
    for (const line of lines) {
      if (line.trim() === "") continue;
      try {
        fresh.push(JSON.parse(line) as MetricsRow);
      } catch {
        // A corrupt line (e.g. a killed writer) is skipped, not fatal to the stream.
      }
    }
    if (fresh.length === 0) return [];
    const first = this.rows.length;
    this.rows.push(...fresh);
    for (const listener of this.listeners) listener(fresh, first);
    return fresh;
  }

  /** Reads until the end of the file as it is now (a backlog larger than one chunk included). */
  catchUp(): MetricsRow[] {
    const fresh: MetricsRow[] = [];
    while (existsSync(this.path) && statSync(this.path).size > this.offset) fresh.push(...this.poll());
    return fresh;
  }

  /** Subscribes to new rows; starts polling with the first subscriber. Returns the unsubscribe. */
  subscribe(listener: RowsListener): () => void {
    this.listeners.add(listener);
    if (!this.timer) {
      this.timer = setInterval(() => this.poll(), this.pollMs);
      this.timer.unref();
    }
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.stop();
    };
  }

  get subscribers(): number {
    return this.listeners.size;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
