// `tennis-train bench update`: updates/s of the native MADDPG update (C++ bench binary) and of the
// PyTorch reference (bench/reference/bench_update_ref.py), same settings, one after the other.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** Repository root (bench/ sits directly under it). */
const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");

export interface BenchUpdateOptions {
  /** LibTorch / PyTorch intra-op thread counts to measure (default [1, 2]). */
  threads?: number[];
  /** Batch size (default 256). */
  batch?: number;
  /** Hidden layer widths of actors and critics (default [128, 128]). */
  hidden?: number[];
  /** Seconds of timed updates per setting and implementation (default 3). */
  seconds?: number;
  /** "maddpg" (default) or "matd3". */
  variant?: "maddpg" | "matd3";
  /** Path of the C++ bench; default $TENNIS_BENCH_UPDATE, then build/bench_update, build/Release/bench_update. */
  binary?: string;
  /** Python with torch for the reference (default /usr/bin/python3). */
  python?: string;
}

export interface BenchUpdateRow {
  impl: "libtorch" | "reference";
  threads: number;
  batch: number;
  updates_per_s: number;
  [key: string]: unknown;
}

export interface BenchUpdateResult {
  rows: BenchUpdateRow[];
  /** Native updates/s over the reference's at 1 thread (null when either is missing). */
  ratio_native_vs_reference: number | null;
  /** Native over reference per thread count measured by both. */
  ratios_by_threads: Record<string, number>;
  /** Why a side is missing, if one is. */
  notes: string[];
}

function benchBinary(override?: string): string | undefined {
  const candidates = [override, process.env.TENNIS_BENCH_UPDATE, join(root, "build", "bench_update"),
    join(root, "build", "Release", "bench_update")].filter((p): p is string => !!p);
  return candidates.find((p) => existsSync(p));
}

function jsonLines(text: string): BenchUpdateRow[] {
  return text
    .split("\n")
    .filter((line) => line.trim().startsWith("{"))
    .map((line) => JSON.parse(line) as BenchUpdateRow);
}

/**
 * Runs the native bench and the reference with the same settings and returns both sets of rows and
 * the native/reference ratio. A missing binary or a Python without torch leaves that side out with a
 * note instead of failing, so the other side is still reported.
 */
export function benchUpdate(options: BenchUpdateOptions = {}): BenchUpdateResult {
  const threads = options.threads ?? [1, 2];
  const batch = options.batch ?? 256;
  const hidden = options.hidden ?? [128, 128];
  const seconds = options.seconds ?? 3;
  const variant = options.variant ?? "maddpg";
  const python = options.python ?? "/usr/bin/python3";
  const args = ["--threads", threads.join(","), "--batch", String(batch), "--hidden", hidden.join(","),
    "--seconds", String(seconds), "--variant", variant];
  const rows: BenchUpdateRow[] = [];
  const notes: string[] = [];
  const timeout = (seconds + 30) * threads.length * 1000;

  const binary = benchBinary(options.binary);
  if (!binary) {
    notes.push("native bench not built (build/bench_update): run `npm run build`, or pass its path");
  } else {
    const run = spawnSync(binary, args, { encoding: "utf8", timeout });
    if (run.status !== 0) notes.push(`native bench failed (${binary}): ${run.error?.message ?? run.stderr.trim()}`);
    else rows.push(...jsonLines(run.stdout));
  }

  const script = join(root, "bench", "reference", "bench_update_ref.py");
  const run = spawnSync(python, [script, ...args], { encoding: "utf8", timeout });
  if (run.error) notes.push(`reference not run: ${python} cannot start (${run.error.message})`);
  else if (run.status !== 0) notes.push(`reference failed (${python}): ${run.stderr.trim().split("\n").pop()}`);
  else rows.push(...jsonLines(run.stdout));

  const rate = (impl: string, t: number) => rows.find((r) => r.impl === impl && r.threads === t)?.updates_per_s;
  const ratios_by_threads: Record<string, number> = {};
  for (const t of threads) {
    const native = rate("libtorch", t);
    const reference = rate("reference", t);
    if (native !== undefined && reference !== undefined) ratios_by_threads[String(t)] = native / reference;
  }
  return { rows, ratio_native_vs_reference: ratios_by_threads["1"] ?? null, ratios_by_threads, notes };
}

/** A human-readable table of a benchUpdate() result. */
export function formatBenchUpdate(result: BenchUpdateResult): string {
  const lines = ["impl        threads  batch  updates/s"];
  for (const r of result.rows) {
    lines.push(`${r.impl.padEnd(12)}${String(r.threads).padStart(7)}${String(r.batch).padStart(7)}${r.updates_per_s.toFixed(1).padStart(11)}`);
  }
  for (const [t, ratio] of Object.entries(result.ratios_by_threads)) {
    lines.push(`native / reference at ${t} thread${t === "1" ? "" : "s"}: ${ratio.toFixed(2)}x`);
  }
  for (const note of result.notes) lines.push(`note: ${note}`);
  return lines.join("\n");
}
