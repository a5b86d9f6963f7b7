// Typed, validated front end of exported TorchScript policies (native/napi/policy_wrap.cc): the file
// written from plain layer data, and a loaded file acting on batches of one racket's observations.
import { addon } from "./load.ts";
import { ACTION_SIZE, OBS_SIZE } from "./shapes.ts";
import { assertFiniteArray, assertFloat32Array, assertInt, assertString, invalidParameter } from "./validate.ts";

/** Largest layer width accepted (native kMaxWidth). */
const kMaxWidth = 2 ** 20;

/** One Linear layer (weight [outputs][inputs], row-major) and the LayerNorm after it, if any. */
export interface PolicyLayer {
  inputs: number;
  outputs: number;
  weight: Float32Array;
  bias: Float32Array;
  norm: { weight: Float32Array; bias: Float32Array } | null;
}

/** clip((obs - mean) / std, -clip, clip) per observation slot. */
export interface PolicyObsNorm {
  mean: Float32Array;
  std: Float32Array;
  clip: number;
}

/** What writeTorchScriptPolicy writes. */
export interface TorchScriptPolicySpec {
  /** Hidden layers ([Linear (LayerNorm) ReLU]), then the output layer (Linear tanh, no LayerNorm). */
  layers: PolicyLayer[];
  /** The observation normalisation applied before the first layer, or null. */
  obsNorm: PolicyObsNorm | null;
  /** Stored as the file's extra file "tennis_train.json" (Python: torch.jit.load(path, _extra_files=...)). */
  metadata: string;
}

/** The native class and function, mirrored exactly. */
interface NativeTorchScriptPolicy {
  act(obs: Float32Array, actions: Float32Array): void;
  dispose(): void;
  readonly path: string;
  readonly metadata: string | null;
  readonly disposed: boolean;
}

interface NativePolicyExports {
  TorchScriptPolicy: new (path: string) => NativeTorchScriptPolicy;
  writeTorchScriptPolicy(path: string, layers: PolicyLayer[], obsNorm: PolicyObsNorm | null, metadata: string): void;
}

const native = addon as unknown as NativePolicyExports;

function assertNonEmptyString(name: string, value: unknown): asserts value is string {
  if (typeof value !== "string" || value.length === 0) throw invalidParameter(name, "a non-empty string", value);
}

function assertFiniteFloat32Array(name: string, value: unknown, length: number): asserts value is Float32Array {
  assertFloat32Array(name, value, length);
  assertFiniteArray(name, value);
}

/**
 * Writes a TorchScript module: forward(obs [N, layers[0].inputs]) -> actions [N, last outputs], which
 * normalises (when obsNorm is given), then runs [Linear (LayerNorm) ReLU]... Linear tanh. The layers
 * must chain (each inputs = the previous outputs) and the last has no LayerNorm.
 */
export function writeTorchScriptPolicy(path: string, spec: TorchScriptPolicySpec): void {
  assertNonEmptyString("path", path);
  if (typeof spec !== "object" || spec === null) throw invalidParameter("spec", "an object", spec);
  if (!Array.isArray(spec.layers) || spec.layers.length === 0) throw invalidParameter("spec.layers", "a non-empty Array", spec.layers);
  spec.layers.forEach((layer, i) => {
    const name = `spec.layers[${i}]`;
    if (typeof layer !== "object" || layer === null) throw invalidParameter(name, "an object", layer);
    assertInt(`${name}.inputs`, layer.inputs, 1, kMaxWidth);
    assertInt(`${name}.outputs`, layer.outputs, 1, kMaxWidth);
    if (i > 0 && layer.inputs !== spec.layers[i - 1].outputs) {
      throw invalidParameter(`${name}.inputs`, `spec.layers[${i - 1}].outputs = ${spec.layers[i - 1].outputs}`, layer.inputs);
    }
    assertFiniteFloat32Array(`${name}.weight`, layer.weight, layer.inputs * layer.outputs);
    assertFiniteFloat32Array(`${name}.bias`, layer.bias, layer.outputs);
    if (layer.norm !== null && layer.norm !== undefined) {
      if (i === spec.layers.length - 1) throw invalidParameter(`${name}.norm`, "null (the output layer has no LayerNorm)", layer.norm);
      assertFiniteFloat32Array(`${name}.norm.weight`, layer.norm.weight, layer.outputs);
      assertFiniteFloat32Array(`${name}.norm.bias`, layer.norm.bias, layer.outputs);
    }
  });
  if (spec.obsNorm !== null && spec.obsNorm !== undefined) {
    const inputs = spec.layers[0].inputs;
    assertFiniteFloat32Array("spec.obsNorm.mean", spec.obsNorm.mean, inputs);
    assertFiniteFloat32Array("spec.obsNorm.std", spec.obsNorm.std, inputs);
    const bad = spec.obsNorm.std.findIndex((s) => !(s > 0));
    if (bad >= 0) throw new TypeError(`Expected positive numbers for spec.obsNorm.std but received ${spec.obsNorm.std[bad]} at index ${bad}`);
    const clip: unknown = spec.obsNorm.clip;
    if (typeof clip !== "number" || !Number.isFinite(clip) || clip <= 0) throw invalidParameter("spec.obsNorm.clip", "a finite number > 0", clip);
  }
  assertString("spec.metadata", spec.metadata);
  native.writeTorchScriptPolicy(path, spec.layers, spec.obsNorm ?? null, spec.metadata);
}

/**
 * A TorchScript policy file (an export of `tennis-train export --format torchscript`, or any module whose
 * forward maps obs [N, 24] float32 to actions [N, 2] float32), loaded on the CPU. Loading throws
 * TennisTrainError naming the file when it is missing, not TorchScript, or of other shapes.
 */
export class TorchScriptPolicy {
  readonly #native: NativeTorchScriptPolicy;

  constructor(path: string) {
    assertNonEmptyString("path", path);
    this.#native = new native.TorchScriptPolicy(path);
  }

  /** Actions [rows][2] of one racket's raw observations [rows][24] (rows >= 1, finite), into `out`
   *  (allocated when omitted). */
  act(obs: Float32Array, out?: Float32Array): Float32Array {
    assertFloat32Array("obs", obs);
    if (obs.length === 0 || obs.length % OBS_SIZE !== 0) throw invalidParameter("obs", `a Float32Array of rows*${OBS_SIZE} floats (rows >= 1)`, obs);
    assertFiniteArray("obs", obs);
    const actions = out ?? new Float32Array((obs.length / OBS_SIZE) * ACTION_SIZE);
    assertFloat32Array("out", actions, (obs.length / OBS_SIZE) * ACTION_SIZE);
    this.#native.act(obs, actions);
    return actions;
  }

  /** The file's "tennis_train.json" extra file (what `export` stores), or null where it has none. */
  get metadata(): string | null {
    return this.#native.metadata;
  }

  get path(): string {
    return this.#native.path;
  }

  /** Frees the module; later calls throw TennisTrainError ERR_DISPOSED. Idempotent. */
  dispose(): void {
    this.#native.dispose();
  }

  get disposed(): boolean {
    return this.#native.disposed;
  }
}
