// Follows a run's metrics.jsonl (the trainer appends one JSON row per episode) and tells every
// subscriber when rows arrive; one feed per run however many browsers watch it. Works the same for
// runs started by this server and for CLI runs writing into the same runs folder. The feed keeps an
// index of where each row lies in the file, not the rows: a large log costs a few bytes per row, and
// rows are read back from the file a page at a time, as the JSON text the trainer wrote.
import { closeSync, constants, fstatSync, openSync, readSync } from "node:fs";

export type MetricsRow = Record<string, number | string | boolean>;

/** Bytes read per poll at most (a long backlog is read over several polls). */
const kChunkBytes = 4 << 20;
const kNewline = 0x0a;
const kCarriageReturn = 0x0d;
const kOpen = Buffer.from("[");
const kComma = Buffer.from(",");
const kClose = Buffer.from("]");

export class MetricsFeed {
  /** Byte offset of each row's first character, its end (exclusive) and its `step` (NaN without one). */
  private readonly starts: number[] = [];
  private readonly ends: number[] = [];
  private readonly steps: number[] = [];
  /** Bytes of the file indexed so far (always just after a newline). */
  private offset = 0;
  /** Inside a line longer than a whole chunk: skipped up to its newline. */
  private skipping = false;
  private readonly listeners = new Set<() => void>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly path: string,
    private readonly pollMs = 250,
  ) {}

  /** Rows indexed so far. */
  get count(): number {
    return this.starts.length;
  }

  /** Indexes what was appended since the last call; returns the number of new rows. */
  poll(): number {
    const fd = this.open();
    if (fd === null) return 0;
    let fresh = 0;
    try {
      const size = fstatSync(fd).size;
      if (size < this.offset) this.forget();
      const length = Math.min(size - this.offset, kChunkBytes);
      if (length <= 0) return 0;
      const buffer = Buffer.alloc(length);
      const read = readSync(fd, buffer, 0, length, this.offset);
      fresh = this.index(buffer.subarray(0, read), length === kChunkBytes);
    } finally {
      closeSync(fd);
    }
    if (fresh > 0) for (const listener of this.listeners) listener();
    return fresh;
  }

  /** Indexes until the end of the file as it is now (a backlog larger than one chunk included). */
  catchUp(): void {
    for (let before = -1; before !== this.offset; ) {
      before = this.offset;
      this.poll();
    }
  }

  /** Rows [first, end) as a JSON array of the rows' text as written (carriage returns removed). */
  rowsJson(first: number, end: number): Buffer {
    if (end <= first) return Buffer.from("[]");
    const fd = this.open();
    if (fd === null) return Buffer.from("[]");
    const base = this.starts[first];
    const buffer = Buffer.alloc(this.ends[end - 1] - base);
    try {
      readSync(fd, buffer, 0, buffer.length, base);
    } finally {
      closeSync(fd);
    }
    // Slices of one read joined as bytes: a large page costs no string per row.
    const parts: Buffer[] = [];
    for (let i = first; i < end; i++) parts.push(i === first ? kOpen : kComma, buffer.subarray(this.starts[i] - base, this.ends[i] - base));
    parts.push(kClose);
    const json = Buffer.concat(parts);
    return json.includes(kCarriageReturn) ? Buffer.from(json.toString("utf8").replace(/\r/g, "")) : json;
  }

  /** Rows [first, end) parsed. */
  readRows(first: number, end: number): MetricsRow[] {
    return JSON.parse(this.rowsJson(first, end).toString("utf8")) as MetricsRow[];
  }

  /** The end of the page that starts at `first`: at least one row, at most `maxBytes` of text after that. */
  pageEnd(first: number, maxRows: number, maxBytes: number): number {
    let end = Math.min(first + 1, this.count);
    while (end < this.count && end - first < maxRows && this.ends[end] - this.starts[first] <= maxBytes) end++;
    return end;
  }

  /** Index of the first row whose step is greater than `step` (rows are in step order). */
  firstAfterStep(step: number): number {
    let [lo, hi] = [0, this.count];
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.steps[mid] <= step) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Calls `listener` whenever rows arrive; starts polling with the first subscriber. Returns the unsubscribe. */
  subscribe(listener: () => void): () => void {
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

  /** The file, opened without following a symlink; null when it is absent, a link or not a regular
   *  file (a FIFO is opened without blocking, then refused: reading one waits for a writer). */
  private open(): number | null {
    let fd: number;
    try {
      fd = openSync(this.path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    } catch {
      return null;
    }
    if (fstatSync(fd).isFile()) return fd;
    closeSync(fd);
    return null;
  }

  /** Truncated or replaced: start over. */
  private forget(): void {
    this.offset = 0;
    this.skipping = false;
    this.starts.length = this.ends.length = this.steps.length = 0;
  }

  /** Indexes the complete lines of `bytes` (read at this.offset); returns how many rows it added. */
  private index(bytes: Buffer, fullChunk: boolean): number {
    let fresh = 0;
    let lineStart = 0;
    for (let newline = bytes.indexOf(kNewline); newline >= 0; newline = bytes.indexOf(kNewline, lineStart)) {
      if (!this.skipping && this.addRow(bytes, lineStart, newline)) fresh++;
      this.skipping = false;
      lineStart = newline + 1;
    }
    if (lineStart === 0 && fullChunk) {
      // One line longer than a chunk: skipped (the last piece has no newline yet otherwise: the writer
      // may be half-way through it, and it is read again next time).
      this.skipping = true;
      lineStart = bytes.length;
    }
    this.offset += lineStart;
    return fresh;
  }

  private addRow(bytes: Buffer, start: number, end: number): boolean {
    const text = bytes.toString("utf8", start, end);
    if (text.trim() === "") return false;
    let row: unknown;
    try {
      row = JSON.parse(text);
    } catch {
      // A corrupt line (e.g. a killed writer) is skipped, not fatal to the stream.
      return false;
    }
    if (typeof row !== "object" || row === null || Array.isArray(row)) return false;
    this.starts.push(this.offset + start);
    this.ends.push(this.offset + end);
    const step = (row as MetricsRow).step;
    this.steps.push(typeof step === "number" ? step : NaN);
    return true;
  }
}
