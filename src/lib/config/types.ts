// TypeScript view of a resolved config (configs/schema.json is the source of truth for values).

export interface EnvConfig {
  kind: "builtin" | "remote";
  envs: number;
  addresses: string[];
  cleanReset: boolean;
  observeBallVelocity: boolean;
  fixLastHitter: boolean;
  mode: "cooperative" | "competitive";
}

export interface TrainConfig {
  episodes: number;
  maxSteps: number;
  targetScore: number;
  window: number;
  stopWhenSolved: boolean;
  warmupSteps: number;
  trainEvery: number;
  updatesPerStep: number;
  maxUpdatesPerEpisode: number;
  stallEpisodes: number;
  nStep: number;
  batchSize: number;
  earlyTrainingSteps: number;
  negSamplingRatio: number;
  rewardShaping: "none" | "scale_positive" | "survival_bonus";
  shapingFactor: number;
  normalizeObs: boolean;
  checkpointEvery: number;
  evalEpisodes: number;
  evalCleanReset: boolean;
  selectEvery: number;
  selectEpisodes: number;
  polishTarget: number;
  polishEpisodes: number;
  confirmEpisodes: number;
}

export interface BufferConfig {
  capacity: number;
  prioritized: boolean;
  alpha: number;
  beta0: number;
  betaSteps: number;
}

export interface AgentConfig {
  hidden: number[];
  lrActor: number;
  lrCritic: number;
  weightDecay: number;
  gamma: number;
  tau: number;
  gradClip: number;
  sharedParameters: boolean;
  layerNorm: boolean;
  batchNorm: boolean;
  twinCritics: boolean;
  targetNoise: number;
  targetNoiseClip: number;
  policyDelay: number;
  impl: "auto" | "fused" | "libtorch" | "graph";
}

export interface NoiseConfig {
  kind: "ou" | "gaussian";
  mu: number;
  theta: number;
  sigma: number;
  scaleStart: number;
  scaleEnd: number;
  decayEpisodes: number;
}

export interface DiagnosticsConfig {
  deadGradThreshold: number;
  deadGradUpdates: number;
  remedy: "warn" | "reset_noise" | "stop";
}

export interface SelfPlayConfig {
  enabled: boolean;
  window: number;
  saveSteps: number;
  swapSteps: number;
  latestRatio: number;
  hitBonus: number;
  eloK: number;
  checkEvery: number;
  checkPoints: number;
}

export interface LogConfig {
  runsDir: string;
  every: number;
  tensorboard: boolean;
  progress: boolean;
}

export interface Config {
  name: string;
  seed: number;
  device: "cpu" | "cuda";
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
