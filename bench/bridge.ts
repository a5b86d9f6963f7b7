// Env bridge benchmark for `tennis-train bench bridge`: env-steps per second through the ZeroMQ bridge
// (a built-in env server in its own process, tcp on loopback) against the same envs in-process, and
// the round-trip latency of one request.
import { assertInt, assertNumber } from "../binding/validate.ts";
import { BuiltinVecEnv, withDefaultVariant, type VecEnv } from "../src/lib/env/vec-env.ts";
import { BridgeConnection } from "../src/lib/bridge/connection.ts";
import { RemoteVecEnv } from "../src/lib/bridge/remote-vec-env.ts";
import { spawnEnvServer, type SpawnedServer } from "../src/lib/bridge/spawn.ts";

export interface BridgeBenchOptions {
  /** Seconds each timed row runs (default 2). */
  seconds?: number;
  /** Envs per step request (default 16). */
  envs?: number;
  /** Env servers the remote env steps as one (default 1; each serves `envs / servers` envs). */
  servers?: number;
}

export interface BridgeBenchResult {
  /** Env-steps per second (decisions x envs) through RemoteVecEnv to server process(es). */
  bridge_steps_per_s: number;
  /** Env-steps per second of BuiltinVecEnv with the same envs in this process. */
  inproc_steps_per_s: number;
  /** Median round trip of a ping request (transport and protocol only), in microseconds. */
  rtt_us_median: number;
  /** Median wall time of one bridged step call (all servers, `envs` envs), in microseconds. */
  step_us_median: number;
  /** Median wall time of one in-process step call, in microseconds. */
  inproc_step_us_median: number;
  envs: number;
  servers: number;
  seconds: number;
  transport: string;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Deterministic varied actions, a few distinct batches cycled so the loop does no RNG work. */
function actionBatches(envs: number): Float32Array[] {
  return Array.from({ length: 8 }, (_, b) => Float32Array.from({ length: envs * 4 }, (_, i) => Math.sin(i * 0.7 + b * 1.3)));
}

/** Steps `env` for `seconds`; returns env-steps per second and the median call time (us). */
async function timeSteps(env: VecEnv, seconds: number): Promise<{ perSecond: number; medianUs: number }> {
  const batches = actionBatches(env.numEnvs);
  await env.reset();
  for (let i = 0; i < 50; i++) await env.step(batches[i % batches.length]); // warm-up
  const durations: number[] = [];
  const start = performance.now();
  const end = start + seconds * 1000;
  let calls = 0;
  for (let now = start; now < end; calls++) {
    const t0 = performance.now();
    await env.step(batches[calls % batches.length]);
    now = performance.now();
    durations.push((now - t0) * 1000);
  }
  const elapsed = (performance.now() - start) / 1000;
  return { perSecond: (calls * env.numEnvs) / elapsed, medianUs: median(durations) };
}

/** Runs the three rows; starts and stops its own server processes. */
export async function benchBridge(options: BridgeBenchOptions = {}): Promise<BridgeBenchResult> {
  const seconds = options.seconds ?? 2;
  assertNumber("seconds", seconds, 0.05, 3600);
  const envs = options.envs ?? 16;
  assertInt("envs", envs, 1, 65536);
  const servers = options.servers ?? 1;
  assertInt("servers", servers, 1, Math.min(envs, 64));
  const perServer = Array.from({ length: servers }, (_, k) => Math.floor(envs / servers) + (k < envs % servers ? 1 : 0));
  const children: SpawnedServer[] = [];
  try {
    let seed = 0;
    for (const n of perServer) {
      children.push(await spawnEnvServer({ bind: "tcp://127.0.0.1:0", envs: n, seed }));
      seed += n;
    }
    const addresses = children.map((c) => c.endpoint);

    const ping = new BridgeConnection(addresses[0], { timeoutMs: 5000, retries: 0 });
    const rtts: number[] = [];
    try {
      const end = performance.now() + (seconds * 1000) / 2;
      for (let i = 0; i < 20; i++) await ping.ping(); // warm-up
      while (performance.now() < end) {
        const t0 = performance.now();
        await ping.ping();
        rtts.push((performance.now() - t0) * 1000);
      }
    } finally {
      await ping.close();
    }

    const remote = await RemoteVecEnv.connect({ addresses, timeoutMs: 5000, retries: 0 });
    let bridge: { perSecond: number; medianUs: number };
    try {
      bridge = await timeSteps(remote, seconds);
    } finally {
      await remote.close();
    }

    const local = new BuiltinVecEnv({ ...withDefaultVariant(), numEnvs: envs, seed: 0 });
    let inproc: { perSecond: number; medianUs: number };
    try {
      inproc = await timeSteps(local, seconds);
    } finally {
      await local.close();
    }

    return {
      bridge_steps_per_s: Math.round(bridge.perSecond),
      inproc_steps_per_s: Math.round(inproc.perSecond),
      rtt_us_median: Math.round(median(rtts)),
      step_us_median: Math.round(bridge.medianUs),
      inproc_step_us_median: Math.round(inproc.medianUs * 100) / 100,
      envs,
      servers,
      seconds,
      transport: "tcp://127.0.0.1 (server in a child process)",
    };
  } finally {
    await Promise.all(children.map((c) => c.stop()));
  }
}
