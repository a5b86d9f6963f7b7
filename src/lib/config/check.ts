// Cross-field rules that a JSON Schema cannot state, in one place (jest's check()). Bounds of single
// fields live in configs/schema.json only; resolveConfig runs checkConfig once, after the schema.
import type { Config } from "./types.ts";

/** Facts about the runtime that some rules need; omitted facts are not checked. */
export interface RuntimeFacts {
  cudaAvailable?: boolean;
}

/** Returns one message per violated cross-field rule (empty when the config is consistent). */
export function checkConfig(config: Config): string[] {
  const problems: string[] = [];
  if (config.train.batchSize > config.buffer.capacity) {
    problems.push(
      `\`train.batchSize\` (${config.train.batchSize}) must not exceed \`buffer.capacity\` (${config.buffer.capacity})`,
    );
  }
  if (config.env.kind === "remote" && config.env.addresses.length === 0) {
    problems.push("`env.kind` = remote needs at least one address in `env.addresses` (--remote tcp://host:port)");
  }
  if (config.env.kind === "builtin" && config.env.addresses.length > 0) {
    problems.push("`env.addresses` is set but `env.kind` is builtin; use --env remote to train on env servers");
  }
  if (config.noise.scaleEnd > config.noise.scaleStart && config.noise.decayEpisodes > 0) {
    problems.push(
      `\`noise.scaleEnd\` (${config.noise.scaleEnd}) must not exceed \`noise.scaleStart\` (${config.noise.scaleStart}): the schedule decays`,
    );
  }
  if (config.buffer.prioritized && (config.train.earlyTrainingSteps > 0 || config.train.negSamplingRatio >= 0)) {
    problems.push(
      "`buffer.prioritized` cannot be combined with `train.earlyTrainingSteps` > 0 or `train.negSamplingRatio` >= 0: prioritized replay decides what is sampled",
    );
  }
  if (config.selfPlay.latestRatio + config.selfPlay.scriptedRatio > 1 + 1e-12) {
    problems.push(
      `\`selfPlay.latestRatio\` (${config.selfPlay.latestRatio}) and \`selfPlay.scriptedRatio\` (${config.selfPlay.scriptedRatio}) are shares of the opponent draws: their sum must not exceed 1`,
    );
  }
  if (config.agent.impl === "fused") {
    const unsupported = [
      config.agent.layerNorm && "`agent.layerNorm`",
      config.agent.batchNorm && "`agent.batchNorm`",
      config.device === "cuda" && "`device` = cuda",
    ].filter(Boolean);
    if (unsupported.length > 0) {
      problems.push(`\`agent.impl\` = fused does not support ${unsupported.join(", ")}; use --impl libtorch (or auto)`);
    }
  }
  if (config.agent.impl === "graph") {
    const unsupported = [config.agent.batchNorm && "`agent.batchNorm`", config.device !== "cuda" && "`device` = cpu"].filter(Boolean);
    if (unsupported.length > 0) {
      problems.push(`\`agent.impl\` = graph (CUDA graphs) does not support ${unsupported.join(", ")}; use --impl libtorch (or auto)`);
    }
  }
  return problems;
}

/** Returns one message per rule the config breaks on this runtime (train() runs it before a run starts). */
export function checkRuntime(config: Config, facts: RuntimeFacts): string[] {
  const problems: string[] = [];
  if (config.device === "cuda" && facts.cudaAvailable === false) {
    problems.push("`device` = cuda but no CUDA device is usable (the addon was built without CUDA or no GPU is present)");
  }
  return problems;
}
