// Replay buffer benchmark for `tennis-train bench buffer`: transitions appended per second, batches of
// 256 sampled per second, and the resident memory of 1e6 stored transitions against their raw bytes.
// Its shm segment never outlives it: SIGINT and SIGTERM remove it before the process ends, and a
// segment left by a SIGKILLed bench (its owner process gone) is removed when the next one starts.
import { existsSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";

import { RECORD_FLOATS, ReplayBuffer, createBatch } from "../binding/buffer.ts";
import { assertInt, assertNumber } from "../binding/validate.ts";
import { processAlive } from "../src/lib/util/process.ts";
import { resolveConfig } from "../src/lib/config/resolve.ts";

export interface BufferBenchOptions {
  /** Seconds each timed row runs (default 2). */
  seconds?: number;
  /** Records stored for the memory row (default 1e6, as the issue asks). */
  capacity?: number;
  /** Transitions per add() call in the append row, i.e. envs per vectorized step (default 16). */
  appendStep?: number;
  /** Batch size of the sample row (default 256). */
  batch?: number;
}

export interface BufferBenchResult {
  /** Transitions per second through ReplayBuffer.add with `append_step` transitions per call. */
  append_per_s: number;
  append_step: number;
  /** Transitions per second with one transition per add() call (per-call overhead bound). */
  append_single_per_s: number;
  /** sample() calls per second at batch `sample_batch` (uniform, into reused arrays). */
  sample_per_s: number;
  sample_batch: number;
  /** sample_per_s x sample_batch. */
  sample_transitions_per_s: number;
  /** Growth of VmRSS while filling `capacity` records, over capacity x 104 floats x 4 bytes. */
  rss_ratio_1e6: number;
  rss_bytes_1e6: number;
  raw_bytes_1e6: number;
  capacity: number;
  /** Where the records lived: a POSIX shm segment, or private memory where /dev/shm was too small. */
  memory: "shm" | "private";
  seconds: number;
}

/** Resident set size of this process in bytes (VmRSS from /proc/self/status). */
export function residentBytes(): number {
  const status = readFileSync("/proc/self/status", "utf8");
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (!match) throw new Error("VmRSS not found in /proc/self/status");
  return Number(match[1]) * 1024;
}

/** Finite, varied transitions for n envs (values do not matter to the buffer). */
function syntheticStep(n: number) {
  const fillWith = (length: number, scale: number) => Float32Array.from({ length }, (_, i) => Math.sin(i * 0.37) * scale);
  return {
    obs: fillWith(n * 48, 5),
    actions: fillWith(n * 4, 1),
    rewards: Float32Array.from({ length: n * 2 }, (_, i) => (i % 7 === 0 ? -0.01 : 0)),
    nextObs: fillWith(n * 48, 5),
    dones: new Float32Array(n * 2),
  };
}

/** Shm names of this bench start with it. */
const kShmPrefix = "tennis-train-bench";
/** Where Linux keeps POSIX shm segments as files. */
const kShmDir = "/dev/shm";

/** Returns a pause for busy loops: every `intervalMs` it yields to the event loop, so signal handlers
 * run within that time (a few microseconds per pause, next to the milliseconds measured between). */
function eventBreaks(intervalMs = 50): () => Promise<void> {
  let last = performance.now();
  return async () => {
    if (performance.now() - last < intervalMs) return;
    await new Promise((resolve) => setImmediate(resolve));
    last = performance.now();
  };
}

/** Runs fn repeatedly for `seconds`; returns calls per second. */
async function rate(seconds: number, fn: () => void, pause: () => Promise<void>): Promise<number> {
  const deadline = performance.now() + seconds * 1000;
  let calls = 0;
  const start = performance.now();
  let now = start;
  while (now < deadline) {
    for (let i = 0; i < 64; i++) fn();
    calls += 64;
    await pause();
    now = performance.now();
  }
  return calls / ((now - start) / 1000);
}

/** Until the returned release() is called, SIGINT and SIGTERM dispose the buffer `owned()` returns (removing
 * its shm segment) and then end the process by the same signal, as they would have without this handler.
 * Installed before the buffer exists, so a signal while the segment is being created waits for it. */
function disposeOnSignals(owned: () => ReplayBuffer | null): () => void {
  const release = () => {
    process.off("SIGINT", onSignal).off("SIGTERM", onSignal);
  };
  const onSignal = (signal: NodeJS.Signals) => {
    owned()?.dispose();
    release();
    process.kill(process.pid, signal);
  };
  process.on("SIGINT", onSignal).on("SIGTERM", onSignal);
  return release;
}

/** Removes the segments of benches that have exited: the native sweep finds the owner in a segment's
 * header, and this one in its name ("/<prefix>-<pid>-..."), which also covers a bench killed before it
 * wrote the header. */
function sweepStaleBenchSegments(): void {
  ReplayBuffer.sweepStaleSegments(kShmPrefix);
  if (!existsSync(kShmDir)) return;
  for (const entry of readdirSync(kShmDir)) {
    const pid = new RegExp(`^${kShmPrefix}-(\\d+)-`).exec(entry)?.[1];
    if (pid !== undefined && !processAlive(Number(pid))) rmSync(join(kShmDir, entry), { force: true });
  }
}

/** The bench's buffer: in a POSIX shm segment, or in private memory where /dev/shm is too small. */
function openBenchBuffer(capacity: number, shmName: string): { buffer: ReplayBuffer; memory: "shm" | "private" } {
  try {
    return { buffer: new ReplayBuffer({ ...resolveConfig().buffer, capacity, shmName, seed: 0 }), memory: "shm" };
  } catch (err) {
    // A container's small /dev/shm (often 64 MiB): same layout in private shared memory instead.
    if (!/not enough shared memory/.test((err as Error).message)) throw err;
    return { buffer: new ReplayBuffer({ ...resolveConfig().buffer, capacity, seed: 0 }), memory: "private" };
  }
}

export async function benchBuffer(options: BufferBenchOptions = {}): Promise<BufferBenchResult> {
  const seconds = options.seconds ?? 2;
  const capacity = options.capacity ?? 1_000_000;
  const appendStep = options.appendStep ?? 16;
  const batch = options.batch ?? 256;
  assertNumber("seconds", seconds, 0.05, 3600);
  assertInt("capacity", capacity, 1000, 2 ** 31 - 1);
  assertInt("appendStep", appendStep, 1, 1000);
  assertInt("batch", batch, 1, 1000);

  // Memory row: fill a shared-memory buffer (the production layout) and watch VmRSS grow.
  const chunk = 1000;
  const fillStep = syntheticStep(chunk);
  const step = syntheticStep(appendStep);
  const single = syntheticStep(1);
  const out = createBatch(batch);
  // The sweep and the name come first: they load the addon (and LibTorch with it) before the baseline is read.
  sweepStaleBenchSegments();
  const shmName = ReplayBuffer.uniqueShmName(kShmPrefix);
  const before = residentBytes();
  let owned: ReplayBuffer | null = null;
  const release = disposeOnSignals(() => owned);
  const pause = eventBreaks();
  try {
    const { buffer, memory } = openBenchBuffer(capacity, shmName);
    owned = buffer;
    for (let stored = 0; stored < capacity; stored += chunk) {
      await pause();
      if (capacity - stored < chunk) {
        const tail = syntheticStep(capacity - stored);
        buffer.add(tail.obs, tail.actions, tail.rewards, tail.nextObs, tail.dones);
      } else {
        buffer.add(fillStep.obs, fillStep.actions, fillStep.rewards, fillStep.nextObs, fillStep.dones);
      }
    }
    const rssBytes = residentBytes() - before;
    const rawBytes = capacity * RECORD_FLOATS * 4;

    // Timed rows on the full buffer (appends now overwrite the oldest records, as in a long run).
    const appendCalls = await rate(seconds, () => buffer.add(step.obs, step.actions, step.rewards, step.nextObs, step.dones), pause);
    const singleCalls = await rate(seconds, () => buffer.add(single.obs, single.actions, single.rewards, single.nextObs, single.dones), pause);
    const sampleCalls = await rate(seconds, () => buffer.sample(batch, undefined, out), pause);
    return {
      append_per_s: Math.round(appendCalls * appendStep),
      append_step: appendStep,
      append_single_per_s: Math.round(singleCalls),
      sample_per_s: Math.round(sampleCalls),
      sample_batch: batch,
      sample_transitions_per_s: Math.round(sampleCalls * batch),
      rss_ratio_1e6: Math.round((rssBytes / rawBytes) * 1000) / 1000,
      rss_bytes_1e6: rssBytes,
      raw_bytes_1e6: rawBytes,
      capacity,
      memory,
      seconds,
    };
  } finally {
    release();
    owned?.dispose();
  }
}
