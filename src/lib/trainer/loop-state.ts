// The training loop's own state in a checkpoint (trainer.json): counters, scores, RNG and log positions,
// read back with every field checked so a damaged file is named instead of failing later in the loop.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

import type { PendingRecord } from "../log/logger.ts";
import { CheckpointError } from "./checkpoint.ts";
import { RunningNorm } from "./normalize.ts";
import type { ScoreTracker } from "./scores.ts";

export const kTrainerFile = "trainer.json";

/** Per-agent observation and reward statistics of the latest stored transitions. */
export type RecentStats = Record<string, number>;

/** How a run ended; "interrupted" runs are resumed, the others are finished. */
export type StopReason = "solved" | "episodes" | "interrupted" | "nan" | "dead_gradients";

/** The policy a finished run ends with, as its checks (train.selectEvery, select.ts) chose it. */
export interface Selection {
  /** Episode after which the final policy was checked. */
  episode: number;
  /** Its greedy check score (mean over check_episodes episodes). */
  check_score: number;
  /** train.selectEpisodes, or train.confirmEpisodes for a confirmed check. */
  check_episodes: number;
  /** Whether it replaced the policy the run ended with. */
  restored: boolean;
}

/** The counters a checkpoint restores besides the native state. */
export interface LoopState {
  envSteps: number;
  updates: number;
  /** Updates since the last episode end (train.maxUpdatesPerEpisode). */
  episodeUpdates: number;
  episodes: number;
  wallBefore: number;
  deadRun: number;
  deadAlarms: number;
  /** Learning episodes in a row without a point, and the actor restarts so far (train.stallEpisodes). */
  stallRun: number;
  actorResets: number;
  scores: number[];
  averages: number[];
  warmupRng: number;
  tracker: ReturnType<ScoreTracker["toJSON"]>;
  norm?: ReturnType<RunningNorm["toJSON"]>;
  atSolve?: { wall_s: number; env_steps: number; updates: number } | null;
  /** summary.diagnostics so far: action saturation sums, the last update's mean Q, the latest recent stats. */
  saturationSum: number;
  saturationCount: number;
  lastQMean: number | null;
  recent: RecentStats | null;
}

/** What a checkpoint adds to the loop state. */
export interface SavedState extends LoopState {
  /** The logger's undumped records and the length of each log file (relative to the run directory). */
  log?: { pending: PendingRecord; files: Record<string, number> };
  /** Set in the checkpoint a finished run ends with: why it stopped and its final policy's check. */
  final?: { stopped: Exclude<StopReason, "interrupted">; selection: Selection | null };
}

const kRequired = ["envSteps", "updates", "episodes", "warmupRng", "scores", "averages", "tracker"];
const kNumbers = ["envSteps", "updates", "episodeUpdates", "episodes", "wallBefore", "deadRun", "deadAlarms", "stallRun", "actorResets", "warmupRng", "saturationSum", "saturationCount"];

/** trainer.json of a checkpoint folder; throws CheckpointError naming the field that is wrong. */
export function readSavedState(dir: string): SavedState {
  let saved: unknown;
  try {
    saved = JSON.parse(readFileSync(join(dir, kTrainerFile), "utf8"));
  } catch (err) {
    throw new CheckpointError(dir, kTrainerFile, `not valid JSON (${(err as Error).message})`);
  }
  const problem = savedStateProblem(saved);
  if (problem !== null) throw new CheckpointError(dir, kTrainerFile, problem);
  return saved as SavedState;
}

/** The observation statistics saved in a checkpoint folder (null when the run did not normalise). */
export function loadObsNorm(checkpointDir: string): RunningNorm | null {
  if (!existsSync(join(checkpointDir, kTrainerFile))) return null;
  const saved = readSavedState(checkpointDir);
  return saved.norm ? RunningNorm.fromJSON(saved.norm) : null;
}

function savedStateProblem(saved: unknown): string | null {
  if (!isRecord(saved)) return "expected a JSON object";
  const missing = kRequired.find((key) => !(key in saved));
  if (missing !== undefined) return `\`${missing}\` is missing`;
  const notNumber = kNumbers.find((key) => key in saved && !isFiniteNumber(saved[key]));
  if (notNumber !== undefined) return `\`${notNumber}\` is not a finite number`;
  const notArray = ["scores", "averages"].find((key) => !isNumberArray(saved[key]));
  if (notArray !== undefined) return `\`${notArray}\` is not an array of numbers`;
  const { tracker, norm, log } = saved;
  if (!isRecord(tracker) || !isNumberArray(tracker.sums) || !isNumberArray(tracker.steps) || !isNumberArray(tracker.recent) || !isFiniteNumber(tracker.episodes)) {
    return "`tracker` is not a score tracker's state";
  }
  if (norm !== undefined && (!isRecord(norm) || !isNumberArray(norm.mean) || !isNumberArray(norm.var) || !isFiniteNumber(norm.count))) {
    return "`norm` is not observation statistics";
  }
  if (log !== undefined && (!isRecord(log) || !isRecord(log.pending) || !isRecord(log.files) || !Object.values(log.files).every(isFiniteNumber))) {
    return "`log` is not log positions";
  }
  return null;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isFiniteNumber(value: unknown): value is number {
  return typeof value === "number" && Number.isFinite(value);
}

function isNumberArray(value: unknown): value is number[] {
  return Array.isArray(value) && value.every((v) => typeof v === "number");
}
