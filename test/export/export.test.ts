// Exported policies (`tennis-train export`) act as the checkpoint's greedy act() on raw observations,
// clipped ones included: the ONNX file through onnxruntime-node (and onnx.checker), the TorchScript file
// through /usr/bin/python3's torch.jit.load and the addon's loader; `eval --policy onnx:FILE` and
// `eval --policy torchscript:FILE` score as `eval --checkpoint` does.
import { expect } from "chai";
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { TennisEnv } from "../../binding/env.ts";
import { TennisTrainError } from "../../binding/errors.ts";
import { Maddpg, OBS_SIZE } from "../../binding/maddpg.ts";
import { TorchScriptPolicy, writeTorchScriptPolicy } from "../../binding/policy.ts";
import { checkpointEvalConfig } from "../../src/apps/cli/play.ts";
import { resolveConfig } from "../../src/lib/config/resolve.ts";
import { exportPolicy } from "../../src/lib/export/export.ts";
import { OnnxPolicy, loadOnnxRuntime, onnxMetadata } from "../../src/lib/export/onnx-player.ts";
import { evalTorchScript } from "../../src/lib/export/torchscript-player.ts";
import { latestCheckpoint } from "../../src/lib/trainer/checkpoint.ts";
import { type GreedyResult, evalCheckpoint, runConfigOf } from "../../src/lib/trainer/evaluate.ts";
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

/** The first seed whose `episodes` greedy episodes of `checkpoint` include a scoring one (scores that are
 * all zero would agree between two players whatever they do), with those episodes' result. */
async function scoringSeed(checkpoint: string, episodes: number): Promise<{ seed: number; expected: GreedyResult }> {
  for (let seed = 0; seed < 200; seed++) {
    const expected = await evalCheckpoint(checkpointEvalConfig(checkpoint), checkpoint, episodes, seed);
    if (expected.scores.some((s) => s > 0)) return { seed, expected };
  }
  throw new Error(`no seed in 0-199 gives ${checkpoint} a scoring episode`);
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

/** `obs` with every fifth slot times 40: far enough out that normalised slots reach the clip. */
function farObservations(obs: Float32Array): Float32Array {
  return obs.map((v, i) => (i % 5 === 0 ? v * 40 : v));
}

/** Whether normalising `obs` as the checkpoint's run does clips some slot (so the clip is exercised). */
function farRowsClipped(checkpoint: string, obs: Float32Array): boolean {
  const norm = loadObsNorm(checkpoint)!;
  const std = norm.std();
  return obs.some((v, i) => Math.abs((v - norm.mean[i % OBS_SIZE]) / std[i % OBS_SIZE]) > kClip);
}

/** TorchScript policies' actions [rows][2] on observations [rows][24], through torch.jit.load (one Python);
 * each file's tennis_train.json extra file is written to `<dir>/ts-out<i>.json`. */
function torchScriptActions(runs: { file: string; obs: Float32Array }[], dir: string): Float32Array[] {
  const args = runs.flatMap(({ file, obs }, i) => {
    writeFileSync(join(dir, `ts-in${i}.bin`), obs);
    return [file, join(dir, `ts-in${i}.bin`), join(dir, `ts-out${i}.bin`)];
  });
  const script = [
    "import sys, numpy, torch",
    "for file, given, out in zip(*[iter(sys.argv[1:])] * 3):",
    "    obs = torch.from_numpy(numpy.fromfile(given, dtype=numpy.float32).reshape(-1, 24))",
    "    extra = {'tennis_train.json': ''}",
    "    module = torch.jit.load(file, _extra_files=extra)",
    "    with torch.no_grad(): module(obs).numpy().astype(numpy.float32).tofile(out)",
    "    open(out + '.json', 'wb').write(extra['tennis_train.json'])",
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
        const far = farObservations(obs);
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

      it("TorchScript through torch.jit.load: act()'s actions within 1e-5, clipped observations included, and the metadata", async function () {
        const missing = pythonModulesMissing(["torch", "numpy"]);
        if (missing) skipBecause(this, missing);
        const far = farObservations(obs);
        const farWanted = await checkpointActions(checkpoint, far);
        // A shared actor's file plays both rackets, each from its own observations.
        const plays = (agent: number) => (variant.shared ? [0, 1] : [agent]);
        const rowsOf = (joint: Float32Array, agent: number, width: number) => concat(plays(agent).map((a) => agentRows(joint, a, width)));
        const inputs = agents.map((agent) => concat([rowsOf(obs, agent, OBS_SIZE), rowsOf(far, agent, OBS_SIZE)]));
        const outputs = torchScriptActions(agents.map((agent, i) => ({ file: join(dir, `policy${agent}.pt`), obs: inputs[i] })), dir);
        for (const [i, agent] of agents.entries()) {
          const wanted = concat([rowsOf(expected, agent, 2), rowsOf(farWanted, agent, 2)]);
          expect(maxDifference(outputs[i], wanted)).to.be.below(kTolerance);
          const metadata = JSON.parse(readFileSync(join(dir, `ts-out${i}.bin.json`), "utf8")) as Record<string, string>;
          expect(metadata["tennis_train.actor"]).to.equal(variant.shared ? "shared" : `agent${agent}`);
          expect(metadata["tennis_train.checkpoint"]).to.match(/^tennis__default__0__\d+\/ep0000003$/);
          expect(JSON.parse(metadata["tennis_train.config"])).to.deep.equal(runConfigOf(checkpoint));
        }
        // The far-out rows reach the clip, so the file's clip was exercised.
        if (variant.normalizeObs) expect(farRowsClipped(checkpoint, far)).to.equal(true);
      });

      it("TorchScript through the addon's loader: act()'s actions within 1e-5, clipped observations included", async () => {
        const far = farObservations(obs);
        const farWanted = await checkpointActions(checkpoint, far);
        const policies = agents.map((agent) => new TorchScriptPolicy(join(dir, `policy${agent}.pt`)));
        try {
          for (const [joint, wanted] of [
            [obs, expected],
            [far, farWanted],
          ] as const) {
            for (const [i, agent] of agents.entries()) {
              for (const a of variant.shared ? [0, 1] : [agent]) {
                expect(maxDifference(policies[i].act(agentRows(joint, a, OBS_SIZE)), agentRows(wanted, a, 2))).to.be.below(kTolerance);
              }
            }
          }
          expect(JSON.parse(policies[0].metadata!)["tennis_train.actor"]).to.equal(variant.shared ? "shared" : "agent0");
        } finally {
          policies.forEach((policy) => policy.dispose());
        }
      });

      it("evalTorchScript scores as evalCheckpoint, episode for episode", async () => {
        const expectedScores = await evalCheckpoint(checkpointEvalConfig(checkpoint), checkpoint, 10, 5);
        const played = await evalTorchScript(agents.map((agent) => join(dir, `policy${agent}.pt`)), 10, 5);
        expect(played.scores).to.deep.equal(expectedScores.scores);
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

      const { seed, expected } = await scoringSeed(checkpoint, 20);
      const { code, stdout, stderr } = runCli(["eval", "--policy", `onnx:${files.join(",")}`, "--episodes", "20", "--seed", String(seed), "--json"]);
      expect(code, stderr).to.equal(0);
      expect(JSON.parse(stdout.trim().split("\n").pop()!).scores).to.deep.equal(expected.scores);
    });

    it("export --format torchscript; eval --policy torchscript:FILE,FILE scores as eval --checkpoint", async () => {
      const files = [0, 1].map((agent) => join(dir, `agent${agent}.pt`));
      for (const [agent, file] of files.entries()) {
        const { code, stdout, stderr } = runCli(["export", "--checkpoint", join(checkpoint, "..", ".."), "--format", "torchscript", "--out", file, "--agent", String(agent), "--json"]);
        expect(code, stderr).to.equal(0);
        expect(JSON.parse(stdout.trim().split("\n").pop()!)).to.include({ out: file, format: "torchscript", actor: `agent${agent}`, obs_normalization: false });
      }
      const { seed, expected } = await scoringSeed(checkpoint, 20);
      const { code, stdout, stderr } = runCli(["eval", "--policy", `torchscript:${files.join(",")}`, "--episodes", "20", "--seed", String(seed), "--json"]);
      expect(code, stderr).to.equal(0);
      expect(JSON.parse(stdout.trim().split("\n").pop()!).scores).to.deep.equal(expected.scores);
    });

    it("eval --policy names what it accepts", () => {
      const { code, stderr } = runCli(["eval", "--policy", "onnx:/no/such.onnx"]);
      expect(code).to.equal(2);
      expect(stderr).to.include("Expected onnx: and one or two existing ONNX files, comma-separated for --policy but received \"onnx:/no/such.onnx\"");
      const missing = runCli(["eval", "--policy", "torchscript:/no/such.pt"]);
      expect(missing.code).to.equal(2);
      expect(missing.stderr).to.include("Expected torchscript: and one or two existing TorchScript files, comma-separated for --policy but received \"torchscript:/no/such.pt\"");
      const other = runCli(["eval", "--policy", "random"]);
      expect(other.code).to.equal(2);
      expect(other.stderr).to.include("Expected checkpoint, scripted, onnx:FILE[,FILE] or torchscript:FILE[,FILE] for --policy but received \"random\"");
    });

    it("eval --policy torchscript: says which file is not TorchScript or not a policy of Tennis' shapes", () => {
      const text = join(dir, "notes.pt");
      writeFileSync(text, "not a module\n");
      const notModule = runCli(["eval", "--policy", `torchscript:${text}`, "--episodes", "1"]);
      expect(notModule.code).to.equal(2);
      expect(notModule.stderr).to.include(`--policy torchscript:${text}: ${text} is not a TorchScript file (torch::jit::load: `);

      // A policy of 10 observations and one of 3 actions.
      const layer = (inputs: number, outputs: number) => ({ inputs, outputs, weight: new Float32Array(inputs * outputs).fill(0.1), bias: new Float32Array(outputs), norm: null });
      const wide = join(dir, "wide.pt");
      writeTorchScriptPolicy(wide, { layers: [layer(10, 4), layer(4, 2)], obsNorm: null, metadata: "{}" });
      const wideRun = runCli(["eval", "--policy", `torchscript:${wide}`, "--episodes", "1"]);
      expect(wideRun.code).to.equal(2);
      expect(wideRun.stderr).to.include(`TorchScript file ${wide} does not run as a policy forward(obs [N, 24] float32) -> actions [N, 2] float32: `);
      const three = join(dir, "three.pt");
      writeTorchScriptPolicy(three, { layers: [layer(24, 4), layer(4, 3)], obsNorm: null, metadata: "{}" });
      const threeRun = runCli(["eval", "--policy", `torchscript:${three},${three}`, "--episodes", "1"]);
      expect(threeRun.code).to.equal(2);
      expect(threeRun.stderr).to.include(`TorchScript file ${three} is not a policy forward(obs [N, 24] float32) -> actions [N, 2] float32: on obs [2, 24] it returned Float [2, 3]`);

      // An ONNX export is not TorchScript either.
      const onnxCopy = join(dir, "policy.onnx.pt");
      const onnx = join(dir, "cli-policy.onnx");
      expect(runCli(["export", "--checkpoint", checkpoint, "--format", "onnx", "--out", onnx]).code).to.equal(0);
      copyFileSync(onnx, onnxCopy);
      expect(runCli(["eval", "--policy", `torchscript:${onnxCopy}`]).stderr).to.include(`${onnxCopy} is not a TorchScript file`);
    });
  });

  describe("the binding", () => {
    it("writeTorchScriptPolicy and TorchScriptPolicy check their arguments", () => {
      const dir = mkdtempSync(join(tmpdir(), "tt-export-binding-"));
      const layer = (inputs: number, outputs: number) => ({ inputs, outputs, weight: new Float32Array(inputs * outputs), bias: new Float32Array(outputs), norm: null });
      const path = join(dir, "p.pt");
      expect(() => writeTorchScriptPolicy("", { layers: [layer(24, 2)], obsNorm: null, metadata: "" })).to.throw(TypeError, "Expected a non-empty string for path but received \"\" of type string");
      expect(() => writeTorchScriptPolicy(path, { layers: [], obsNorm: null, metadata: "" })).to.throw(TypeError, "Expected a non-empty Array for spec.layers but received Array of length 0");
      expect(() => writeTorchScriptPolicy(path, { layers: [layer(24, 4), layer(5, 2)], obsNorm: null, metadata: "" })).to.throw(TypeError, "Expected spec.layers[0].outputs = 4 for spec.layers[1].inputs but received 5 of type number");
      expect(() => writeTorchScriptPolicy(path, { layers: [{ ...layer(24, 2), bias: new Float32Array(3) }], obsNorm: null, metadata: "" })).to.throw(TypeError, "Expected a Float32Array of length 2 for spec.layers[0].bias but received Float32Array of length 3");
      const std = new Float32Array(24).fill(1);
      std[3] = 0;
      expect(() => writeTorchScriptPolicy(path, { layers: [layer(24, 2)], obsNorm: { mean: new Float32Array(24), std, clip: 5 }, metadata: "" })).to.throw(TypeError, "Expected positive numbers for spec.obsNorm.std but received 0 at index 3");
      const ones = new Float32Array(24).fill(1);
      expect(() => writeTorchScriptPolicy(path, { layers: [layer(24, 2)], obsNorm: { mean: new Float32Array(24), std: ones, clip: 0 }, metadata: "" })).to.throw(TypeError, "Expected a finite number > 0 for spec.obsNorm.clip but received 0 of type number");
      expect(() => writeTorchScriptPolicy(path, { layers: [layer(24, 4), { ...layer(4, 2), norm: { weight: new Float32Array(2), bias: new Float32Array(2) } }], obsNorm: null, metadata: "" })).to.throw(TypeError, "Expected null (the output layer has no LayerNorm) for spec.layers[1].norm but received object");
      expect(() => writeTorchScriptPolicy(join(dir, "no", "such", "dir", "p.pt"), { layers: [layer(24, 2)], obsNorm: null, metadata: "" })).to.throw(TennisTrainError, `cannot write the TorchScript file ${join(dir, "no", "such", "dir", "p.pt")}`);

      writeTorchScriptPolicy(path, { layers: [layer(24, 2)], obsNorm: { mean: new Float32Array(24), std: new Float32Array(24).fill(2), clip: 5 }, metadata: "" });
      const policy = new TorchScriptPolicy(path);
      expect(policy.metadata).to.equal(null);
      expect(() => policy.act(new Float32Array(25))).to.throw(TypeError, "Expected a Float32Array of rows*24 floats (rows >= 1) for obs but received Float32Array of length 25");
      expect(() => policy.act(new Float32Array(24), new Float32Array(3))).to.throw(TypeError, "Expected a Float32Array of length 2 for out but received Float32Array of length 3");
      expect(() => policy.act(new Float32Array(24).fill(NaN))).to.throw(TypeError, "Expected finite numbers for obs but received NaN at index 0");
      expect(Array.from(policy.act(new Float32Array(48)))).to.deep.equal([0, 0, 0, 0]);
      policy.dispose();
      expect(() => policy.act(new Float32Array(24))).to.throw(TennisTrainError, "TorchScriptPolicy was disposed");
      expect(() => new TorchScriptPolicy(join(dir, "missing.pt"))).to.throw(TennisTrainError, `TorchScript file ${join(dir, "missing.pt")} does not exist`);
      expect(() => new TorchScriptPolicy(dir)).to.throw(TennisTrainError, `TorchScript file ${dir} is a directory, not a file`);
    });
  });
});
