// Logging of the loop: every finished episode's metrics (metrics.jsonl, TensorBoard), the console line
// every log.every episodes, the progress bar, and the update rounds' losses.
import type { ReplayBuffer } from "../../../binding/buffer.ts";
import type { UpdateStats } from "../../../binding/maddpg.ts";
import { AGENTS, JOINT_ACTION, JOINT_OBS, OBS_SIZE } from "../../../binding/shapes.ts";
import type { Logger } from "../log/logger.ts";
import { episodeLine, type TrainingProgress } from "./console.ts";
import type { RecentStats } from "./loop-state.ts";
import type { EpisodeResult } from "./scores.ts";
import type { Run } from "./setup.ts";

/** Offset of the rewards in a replay record (obs [2][24], actions [2][2], rewards [2], nextObs, dones). */
const kRecordRewards = JOINT_OBS + JOINT_ACTION;

/** Logs each finished episode of a run; keeps the steps and time of the last console line for its steps/s. */
export class EpisodeLog {
  #stepsAtLastLine: number;
  #timeAtLastLine = Date.now();

  constructor(
    private readonly run: Run,
    private readonly say: (line: string) => void,
    private readonly progress: TrainingProgress | null,
    private readonly onEpisode?: (ep: EpisodeResult) => void,
  ) {
    this.#stepsAtLastLine = run.state.envSteps;
  }

  /** Counts `ep` in the loop state, records and dumps its metrics, then the console line and progress. */
  episode(ep: EpisodeResult): void {
    const { config, state, logger, buffer, agent, tracker } = this.run;
    state.episodes = ep.episode;
    state.scores.push(ep.score);
    state.averages.push(ep.average);
    const line = ep.episode % config.log.every === 0;
    if (line) {
      state.recent = recentStats(buffer);
      if (state.recent) for (const [key, value] of Object.entries(state.recent)) logger.record(`diag/${key}`, value);
    }
    logger.record("rollout/score", ep.score);
    logger.record("rollout/score_mean100", ep.average);
    logger.record("rollout/episode_steps", ep.steps);
    logger.record("rollout/score_agent0", ep.agentScores[0]);
    logger.record("rollout/score_agent1", ep.agentScores[1]);
    logger.record("rollout/noise_scale", agent.stats().noiseScale ?? 0);
    logger.record("time/env_steps", state.envSteps);
    logger.record("time/updates", state.updates);
    logger.dump(ep.episode);
    this.onEpisode?.(ep);
    if (line) {
      const now = Date.now();
      const sps = ((state.envSteps - this.#stepsAtLastLine) * 1000) / Math.max(1, now - this.#timeAtLastLine);
      [this.#stepsAtLastLine, this.#timeAtLastLine] = [state.envSteps, now];
      this.say(episodeLine(ep, state.updates, sps));
    }
    this.progress?.update({ episode: ep.episode, average: ep.average, envSteps: state.envSteps, updates: state.updates, elapsed: this.run.clock.wall(), solvedAt: tracker.solvedAt });
  }
}

/**
 * Reads up to 256 of the newest records (readSlot: no draw from the sampler's RNG, so logging never
 * changes training) and returns, per agent, the mean and std of its observation floats and rewards.
 */
export function recentStats(buffer: ReplayBuffer, count = 256): RecentStats | null {
  const records: Float32Array[] = [];
  for (let k = 0; k < Math.min(count, buffer.size); k++) {
    const record = buffer.readSlot((buffer.totalAdded - 1 - k) % buffer.capacity);
    if (record) records.push(record);
  }
  if (records.length === 0) return null;
  const stats: RecentStats = {};
  const meanStd = (values: number[]) => {
    const mean = values.reduce((a, v) => a + v, 0) / values.length;
    return [mean, Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / values.length)];
  };
  for (let agent = 0; agent < AGENTS; agent++) {
    const obs = records.flatMap((r) => Array.from(r.subarray(agent * OBS_SIZE, (agent + 1) * OBS_SIZE)));
    const rewards = records.map((r) => r[kRecordRewards + agent]);
    [stats[`obs_mean_agent${agent}`], stats[`obs_std_agent${agent}`]] = meanStd(obs);
    [stats[`reward_mean_agent${agent}`], stats[`reward_std_agent${agent}`]] = meanStd(rewards);
  }
  return stats;
}

/** The update round's losses, Q and gradient norms, averaged into the next dump. */
export function recordUpdate(logger: Logger, stats: UpdateStats): void {
  logger.recordMean("train/critic_loss", stats.criticLoss);
  logger.recordMean("train/q_mean", stats.qMean);
  logger.recordMean("train/critic_grad_norm", stats.criticGradNorm);
  if (stats.actorUpdates > 0) {
    logger.recordMean("train/actor_loss", stats.actorLoss);
    logger.recordMean("train/actor_grad_norm", stats.actorGradNorm);
    logger.recordMean("train/action_saturation", stats.saturation);
  }
}
