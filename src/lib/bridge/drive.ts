// Drives env servers as one RemoteVecEnv and checks every row against the in-process env with the
// server's seed (after a server restart, against a fresh one): used by scripts/netns-bridge.sh.
// Prints one JSON summary line; exits 1 if any row differs.
// Usage: tsx src/lib/bridge/drive.ts --remote A,B --seeds 0,2 [--steps 200] [--token T] [--timeout-ms 1000]
//        [--retries 30] [--retry-delay-ms 200] [--step-delay-ms 0] [--announce-every K]
// With --announce-every K, "drive: step T" goes to stderr every K steps (scripts wait on it).
import { parseArgs } from "node:util";

import { TennisEnv } from "../../../binding/env.ts";
import { withDefaultVariant } from "../env/vec-env.ts";
import { Rng } from "../util/rng.ts";
import { RemoteVecEnv, type LostEpisodes } from "./remote-vec-env.ts";

/** Deterministic actions in [-1, 1) (the same stream as the tests' seededActions). */
function actionStream(seed: number, length: number): () => Float32Array {
  const rng = new Rng(seed);
  return () => rng.fillSigned(new Float32Array(length));
}

function same(a: Float32Array, b: Float32Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

const { values } = parseArgs({
  options: {
    remote: { type: "string" },
    seeds: { type: "string" },
    steps: { type: "string", default: "200" },
    token: { type: "string" },
    "timeout-ms": { type: "string", default: "1000" },
    retries: { type: "string", default: "30" },
    "retry-delay-ms": { type: "string", default: "200" },
    "step-delay-ms": { type: "string", default: "0" },
    "announce-every": { type: "string", default: "0" },
  },
});
if (!values.remote || !values.seeds) throw new Error("usage: drive.ts --remote A,B --seeds 0,2 [--steps N]");
const addresses = values.remote.split(",");
const seeds = values.seeds.split(",").map(Number);
if (seeds.length !== addresses.length) throw new Error("--seeds needs one seed per --remote address");
const steps = Number(values.steps);
const stepDelayMs = Number(values["step-delay-ms"]);
const announceEvery = Number(values["announce-every"]);

const remote = await RemoteVecEnv.connect({
  addresses,
  token: values.token,
  timeoutMs: Number(values["timeout-ms"]),
  retries: Number(values.retries),
  retryDelayMs: Number(values["retry-delay-ms"]),
});
const lost: LostEpisodes[] = [];
let retries = 0;
remote.on("lost", (e: LostEpisodes) => lost.push(e));
remote.on("retry", () => retries++);
const servers = remote.servers;
const locals = servers.map((s, k) => new TennisEnv({ ...withDefaultVariant(), numEnvs: s.info.envs, seed: seeds[k], autoReset: true }));
const obsRow = 48;
let mismatches = 0;
// The first few differences go to stderr, to say where a run went wrong.
const report = (what: string) => {
  if (++mismatches <= 5) process.stderr.write(`drive: ${what}\n`);
};
let episodes = 0;
const started = performance.now();
const obs = await remote.reset();
servers.forEach((s, k) => {
  if (!same(obs.subarray(s.firstEnv * obsRow, (s.firstEnv + s.info.envs) * obsRow), locals[k].reset())) report(`reset obs of ${s.address}`);
});
const nextActions = actionStream(1, remote.numEnvs * 4);
for (let t = 0; t < steps; t++) {
  const actions = nextActions();
  const r = await remote.step(actions);
  servers.forEach((s, k) => {
    const [a, b] = [s.firstEnv, s.firstEnv + s.info.envs];
    if (r.lost[a * 2] === 1) {
      // The server restarted: its rows now hold a fresh episode of the same seed.
      locals[k].dispose();
      locals[k] = new TennisEnv({ ...withDefaultVariant(), numEnvs: s.info.envs, seed: seeds[k], autoReset: true });
      if (!same(r.obs.subarray(a * obsRow, b * obsRow), locals[k].reset())) report(`step ${t}: fresh obs of ${s.address}`);
      return;
    }
    const want = locals[k].step(actions.subarray(a * 4, b * 4));
    for (const key of ["obs", "nextObs", "rewards", "dones", "maxReached"] as const) {
      const width = key === "obs" || key === "nextObs" ? obsRow : 2;
      if (!same(r[key].subarray(a * width, b * width), want[key])) report(`step ${t}: ${key} of ${s.address}`);
    }
    for (let e = a; e < b; e++) episodes += r.dones[e * 2];
  });
  if (announceEvery > 0 && (t + 1) % announceEvery === 0) process.stderr.write(`drive: step ${t + 1}\n`);
  if (stepDelayMs > 0) await new Promise((done) => setTimeout(done, stepDelayMs));
}
await remote.close();
for (const l of locals) l.dispose();
const summary = {
  addresses,
  envs: remote.numEnvs,
  steps,
  episodes,
  lost_episodes: remote.lostEpisodes,
  lost_events: lost.length,
  retries,
  mismatches,
  seconds: Math.round((performance.now() - started) / 10) / 100,
};
process.stdout.write(`${JSON.stringify(summary)}\n`);
process.exitCode = mismatches === 0 ? 0 : 1;
