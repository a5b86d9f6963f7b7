// TorchScript export of a greedy policy through the learner's own exportActor(): a fresh one-actor
// learner gets the policy's layers with the observation normalisation folded into the first Linear
// (normalisation comes before it, with or without LayerNorm), so the file takes raw observations.
import { Maddpg } from "../../../binding/maddpg.ts";
import { resolveConfig } from "../config/resolve.ts";
import { maddpgOptions } from "../trainer/maddpg-options.ts";
import type { DenseLayer, GreedyPolicy, ObsNormalization } from "./policy.ts";

/**
 * The first layer of `norm` followed by `layer`: W' = W / std (per input column) and
 * b' = b - W' mean, computed in float64. Exact while every normalised input lies within the clip
 * (|obs - mean| <= clip * std); the clip itself has no place in a Linear layer.
 */
export function foldObsNormalization(layer: DenseLayer, norm: ObsNormalization): DenseLayer {
  const weight = new Float32Array(layer.weight.length);
  const bias = new Float32Array(layer.outputs);
  for (let o = 0; o < layer.outputs; o++) {
    let shift = 0;
    for (let j = 0; j < layer.inputs; j++) {
      const w = layer.weight[o * layer.inputs + j] / norm.std[j];
      weight[o * layer.inputs + j] = w;
      shift += w * norm.mean[j];
    }
    bias[o] = layer.bias[o] - shift;
  }
  return { ...layer, weight, bias };
}

/** Writes `policy` as TorchScript (obs [N, 24] -> actions [N, 2]) for Python's torch.jit.load. */
export function writeTorchScript(policy: GreedyPolicy, path: string): void {
  const layers = policy.obsNorm ? [foldObsNormalization(policy.layers[0], policy.obsNorm), ...policy.layers.slice(1)] : policy.layers;
  const hidden = layers.slice(0, -1).map((layer) => layer.outputs);
  // A vessel for the actor's weights: the default config's learner with the policy's actor shape.
  const holder = new Maddpg({
    ...maddpgOptions(resolveConfig()),
    device: "cpu",
    threads: 0,
    actorHidden: hidden,
    criticHidden: [1],
    sharedParameters: true,
    layerNorm: layers[0].norm !== null,
    impl: "libtorch",
  });
  try {
    const params = holder.getParameters();
    const offsets = new Map(holder.parameterLayout().map((p) => [p.name, p.offset]));
    const put = (name: string, values: Float32Array) => params.set(values, offsets.get(`shared/actor/${name}`)!);
    layers.forEach((layer, i) => {
      const name = i === layers.length - 1 ? "out" : `fc.${i}`;
      put(`${name}.weight`, layer.weight);
      put(`${name}.bias`, layer.bias);
      if (layer.norm) {
        put(`norms.${i}.weight`, layer.norm.weight);
        put(`norms.${i}.bias`, layer.norm.bias);
      }
    });
    holder.setParameters(params);
    holder.exportActor(path, 0);
  } finally {
    holder.dispose();
  }
}
