// ONNX export of a greedy policy, named and shaped as Unity ML-Agents' exporter names its models
// (docs/export.md): input obs_0 [batch, 24], outputs version_number, memory_size, continuous_actions
// [batch, 2], continuous_action_output_shape and deterministic_continuous_actions. Opset 13: Clip
// takes its bounds as inputs (opset 11+), ReduceMean its axes as an attribute (until opset 18).
import { writeFileSync } from "node:fs";

import { ACTION_SIZE, OBS_SIZE } from "../../../binding/maddpg.ts";
import { packageVersion } from "../../../binding/package.ts";
import { ModelProto, kAttributeFloat, kAttributeInt, kAttributeInts, kAttributeTensor, kTensorFloat } from "./onnx-proto.ts";
import { type DenseLayer, type GreedyPolicy, kLayerNormEps, policyMetadata } from "./policy.ts";

/** Opset of the default domain the graph uses. */
export const kOnnxOpset = 13;
/** IR version 8 (ONNX 1.10+): what Debian's python3-onnx 1.12 checks and onnxruntime reads. */
const kIrVersion = 8;
/** ML-Agents' model API version 3 (ModelApiVersion.MLAgents2_0), the `version_number` output. */
export const kMlAgentsModelVersion = 3;
/** Names of the graph's input and outputs (ML-Agents' TensorNames). */
export const kOnnxNames = {
  obs: "obs_0",
  versionNumber: "version_number",
  memorySize: "memory_size",
  actions: "continuous_actions",
  actionShape: "continuous_action_output_shape",
  deterministicActions: "deterministic_continuous_actions",
} as const;
/** Symbolic name of the dynamic batch dimension. */
const kBatch = "batch";

interface Node {
  op_type: string;
  name: string;
  input: string[];
  output: string[];
  attribute?: object[];
}

/** Nodes and initializers of a graph being built; each add returns the name of what it produced. */
class GraphBuilder {
  readonly nodes: Node[] = [];
  readonly initializers: object[] = [];

  constant(name: string, dims: number[], values: ArrayLike<number>): string {
    this.initializers.push(floatTensor(name, dims, values));
    return name;
  }

  op(opType: string, output: string, inputs: string[], attribute: object[] = []): string {
    this.nodes.push({ op_type: opType, name: output, input: inputs, output: [output], attribute });
    return output;
  }
}

function floatTensor(name: string, dims: number[], values: ArrayLike<number>) {
  const data = Float32Array.from(values);
  return { name, dims, data_type: kTensorFloat, raw_data: Buffer.from(data.buffer, data.byteOffset, data.byteLength) };
}

const intAttribute = (name: string, i: number) => ({ name, type: kAttributeInt, i });
const intsAttribute = (name: string, ints: number[]) => ({ name, type: kAttributeInts, ints });

/** clip((x - mean) / std, -clip, clip): the trainer's observation normalisation. */
function addObsNormalization(g: GraphBuilder, x: string, norm: NonNullable<GreedyPolicy["obsNorm"]>): string {
  const centered = g.op("Sub", "obs_centered", [x, g.constant("obs_mean", [OBS_SIZE], norm.mean)]);
  const scaled = g.op("Div", "obs_scaled", [centered, g.constant("obs_std", [OBS_SIZE], norm.std)]);
  return g.op("Clip", "obs_normalized", [scaled, g.constant("obs_clip_min", [], [-norm.clip]), g.constant("obs_clip_max", [], [norm.clip])]);
}

/** LayerNorm over the last axis, written out in opset-13 ops (LayerNormalization is opset 17):
 * (x - mean) / sqrt(var + eps) * weight + bias, with the biased variance as torch computes it. */
function addLayerNorm(g: GraphBuilder, x: string, prefix: string, norm: NonNullable<DenseLayer["norm"]>): string {
  const lastAxis = [intsAttribute("axes", [-1]), intAttribute("keepdims", 1)];
  const mean = g.op("ReduceMean", `${prefix}_mean`, [x], lastAxis);
  const centered = g.op("Sub", `${prefix}_centered`, [x, mean]);
  const squared = g.op("Mul", `${prefix}_squared`, [centered, centered]);
  const variance = g.op("ReduceMean", `${prefix}_var`, [squared], lastAxis);
  const shifted = g.op("Add", `${prefix}_var_eps`, [variance, g.constant(`${prefix}_eps`, [], [kLayerNormEps])]);
  const std = g.op("Sqrt", `${prefix}_std`, [shifted]);
  const normalized = g.op("Div", `${prefix}_normalized`, [centered, std]);
  const scaled = g.op("Mul", `${prefix}_scaled`, [normalized, g.constant(`${prefix}.weight`, [norm.weight.length], norm.weight)]);
  return g.op("Add", prefix, [scaled, g.constant(`${prefix}.bias`, [norm.bias.length], norm.bias)]);
}

/** x W^T + b (Gemm with transB, the weight kept in LibTorch's [outputs][inputs] layout). */
function addLinear(g: GraphBuilder, x: string, name: string, layer: DenseLayer): string {
  const weight = g.constant(`${name}.weight`, [layer.outputs, layer.inputs], layer.weight);
  const bias = g.constant(`${name}.bias`, [layer.outputs], layer.bias);
  return g.op("Gemm", name, [x, weight, bias], [intAttribute("transB", 1)]);
}

/** A Constant node whose [1]-shaped float value is a graph output (ML-Agents' metadata outputs). */
function addScalarOutput(g: GraphBuilder, name: string, value: number): string {
  const tensor = floatTensor(`${name}_value`, [1], [value]);
  return g.op("Constant", name, [], [{ name: "value", type: kAttributeTensor, t: tensor }]);
}

function tensorInfo(name: string, dims: (number | string)[]) {
  const dim = dims.map((d) => (typeof d === "number" ? { dim_value: d } : { dim_param: d }));
  return { name, type: { tensor_type: { elem_type: kTensorFloat, shape: { dim } } } };
}

/** The ONNX model of a greedy policy, serialised. `metadata` adds string entries to metadata_props. */
export function onnxModelBytes(policy: GreedyPolicy, metadata: Record<string, string> = {}): Uint8Array {
  const g = new GraphBuilder();
  let x: string = kOnnxNames.obs;
  if (policy.obsNorm) x = addObsNormalization(g, x, policy.obsNorm);
  const hidden = policy.layers.slice(0, -1);
  hidden.forEach((layer, i) => {
    x = addLinear(g, x, `fc.${i}`, layer);
    if (layer.norm) x = addLayerNorm(g, x, `norms.${i}`, layer.norm);
    x = g.op("Relu", `relu.${i}`, [x]);
  });
  x = addLinear(g, x, "out", policy.layers[policy.layers.length - 1]);
  g.op("Tanh", kOnnxNames.actions, [x]);
  // The policy is deterministic: the sampled and the deterministic actions are the same tensor.
  g.op("Identity", kOnnxNames.deterministicActions, [kOnnxNames.actions]);
  addScalarOutput(g, kOnnxNames.versionNumber, kMlAgentsModelVersion);
  addScalarOutput(g, kOnnxNames.memorySize, 0);
  addScalarOutput(g, kOnnxNames.actionShape, ACTION_SIZE);

  const model = ModelProto.create({
    ir_version: kIrVersion,
    opset_import: [{ domain: "", version: kOnnxOpset }],
    producer_name: "tennis-train",
    producer_version: packageVersion,
    doc_string: `Greedy Tennis policy: raw ${OBS_SIZE}-float observation in, ${ACTION_SIZE} actions in [-1, 1] out${policy.obsNorm ? " (observation normalisation included)" : ""}.`,
    graph: {
      name: "tennis_policy",
      node: g.nodes,
      initializer: g.initializers,
      input: [tensorInfo(kOnnxNames.obs, [kBatch, OBS_SIZE])],
      output: [
        tensorInfo(kOnnxNames.versionNumber, [1]),
        tensorInfo(kOnnxNames.memorySize, [1]),
        tensorInfo(kOnnxNames.actions, [kBatch, ACTION_SIZE]),
        tensorInfo(kOnnxNames.actionShape, [1]),
        tensorInfo(kOnnxNames.deterministicActions, [kBatch, ACTION_SIZE]),
      ],
    },
    metadata_props: Object.entries({ ...policyMetadata(policy), ...metadata }).map(([key, value]) => ({ key, value })),
  });
  return ModelProto.encode(model).finish();
}

/** Writes the ONNX model of `policy` to `path`. */
export function writeOnnx(policy: GreedyPolicy, path: string): void {
  writeFileSync(path, onnxModelBytes(policy));
}
