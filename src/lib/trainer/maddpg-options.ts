// The learner options a resolved config stands for: the one place that maps config fields onto
// binding/maddpg.ts options.
import type { MaddpgOptions } from "../../../binding/maddpg.ts";
import type { Config } from "../config/types.ts";

/** The learner options a config stands for. */
export function maddpgOptions(config: Config): MaddpgOptions {
  const { agent, noise } = config;
  return {
    actorHidden: agent.hidden,
    criticHidden: agent.hidden,
    lrActor: agent.lrActor,
    lrCritic: agent.lrCritic,
    // n-step records (train.nStep) bootstrap from s_{t+n}: gamma^n in the target (see binding NStepAccumulator).
    gamma: agent.gamma ** config.train.nStep,
    tau: agent.tau,
    batchSize: config.train.batchSize,
    gradClip: agent.gradClip,
    weightDecay: agent.weightDecay,
    sharedParameters: agent.sharedParameters,
    layerNorm: agent.layerNorm,
    batchNorm: agent.batchNorm,
    twinCritics: agent.twinCritics,
    targetNoise: agent.targetNoise,
    targetNoiseClip: agent.targetNoiseClip,
    policyDelay: agent.policyDelay,
    noise: {
      type: noise.kind,
      ouMu: noise.mu,
      ouTheta: noise.theta,
      ouSigma: noise.sigma,
      gaussianSigma: noise.sigma,
      scaleStart: noise.scaleStart,
      scaleEnd: noise.scaleEnd,
      decay: noise.decayEpisodes,
      decayUnit: "episodes",
    },
    device: config.device,
    impl: resolveImpl(config),
    threads: config.threads,
    seed: config.seed,
  };
}

/** agent.impl with "auto" made concrete: fused on the CPU without LayerNorm/BatchNorm, graph on CUDA
 * without BatchNorm, else libtorch. */
export function resolveImpl(config: Config): "fused" | "libtorch" | "graph" {
  if (config.agent.impl !== "auto") return config.agent.impl;
  if (config.device === "cuda") return config.agent.batchNorm ? "libtorch" : "graph";
  return !config.agent.layerNorm && !config.agent.batchNorm ? "fused" : "libtorch";
}
