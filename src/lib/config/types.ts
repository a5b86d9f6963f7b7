// Generated from configs/schema.json by scripts/gen-config-types.ts: do not edit.
// The TypeScript view of a resolved config (schema defaults fill every field, so every field is present).

/**
 * A resolved config: every option of configs/schema.json, each one set.
 */
export interface Config {
  /**
   * Config name, used in the run directory name runs/<env>__<name>__<seed>__<time>.
   *
   * string of 1-64 letters, digits, _, . or - (not starting with a dot, no ..); default `"default"`.
   */
  name: string;
  /**
   * Seed of every RNG (envs, buffer, networks, noise).
   *
   * integer between 0 and 4294967295; default `0`.
   */
  seed: number;
  /**
   * Device of the networks and updates; --cuda is short for --device cuda.
   *
   * one of "cpu", "cuda"; default `"cpu"`.
   */
  device: "cpu" | "cuda";
  /**
   * LibTorch intra-op threads and env-stepping threads.
   *
   * integer between 1 and 256; default `2`.
   */
  threads: number;
  env: EnvConfig;
  train: TrainConfig;
  buffer: BufferConfig;
  agent: AgentConfig;
  noise: NoiseConfig;
  diagnostics: DiagnosticsConfig;
  selfPlay: SelfPlayConfig;
  log: LogConfig;
}
/**
 * The environment.
 */
export interface EnvConfig {
  /**
   * builtin: the native Tennis simulation; remote: env servers over the ZeroMQ bridge.
   *
   * one of "builtin", "remote"; default `"builtin"`.
   */
  kind: "builtin" | "remote";
  /**
   * Number of vectorized envs stepped together.
   *
   * integer between 1 and 65536; default `1`.
   */
  envs: number;
  /**
   * ZeroMQ addresses of env servers (env.kind = remote).
   *
   * array of string; default `[]`.
   */
  addresses: string[];
  /**
   * Re-serve the ball on every reset (i.i.d. episode starts) instead of Unity's reset quirks.
   *
   * boolean; default `false`.
   */
  cleanReset: boolean;
  /**
   * Observation slots 6-7 carry the ball velocity instead of Unity's racket-velocity copy.
   *
   * boolean; default `false`.
   */
  observeBallVelocity: boolean;
  /**
   * Keep the true last hitter after a net crossing (Unity credits agent A after any crossing).
   *
   * boolean; default `false`.
   */
  fixLastHitter: boolean;
  /**
   * cooperative: Udacity rewards; competitive: one point per episode, winner +1 / loser -1.
   *
   * one of "cooperative", "competitive"; default `"cooperative"`.
   */
  mode: "cooperative" | "competitive";
}
/**
 * The training loop.
 */
export interface TrainConfig {
  /**
   * Maximum number of episodes (counted over all envs).
   *
   * integer between 1 and 1000000; default `2000`.
   */
  episodes: number;
  /**
   * Steps per episode before the loop cuts it (the env itself caps at 1001); in self-play a cut point is a draw.
   *
   * integer between 1 and 100000; default `1001`.
   */
  maxSteps: number;
  /**
   * Solved when the 100-episode moving average of the max-over-agents score reaches this.
   *
   * number; default `0.5`.
   */
  targetScore: number;
  /**
   * Episodes in the moving average.
   *
   * integer between 1 and 10000; default `100`.
   */
  window: number;
  /**
   * Stop at the first solved episode (--no-stop-when-solved goes on).
   *
   * boolean; default `true`.
   */
  stopWhenSolved: boolean;
  /**
   * Env steps with random actions before learning starts.
   *
   * integer between 0 and 10000000; default `256`.
   */
  warmupSteps: number;
  /**
   * Env steps between update rounds.
   *
   * integer between 1 and 100000; default `1`.
   */
  trainEvery: number;
  /**
   * Updates per update round (K fused in one native call).
   *
   * integer between 1 and 1000; default `4`.
   */
  updatesPerStep: number;
  /**
   * Most updates between two episode ends (any env); 0: no cap.
   *
   * integer between 0 and 100000000; default `80`.
   */
  maxUpdatesPerEpisode: number;
  /**
   * Steps of an episode stored in the replay buffer, its first ones; 0: every step.
   *
   * integer between 0 and 100000000; default `0`.
   */
  maxStoredStepsPerEpisode: number;
  /**
   * Learning episodes in a row without a point after which the actors start afresh; 0: never.
   *
   * integer between 0 and 1000000; default `20`.
   */
  stallEpisodes: number;
  /**
   * Steps summed into each stored reward (n-step returns, bootstrapped with gamma^n); 1: one-step TD.
   *
   * integer between 1 and 100; default `1`.
   */
  nStep: number;
  /**
   * Transitions per update.
   *
   * integer between 1 and 65536; default `64`.
   */
  batchSize: number;
  /**
   * While fewer transitions were stored, negative-reward transitions are not sampled (notebook filter).
   *
   * integer between 0 and 100000000; default `0`.
   */
  earlyTrainingSteps: number;
  /**
   * Share of negative-reward transitions in each batch; -1 samples uniformly.
   *
   * number between -1 and 1; default `-1`.
   */
  negSamplingRatio: number;
  /**
   * none; scale_positive multiplies positive rewards by shapingFactor; survival_bonus adds shapingFactor per step alive.
   *
   * one of "none", "scale_positive", "survival_bonus"; default `"none"`.
   */
  rewardShaping: "none" | "scale_positive" | "survival_bonus";
  /**
   * Factor of the reward shaping (100 in the notebook for scale_positive).
   *
   * number between 0 and 10000; default `100`.
   */
  shapingFactor: number;
  /**
   * Normalise observations with a running mean/std.
   *
   * boolean; default `true`.
   */
  normalizeObs: boolean;
  /**
   * Episodes between checkpoints (0: only at the end).
   *
   * integer between 0 and 1000000; default `100`.
   */
  checkpointEvery: number;
  /**
   * Greedy evaluation episodes of the final policy after training, printed and in summary.json (0: none).
   *
   * integer between 0 and 100000; default `100`.
   */
  evalEpisodes: number;
  /**
   * Greedy play of the run (policy checks, final evaluation) re-serves on every reset.
   *
   * boolean; default `true`.
   */
  evalCleanReset: boolean;
  /**
   * Episodes between greedy checks of the policy; the best checked one can become final (0: the last policy is final).
   *
   * integer between 0 and 1000000; default `10`.
   */
  selectEvery: number;
  /**
   * Greedy episodes per policy check (train.selectEvery).
   *
   * integer between 1 and 1000; default `20`.
   */
  selectEpisodes: number;
  /**
   * After solving, train on until a policy check scores this (0: stop at solving).
   *
   * number between 0 and 100; default `2.55`.
   */
  polishTarget: number;
  /**
   * Most episodes past solving that train.polishTarget may add.
   *
   * integer between 0 and 1000000; default `500`.
   */
  polishEpisodes: number;
  /**
   * Greedy episodes that confirm a check reaching train.polishTarget (0: no confirmation).
   *
   * integer between 0 and 100000; default `200`.
   */
  confirmEpisodes: number;
}
/**
 * The replay buffer.
 */
export interface BufferConfig {
  /**
   * Transitions kept (ring buffer).
   *
   * integer between 1 and 100000000; default `100000`.
   */
  capacity: number;
  /**
   * Prioritized experience replay (sum tree).
   *
   * boolean; default `false`.
   */
  prioritized: boolean;
  /**
   * PER priority exponent.
   *
   * number between 0 and 1; default `0.6`.
   */
  alpha: number;
  /**
   * PER importance-weight exponent at the start, annealed to 1.
   *
   * number between 0 and 1; default `0.4`.
   */
  beta0: number;
  /**
   * Updates over which beta anneals to 1.
   *
   * integer between 1 and 100000000; default `100000`.
   */
  betaSteps: number;
}
/**
 * The MADDPG / MATD3 learner.
 */
export interface AgentConfig {
  /**
   * Hidden layer sizes of actors and critics.
   *
   * array of integer between 1 and 4096 (1 to 8 items); default `[256,256]`.
   *
   * @minItems 1
   * @maxItems 8
   */
  hidden: number[];
  /**
   * Adam learning rate of the actors.
   *
   * number > 0 and <= 1; default `0.0003`.
   */
  lrActor: number;
  /**
   * Adam learning rate of the critics.
   *
   * number > 0 and <= 1; default `0.001`.
   */
  lrCritic: number;
  /**
   * L2 weight decay of the critics.
   *
   * number between 0 and 1; default `0`.
   */
  weightDecay: number;
  /**
   * Discount factor.
   *
   * number between 0 and 1; default `0.99`.
   */
  gamma: number;
  /**
   * Soft-update rate of the target networks.
   *
   * number > 0 and <= 1; default `0.01`.
   */
  tau: number;
  /**
   * Gradient-norm clip of the critics (0: off).
   *
   * number between 0 and 1000; default `1`.
   */
  gradClip: number;
  /**
   * One actor and one critic used by both agents from each agent's own point of view.
   *
   * boolean; default `true`.
   */
  sharedParameters: boolean;
  /**
   * LayerNorm after each hidden layer of the actors.
   *
   * boolean; default `false`.
   */
  layerNorm: boolean;
  /**
   * BatchNorm on the critics' first layer.
   *
   * boolean; default `false`.
   */
  batchNorm: boolean;
  /**
   * MATD3: two critics per agent, target is their minimum.
   *
   * boolean; default `false`.
   */
  twinCritics: boolean;
  /**
   * MATD3 target policy smoothing: std of the noise on target actions (0: off).
   *
   * number between 0 and 2; default `0`.
   */
  targetNoise: number;
  /**
   * Clip of the target policy smoothing noise.
   *
   * number between 0 and 2; default `0.5`.
   */
  targetNoiseClip: number;
  /**
   * Update implementation; auto: fused on the CPU, graph on CUDA, where they apply.
   *
   * one of "auto", "fused", "libtorch", "graph"; default `"auto"`.
   */
  impl: "auto" | "fused" | "libtorch" | "graph";
  /**
   * Critic updates per actor update (MATD3 uses 2).
   *
   * integer between 1 and 100; default `1`.
   */
  policyDelay: number;
}
/**
 * Exploration noise.
 */
export interface NoiseConfig {
  /**
   * Ornstein-Uhlenbeck (per env, reset per episode) or Gaussian.
   *
   * one of "ou", "gaussian"; default `"gaussian"`.
   */
  kind: "ou" | "gaussian";
  /**
   * OU mean.
   *
   * number between -1 and 1; default `0`.
   */
  mu: number;
  /**
   * OU mean-reversion rate.
   *
   * number between 0 and 10; default `0.15`.
   */
  theta: number;
  /**
   * OU volatility, or the Gaussian std.
   *
   * number between 0 and 10; default `0.5`.
   */
  sigma: number;
  /**
   * Noise scale at the start of training.
   *
   * number between 0 and 100; default `1`.
   */
  scaleStart: number;
  /**
   * Noise scale after the decay.
   *
   * number between 0 and 100; default `0.05`.
   */
  scaleEnd: number;
  /**
   * Episodes of linear decay from scaleStart to scaleEnd (0: constant scaleStart).
   *
   * integer between 0 and 1000000; default `150`.
   */
  decayEpisodes: number;
}
/**
 * Learning-health checks.
 */
export interface DiagnosticsConfig {
  /**
   * Actor gradient norm below which an update counts as dead.
   *
   * number between 0 and 1; default `0.000001`.
   */
  deadGradThreshold: number;
  /**
   * Consecutive dead updates that trigger the remedy.
   *
   * integer between 1 and 10000000; default `2000`.
   */
  deadGradUpdates: number;
  /**
   * What to do on dead actor gradients: warn, reset every env's exploration noise process, or stop.
   *
   * one of "warn", "reset_noise", "stop"; default `"warn"`.
   */
  remedy: "warn" | "reset_noise" | "stop";
}
/**
 * Self-play in competitive mode, after ML-Agents' self_play.
 */
export interface SelfPlayConfig {
  /**
   * In competitive mode, train against a pool of the learner's snapshots (--no-self-play: both rackets learn).
   *
   * boolean; default `true`.
   */
  enabled: boolean;
  /**
   * Snapshots kept in the opponent pool (the newest; ML-Agents' window).
   *
   * integer between 1 and 1000; default `10`.
   */
  window: number;
  /**
   * Env steps (over all envs) between snapshots of the learner added to the pool (ML-Agents' save_steps).
   *
   * integer between 1 and 100000000; default `2000`.
   */
  saveSteps: number;
  /**
   * Env steps (over all envs) between changes of opponent (ML-Agents' swap_steps).
   *
   * integer between 1 and 100000000; default `1000`.
   */
  swapSteps: number;
  /**
   * Share of opponent changes that pick the current learner (ML-Agents' play_against_latest_model_ratio).
   *
   * number between 0 and 1; default `0.5`.
   */
  latestRatio: number;
  /**
   * Share of opponent changes that pick the scripted competitive controller (at most 1 - latestRatio); its points leave the Elo as it is.
   *
   * number between 0 and 1; default `0`.
   */
  scriptedRatio: number;
  /**
   * Zero-sum reward stored for sending the ball over the net (0: off).
   *
   * number between 0 and 1; default `0.3`.
   */
  hitBonus: number;
  /**
   * The final policy is the checked one (selfPlay.checkEvery) with the best mean score (wins plus half the draws) against random play and the scripted controller, when it beat the last policy's final check.
   *
   * boolean; default `true`.
   */
  keepBest: boolean;
  /**
   * Elo K-factor of the learner's rating, updated after each point against the pool.
   *
   * number between 0 and 1000; default `16`.
   */
  eloK: number;
  /**
   * Episodes (points) between greedy checks of the learner against random play and against its first snapshot (0: none).
   *
   * integer between 0 and 1000000; default `500`.
   */
  checkEvery: number;
  /**
   * Points of each check, the learner on each side in half of them (played in parallel envs).
   *
   * integer between 2 and 100000; default `100`.
   */
  checkPoints: number;
}
/**
 * Logging and outputs.
 */
export interface LogConfig {
  /**
   * Folder that holds the run directories.
   *
   * string; default `"runs"`.
   */
  runsDir: string;
  /**
   * Episodes between console lines.
   *
   * integer between 1 and 100000; default `25`.
   */
  every: number;
  /**
   * Write TensorBoard event files.
   *
   * boolean; default `true`.
   */
  tensorboard: boolean;
  /**
   * Show a progress bar on a TTY.
   *
   * boolean; default `true`.
   */
  progress: boolean;
}
