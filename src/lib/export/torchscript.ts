// TorchScript export of a greedy policy, written natively (binding/policy.ts): forward(obs [N, 24]) ->
// actions [N, 2] computes clip((obs - mean) / std, -clip, clip) with the trainer's statistics and clip,
// then the actor, so the file equals act() on every raw observation. The file's extra file
// tennis_train.json holds the same metadata as the ONNX export's metadata_props.
import { writeTorchScriptPolicy } from "../../../binding/policy.ts";
import { type GreedyPolicy, policyMetadata } from "./policy.ts";

/** Name of the extra file holding policyMetadata() as JSON (Python: torch.jit.load(path, _extra_files={NAME: ""})). */
export const kTorchScriptMetadataFile = "tennis_train.json";

/** Writes `policy` as TorchScript (obs [N, 24] -> actions [N, 2]) for Python's torch.jit.load. */
export function writeTorchScript(policy: GreedyPolicy, path: string): void {
  writeTorchScriptPolicy(path, { layers: policy.layers, obsNorm: policy.obsNorm, metadata: JSON.stringify(policyMetadata(policy)) });
}
