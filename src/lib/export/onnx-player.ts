// Plays exported ONNX policies through onnxruntime-node, an optional dependency loaded on first use
// (training never needs it): `tennis-train eval --policy onnx:FILE` checks an export by playing it.
import { readFileSync } from "node:fs";

import { OBS_SIZE } from "../../../binding/maddpg.ts";
import type { Config } from "../config/types.ts";
import type { GreedyResult } from "../trainer/evaluate.ts";
import { ModelProto } from "./onnx-proto.ts";
import { kOnnxNames } from "./onnx.ts";
import { type RacketPolicy, checkPolicyFileCount, jointActions, playPolicies } from "./player.ts";
import { trainingConfigOf } from "./policy.ts";

type OnnxRuntime = typeof import("onnxruntime-node");
type Session = Awaited<ReturnType<OnnxRuntime["InferenceSession"]["create"]>>;

/** The optional package, named through a variable so that bundlers (scripts/bundle-cli.sh) leave the
 * import to run time instead of pulling in its native binaries. */
const kOnnxRuntimePackage = "onnxruntime-node";

/** onnxruntime-node, or an error that says how to install it. */
export async function loadOnnxRuntime(): Promise<OnnxRuntime> {
  try {
    return (await import(kOnnxRuntimePackage)) as OnnxRuntime;
  } catch (err) {
    throw new Error(
      "playing an ONNX policy needs the optional package onnxruntime-node, which did not load " +
        `(${(err as Error).message.split("\n")[0]}); install it with \`ONNXRUNTIME_NODE_INSTALL=skip npm install onnxruntime-node\``,
    );
  }
}

/** metadata_props of an ONNX file, read with our own onnx.proto subset. */
export function onnxMetadata(path: string): Record<string, string> {
  const model = ModelProto.toObject(ModelProto.decode(readFileSync(path))) as { metadata_props?: { key: string; value: string }[] };
  return Object.fromEntries((model.metadata_props ?? []).map((entry) => [entry.key, entry.value]));
}

/** The config an exported file was trained with (its tennis_train.config metadata), else the defaults. */
export function onnxTrainingConfig(path: string): Config {
  return trainingConfigOf(onnxMetadata(path));
}

/** One ONNX policy per racket, or one for both (a shared actor sees each agent's own observation). */
export class OnnxPolicy {
  private constructor(
    private readonly ort: OnnxRuntime,
    private readonly sessions: Session[],
  ) {}

  /** Opens one file (both rackets) or two (agent 0's, then agent 1's). */
  static async open(paths: string[]): Promise<OnnxPolicy> {
    checkPolicyFileCount(paths, "ONNX");
    const ort = await loadOnnxRuntime();
    return new OnnxPolicy(ort, await Promise.all(paths.map((path) => ort.InferenceSession.create(path))));
  }

  /** Actions [rows][2][2] of joint raw observations [rows][2][24]. */
  act(obs: Float32Array): Promise<Float32Array> {
    return jointActions(this.racketPolicies(), obs);
  }

  /** One policy per file, as playPolicies takes them. */
  racketPolicies(): RacketPolicy[] {
    return this.sessions.map((session) => async (obs, rows) => {
      const result = await session.run({ [kOnnxNames.obs]: new this.ort.Tensor("float32", obs, [rows, OBS_SIZE]) });
      return result[kOnnxNames.actions].data as Float32Array;
    });
  }

  async dispose(): Promise<void> {
    await Promise.all(this.sessions.map((session) => session.release()));
  }
}

/** Plays `episodes` greedy episodes with ONNX policy files, on the env of the run the first was exported
 * from (its own evaluation's reset, train.evalCleanReset, unless `cleanReset` is given). */
export async function evalOnnx(paths: string[], episodes: number, seed: number, cleanReset?: boolean): Promise<GreedyResult> {
  const trainedWith = onnxTrainingConfig(paths[0]);
  const policy = await OnnxPolicy.open(paths);
  try {
    return await playPolicies(trainedWith, policy.racketPolicies(), episodes, seed, cleanReset);
  } finally {
    await policy.dispose();
  }
}
