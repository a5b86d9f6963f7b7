// `tennis-train export`: the greedy policy of a checkpoint as an ONNX or TorchScript file.
import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";

import { writeOnnx } from "./onnx.ts";
import { loadGreedyPolicy } from "./policy.ts";
import { writeTorchScript } from "./torchscript.ts";

export const kExportFormats = ["onnx", "torchscript"] as const;
export type ExportFormat = (typeof kExportFormats)[number];

export interface ExportOptions {
  /** A checkpoint folder (RUN/checkpoints/NAME). */
  checkpoint: string;
  format: ExportFormat;
  out: string;
  /** Whose actor, where each agent has its own (default 0); a shared actor plays both. */
  agent?: number;
}

export interface ExportResult {
  out: string;
  format: ExportFormat;
  checkpoint: string;
  actor: string;
  obs_normalization: boolean;
  layer_norm: boolean;
}

/** Writes the greedy policy of `options.checkpoint` to `options.out` (its folder created where missing). */
export async function exportPolicy(options: ExportOptions): Promise<ExportResult> {
  const policy = await loadGreedyPolicy(options.checkpoint, options.agent ?? 0);
  const out = resolve(options.out);
  mkdirSync(dirname(out), { recursive: true });
  if (options.format === "onnx") writeOnnx(policy, out);
  else writeTorchScript(policy, out);
  return {
    out,
    format: options.format,
    checkpoint: policy.checkpointId,
    actor: policy.actor,
    obs_normalization: policy.obsNorm !== null,
    layer_norm: policy.layers[0].norm !== null,
  };
}
