// The greedy policy of a checkpoint as plain arrays: the observation statistics and one actor's layers,
// read through the learner's own parameter layout. Both exporters (ONNX, TorchScript) build from it.
import { basename, dirname, join } from "node:path";

import { Maddpg, OBS_SIZE } from "../../../binding/maddpg.ts";
import { resolveConfig } from "../config/resolve.ts";
import type { Config } from "../config/types.ts";
import { verifyCheckpoint } from "../trainer/checkpoint.ts";
import { runConfigOf } from "../trainer/evaluate.ts";
import { loadObsNorm } from "../trainer/loop-state.ts";
import { kClip } from "../trainer/normalize.ts";
import { maddpgOptions } from "../trainer/maddpg-options.ts";

/** Epsilon of the actors' LayerNorm: torch::nn::LayerNormOptions' default, which native/core/networks.cc keeps. */
export const kLayerNormEps = 1e-5;

/** One Linear layer (weight [outputs][inputs], row-major, as LibTorch stores it), and the LayerNorm after it. */
export interface DenseLayer {
  inputs: number;
  outputs: number;
  weight: Float32Array;
  bias: Float32Array;
  norm: { weight: Float32Array; bias: Float32Array } | null;
}

/** Observation normalisation as act() sees it: clip((obs - mean) / std, -clip, clip), per slot. */
export interface ObsNormalization {
  mean: Float32Array;
  std: Float32Array;
  clip: number;
}

/** The greedy policy of one actor: raw 24-float observation -> [Linear (LayerNorm) ReLU]... Linear tanh. */
export interface GreedyPolicy {
  /** Hidden layers, then the output layer (no LayerNorm). */
  layers: DenseLayer[];
  obsNorm: ObsNormalization | null;
  /** "shared" (one actor plays both rackets) or the agent ("agent0", "agent1") whose actor this is. */
  actor: string;
  /** The run's resolved config. */
  config: Config;
  /** `<run directory>/<checkpoint>`, the names of the folders it came from. */
  checkpointId: string;
}

/** The greedy policy of `agent`'s actor in a checkpoint folder (verified first; with shared
 * parameters both agents have the one actor). */
export async function loadGreedyPolicy(checkpointDir: string, agent = 0): Promise<GreedyPolicy> {
  verifyCheckpoint(checkpointDir);
  const config = runConfigOf(checkpointDir);
  const learner = new Maddpg(maddpgOptions(config));
  try {
    await learner.load(join(checkpointDir, "agent.pt"));
    const actor = config.agent.sharedParameters ? "shared" : `agent${agent}`;
    const norm = loadObsNorm(checkpointDir);
    return {
      layers: actorLayers(learner, `${actor}/actor/`, config.agent.hidden.length, config.agent.layerNorm),
      obsNorm: norm && { mean: Float32Array.from(norm.mean), std: Float32Array.from(norm.std()), clip: kClip },
      actor,
      config,
      checkpointId: `${basename(dirname(dirname(checkpointDir)))}/${basename(checkpointDir)}`,
    };
  } finally {
    learner.dispose();
  }
}

/** The layers of the actor whose parameter names start with `prefix` ("shared/actor/fc.0.weight", ...). */
function actorLayers(learner: Maddpg, prefix: string, hiddenLayers: number, layerNorm: boolean): DenseLayer[] {
  const params = learner.getParameters();
  const byName = new Map(learner.parameterLayout().map((p) => [p.name, p]));
  const tensor = (name: string) => {
    const info = byName.get(prefix + name);
    if (info === undefined) throw new Error(`the learner has no parameter ${prefix}${name}`);
    return { data: params.slice(info.offset, info.offset + info.numel), shape: info.shape };
  };
  const dense = (name: string, norm: string | null): DenseLayer => {
    const weight = tensor(`${name}.weight`);
    return {
      outputs: weight.shape[0],
      inputs: weight.shape[1],
      weight: weight.data,
      bias: tensor(`${name}.bias`).data,
      norm: norm === null ? null : { weight: tensor(`${norm}.weight`).data, bias: tensor(`${norm}.bias`).data },
    };
  };
  const layers = Array.from({ length: hiddenLayers }, (_, i) => dense(`fc.${i}`, layerNorm ? `norms.${i}` : null));
  layers.push(dense("out", null));
  if (layers[0].inputs !== OBS_SIZE) throw new Error(`the actor takes ${layers[0].inputs} inputs, not ${OBS_SIZE}`);
  return layers;
}

/** The metadata of every export (ONNX metadata_props, the TorchScript file's tennis_train.json): where the
 * policy came from and how it was trained. */
export function policyMetadata(policy: GreedyPolicy): Record<string, string> {
  return {
    "tennis_train.checkpoint": policy.checkpointId,
    "tennis_train.actor": policy.actor,
    "tennis_train.obs_normalization": policy.obsNorm ? `clip((obs - mean) / std, -${policy.obsNorm.clip}, ${policy.obsNorm.clip}), in the file` : "none",
    "tennis_train.config": JSON.stringify(policy.config),
  };
}

/** The config an exported file was trained with (its tennis_train.config metadata), else the defaults. */
export function trainingConfigOf(metadata: Record<string, string>): Config {
  const saved = metadata["tennis_train.config"];
  return resolveConfig(saved === undefined ? {} : { fileObject: JSON.parse(saved) });
}
