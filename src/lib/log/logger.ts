// Record/dump logger with pluggable sinks (Stable-Baselines3 style): values are recorded under
// namespaced keys ("train/critic_loss", "rollout/score") and written to every sink at dump(step).
import { appendFileSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";

/** A flat record of namespaced scalar (or string) values at one step. */
export type LogRecord = Record<string, number | string | boolean>;

/** Where dumped records go. */
export interface LogSink {
  write(record: LogRecord, step: number): void;
  close?(): void;
  /** The file the sink appends to, if any (a checkpoint records its length, see Logger.files). */
  readonly path?: string;
}

/** What was recorded but not dumped yet, as plain JSON (checkpoints carry it across a resume). */
export interface PendingRecord {
  values: LogRecord;
  sums: [string, { sum: number; count: number }][];
}

export class Logger {
  private values: LogRecord = {};
  private sums = new Map<string, { sum: number; count: number }>();

  constructor(private readonly sinks: LogSink[] = []) {}

  addSink(sink: LogSink): void {
    this.sinks.push(sink);
  }

  /** Sets key to value for the next dump (last write wins). */
  record(key: string, value: number | string | boolean): void {
    this.values[key] = value;
  }

  /** Adds value to the mean reported for key at the next dump. */
  recordMean(key: string, value: number): void {
    const entry = this.sums.get(key) ?? { sum: 0, count: 0 };
    entry.sum += value;
    entry.count += 1;
    this.sums.set(key, entry);
  }

  /** Writes everything recorded since the last dump to every sink, then clears it. */
  dump(step: number): LogRecord {
    const record: LogRecord = { ...this.values };
    for (const [key, { sum, count }] of this.sums) record[key] = sum / count;
    this.values = {};
    this.sums.clear();
    if (Object.keys(record).length > 0) for (const sink of this.sinks) sink.write(record, step);
    return record;
  }

  close(): void {
    for (const sink of this.sinks) sink.close?.();
  }

  /** The records since the last dump, for a checkpoint. */
  pending(): PendingRecord {
    return { values: { ...this.values }, sums: [...this.sums].map(([key, entry]) => [key, { ...entry }]) };
  }

  /** Puts back what pending() returned, so the next dump is the one an uninterrupted run would write. */
  restorePending(pending: PendingRecord): void {
    this.values = { ...pending.values };
    this.sums = new Map(pending.sums.map(([key, entry]) => [key, { ...entry }]));
  }

  /** The files the sinks append to. */
  files(): string[] {
    return this.sinks.flatMap((sink) => (sink.path === undefined ? [] : [sink.path]));
  }
}

/** One JSON object per line: {"step": n, ...record}, fractions at float32 precision (float32Shortest). */
export class JsonlSink implements LogSink {
  constructor(readonly path: string) {
    mkdirSync(dirname(path), { recursive: true });
  }

  write(record: LogRecord, step: number): void {
    const values = Object.fromEntries(Object.entries(record).map(([key, value]) => [key, typeof value === "number" ? float32Shortest(value) : value]));
    appendFileSync(this.path, `${JSON.stringify({ step, ...values })}\n`);
  }
}

/**
 * A fraction as the shortest decimal that reads back as the same float32 (1.4000000208616257 -> 1.4): the
 * logged values come from float32 data, so digits past float32's precision are noise. Integers (counts,
 * env steps past 2^24) and non-finite values are kept as they are.
 */
export function float32Shortest(value: number): number {
  if (Number.isInteger(value) || !Number.isFinite(value)) return value;
  const single = Math.fround(value);
  for (let digits = 1; digits < 9; digits++) {
    const shorter = Number(single.toPrecision(digits));
    if (Math.fround(shorter) === single) return shorter;
  }
  // Nine significant digits always identify a float32.
  return Number(single.toPrecision(9));
}

/** A human table of the record on a stream (stdout by default). */
export class ConsoleSink implements LogSink {
  constructor(private readonly out: NodeJS.WritableStream = process.stdout) {}

  write(record: LogRecord, step: number): void {
    const rows = Object.entries(record).map(([k, v]) => [k, typeof v === "number" ? formatNumber(v) : String(v)]);
    const keyWidth = Math.max(4, ...rows.map(([k]) => k.length));
    const valueWidth = Math.max(4, ...rows.map(([, v]) => v.length));
    const rule = `+${"-".repeat(keyWidth + 2)}+${"-".repeat(valueWidth + 2)}+`;
    const lines = [rule, `| ${"step".padEnd(keyWidth)} | ${String(step).padStart(valueWidth)} |`];
    for (const [k, v] of rows) lines.push(`| ${k.padEnd(keyWidth)} | ${v.padStart(valueWidth)} |`);
    lines.push(rule);
    this.out.write(`${lines.join("\n")}\n`);
  }
}

/** Short, stable text for a number: integers as is, others with 4 significant digits. */
export function formatNumber(value: number): string {
  if (Number.isInteger(value)) return String(value);
  if (value !== 0 && (Math.abs(value) < 1e-3 || Math.abs(value) >= 1e6)) return value.toExponential(3);
  return value.toPrecision(4).replace(/\.?0+$/, "");
}
