// Exported policies (`tennis-train export`) act as the checkpoint's greedy act() on raw observations:
// the ONNX file through onnxruntime-node (and onnx.checker), the TorchScript file through
// /usr/bin/python3's torch.jit.load; `eval --policy onnx:FILE` scores as `eval --checkpoint` does.
import { expect } from "chai";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { TennisEnv } from "../../binding/env.ts";
import { Maddpg, OBS_SIZE } from "../../binding/maddpg.ts";
import { checkpointEvalConfig } from "../../src/apps/cli/play.ts";
import { resolveConfig } from "../../src/lib/config/resolve.ts";
import { exportPolicy } from "../../src/lib/export/export.ts";
import { OnnxPolicy, loadOnnxRuntime, onnxMetadata } from "../../src/lib/export/onnx-player.ts";
import { latestCheckpoint } from "../../src/lib/trainer/checkpoint.ts";
import { evalCheckpoint, runConfigOf } from "../../src/lib/trainer/evaluate.ts";
import { loadObsNorm } from "../../src/lib/trainer/loop-state.ts";
import { kClip } from "../../src/lib/trainer/normalize.ts";
import { maddpgOptions } from "../../src/lib/trainer/maddpg-options.ts";
import { train } from "../../src/lib/trainer/train.ts";
import { Rng } from "../../src/lib/util/rng.ts";
import { runCli } from "../cli/cli.test.ts";
import { PYTHON, pythonModulesMissing, skipBecause } from "../test-deps.ts";
import { envOptions } from "../helpers/env-options.ts";

/** Largest difference allowed between an export's actions and act()'s. */
const kTolerance = 1e-5;
/** Joint observations each check plays through: env steps with random actions. */
const kSteps = 300;

interface Variant {
  name: string;
  normalizeObs: boolean;
  layerNorm: boolean;
  shared: boolean;
}

const kVariants: Variant[] = [
  { name: "normalised observations, shared actor", normalizeObs: true, layerNorm: false, shared: true },
  { name: "raw observations, one actor per agent", normalizeObs: false, layerNorm: false, shared: false },
  { name: "normalised observations, LayerNorm, one actor per agent", normalizeObs: true, layerNorm: true, shared: false },
  { name: "raw observations, LayerNorm, shared actor", normalizeObs: false, layerNorm: true, shared: true },
];

/** The checkpoint of a tiny trained run of `variant` (LayerNorm needs agent.impl libtorch). */
async function tinyRun(variant: Variant, runsDir: string): Promise<string> {
  const config = resolveConfig({
    fileObject: {
      threads: 1,
      train: { episodes: 3, warmupSteps: 60, batchSize: 32, checkpointEvery: 0, selectEvery: 0, evalEpisodes: 0, normalizeObs: variant.normalizeObs },
      buffer: { capacity: 5000 },
      agent: { hidden: [16, 16], layerNorm: variant.layerNorm, sharedParameters: variant.shared, impl: variant.layerNorm ? "libtorch" : "auto" },
      log: { runsDir, tensorboard: false, progress: false },
    },
  });
  return latestCheckpoint((await train(config, { quiet: true })).run_dir)!;
}

/** Raw joint observations [kSteps][2][24] of one env played with seeded random actions. */
function playedObservations(seed: number): Float32Array {
  const env = new TennisEnv(envOptions({ numEnvs: 1, seed, autoReset: true }));
  const rng = new Rng(seed);
  const rows = new Float32Array(kSteps * 2 * OBS_SIZE);
  try {
    let obs = env.reset();
    for (let t = 0; t < kSteps; t++) {
      rows.set(obs, t * 2 * OBS_SIZE);
      obs = env.step(rng.fillSigned(new Float32Array(4))).obs;
    }
  } finally {
    env.dispose();
  }
  return rows;
}

/** act(explore = false) of a checkpoint's learner on raw joint observations (normalised as training did). */
async function checkpointActions(checkpoint: string, obs: Float32Array): Promise<Float32Array> {
  const learner = new Maddpg(maddpgOptions(runConfigOf(checkpoint)));
  try {
    await learner.load(join(checkpoint, "agent.pt"));
    const norm = loadObsNorm(checkpoint);
    return learner.act(norm ? norm.normalize(obs, new Float32Array(obs.length)) : obs);
  } finally {
    learner.dispose();
  }
}

function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((at, p) => (out.set(p, at), at + p.length), 0);
  return out;
}

function maxDifference(a: Float32Array, b: Float32Array): number {
  expect(a.length).to.equal(b.length);
  return a.reduce((most, v, i) => Math.max(most, Math.abs(v - b[i])), 0);
}

/** The rows [.][24] of agent `agent` in joint observations [.][2][24], or in joint actions [.][2][2]. */
function agentRows(joint: Float32Array, agent: number, width: number): Float32Array {
  const rows = joint.length / (2 * width);
  const out = new Float32Array(rows * width);
  for (let r = 0; r < rows; r++) out.set(joint.subarray((2 * r + agent) * width, (2 * r + agent + 1) * width), r * width);
  return out;
}

/** TorchScript policies' actions [rows][2] on observations [rows][24], through torch.jit.load (one Python). */
function torchScriptActions(runs: { file: string; obs: Float32Array }[], dir: string): Float32Array[] {
  const args = runs.flatMap(({ file, obs }, i) => {
    writeFileSync(join(dir, `ts-in${i}.bin`), obs);
    return [file, join(dir, `ts-in${i}.bin`), join(dir, `ts-out${i}.bin`)];
  });
  const script = [
    "import sys, numpy, torch",
    "for file, given, out in zip(*[iter(sys.argv[1:])] * 3):",
    "    obs = torch.from_numpy(numpy.fromfile(given, dtype=numpy.float32).reshape(-1, 24))",
    "    with torch.no_grad(): torch.jit.load(file)(obs).numpy().astype(numpy.float32).tofile(out)",
  ].join("\n");
  const run = spawnSync(PYTHON, ["-c", script, ...args], { encoding: "utf8" });
  expect(run.status, run.stderr).to.equal(0);
  return runs.map((_, i) => {
    const bytes = readFileSync(join(dir, `ts-out${i}.bin`));
    return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  });
}

describe("export", function () {
  this.timeout(300_000);

  for (const variant of kVariants) {
    describe(variant.name, () => {
      const dir = mkdtempSync(join(tmpdir(), "tt-export-"));
      const agents = variant.shared ? [0] : [0, 1];
      let checkpoint: string;
      let onnxFiles: string[];
      let obs: Float32Array;
      let expected: Float32Array;

      before(async () => {
        checkpoint = await tinyRun(variant, join(dir, "runs"));
        onnxFiles = [];
        for (const agent of agents) {
          onnxFiles.push((await exportPolicy({ checkpoint, format: "onnx", out: join(dir, `policy${agent}.onnx`), agent })).out);
          await exportPolicy({ checkpoint, format: "torchscript", out: join(dir, `policy${agent}.pt`), agent });
        }
        obs = playedObservations(7);
        expected = await checkpointActions(checkpoint, obs);
      });

      it("ONNX through onnxruntime-node: act()'s actions within 1e-5, clipped observations included", async function () {
        try {
          await loadOnnxRuntime();
        } catch (err) {
          skipBecause(this, (err as Error).message);
        }
        // Far-out observations reach the normalisation's clip, which the graph applies as act() does.
        const far = obs.map((v, i) => (i % 5 === 0 ? v * 40 : v));
        const policy = await OnnxPolicy.open(onnxFiles);
        try {
          expect(maxDifference(await policy.act(obs), expected)).to.be.below(kTolerance);
          expect(maxDifference(await policy.act(far), await checkpointActions(checkpoint, far))).to.be.below(kTolerance);
          if (variant.normalizeObs) {
            // The normalisation matters: the bare actor on raw observations acts otherwise.
            const learner = new Maddpg(maddpgOptions(runConfigOf(checkpoint)));
            await learner.load(join(checkpoint, "agent.pt"));
            expect(maxDifference(learner.act(obs), expected)).to.be.above(1e-3);
            learner.dispose();
          }
        } finally {
          await policy.dispose();
        }
      });

      it("ONNX passes onnx.checker, with ML-Agents' input, outputs and opset 13", function () {
        const missing = pythonModulesMissing(["onnx"]);
        if (missing) skipBecause(this, missing);
        const script = [
          "import sys, onnx",
          "model = onnx.load(sys.argv[1])",
          "onnx.checker.check_model(model, full_check=True)",
          "print([i.name for i in model.graph.input], [o.name for o in model.graph.output], model.opset_import[0].version)",
          "print(model.graph.input[0].type.tensor_type.shape.dim[0].dim_param)",
        ].join("\n");
        for (const file of onnxFiles) {
          const run = spawnSync(PYTHON, ["-c", script, file], { encoding: "utf8" });
          expect(run.status, run.stderr).to.equal(0);
          expect(run.stdout.trim().split("\n")).to.deep.equal([
            "['obs_0'] ['version_number', 'memory_size', 'continuous_actions', 'continuous_action_output_shape', 'deterministic_continuous_actions'] 13",
            "batch",
          ]);
        }
        const metadata = onnxMetadata(onnxFiles[0]);
        expect(metadata["tennis_train.checkpoint"]).to.match(/^tennis__default__0__\d+\/ep0000003$/);
        expect(metadata["tennis_train.actor"]).to.equal(variant.shared ? "shared" : "agent0");
        expect(JSON.parse(metadata["tennis_train.config"])).to.deep.equal(runConfigOf(checkpoint));
      });

      it("TorchScript through torch.jit.load: act()'s actions within 1e-5 where no observation is clipped", function () {
        const missing = pythonModulesMissing(["torch", "numpy"]);
        if (missing) skipBecause(this, missing);
        const norm = loadObsNorm(checkpoint);
        const std = norm?.std();
        // The folded first layer has no clip: compare the rows whose normalised slots all lie inside it.
        const inside = (row: Float32Array) => !norm || row.every((v, j) => Math.abs((v - norm.mean[j]) / std![j]) < kClip);
        // A shared actor's file plays both rackets, each from its own observations.
        const plays = (agent: number) => (variant.shared ? [0, 1] : [agent]);
        const inputs = agents.map((agent) => concat(plays(agent).map((a) => agentRows(obs, a, OBS_SIZE))));
        const outputs = torchScriptActions(agents.map((agent, i) => ({ file: join(dir, `policy${agent}.pt`), obs: inputs[i] })), dir);
        for (const [i, agent] of agents.entries()) {
          const wanted = concat(plays(agent).map((a) => agentRows(expected, a, 2)));
          const rows = Array.from({ length: inputs[i].length / OBS_SIZE }, (_, r) => r).filter((r) => inside(inputs[i].subarray(r * OBS_SIZE, (r + 1) * OBS_SIZE)));
          expect(rows.length, "rows inside the clip").to.be.above(inputs[i].length / OBS_SIZE / 2);
          const pick = (a: Float32Array) => Float32Array.from(rows.flatMap((r) => [a[2 * r], a[2 * r + 1]]));
          expect(maxDifference(pick(outputs[i]), pick(wanted))).to.be.below(kTolerance);
        }
      });
    });
  }

  describe("the CLI", () => {
    const dir = mkdtempSync(join(tmpdir(), "tt-export-cli-"));
    let checkpoint: string;

    before(async () => {
      checkpoint = await tinyRun(kVariants[1], join(dir, "runs"));
    });

    it("export writes what exportPolicy writes; eval --policy onnx:FILE,FILE scores as eval --checkpoint", async function () {
      try {
        await loadOnnxRuntime();
      } catch (err) {
        skipBecause(this, (err as Error).message);
      }
      const files = [0, 1].map((agent) => join(dir, `agent${agent}.onnx`));
      for (const [agent, file] of files.entries()) {
        const { code, stdout, stderr } = runCli(["export", "--checkpoint", join(checkpoint, "..", ".."), "--format", "onnx", "--out", file, "--agent", String(agent), "--json"]);
        expect(code, stderr).to.equal(0);
        expect(JSON.parse(stdout.trim().split("\n").pop()!)).to.include({ out: file, format: "onnx", actor: `agent${agent}`, obs_normalization: false });
        const library = await exportPolicy({ checkpoint, format: "onnx", out: join(dir, "library.onnx"), agent });
        expect(readFileSync(file).equals(readFileSync(library.out))).to.equal(true);
      }

      const expected = await evalCheckpoint(checkpointEvalConfig(checkpoint), checkpoint, 20, 3);
      expect(expected.scores.some((s) => s > 0), "some episode scores (else equal scores say little)").to.equal(true);
      const { code, stdout, stderr } = runCli(["eval", "--policy", `onnx:${files.join(",")}`, "--episodes", "20", "--seed", "3", "--json"]);
      expect(code, stderr).to.equal(0);
      expect(JSON.parse(stdout.trim().split("\n").pop()!).scores).to.deep.equal(expected.scores);
    });

    it("eval --policy names what it accepts", () => {
      const { code, stderr } = runCli(["eval", "--policy", "onnx:/no/such.onnx"]);
      expect(code).to.equal(2);
      expect(stderr).to.include("Expected onnx: and one or two existing ONNX files, comma-separated for --policy but received \"onnx:/no/such.onnx\"");
    });
  });
});
