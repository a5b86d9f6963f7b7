// Env benchmark for `tennis-train bench env`: env-steps per second (one env-step = both agents, 5
// physics ticks) through the public TennisEnv, under random clipped-normal actions, for several
// batch sizes and OpenMP thread counts. Action generation stays outside the timed loop.
import { TennisEnv } from "../binding/env.ts";
import { assertInt, assertNumber } from "../binding/validate.ts";
import { NormalRng } from "../src/lib/env/random-play.ts";
import { withDefaultVariant } from "../src/lib/env/vec-env.ts";

export interface EnvBenchOptions {
  /** Batch sizes to time (default [1, 64, 1024, 4096]). */
  envCounts?: number[];
  /** Thread counts to time (default [1, 2]). */
  threads?: number[];
  /** Seconds each row runs (default 1). */
  seconds?: number;
}

export interface EnvBenchRow {
  envs: number;
  threads: number;
  /** Env-steps per second (envs x step() calls / wall seconds). */
  steps_per_s: number;
}

export interface EnvBenchResult {
  rows: EnvBenchRow[];
  best_steps_per_s: number;
  seconds: number;
}

// Distinct action sets cycled through in the timed loop.
const kActionSets = 8;

export function benchEnv(options: EnvBenchOptions = {}): EnvBenchResult {
  const envCounts = options.envCounts ?? [1, 64, 1024, 4096];
  const threadCounts = options.threads ?? [1, 2];
  const seconds = options.seconds ?? 1;
  assertNumber("seconds", seconds, 0.001, 3600);
  envCounts.forEach((n) => assertInt("envCounts[]", n, 1, 2 ** 20));
  threadCounts.forEach((t) => assertInt("threads[]", t, 1, 256));
  const rows: EnvBenchRow[] = [];
  for (const envs of envCounts) {
    for (const threads of threadCounts) {
      const env = new TennisEnv({ ...withDefaultVariant(), numEnvs: envs, seed: 0, threads });
      try {
        const rng = new NormalRng(envs * 31 + threads);
        const actions = Array.from({ length: kActionSets }, () => rng.fillClipped(new Float32Array(envs * 4)));
        env.reset();
        for (let i = 0; i < 20; i++) env.step(actions[i % kActionSets]); // warm-up
        // Calls per timing check, so that reading the clock costs nothing next to the steps.
        const chunk = Math.max(1, Math.ceil(4096 / envs));
        let calls = 0;
        const start = performance.now();
        const deadline = start + seconds * 1000;
        let now = start;
        do {
          for (let i = 0; i < chunk; i++) env.step(actions[(calls + i) % kActionSets]);
          calls += chunk;
          now = performance.now();
        } while (now < deadline);
        rows.push({ envs, threads, steps_per_s: Math.round((calls * envs * 1000) / (now - start)) });
      } finally {
        env.dispose();
      }
    }
  }
  return { rows, best_steps_per_s: Math.max(...rows.map((r) => r.steps_per_s)), seconds };
}
