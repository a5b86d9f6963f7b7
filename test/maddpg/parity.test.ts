// Parity with the PyTorch reference (bench/reference/maddpg_ref.py): from the same initial weights and
// the same 10 batches (and MATD3 smoothing noise), native parameters match the reference's within the
// tolerance below, for both update implementations (impl "libtorch" and "fused"; the fused one has no
// LayerNorm/BatchNorm, so it skips the "shared" case that uses them); the exported TorchScript actor
// gives act()'s outputs under Python's torch.jit.load.
import { expect } from "chai";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { packageRoot } from "../../binding/package.ts";
import { ACTION_SIZE, AGENTS, JOINT_ACTION, JOINT_OBS, Maddpg, type MaddpgOptions } from "../../binding/maddpg.ts";
import { PYTHON, pythonModulesMissing, skipBecause } from "../test-deps.ts";
import { learnerOptions } from "../helpers/maddpg-options.ts";

const REFERENCE = join(packageRoot, "bench", "reference", "maddpg_ref.py");
// Per tensor, |native - reference| <= TOLERANCE * |reference - init| (2-norms over the tensor): the
// difference measured against what the updates changed. The fused update rounds differently from BLAS,
// and Adam passes a gradient's rounding difference (relative to its typical size) on to its step; the
// same rule as the C++ tests (native/tests/test_fused.cc), where it is argued with measured figures.
const TOLERANCE = 1e-4;

function runPython(args: string[]): void {
  const run = spawnSync(PYTHON, [REFERENCE, ...args], { encoding: "utf8" });
  if (run.status !== 0) throw new Error(`maddpg_ref.py ${args.join(" ")} failed: ${run.stderr}`);
}

function readF32(path: string): Float32Array {
  const bytes = readFileSync(path);
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

interface Manifest {
  actor_hidden: number[];
  critic_hidden: number[];
  lr_actor: number;
  lr_critic: number;
  gamma: number;
  tau: number;
  grad_clip: number;
  weight_decay: number;
  shared_parameters: boolean;
  layer_norm: boolean;
  batch_norm: boolean;
  twin_critics: boolean;
  target_noise: number;
  target_noise_clip: number;
  policy_delay: number;
  updates: number;
  batch_size: number;
  layout: [string, number[]][];
}

function optionsOf(m: Manifest, impl: "libtorch" | "fused"): MaddpgOptions {
  return learnerOptions({
    impl,
    actorHidden: m.actor_hidden,
    criticHidden: m.critic_hidden,
    lrActor: m.lr_actor,
    lrCritic: m.lr_critic,
    gamma: m.gamma,
    tau: m.tau,
    gradClip: m.grad_clip,
    weightDecay: m.weight_decay,
    sharedParameters: m.shared_parameters,
    layerNorm: m.layer_norm,
    batchNorm: m.batch_norm,
    twinCritics: m.twin_critics,
    targetNoise: m.target_noise,
    targetNoiseClip: m.target_noise_clip,
    policyDelay: m.policy_delay,
    batchSize: m.batch_size,
    threads: 1,
    seed: 0,
  });
}

describe("maddpg parity with the PyTorch reference", function () {
  this.timeout(120000);
  let dir = "";

  before(function () {
    const missing = pythonModulesMissing(["torch", "numpy"]);
    if (missing) skipBecause(this, missing);
    dir = mkdtempSync(join(tmpdir(), "tt-parity-"));
  });

  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const dumped = new Set<string>();
  for (const impl of ["libtorch", "fused"] as const) {
    for (const variant of ["maddpg", "matd3", "shared"]) {
      it(`${impl}, ${variant}: parameters agree after 10 updates from the same weights and batches`, async function () {
        const caseDir = join(dir, variant);
        if (!dumped.has(variant)) {
          runPython(["dump", caseDir, "--variant", variant, "--updates", "10", "--batch", "64"]);
          dumped.add(variant);
        }
        const manifest = JSON.parse(readFileSync(join(caseDir, "manifest.json"), "utf8")) as Manifest;
        if (impl === "fused" && (manifest.layer_norm || manifest.batch_norm)) {
          console.log(`      ${impl}, ${variant}: skipped (LayerNorm/BatchNorm run only in impl "libtorch")`);
          this.skip();
        }
        const learner = new Maddpg(optionsOf(manifest, impl));
        const layout = learner.parameterLayout();
        expect(layout.map((p) => [p.name, p.shape])).to.deep.equal(manifest.layout);

        const init = readF32(join(caseDir, "init.f32"));
        learner.setParameters(init);
        const obs = readF32(join(caseDir, "obs.f32"));
        const actions = readF32(join(caseDir, "actions.f32"));
        const rewards = readF32(join(caseDir, "rewards.f32"));
        const nextObs = readF32(join(caseDir, "next_obs.f32"));
        const dones = readF32(join(caseDir, "dones.f32"));
        const noise = manifest.target_noise > 0 ? readF32(join(caseDir, "target_noise.f32")) : undefined;
        const rows = manifest.batch_size;
        const slice = (a: Float32Array, u: number, width: number) => a.subarray(u * rows * width, (u + 1) * rows * width);
        for (let u = 0; u < manifest.updates; u++) {
          await learner.updateBatch({
            obs: slice(obs, u, JOINT_OBS),
            actions: slice(actions, u, JOINT_ACTION),
            rewards: slice(rewards, u, AGENTS),
            nextObs: slice(nextObs, u, JOINT_OBS),
            dones: slice(dones, u, AGENTS),
            targetNoise: noise && slice(noise, u, JOINT_ACTION),
          });
        }
        const expected = readF32(join(caseDir, "final.f32"));
        const got = learner.getParameters();
        let worst = 0;
        let worstName = "";
        let moved = 0;
        for (const p of layout) {
          let diff = 0;
          let change = 0;
          for (let k = p.offset; k < p.offset + p.numel; k++) {
            diff += (got[k] - expected[k]) ** 2;
            change += (expected[k] - init[k]) ** 2;
            moved = Math.max(moved, Math.abs(expected[k] - init[k]));
          }
          const ratio = diff === 0 ? 0 : change === 0 ? Infinity : Math.sqrt(diff / change);
          if (ratio >= worst) [worst, worstName] = [ratio, p.name];
        }
        console.log(`      ${impl}, ${variant}: changes differ from the reference's by ${worst.toExponential(3)} of the change at ${worstName}`);
        expect(moved, "the reference's updates moved the parameters").to.be.greaterThan(1e-4);
        expect(worst, `changes differ at ${worstName}`).to.be.at.most(TOLERANCE);
        learner.dispose();
      });
    }
  }

  for (const layerNorm of [false, true]) {
    it(`the exported TorchScript actor (layerNorm ${layerNorm}) matches act() under torch.jit.load`, async () => {
      const learner = new Maddpg(learnerOptions({ actorHidden: [64, 32], criticHidden: [64, 64], layerNorm, seed: 5, threads: 1 }));
      const rows = 32;
      const random = (n: number, scale = 1) => Float32Array.from({ length: n }, () => (Math.random() * 2 - 1) * scale);
      // Move the weights away from their init so the check covers trained values.
      await learner.updateBatch({
        obs: random(rows * JOINT_OBS),
        actions: random(rows * JOINT_ACTION),
        rewards: random(rows * AGENTS, 0.1),
        nextObs: random(rows * JOINT_OBS),
        dones: new Float32Array(rows * AGENTS),
      });
      const nEnvs = 7;
      const obs = random(nEnvs * JOINT_OBS, 2);
      const actions = learner.act(obs, undefined, false);
      for (const agent of [0, 1]) {
        const modulePath = join(dir, `actor${agent}-${layerNorm}.pt`);
        learner.exportActor(modulePath, agent);
        const agentObs = new Float32Array(nEnvs * 24);
        for (let e = 0; e < nEnvs; e++) agentObs.set(obs.subarray(e * JOINT_OBS + agent * 24, e * JOINT_OBS + (agent + 1) * 24), e * 24);
        writeFileSync(join(dir, "obs.f32"), agentObs);
        runPython(["jit", modulePath, join(dir, "obs.f32"), join(dir, "out.f32")]);
        const out = readF32(join(dir, "out.f32"));
        expect(out.length).to.equal(nEnvs * ACTION_SIZE);
        for (let e = 0; e < nEnvs; e++) {
          for (let k = 0; k < ACTION_SIZE; k++) {
            expect(out[e * ACTION_SIZE + k]).to.be.closeTo(actions[e * JOINT_ACTION + agent * ACTION_SIZE + k], 1e-6);
          }
        }
      }
      learner.dispose();
    });
  }
});
