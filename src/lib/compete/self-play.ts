// Self-play training in competitive mode (ML-Agents' self_play over MADDPG): the learner plays one
// racket of each env, a frozen opponent the other, drawn every selfPlay.swapSteps env steps either
// from a window of the learner's past snapshots or as the learner as it is then
// (selfPlay.latestRatio); the learner's Elo rating follows every point against them.
//
// What is learned: every stored transition is the joint one (both rackets' observations and actions),
// the opponent's side included. With the shared actor and centralised critic (agent.sharedParameters,
// the default) that side is valid off-policy data: the critic Q(o_i, o_j, a_i, a_j) is learned for
// any behaviour (its target takes both next actions from the target actor), and the actor is
// improved from both rackets' points of view against the critic, so a snapshot's play teaches the
// learner what it did on that side as well. The zero-sum rewards (+1 / -1 per point) make the
// critic's two points of view each other's negative, which one shared critic learns as one function.
import { join } from "node:path";
import { writeFileSync } from "node:fs";

import { NStepAccumulator, ReplayBuffer } from "../../../binding/buffer.ts";
import { runtimeInfo, setNumThreads } from "../../../binding/index.ts";
import { Maddpg, OBS_SIZE } from "../../../binding/maddpg.ts";
import { FRAME_BALL_X, OBS_NEWEST_FRAME } from "../../../binding/shapes.ts";
import { checkRuntime } from "../config/check.ts";
import { ConfigError } from "../config/resolve.ts";
import type { Config } from "../config/types.ts";
import { BuiltinVecEnv, envVariant } from "../env/vec-env.ts";
import { JsonlSink, Logger } from "../log/logger.ts";
import { flattenHParams, hparamsMarkdown, TensorBoardSink } from "../log/tensorboard.ts";
import { removeStaleTemps, settleCheckpoints, writeCheckpoint } from "../trainer/checkpoint.ts";
import { formatDuration } from "../trainer/console.ts";
import { kTrainerFile, type RecentStats, type Selection, type StopReason } from "../trainer/loop-state.ts";
import { maddpgOptions } from "../trainer/maddpg-options.ts";
import { RunningNorm } from "../trainer/normalize.ts";
import { createRunDir, writeJson } from "../trainer/run-dir.ts";
import { lockRunDir } from "../trainer/run-lock.ts";
import { ScoreTracker, type EpisodeResult } from "../trainer/scores.ts";
import { Rng } from "../util/rng.ts";
import { updateElo } from "./elo.ts";
import { kInitialElo, OpponentPool, type OpponentChoice } from "./opponent-pool.ts";
import { gatherSides, kFirstSnapshotFile, LearnerPlayer } from "./match.ts";
import { checkEnvs, normOf, playPoints, randomPlayer, scriptedPlayer, type PointsResult } from "./self-play-check.ts";

/** Points of the moving win rate against the pool (`selfplay/win_rate100`). */
const kWinWindow = 100;
/** `selfplay/opponent` of the scripted competitive controller (snapshots are >= 0, the learner itself -1). */
export const kScriptedId = -2;
/** Pool snapshots' parameters in a checkpoint folder. */
export const kPoolFile = "pool.bin";
export { kFirstSnapshotFile } from "./match.ts";

/** What a greedy check found (selfPlay.checkEvery, and the end of the run). */
export interface SelfPlayCheck {
  episode: number;
  vs_random: PointsResult;
  vs_first: PointsResult;
  vs_scripted: PointsResult;
}

/** The options of train() (src/lib/trainer/train.ts) that a self-play run takes. */
export interface SelfPlayOptions {
  /** Refused: a self-play run cannot be resumed. */
  resume?: string;
  /** Write into this existing run directory instead of a new one. */
  runDir?: string;
  /** Called for every finished point. */
  onEpisode?: (ep: EpisodeResult) => void;
  /** Stops the run (with a checkpoint) when aborted. */
  signal?: AbortSignal;
  /** Console output (default true). */
  quiet?: boolean;
}

/** summary.json of a self-play run: the fields of a training run's summary (train.ts TrainSummary;
 * nothing is "solved" in competitive mode) with the self-play results. */
export interface SelfPlaySummary {
  solved: false;
  episodes_to_solve: null;
  episodes: number;
  wall_s: number;
  at_solve: null;
  best_avg100: null;
  env_steps: number;
  updates: number;
  stopped: StopReason;
  final_eval: null;
  selection: Selection | null;
  diagnostics: { dead_gradient_alarms: number; actor_resets: number; mean_saturation: number | null; last_q_mean: number | null; recent: RecentStats | null };
  run_dir: string;
  self_play: {
    elo: number;
    /** The learner's share of won points over the last 100 against the pool (draws count as not won). */
    win_rate100: number | null;
    snapshots: number;
    pool: { id: number; env_steps: number; rating: number }[];
    /** The final policy's greedy check (train.evalEpisodes points each), or null when evalEpisodes is 0. */
    final_check: SelfPlayCheck | null;
    /** The same check of the policy the run ended with (the final one unless selfPlay.keepBest replaced it). */
    last_check: SelfPlayCheck | null;
    checks: SelfPlayCheck[];
  };
}

/** A checked policy kept by selfPlay.keepBest. */
interface KeptPolicy {
  check: SelfPlayCheck;
  params: Float32Array;
  norm: ReturnType<RunningNorm["toJSON"]> | null;
}

/** What selfPlay.keepBest ranks checks by: the mean score (wins plus half the draws, per point) against
 * random play and against the scripted controller. */
export function checkScore(check: SelfPlayCheck): number {
  const score = (r: PointsResult) => (r.wins + r.draws / 2) / r.points;
  return (score(check.vs_random) + score(check.vs_scripted)) / 2;
}

/** Whether a config trains by self-play: competitive mode with selfPlay.enabled. */
export function selfPlayApplies(config: Config): boolean {
  return config.env.mode === "competitive" && config.selfPlay.enabled;
}

/** The opponent in play: its learner, observation statistics and rating, and what it is for the log. */
interface Opponent {
  choice: OpponentChoice["kind"];
  /** Snapshot id, -1 for the learner as it was at the swap, kScriptedId for the scripted controller. */
  id: number;
  /** Its Elo rating; NaN for the scripted controller, whose points leave the learner's rating as it is. */
  rating: number;
  norm: RunningNorm | null;
}

/**
 * Trains the learner by self-play until train.episodes points, writing metrics.jsonl (the Elo series
 * among them), TensorBoard events, checkpoints (the learner, its observation statistics and the pool)
 * and summary.json into a new run directory. Resuming a self-play run is not supported.
 */
export async function trainSelfPlay(config: Config, options: SelfPlayOptions = {}): Promise<SelfPlaySummary> {
  const problems = checkRuntime(config, { cudaAvailable: runtimeInfo().cudaAvailable });
  if (config.env.kind !== "builtin") problems.push("self-play (env.mode competitive with selfPlay.enabled) needs env.kind builtin: the opponent acts in the trainer's process");
  if (problems.length > 0) throw new ConfigError(problems);
  if (options.resume) throw new Error("self-play runs cannot be resumed: start a new run (selfPlay.enabled; --no-self-play trains without self-play)");
  setNumThreads(config.threads);
  const runDir = options.runDir ?? createRunDir(config);
  const lock = lockRunDir(runDir);
  try {
    removeStaleTemps(runDir);
    settleCheckpoints(runDir);
    return await selfPlayLocked(config, options, runDir);
  } finally {
    lock.release();
  }
}

async function selfPlayLocked(config: Config, options: SelfPlayOptions, runDir: string): Promise<SelfPlaySummary> {
  const say = (line: string) => {
    if (!options.quiet) console.log(line);
  };
  say(`Run directory: ${runDir}`);
  const { train: t, buffer: b, selfPlay: sp } = config;
  const env = new BuiltinVecEnv({ numEnvs: config.env.envs, seed: config.seed, ...envVariant(config), threads: Math.min(config.threads, config.env.envs) });
  const n = env.numEnvs;
  const buffer = new ReplayBuffer({ capacity: b.capacity, prioritized: b.prioritized, alpha: b.alpha, beta0: b.beta0, betaSteps: b.betaSteps, seed: config.seed });
  const accumulator = new NStepAccumulator(n, t.nStep, config.agent.gamma);
  const agent = new Maddpg(maddpgOptions(config));
  const opponentAgent = new Maddpg(maddpgOptions(config));
  const logger = new Logger([new JsonlSink(join(runDir, "metrics.jsonl"))]);
  const started = Date.now();
  const wall = () => (Date.now() - started) / 1000;
  if (config.log.tensorboard) logger.addSink(openTensorBoard(config, runDir, wall));

  const pool = new OpponentPool({ window: sp.window, latestRatio: sp.latestRatio, scriptedRatio: sp.scriptedRatio, seed: config.seed });
  const warmup = new Rng((config.seed ^ 0x9e3779b9) >>> 0);
  const tracker = new ScoreTracker(n, t.window, Infinity);
  let norm = t.normalizeObs ? new RunningNorm(OBS_SIZE) : null;
  // The learner's racket per env: env e starts on side e % 2 and changes sides after every point.
  const sides = Uint8Array.from({ length: n }, (_, e) => e % 2);
  const recent: number[] = [];
  const checks: SelfPlayCheck[] = [];
  let rating = kInitialElo;
  let opponent: Opponent | null = null;
  let firstSnapshot: { params: Float32Array; norm: RunningNorm | null } | null = null;
  let [envSteps, updates, episodes, episodeUpdates, lastSave, lastSwap] = [0, 0, 0, 0, 0, 0];
  let swapDue = false;
  // train.stallEpisodes: points in a row in which the learner's racket never sent the ball over the net.
  const sentOver = new Uint8Array(n);
  let [stallRun, actorResets] = [0, 0];
  let stopped: StopReason = "episodes";
  let lastCheckpointAt = -1;
  // selfPlay.keepBest: the best-checked policy so far, with its observation statistics.
  let best: KeptPolicy | null = null;
  const finalLabel = () => `ep${String(episodes).padStart(7, "0")}${stopped === "interrupted" ? "-interrupted" : ""}`;

  const actions = new Float32Array(n * 4);
  const opponentActions = new Float32Array(n * 4);
  const joint = new Float32Array(n * 4);
  const normObs = new Float32Array(n * 48);
  const normNextObs = new Float32Array(n * 48);
  const opponentObs = new Float32Array(n * 48);
  const shaped = new Float32Array(n * 2);
  // Steps of each env's point so far, and the dones with the points cut at train.maxSteps.
  const pointSteps = new Int32Array(n);
  const cutDones = new Float32Array(n * 2);
  const sampleOptions = { earlyTrainingSteps: t.earlyTrainingSteps, negSamplingRatio: t.negSamplingRatio };

  const takeSnapshot = () => {
    const params = agent.getParameters();
    const snapshot = pool.add(params, rating, envSteps, norm?.toJSON() ?? null);
    firstSnapshot ??= { params: snapshot.params, norm: normOf(snapshot.norm) };
    lastSave = envSteps;
  };
  const swapOpponent = () => {
    const choice = pool.sample();
    if (choice.kind === "scripted") {
      opponent = { choice: "scripted", id: kScriptedId, rating: NaN, norm: null };
    } else if (choice.kind === "latest") {
      opponentAgent.setParameters(agent.getParameters());
      opponent = { choice: "latest", id: -1, rating, norm: norm && RunningNorm.fromJSON(norm.toJSON()) };
    } else {
      opponentAgent.setParameters(choice.snapshot.params);
      opponent = { choice: "snapshot", id: choice.snapshot.id, rating: choice.snapshot.rating, norm: normOf(choice.snapshot.norm) };
    }
    [lastSwap, swapDue] = [envSteps, false];
  };
  const check = async (episode: number, points: number): Promise<SelfPlayCheck> => {
    const seed = (config.seed + 1_000_003 + episode) >>> 0;
    const player = new LearnerPlayer("learner", agent, norm, checkEnvs(points));
    const first = new Maddpg(maddpgOptions(config));
    first.setParameters(firstSnapshot!.params);
    const firstPlayer = new LearnerPlayer("first snapshot", first, firstSnapshot!.norm, checkEnvs(points), true);
    const random = await randomPlayer(points, seed);
    const scripted = await scriptedPlayer();
    try {
      const { observeBallVelocity } = config.env;
      return {
        episode,
        vs_random: playPoints(player, random, points, seed, observeBallVelocity),
        vs_first: playPoints(player, firstPlayer, points, seed, observeBallVelocity),
        vs_scripted: playPoints(player, scripted, points, seed, observeBallVelocity),
      };
    } finally {
      firstPlayer.dispose();
      random.dispose();
      scripted.dispose();
    }
  };
  const checkpoint = async (label: string) => {
    await writeCheckpoint(runDir, label, async (dir) => {
      await agent.save(join(dir, "agent.pt"));
      writeFileSync(join(dir, kPoolFile), pool.paramsBytes());
      // The anchor of the ratings stays with every checkpoint, also once it has left the pool's window.
      if (firstSnapshot) writeFileSync(join(dir, kFirstSnapshotFile), new Uint8Array(firstSnapshot.params.buffer, firstSnapshot.params.byteOffset, firstSnapshot.params.byteLength));
      // The fields of the trainer's own trainer.json that readers of a checkpoint (eval, export, match) use.
      writeJson(join(dir, kTrainerFile), {
        envSteps, updates, episodes, warmupRng: warmup.state32, scores: [], averages: [], tracker: tracker.toJSON(), norm: norm?.toJSON(),
        selfPlay: { elo: rating, pool: pool.toJSON(), sides: Array.from(sides), first_norm: firstSnapshot?.norm?.toJSON() ?? null },
      });
    });
    lastCheckpointAt = envSteps;
  };

  let obs = await env.reset();
  let stepsAtLastLine = 0;
  let timeAtLastLine = Date.now();
  try {
    while (episodes < t.episodes) {
      if (options.signal?.aborted) {
        stopped = "interrupted";
        break;
      }
      const learning = envSteps >= t.warmupSteps;
      if (learning && pool.count === 0) {
        takeSnapshot();
        swapOpponent();
      }
      const seen = norm ? norm.normalize(obs, normObs) : obs;
      if (learning) {
        agent.act(seen, actions, true);
        const op = opponent!;
        if (op.choice === "scripted") gatherSides(actions, env.env.competitiveActions(), sides, joint);
        else {
          opponentAgent.act(op.norm ? op.norm.normalize(obs, opponentObs) : obs, opponentActions, false);
          gatherSides(actions, opponentActions, sides, joint);
        }
      } else warmup.fillSigned(joint);
      const step = await env.step(joint);
      envSteps += n;
      // train.maxSteps: a point that long ends here as a draw, as the env's own 1001-step cap ends one.
      const cut = cutLongPoints(pointSteps, step.dones, t.maxSteps, cutDones);
      const dones = cut ? cutDones : step.dones;
      if (norm) norm.update(step.nextObs);
      const nextSeen = norm ? norm.normalize(step.nextObs, normNextObs) : step.nextObs;
      for (let e = 0; e < n; e++) if (crossedNet(obs, step.nextObs, dones, 2 * e + sides[e])) sentOver[e] = 1;
      const rewards = sp.hitBonus > 0 ? addHitBonus(obs, step.nextObs, step.rewards, dones, sp.hitBonus, shaped) : step.rewards;
      accumulator.add(buffer, seen, joint, rewards, nextSeen, dones);
      const finished = tracker.addStep(step.rewards, dones);
      if (finished.length > 0) agent.resetNoise(doneMask(dones, n));
      // The finished episodes, in env order (ScoreTracker reports them so).
      let f = 0;
      for (let e = 0; e < n && f < finished.length; e++) {
        if (dones[2 * e] === 0) continue;
        const ep = finished[f++];
        const side = sides[e];
        const result = Math.sign(ep.agentScores[side]);
        sides[e] = 1 - side;
        stallRun = sentOver[e] ? 0 : stallRun + 1;
        sentOver[e] = 0;
        // A saturated actor that never reaches the ball loses every serve and wins only the opponent's
        // misses; as in the cooperative trainer, the actors then start afresh (critics and replay stay).
        if (learning && t.stallEpisodes > 0 && stallRun >= t.stallEpisodes) {
          stallRun = 0;
          actorResets += 1;
          agent.resetActors((config.seed + 0x9e3779b9 * actorResets) >>> 0);
          say(`The learner sent no ball over the net in ${t.stallEpisodes} points: its actors start afresh (restart ${actorResets}, point ${ep.episode}).`);
        }
        episodes = ep.episode;
        if (learning && opponent) {
          const op: Opponent = opponent;
          // Only the learner's rating moves: a snapshot keeps the rating it was taken with. Points against
          // the scripted controller (which has no rating) and the moving win rate leave it out.
          if (op.choice !== "scripted") {
            [rating] = updateElo(rating, op.rating, (result + 1) / 2, sp.eloK);
            recent.push(result === 1 ? 1 : 0);
            if (recent.length > kWinWindow) recent.shift();
            logger.record("selfplay/opponent_elo", op.rating);
          }
          logger.record("selfplay/elo", rating);
          logger.record("selfplay/result", result);
          if (recent.length > 0) logger.record("selfplay/win_rate100", mean(recent));
          logger.record("selfplay/opponent", op.id);
          logger.record("selfplay/pool_size", pool.snapshots.length);
        }
        logger.record("rollout/episode_steps", ep.steps);
        logger.record("rollout/score_agent0", ep.agentScores[0]);
        logger.record("rollout/score_agent1", ep.agentScores[1]);
        logger.record("rollout/noise_scale", agent.stats().noiseScale ?? 0);
        logger.record("time/env_steps", envSteps);
        logger.record("time/updates", updates);
        // Checks play the policy of this point's updates, logged in the point's row.
        const checkDue = learning && firstSnapshot !== null && sp.checkEvery > 0 && ep.episode % sp.checkEvery === 0;
        const checked = checkDue ? await check(ep.episode, sp.checkPoints) : null;
        if (checked) {
          checks.push(checked);
          if (sp.keepBest && (best === null || checkScore(checked) >= checkScore(best.check))) {
            best = { check: checked, params: agent.getParameters(), norm: norm?.toJSON() ?? null };
          }
          logger.record("eval/win_rate_vs_random", checked.vs_random.winRate);
          logger.record("eval/win_rate_vs_first", checked.vs_first.winRate);
          logger.record("eval/win_rate_vs_scripted", checked.vs_scripted.winRate);
        }
        logger.dump(ep.episode);
        options.onEpisode?.(ep);
        if (ep.episode % config.log.every === 0) {
          const now = Date.now();
          const sps = ((envSteps - stepsAtLastLine) * 1000) / Math.max(1, now - timeAtLastLine);
          [stepsAtLastLine, timeAtLastLine] = [envSteps, now];
          say(episodeLine(ep.episode, rating, recent, opponent, pool.snapshots.length, ep.steps, updates, sps));
        }
        if (checked) say(checkLine(checked, wall()));
      }
      // The cut envs start their next point (the others' rows stay as the step returned them).
      obs = cut ? env.env.resetWhere(cutMask(cutDones, step.dones)) : step.obs;
      if (finished.length > 0) episodeUpdates = 0;
      if (learning && envSteps - lastSave >= sp.saveSteps) takeSnapshot();
      if (learning && envSteps - lastSwap >= sp.swapSteps) swapDue = true;
      // A new opponent takes over at the end of a point, so each point (with one env) has one opponent.
      if (swapDue && finished.length > 0) swapOpponent();

      const k = t.maxUpdatesPerEpisode > 0 ? Math.min(t.updatesPerStep, t.maxUpdatesPerEpisode - episodeUpdates) : t.updatesPerStep;
      if (learning && k > 0 && buffer.size >= t.batchSize && (envSteps / n) % t.trainEvery === 0) {
        const stats = await agent.update(buffer, k, sampleOptions);
        episodeUpdates += stats.updates;
        updates += stats.updates;
        if (!Number.isFinite(stats.criticLoss) || (stats.actorUpdates > 0 && !Number.isFinite(stats.actorLoss))) {
          stopped = "nan";
          say(`Stopping: the loss became ${stats.criticLoss} (critic) / ${stats.actorLoss} (actor) at update ${updates}; the last checkpoint is the last good state.`);
          break;
        }
        logger.recordMean("train/critic_loss", stats.criticLoss);
        logger.recordMean("train/q_mean", stats.qMean);
        if (Number.isFinite(stats.saturation)) logger.recordMean("train/action_saturation", stats.saturation);
        if (stats.actorUpdates > 0) logger.recordMean("train/actor_loss", stats.actorLoss);
      }
      if (t.checkpointEvery > 0 && crossed(episodes, finished.length, t.checkpointEvery) && episodes < t.episodes) {
        await checkpoint(`ep${String(episodes).padStart(7, "0")}`);
      }
    }
    if (stopped !== "nan" && lastCheckpointAt !== envSteps) await checkpoint(finalLabel());
  } finally {
    logger.close();
  }
  try {
    let finalCheck: SelfPlayCheck | null = null;
    if (t.evalEpisodes > 0 && stopped !== "nan" && firstSnapshot) {
      finalCheck = await check(episodes, Math.max(2, t.evalEpisodes));
      say(`Final policy (after point ${episodes}): ${checkLine(finalCheck, wall())}`);
    }
    const lastCheck = finalCheck;
    let selection: Selection | null = null;
    if (finalCheck) {
      const kept: KeptPolicy | null = best;
      const restored = kept !== null && checkScore(kept.check) > checkScore(finalCheck);
      selection = restored
        ? { episode: kept.check.episode, check_score: checkScore(kept.check), check_episodes: kept.check.vs_random.points, restored }
        : { episode: episodes, check_score: checkScore(finalCheck), check_episodes: finalCheck.vs_random.points, restored };
      if (restored) {
        agent.setParameters(kept.params);
        norm = normOf(kept.norm);
        await checkpoint(`${finalLabel()}-selected`);
        finalCheck = await check(episodes, Math.max(2, t.evalEpisodes));
        say(`Final policy: the one checked after point ${kept.check.episode} (its check ${checkScore(kept.check).toFixed(3)} beat the last policy's): ${checkLine(finalCheck, wall())}`);
      }
    }
    const summary: SelfPlaySummary = {
      solved: false,
      episodes_to_solve: null,
      episodes,
      wall_s: Number(wall().toFixed(2)),
      at_solve: null,
      best_avg100: null,
      env_steps: envSteps,
      updates,
      stopped,
      final_eval: null,
      selection,
      diagnostics: { dead_gradient_alarms: 0, actor_resets: actorResets, mean_saturation: null, last_q_mean: null, recent: null },
      run_dir: runDir,
      self_play: {
        elo: rating,
        win_rate100: recent.length ? mean(recent) : null,
        snapshots: pool.count,
        pool: pool.snapshots.map((s) => ({ id: s.id, env_steps: s.envSteps, rating: s.rating })),
        final_check: finalCheck,
        last_check: lastCheck,
        checks,
      },
    };
    say(`Self-play: ${episodes} points in ${formatDuration(summary.wall_s)} (${envSteps} env steps, ${updates} updates); Elo ${rating.toFixed(0)} (first snapshot ${kInitialElo}), ${pool.count} snapshots.`);
    writeJson(join(runDir, "summary.json"), summary);
    return summary;
  } finally {
    await env.close();
    buffer.dispose();
    agent.dispose();
    opponentAgent.dispose();
  }
}

/** Slot of the newest frame's ball x (in the agent's own frame: its side negative) in an agent's observation. */
const kBallX = OBS_NEWEST_FRAME + FRAME_BALL_X;

/**
 * selfPlay.hitBonus: the stored rewards plus `bonus` for each racket that sent the ball over the net
 * in this step (its ball x, in its own frame, went from its side to the other's), and minus `bonus` for
 * the other racket, so the game stays zero-sum; a ball on a racket's side can only leave it over the
 * net by that racket's hit. Without it the learner finds that touching a ball it cannot yet send over
 * delays the point's -1, which discounting rewards: it juggles the ball on its own side. The step that ends a point is left as it
 * is (its next observation is already the next point's). The log, results and Elo use the env's rewards.
 */
export function addHitBonus(obs: Float32Array, nextObs: Float32Array, rewards: Float32Array, dones: Float32Array, bonus: number, out: Float32Array): Float32Array {
  out.set(rewards);
  for (let row = 0; row < rewards.length; row++) {
    if (!crossedNet(obs, nextObs, dones, row)) continue;
    out[row] += bonus;
    out[row ^ 1] -= bonus;
  }
  return out;
}

/** Whether agent row `row` ([env][agent] order) sent the ball over the net in this step (see addHitBonus). */
function crossedNet(obs: Float32Array, nextObs: Float32Array, dones: Float32Array, row: number): boolean {
  return dones[row] === 0 && obs[row * OBS_SIZE + kBallX] < 0 && nextObs[row * OBS_SIZE + kBallX] >= 0;
}

/**
 * Counts a step of every env's point and ends the points that reached `maxSteps` steps without a done:
 * `out` gets the step's dones with 1 for those envs. Returns whether any point was cut; the counts of
 * ended points restart at 0.
 */
export function cutLongPoints(pointSteps: Int32Array, dones: Float32Array, maxSteps: number, out: Float32Array): boolean {
  let cut = false;
  out.set(dones);
  for (let e = 0; e < pointSteps.length; e++) {
    pointSteps[e] += 1;
    if (dones[2 * e] === 0 && pointSteps[e] >= maxSteps) {
      out[2 * e] = out[2 * e + 1] = 1;
      cut = true;
    }
    if (out[2 * e] !== 0) pointSteps[e] = 0;
  }
  return cut;
}

/** The reset mask [envs][2] of the points cutLongPoints cut: done in `cutDones` but not in the env's `dones`. */
function cutMask(cutDones: Float32Array, dones: Float32Array): Float32Array {
  const mask = new Float32Array(dones.length);
  for (let i = 0; i < mask.length; i++) mask[i] = cutDones[i] !== 0 && dones[i] === 0 ? 1 : 0;
  return mask;
}

/** Whether the `count` episodes that ended with this step crossed a multiple of `every`. */
function crossed(episodes: number, count: number, every: number): boolean {
  return count > 0 && Math.floor(episodes / every) > Math.floor((episodes - count) / every);
}

function mean(values: number[]): number {
  return values.reduce((a, v) => a + v, 0) / values.length;
}

function doneMask(dones: Float32Array, n: number): Uint8Array {
  const mask = new Uint8Array(n);
  for (let e = 0; e < n; e++) mask[e] = dones[2 * e] !== 0 ? 1 : 0;
  return mask;
}

/** "Point 250 | Elo 1287 | won 58% of the last 100 vs the pool | opponent snapshot 3 (1240) | pool 4 | Steps 23 | Updates 9000 | 180 steps/s" */
function episodeLine(episode: number, rating: number, recent: number[], opponent: Opponent | null, poolSize: number, steps: number, updates: number, sps: number): string {
  const won = recent.length ? `won ${Math.round(100 * mean(recent))}% of the last ${recent.length} vs the pool` : opponent === null ? "warm-up" : "no point vs the pool yet";
  const against = opponent === null ? "random" : opponent.choice === "scripted" ? "scripted" : opponent.id < 0 ? `itself (${opponent.rating.toFixed(0)})` : `snapshot ${opponent.id} (${opponent.rating.toFixed(0)})`;
  return `Point ${episode} | Elo ${rating.toFixed(0)} | ${won} | opponent ${against} | pool ${poolSize} | Steps ${steps} | Updates ${updates} | ${Math.round(sps)} steps/s`;
}

/** "Check after point 500: vs random 97/100 won (2 lost, 1 drawn), vs first snapshot 71/100 won (...) | 2m10s" */
function checkLine(check: SelfPlayCheck, wallSeconds: number): string {
  const part = (r: PointsResult) => `${r.wins}/${r.points} won (${r.losses} lost, ${r.draws} drawn)`;
  return `Check after point ${check.episode}: vs random ${part(check.vs_random)}, vs first snapshot ${part(check.vs_first)}, vs scripted ${part(check.vs_scripted)} | ${formatDuration(wallSeconds)}`;
}

/** The run's event file, scalars by env step, with the hyperparameters as a text table. */
function openTensorBoard(config: Config, runDir: string, elapsed: () => number): TensorBoardSink {
  const sink = new TensorBoardSink(join(runDir, "tb"), undefined, { stepKey: "time/env_steps", episodeTags: ["selfplay/elo"], elapsed });
  const { log: _log, ...trained } = config;
  sink.writeText("config", hparamsMarkdown(flattenHParams(trained)));
  return sink;
}
