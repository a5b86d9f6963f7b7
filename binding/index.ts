// Public API of the native binding: typed, validated classes and functions over the addon.
import { addon } from "./load.ts";
import type { NativeRuntimeInfo, NativeTopLevel } from "./native.ts";
import { assertInt } from "./validate.ts";

export { TennisTrainError } from "./errors.ts";
export { addonCandidates, loadAddon } from "./load.ts";
export { packageRoot, packageVersion } from "./package.ts";
export type { NativeRuntimeInfo } from "./native.ts";
export { TorchScriptPolicy, writeTorchScriptPolicy } from "./policy.ts";
export type { PolicyLayer, PolicyObsNorm, TorchScriptPolicySpec } from "./policy.ts";

const top = addon as unknown as NativeTopLevel;

/** Versions, CUDA, LibTorch threads and BLAS as the native core sees them. */
export function runtimeInfo(): NativeRuntimeInfo {
  return top.runtimeInfo();
}

/** Sets LibTorch's intra-op threads (integer in [1, 256]). */
export function setNumThreads(threads: number): void {
  assertInt("threads", threads, 1, 256);
  top.setNumThreads(threads);
}
