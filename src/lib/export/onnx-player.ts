// Plays exported ONNX policies through onnxruntime-node, an optional dependency loaded on first use
// (training never needs it): `tennis-train eval --policy onnx:FILE` checks an export by playing it.
import { readFileSync } from "node:fs";

import { AGENTS, ACTION_SIZE, OBS_SIZE } from "../../../binding/maddpg.ts";
import { resolveConfig } from "../config/resolve.ts";
import type { Config } from "../config/types.ts";
import { type GreedyResult, evalConfig, greedyRollout } from "../trainer/evaluate.ts";
import { ModelProto } from "./onnx-proto.ts";
import { kOnnxNames } from "./onnx.ts";

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
  const saved = onnxMetadata(path)["tennis_train.config"];
  return resolveConfig(saved === undefined ? {} : { fileObject: JSON.parse(saved) });
}

/** One ONNX policy per racket, or one for both (a shared actor sees each agent's own observation). */
export class OnnxPolicy {
  private constructor(
    private readonly ort: OnnxRuntime,
    private readonly sessions: Session[],
  ) {}

  /** Opens one file (both rackets) or two (agent 0's, then agent 1's). */
  static async open(paths: string[]): Promise<OnnxPolicy> {
    if (paths.length < 1 || paths.length > AGENTS) throw new Error(`expected 1 or ${AGENTS} ONNX files, got ${paths.length}`);
    const ort = await loadOnnxRuntime();
    return new OnnxPolicy(ort, await Promise.all(paths.map((path) => ort.InferenceSession.create(path))));
  }

  /** Actions [rows][2][2] of joint raw observations [rows][2][24]. */
  async act(obs: Float32Array): Promise<Float32Array> {
    const rows = obs.length / (AGENTS * OBS_SIZE);
    if (this.sessions.length === 1) return this.run(this.sessions[0], obs, rows * AGENTS);
    const actions = new Float32Array(rows * AGENTS * ACTION_SIZE);
    for (let agent = 0; agent < AGENTS; agent++) {
      const own = new Float32Array(rows * OBS_SIZE);
      for (let r = 0; r < rows; r++) own.set(obs.subarray((r * AGENTS + agent) * OBS_SIZE, (r * AGENTS + agent + 1) * OBS_SIZE), r * OBS_SIZE);
      const out = await this.run(this.sessions[agent], own, rows);
      for (let r = 0; r < rows; r++) actions.set(out.subarray(r * ACTION_SIZE, (r + 1) * ACTION_SIZE), (r * AGENTS + agent) * ACTION_SIZE);
    }
    return actions;
  }

  private async run(session: Session, obs: Float32Array, batch: number): Promise<Float32Array> {
    const result = await session.run({ [kOnnxNames.obs]: new this.ort.Tensor("float32", obs, [batch, OBS_SIZE]) });
    return result[kOnnxNames.actions].data as Float32Array;
  }

  async dispose(): Promise<void> {
    await Promise.all(this.sessions.map((session) => session.release()));
  }
}

/** Plays `episodes` greedy episodes with ONNX policy files, on the env of the run the first was exported
 * from (its own evaluation's reset, train.evalCleanReset, unless `cleanReset` is given). */
export async function evalOnnx(paths: string[], episodes: number, seed: number, cleanReset?: boolean): Promise<GreedyResult> {
  const config = evalConfig(onnxTrainingConfig(paths[0]));
  const played = cleanReset === undefined ? config : { ...config, env: { ...config.env, cleanReset } };
  const policy = await OnnxPolicy.open(paths);
  const rollout = greedyRollout(played, episodes, seed);
  try {
    let step = rollout.next();
    while (!step.done) step = rollout.next(await policy.act(step.value));
    return step.value;
  } finally {
    rollout.return(undefined as never);
    await policy.dispose();
  }
}
