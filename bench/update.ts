// `tennis-train bench update`: updates/s of the native MADDPG update, plain LibTorch ("libtorch") and
// fused ("fused") implementations (C++ bench binary), and of the PyTorch reference
// (bench/reference/bench_update_ref.py), same settings, measured in the same run. With several repeats
// the native bench and the reference take turns, so a change in machine load hits both sides.
// With device "cuda" (`--cuda`): LibTorch and CUDA graphs of k updates ("graph", one row per k) on the
// card against the reference on the same card (bench_update_ref_device.py), 1 thread.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** Repository root (bench/ sits directly under it). */
const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** Native update implementations (MaddpgConfig::impl). */
export type NativeImpl = "libtorch" | "fused" | "graph";
/** Those measured by default on each device. */
export const NATIVE_IMPLS: Record<"cpu" | "cuda", readonly NativeImpl[]> = { cpu: ["libtorch", "fused"], cuda: ["libtorch", "graph"] };

export interface BenchUpdateOptions {
  /** LibTorch / PyTorch intra-op thread counts to measure (default [1, 2]). */
  threads?: number[];
  /** Batch size (default 256). */
  batch?: number;
  /** Hidden layer widths of actors and critics (default [128, 128]). */
  hidden?: number[];
  /** Seconds of timed updates per setting, implementation and repeat (default 3). */
  seconds?: number;
  /** "maddpg" (default) or "matd3". */
  variant?: "maddpg" | "matd3";
  /** "cpu" (default) or "cuda" (then 1 thread, and the reference on the same card). */
  device?: "cpu" | "cuda";
  /** Updates per call of the graph implementation, one row each (default [1, 2, 16]). */
  graphK?: number[];
  /** Native implementations to measure (default NATIVE_IMPLS[device]). */
  impls?: NativeImpl[];
  /** Native + reference rounds, taking turns; ratios use the median of each side (default 3). */
  repeats?: number;
  /** Path of the C++ bench; default $TENNIS_BENCH_UPDATE, then build/bench_update, build/Release/bench_update. */
  binary?: string;
  /** Python with torch for the reference (default /usr/bin/python3). */
  python?: string;
}

export interface BenchUpdateRow {
  impl: NativeImpl | "reference";
  threads: number;
  /** Updates per native call (graph rows; 1 elsewhere). */
  k?: number;
  batch: number;
  updates_per_s: number;
  /** 0-based round of this measurement (with repeats > 1). */
  repeat?: number;
  [key: string]: unknown;
}

/** Ratio of two implementations' median updates/s, keyed by thread count ("1", "2"). */
export type RatiosByThreads = Record<string, number>;

export interface BenchUpdateResult {
  rows: BenchUpdateRow[];
  /** Median updates/s per implementation ("graph k=16" for graph rows) and thread count. */
  medians: Record<string, RatiosByThreads>;
  /** LibTorch over reference at 1 thread (null when either is missing). */
  ratio_native_vs_reference: number | null;
  /** Fused over reference at 1 thread (null when either is missing). */
  ratio_fused_vs_reference: number | null;
  /** Per thread count: fused/reference, libtorch/reference, fused/libtorch; graph/reference per k (CUDA). */
  ratios: {
    fused_vs_reference: RatiosByThreads;
    libtorch_vs_reference: RatiosByThreads;
    fused_vs_libtorch: RatiosByThreads;
    graph_vs_reference: Record<string, number>;
  };
  /** libtorch/reference per thread count (the same figures as ratios.libtorch_vs_reference). */
  ratios_by_threads: RatiosByThreads;
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

/** The medians' key of a row: its impl, with k for graph rows. */
function rowKey(r: BenchUpdateRow): string {
  return r.impl === "graph" ? `graph k=${r.k ?? 1}` : r.impl;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * Runs the native bench (both implementations) and the reference with the same settings, `repeats`
 * times in turn, and returns every row, the medians and the ratios. A missing binary or a Python
 * without torch leaves that side out with a note instead of failing, so the other side is still reported.
 */
export function benchUpdate(options: BenchUpdateOptions = {}): BenchUpdateResult {
  const device = options.device ?? "cpu";
  const threads = device === "cuda" ? [1] : options.threads ?? [1, 2];
  const graphK = options.graphK ?? [1, 2, 16];
  const batch = options.batch ?? 256;
  const hidden = options.hidden ?? [128, 128];
  const seconds = options.seconds ?? 3;
  const variant = options.variant ?? "maddpg";
  const impls = options.impls ?? [...NATIVE_IMPLS[device]];
  const repeats = Math.max(1, Math.floor(options.repeats ?? 3));
  const python = options.python ?? "/usr/bin/python3";
  const args = ["--threads", threads.join(","), "--batch", String(batch), "--hidden", hidden.join(","),
    "--seconds", String(seconds), "--variant", variant];
  const rows: BenchUpdateRow[] = [];
  const notes: string[] = [];
  const nativeArgs = [...args, "--impl", impls.join(","), ...(device === "cuda" ? ["--device", "cuda", "--k", graphK.join(",")] : [])];
  const timeout = (seconds + 30) * threads.length * (impls.length + graphK.length + 1) * 1000;
  const binary = benchBinary(options.binary);
  if (!binary) notes.push("native bench not built (build/bench_update): run `npm run build`, or pass its path");
  const script = join(root, "bench", "reference", device === "cuda" ? "bench_update_ref_device.py" : "bench_update_ref.py");
  const referenceArgs = device === "cuda" ? [...args, "--device", "cuda"] : args;
  let nativeFailed = false;
  let referenceFailed = false;

  for (let repeat = 0; repeat < repeats; repeat++) {
    if (binary && !nativeFailed && impls.length > 0) {
      const run = spawnSync(binary, nativeArgs, { encoding: "utf8", timeout });
      if (run.status !== 0) {
        notes.push(`native bench failed (${binary}): ${run.error?.message ?? run.stderr.trim()}`);
        nativeFailed = true;
      } else {
        rows.push(...jsonLines(run.stdout).map((r) => ({ ...r, repeat })));
      }
    }
    if (!referenceFailed) {
      const run = spawnSync(python, [script, ...referenceArgs], { encoding: "utf8", timeout });
      if (run.error) notes.push(`reference not run: ${python} cannot start (${run.error.message})`);
      else if (run.status !== 0) notes.push(`reference failed (${python}): ${run.stderr.trim().split("\n").pop()}`);
      else rows.push(...jsonLines(run.stdout).map((r) => ({ ...r, repeat })));
      referenceFailed = run.error !== undefined || run.status !== 0;
    }
  }

  const medians: Record<string, RatiosByThreads> = {};
  for (const r of rows) {
    const values = rows.filter((q) => rowKey(q) === rowKey(r) && q.threads === r.threads).map((q) => q.updates_per_s);
    (medians[rowKey(r)] ??= {})[String(r.threads)] = median(values);
  }
  const ratio = (a: string, b: string): RatiosByThreads => {
    const out: RatiosByThreads = {};
    for (const t of threads) {
      const x = medians[a]?.[String(t)];
      const y = medians[b]?.[String(t)];
      if (x !== undefined && y !== undefined) out[String(t)] = x / y;
    }
    return out;
  };
  const ratios = {
    fused_vs_reference: ratio("fused", "reference"),
    libtorch_vs_reference: ratio("libtorch", "reference"),
    fused_vs_libtorch: ratio("fused", "libtorch"),
    graph_vs_reference: Object.fromEntries(
      graphK.filter((k) => ratio(`graph k=${k}`, "reference")["1"] !== undefined).map((k) => [String(k), ratio(`graph k=${k}`, "reference")["1"]]),
    ),
  };
  return {
    rows,
    medians,
    ratio_native_vs_reference: ratios.libtorch_vs_reference["1"] ?? null,
    ratio_fused_vs_reference: ratios.fused_vs_reference["1"] ?? null,
    ratios,
    ratios_by_threads: ratios.libtorch_vs_reference,
    notes,
  };
}

/** A human-readable table of a benchUpdate() result. */
export function formatBenchUpdate(result: BenchUpdateResult): string {
  const lines = ["impl          threads  batch  updates/s"];
  const sorted = [...result.rows].sort((a, b) => a.threads - b.threads || rowKey(a).localeCompare(rowKey(b)));
  for (const r of sorted) {
    lines.push(`${rowKey(r).padEnd(14)}${String(r.threads).padStart(7)}${String(r.batch).padStart(7)}${r.updates_per_s.toFixed(1).padStart(11)}`);
  }
  const names: [keyof BenchUpdateResult["ratios"], string][] = [
    ["fused_vs_reference", "fused / reference"],
    ["libtorch_vs_reference", "libtorch / reference"],
    ["fused_vs_libtorch", "fused / libtorch"],
  ];
  const rounds = new Set(result.rows.map((r) => r.repeat ?? 0)).size;
  const of = rounds > 1 ? ` (medians of ${rounds} rounds)` : "";
  for (const [key, label] of names) {
    for (const [t, value] of Object.entries(result.ratios[key])) {
      lines.push(`${label} at ${t} thread${t === "1" ? "" : "s"}: ${value.toFixed(2)}x${of}`);
    }
  }
  for (const [k, value] of Object.entries(result.ratios.graph_vs_reference)) {
    lines.push(`graph (k=${k}) / reference on CUDA: ${value.toFixed(2)}x`);
  }
  for (const note of result.notes) lines.push(`note: ${note}`);
  return lines.join("\n");
}
