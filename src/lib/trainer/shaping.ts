// Reward shaping applied to what the learner stores (the score always uses the env's own rewards).
import type { TrainConfig } from "../config/types.ts";

/**
 * Writes shaped rewards [envs][2] into `out`:
 * - none: unchanged;
 * - scale_positive: positive rewards times `factor` (the notebook used 100), negatives unchanged;
 * - survival_bonus: + factor for every step an agent is not done (a small incentive to keep the ball up).
 */
export function shapeRewards(
  kind: TrainConfig["rewardShaping"],
  factor: number,
  rewards: Float32Array,
  dones: Float32Array,
  out: Float32Array,
): Float32Array {
  if (kind === "none") {
    out.set(rewards);
  } else if (kind === "scale_positive") {
    for (let i = 0; i < rewards.length; i++) out[i] = rewards[i] > 0 ? rewards[i] * factor : rewards[i];
  } else {
    for (let i = 0; i < rewards.length; i++) out[i] = rewards[i] + (dones[i] === 0 ? factor : 0);
  }
  return out;
}
