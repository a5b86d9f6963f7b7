// The replay buffer from JS: shapes, wrap-around, seeding, the notebook's sampling options, priorities,
// checkpoints, argument checks on both sides of the boundary, and producers in other processes.
import { expect } from "chai";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import { ReplayBuffer, createBatch, type ReplayBufferOptions, type SampleBatch } from "../../binding/buffer.ts";
import { TennisTrainError } from "../../binding/errors.ts";
import { isKnown, knownStep } from "./records.ts";
import { bufferOptions } from "../helpers/buffer-options.ts";

const here = dirname(fileURLToPath(import.meta.url));

/** Record k of a batch in buffer layout. */
function recordOf(batch: SampleBatch, k: number): Float32Array {
  const r = new Float32Array(104);
  r.set(batch.obs.subarray(k * 48, k * 48 + 48), 0);
  r.set(batch.actions.subarray(k * 4, k * 4 + 4), 48);
  r.set(batch.rewards.subarray(k * 2, k * 2 + 2), 52);
  r.set(batch.nextObs.subarray(k * 48, k * 48 + 48), 54);
  r.set(batch.dones.subarray(k * 2, k * 2 + 2), 102);
  return r;
}

function fill(buffer: ReplayBuffer, producer: number, count: number, stepSize = 10): void {
  for (let seq = 0; seq < count; seq += stepSize) {
    const s = knownStep(producer, seq, Math.min(stepSize, count - seq));
    buffer.add(s.obs, s.actions, s.rewards, s.nextObs, s.dones);
  }
}

/** Runs test/buffer/buffer-producer.ts in a child node; resolves with its exit code and stdout. */
function runChild(args: string[], onStdout?: (text: string, kill: () => void) => void): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string; pid: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", join(here, "buffer-producer.ts"), ...args], {
      env: process.env,
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      stdout += d;
      onStdout?.(stdout, () => child.kill("SIGKILL"));
    });
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("exit", (code, signal) => resolve({ code, signal, stdout, stderr, pid: child.pid! }));
  });
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(TennisTrainError);
    return (err as TennisTrainError).code;
  }
  return undefined;
}

describe("ReplayBuffer (binding/buffer)", function () {
  this.timeout(120000);
  const live: ReplayBuffer[] = [];
  const make = (options: Partial<ReplayBufferOptions> = {}) => {
    const buffer = new ReplayBuffer(bufferOptions(options));
    live.push(buffer);
    return buffer;
  };
  afterEach(() => {
    for (const buffer of live.splice(0)) if (!buffer.disposed) buffer.dispose();
  });
  // A failed run's child processes may leave segments behind; remove those whose owner is gone.
  after(() => ReplayBuffer.sweepStaleSegments("tennis-train-jstest"));

  it("samples the shapes the notebook prints, with the stored records", () => {
    const buffer = make({ capacity: 1000, seed: 1 });
    fill(buffer, 7, 300);
    expect([buffer.size, buffer.capacity, buffer.totalAdded]).to.deep.equal([300, 1000, 300]);
    const batch = buffer.sample(64);
    expect(batch.shape).to.deep.equal({
      obs: [64, 2, 24],
      actions: [64, 2, 2],
      rewards: [64, 2],
      nextObs: [64, 2, 24],
      dones: [64, 2],
      weights: [64],
      indices: [64],
    });
    expect([batch.obs.length, batch.actions.length, batch.rewards.length, batch.nextObs.length, batch.dones.length]).to.deep.equal([
      64 * 48, 64 * 4, 64 * 2, 64 * 48, 64 * 2,
    ]);
    for (let k = 0; k < 64; k++) {
      const record = recordOf(batch, k);
      expect(isKnown(record), `record ${k}`).to.equal(true);
      expect(record[0]).to.equal(7);
      expect(batch.indices[k]).to.equal(record[1]); // one producer: slot = sequence number
      expect(batch.weights[k]).to.equal(1);
      expect(buffer.readSlot(batch.indices[k])).to.deep.equal(record);
    }
  });

  it("keeps the newest records when it wraps around", () => {
    const buffer = make({ capacity: 10 });
    fill(buffer, 1, 25, 4);
    expect([buffer.size, buffer.totalAdded]).to.deep.equal([10, 25]);
    for (let slot = 0; slot < 10; slot++) {
      const record = buffer.readSlot(slot)!;
      expect(isKnown(record)).to.equal(true);
      expect(record[1] % 10).to.equal(slot);
      expect(record[1]).to.be.at.least(15);
    }
  });

  it("gives the same samples for the same seed", () => {
    const [a, b, c] = [make({ seed: 42 }), make({ seed: 42 }), make({ seed: 43 })];
    for (const buffer of [a, b, c]) fill(buffer, 3, 400);
    const out = createBatch(32);
    for (let round = 0; round < 3; round++) {
      const x = a.sample(32);
      const y = b.sample(32, {}, out);
      expect(y).to.equal(out);
      expect(Array.from(x.indices)).to.deep.equal(Array.from(y.indices));
      expect(Array.from(x.obs)).to.deep.equal(Array.from(y.obs));
    }
    expect(Array.from(a.sample(32).indices)).to.not.deep.equal(Array.from(c.sample(32).indices));
  });

  it("applies the early-training filter and neg_sampling_ratio", () => {
    const buffer = make({ seed: 5 });
    fill(buffer, 0, 500); // every 5th transition has reward -0.01
    for (let round = 0; round < 50; round++) {
      const batch = buffer.sample(64, { earlyTrainingSteps: 1000 });
      for (let k = 0; k < 64; k++) expect(batch.rewards[k * 2]).to.be.at.least(0);
    }
    for (let round = 0; round < 50; round++) {
      const batch = buffer.sample(64, { negSamplingRatio: 0.25 });
      let negatives = 0;
      for (let k = 0; k < 64; k++) negatives += batch.rewards[k * 2] < 0 ? 1 : 0;
      expect(negatives).to.equal(16);
    }
  });

  it("samples by priority and returns importance weights", () => {
    const buffer = make({ capacity: 16, prioritized: true, alpha: 1, beta0: 1, seed: 2 });
    fill(buffer, 0, 4, 4);
    buffer.updatePriorities(Int32Array.from([0, 1, 2, 3]), Float32Array.from([1, 1, 1, 7]));
    const hits = [0, 0, 0, 0];
    for (let round = 0; round < 500; round++) {
      const batch = buffer.sample(4);
      for (let k = 0; k < 4; k++) {
        hits[batch.indices[k]]++;
        // alpha = beta = 1: w = (p / p_min)^-1
        expect(batch.weights[k]).to.be.closeTo(batch.indices[k] === 3 ? 1 / 7 : 1, 1e-5);
      }
    }
    expect(hits[3] / 2000).to.be.closeTo(0.7, 0.05); // 7 / (1 + 1 + 1 + 7)
    expect(buffer.beta).to.equal(1);
  });

  it("round-trips a checkpoint, RNG included", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tt-buffer-"));
    const buffer = make({ capacity: 64, seed: 9, prioritized: true });
    fill(buffer, 2, 100, 8);
    buffer.updatePriorities(Int32Array.from([1, 2, 3]), Float32Array.from([0.5, 2, 4]));
    await buffer.save(join(dir, "buffer.bin"));
    const expected = buffer.sample(16);
    const restored = make({ capacity: 64, seed: 1, prioritized: true });
    await restored.load(join(dir, "buffer.bin"));
    expect([restored.size, restored.totalAdded]).to.deep.equal([64, 100]);
    const got = restored.sample(16);
    expect(Array.from(got.indices)).to.deep.equal(Array.from(expected.indices));
    expect(Array.from(got.weights)).to.deep.equal(Array.from(expected.weights));
    const small = make({ capacity: 32 });
    let caught: unknown;
    await small.load(join(dir, "buffer.bin")).catch((err) => (caught = err));
    expect(caught).to.be.instanceOf(TennisTrainError);
    expect((caught as TennisTrainError).code).to.equal("ERR_INVALID_ARG");
    expect((caught as Error).message).to.match(/^capacity: checkpoint .* holds a buffer of capacity 64, this buffer has 32$/);
  });

  it("rejects bad input with a TypeError naming the argument, leaving the buffer intact", () => {
    expect(() => new ReplayBuffer(bufferOptions({ capacity: 0 }))).to.throw(
      TypeError,
      "Expected integer between 1 and 2147483647 for capacity but received 0 of type number",
    );
    expect(() => new ReplayBuffer(bufferOptions({ capacity: 1.5 }))).to.throw(TypeError, "for capacity but received 1.5 of type number");
    expect(() => new ReplayBuffer(bufferOptions({ capacty: 10 } as never))).to.throw(TypeError, "Unknown option capacty for options");
    expect(() => new ReplayBuffer(bufferOptions({ shmName: "a/b" }))).to.throw(TypeError, 'for shmName but received "a/b" of type string');
    expect(() => new ReplayBuffer(bufferOptions({ beta0: 2 }))).to.throw(TypeError, "Expected finite number between 0 and 1 for beta0 but received 2 of type number");
    expect(() => new ReplayBuffer(bufferOptions({ priorityEps: 0 }))).to.throw(TypeError, "Expected finite number > 0 for priorityEps but received 0 of type number");
    const { betaSteps: _betaSteps, ...withoutBetaSteps } = bufferOptions();
    expect(() => new ReplayBuffer(withoutBetaSteps as ReplayBufferOptions)).to.throw(TypeError, "for betaSteps but received undefined of type undefined");

    const buffer = make({ capacity: 100, seed: 3 });
    const twin = make({ capacity: 100, seed: 3 });
    fill(buffer, 0, 50);
    fill(twin, 0, 50);
    const s = knownStep(0, 0, 2);
    expect(() => buffer.add(new Float32Array(47), s.actions, s.rewards, s.nextObs, s.dones)).to.throw(
      TypeError,
      "Expected a Float32Array of length n*48 (n x 2 x 24) for obs but received Float32Array of length 47",
    );
    expect(() => buffer.add(s.obs, new Float32Array(3), s.rewards, s.nextObs, s.dones)).to.throw(
      TypeError,
      "Expected a Float32Array of length 8 for actions but received Float32Array of length 3",
    );
    expect(() => buffer.add(s.obs, s.actions, [0, 0, 0, 0] as never, s.nextObs, s.dones)).to.throw(
      TypeError,
      "Expected a Float32Array for rewards but received Array of length 4",
    );
    const nanRewards = Float32Array.from([0, 0, Number.NaN, 0]);
    expect(() => buffer.add(s.obs, s.actions, nanRewards, s.nextObs, s.dones)).to.throw(
      TypeError,
      "Expected finite numbers for rewards but received NaN at index 2",
    );
    expect(() => buffer.sample(0)).to.throw(TypeError, "Expected integer between 1 and 2147483647 for batch but received 0 of type number");
    expect(() => buffer.sample(8, { negSamplingRatio: 2 })).to.throw(TypeError, "for negSamplingRatio but received 2 of type number");
    expect(() => buffer.sample(8, { earlyTrainingSteps: -1 })).to.throw(TypeError, "for earlyTrainingSteps but received -1 of type number");
    expect(() => buffer.sample(8, {}, createBatch(4))).to.throw(TypeError, "Expected a Float32Array of length 384 for out.obs but received Float32Array of length 192");
    expect(() => buffer.updatePriorities(new Int32Array(0), new Float32Array(0))).to.throw(TypeError, "for indices but received Int32Array of length 0");
    // State errors come back coded from the core.
    expect(codeOf(() => buffer.sample(51))).to.equal("ERR_INVALID_ARG");
    expect(() => buffer.sample(51)).to.throw("batch (51) is larger than the 50 transitions stored");
    expect(() => buffer.updatePriorities(Int32Array.from([0]), Float32Array.from([1]))).to.throw(
      TennisTrainError,
      "update_priorities needs a buffer created with prioritized=true",
    );
    // Intact: counters, contents and the sampler RNG match the untouched twin.
    expect([buffer.size, buffer.totalAdded]).to.deep.equal([twin.size, twin.totalAdded]);
    for (let slot = 0; slot < 100; slot++) expect(buffer.readSlot(slot)).to.deep.equal(twin.readSlot(slot));
    expect(Array.from(buffer.sample(8).indices)).to.deep.equal(Array.from(twin.sample(8).indices));
  });

  it("re-checks types and lengths natively (TypeError, never a crash)", () => {
    const buffer = make({ capacity: 100 });
    fill(buffer, 0, 20);
    const native = buffer.native;
    const s = knownStep(0, 0, 1);
    expect(() => native.add(new Float32Array(47), s.actions, s.rewards, s.nextObs, s.dones)).to.throw(
      TypeError,
      "obs must be a Float32Array of length n*48 (n transitions x 2 agents x 24), got 47",
    );
    expect(() => native.add(s.obs, s.actions, s.rewards, s.nextObs, new Float64Array(2) as never)).to.throw(TypeError, "dones must be a Float32Array");
    expect(() => native.add(s.obs, s.actions, s.rewards, s.nextObs, new Float32Array(4))).to.throw(
      TypeError,
      "dones must be a Float32Array of length 2, got 4",
    );
    const nan = Float32Array.from([Number.NaN, 0]);
    expect(codeOf(() => native.add(s.obs, s.actions, nan, s.nextObs, s.dones))).to.equal("ERR_INVALID_ARG");
    const b = createBatch(4);
    expect(() => native.sample(4, {}, b.obs, b.actions, b.rewards, b.nextObs, new Float32Array(7))).to.throw(
      TypeError,
      "dones must be a Float32Array of length 8, got 7",
    );
    expect(() => native.sample(4, {}, b.obs, b.actions, b.rewards, b.nextObs, b.dones, b.weights, new Float32Array(4) as never)).to.throw(
      TypeError,
      "indices must be an Int32Array",
    );
    expect(() => native.sample(4, { negSamplingRatio: "x" } as never, b.obs, b.actions, b.rewards, b.nextObs, b.dones)).to.throw(
      TypeError,
      "options.negSamplingRatio must be a number",
    );
    expect(() => new (Object.getPrototypeOf(native).constructor)({ capacity: -1 })).to.throw(RangeError, "options.capacity must be in [1, 4294967296], got -1");
    expect(buffer.totalAdded).to.equal(20);
  });

  it("reports ERR_BUSY during a save and ERR_DISPOSED after dispose", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tt-buffer-"));
    const buffer = make({ capacity: 100 });
    fill(buffer, 0, 20);
    const saving = buffer.save(join(dir, "b.bin"));
    expect(codeOf(() => buffer.sample(4))).to.equal("ERR_BUSY");
    await saving;
    buffer.sample(4);
    buffer.dispose();
    buffer.dispose(); // idempotent
    expect(buffer.disposed).to.equal(true);
    expect(codeOf(() => buffer.sample(4))).to.equal("ERR_DISPOSED");
    expect(codeOf(() => buffer.size)).to.equal("ERR_DISPOSED");
  });

  it("takes appends from producer processes attached by shm name", async () => {
    const buffer = make({ capacity: 20000, shmName: ReplayBuffer.uniqueShmName("tennis-train-jstest") });
    expect(buffer.isOwner).to.equal(true);
    const results = await Promise.all([
      runChild(["attach", buffer.shmName, "1", "5000"]),
      runChild(["attach", buffer.shmName, "2", "5000"]),
    ]);
    for (const r of results) expect(r.code, r.stderr).to.equal(0);
    expect([buffer.totalAdded, buffer.size]).to.deep.equal([10000, 10000]);
    const seen = new Set<string>();
    for (let slot = 0; slot < 10000; slot++) {
      const record = buffer.readSlot(slot)!;
      expect(isKnown(record), `slot ${slot}`).to.equal(true);
      seen.add(`${record[0]}:${record[1]}`);
    }
    expect(seen.size).to.equal(10000);
  });

  it("removes its shm segment when Node exits, and reclaims a crashed run's", async () => {
    const exiting = ReplayBuffer.uniqueShmName("tennis-train-jstest");
    const clean = await runChild(["own", exiting, "exit"]);
    expect(clean.code, clean.stderr).to.equal(0);
    expect(clean.stdout).to.contain("ready");
    expect(existsSync(`/dev/shm${exiting}`)).to.equal(false);

    const crashing = ReplayBuffer.uniqueShmName("tennis-train-jstest");
    const killed = await runChild(["own", crashing, "hang"], (text, kill) => {
      if (text.includes("ready")) kill();
    });
    expect(killed.signal).to.equal("SIGKILL");
    expect(existsSync(`/dev/shm${crashing}`)).to.equal(true);
    expect(() => ReplayBuffer.attach(crashing)).to.throw(TennisTrainError, `is stale: its owner process ${killed.pid} has exited`);
    const reclaimed = make({ capacity: 10, shmName: crashing });
    expect(reclaimed.reclaimedStalePid).to.equal(killed.pid);
    expect(reclaimed.size).to.equal(0);
    reclaimed.dispose();
    expect(existsSync(`/dev/shm${crashing}`)).to.equal(false);
  });
});
