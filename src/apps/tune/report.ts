// What a study leaves for people: a table of the best trials, the best trial's config as a file for
// `tennis-train train --config`, every trial as trials.csv and study.json, and a PNG of the objective
// per trial.
import { renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";

import { resolveConfig } from "../../lib/config/resolve.ts";
import { objectiveSpec, writeChart } from "../../lib/log/plot.ts";
import { writeJson } from "../../lib/trainer/run-dir.ts";
import { formatParams, trialLayer } from "./study.ts";
import type { RunningTrial, StudySettings, StudyStore, TrialRow } from "./store.ts";

/** The complete trials, best first (ties: the earlier trial). */
export function rankTrials(trials: readonly TrialRow[]): TrialRow[] {
  return trials.filter((t) => t.state === "complete" && t.objective !== null).sort((a, b) => a.objective! - b.objective! || a.number - b.number);
}

/** Whether a complete trial's objective holds a penalty (some seed did not solve) instead of a measurement. */
export function hasPenalty(trial: TrialRow): boolean {
  return trial.state === "complete" && trial.seeds.some((s) => !s.solved);
}

/** "150.0", or "penalty 824.8" where an unsolved seed's penalty is part of the objective. */
export function formatObjective(trial: TrialRow, objective: StudySettings["objective"]): string {
  if (trial.objective === null) return "";
  const value = trial.objective.toFixed(objective === "episodes" ? 1 : 2);
  return hasPenalty(trial) ? `penalty ${value}` : value;
}

/** A plain-text table of the `top` best complete trials, then a count of the others by state. */
export function bestTrialsTable(trials: readonly TrialRow[], settings: StudySettings, top = 10): string {
  const ranked = rankTrials(trials).slice(0, top);
  const header = ["rank", "trial", "objective", "per seed", "parameters"];
  const rows = ranked.map((t, i) => [
    String(i + 1),
    String(t.number),
    formatObjective(t, settings.objective),
    t.seeds.map((s) => (s.solved ? `${s.seed}:solved@${s.episodesToSolve}` : `${s.seed}:avg ${s.bestAverage?.toFixed(3) ?? "n/a"}`)).join(" "),
    formatParams(t.params),
  ]);
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
  const line = (cells: string[]) => cells.map((cell, c) => (c === cells.length - 1 ? cell : cell.padEnd(widths[c]))).join("  ");
  const counts = (["complete", "pruned", "failed", "running", "waiting"] as const)
    .map((state) => [state, trials.filter((t) => t.state === state).length] as const)
    .filter(([, n]) => n > 0)
    .map(([state, n]) => `${n} ${state}`)
    .join(", ");
  const measure = settings.objective === "episodes" ? "episodes to solve" : "seconds to solve";
  const title = `Best trials (objective: ${measure}, lower is better; "penalty": a seed did not solve and counts its budget x (2 - best average / target); ${counts || "no trials"}):`;
  if (rows.length === 0) return `${title}\n  (no complete trial yet)`;
  return [title, line(header), ...rows.map(line)].join("\n");
}

/**
 * Writes the best trial's config as a partial config (--config layer < space base < parameters), valid
 * for `tennis-train train --config FILE`; tune's per-trial settings (seed, threads, run folder) are left out.
 */
export function writeBestConfig(path: string, best: TrialRow, settings: StudySettings, name: string): Record<string, unknown> {
  const config = { ...trialLayer(settings, best.params), name };
  resolveConfig({ fileObject: config });
  writeJson(path, config);
  return config;
}

/** One CSV field: quoted when it holds a comma, a quote or a line break (RFC 4180). */
function csvField(value: unknown): string {
  const text = value === null || value === undefined ? "" : typeof value === "string" ? value : JSON.stringify(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/**
 * trials.csv: one row per trial in number order, the objective and whether it is a penalty, the seeds'
 * outcomes, then one column per search-space parameter.
 */
export function trialsCsv(trials: readonly TrialRow[], settings: StudySettings): string {
  const paramNames = [...new Set([...Object.keys(settings.space.params), ...trials.flatMap((t) => Object.keys(t.params))])];
  const header = ["trial", "state", "objective", "objective_is_penalty", "seeds", "solved_seeds", "episodes_to_solve", "attempts", "reached", "started_at", "ended_at", "error", ...paramNames];
  const rows = [...trials]
    .sort((a, b) => a.number - b.number)
    .map((t) => [
      t.number,
      t.state,
      t.objective,
      t.state === "complete" ? hasPenalty(t) : "",
      t.seeds.map((s) => s.seed).join(";"),
      t.seeds.filter((s) => s.solved).length,
      t.seeds.map((s) => (s.solved ? s.episodesToSolve : "")).join(";"),
      t.attempts,
      t.reached,
      t.startedAt,
      t.endedAt,
      t.error,
      ...paramNames.map((name) => t.params[name]),
    ]);
  return [header, ...rows].map((row) => row.map(csvField).join(",")).join("\n") + "\n";
}

/** What study.json holds: the settings, counts by state, the best trial and every trial. */
export function studyJson(trials: readonly TrialRow[], settings: StudySettings, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const counts: Record<string, number> = {};
  for (const t of trials) counts[t.state] = (counts[t.state] ?? 0) + 1;
  const best = rankTrials(trials)[0] ?? null;
  return { ...extra, settings, counts, best: best && { trial: best.number, objective: best.objective, penalty: hasPenalty(best), params: best.params }, trials };
}

/** Writes trials.csv and study.json into `dir`; returns their paths. */
export function writeStudyExports(dir: string, trials: readonly TrialRow[], settings: StudySettings, extra: Record<string, unknown> = {}): { csv: string; json: string } {
  const csv = join(dir, "trials.csv");
  const json = join(dir, "study.json");
  // Written whole, then renamed: workers sharing a folder may write it at once.
  const tmp = `${csv}.tmp-${process.pid}`;
  writeFileSync(tmp, trialsCsv(trials, settings));
  renameSync(tmp, csv);
  writeJson(json, studyJson(trials, settings, extra));
  return { csv, json };
}

/** What `tune --status` prints and returns. */
export interface StudyStatus {
  study: string;
  storage: string;
  /** null when the storage holds no study of that name. */
  settings: StudySettings | null;
  /** The trial budget and the finished trials (complete, pruned or failed). */
  budget: number;
  finished: number;
  counts: Record<string, number>;
  running: RunningTrial[];
  best: { trial: number; objective: number; penalty: boolean } | null;
  text: string;
}

/** A study's progress: trials by state against the budget, each running trial's worker and heartbeat, the best so far. */
export async function studyStatus(store: StudyStore): Promise<StudyStatus> {
  const settings = await store.settings();
  const base = { study: store.name, storage: store.label, settings };
  if (!settings) return { ...base, budget: 0, finished: 0, counts: {}, running: [], best: null, text: `No study named ${store.name} in ${store.label}` };
  const trials = await store.trials();
  const running = await store.running();
  const counts: Record<string, number> = {};
  for (const t of trials) counts[t.state] = (counts[t.state] ?? 0) + 1;
  const finished = (counts.complete ?? 0) + (counts.pruned ?? 0) + (counts.failed ?? 0);
  const ranked = rankTrials(trials)[0];
  const best = ranked ? { trial: ranked.number, objective: ranked.objective!, penalty: hasPenalty(ranked) } : null;
  const states = (["complete", "pruned", "failed", "running", "waiting"] as const).map((state) => `${counts[state] ?? 0} ${state}`).join(", ");
  const lines = [
    `Study ${store.name} in ${store.label}: ${finished} of ${settings.trials} trials finished (${states})`,
    best ? `Best: trial ${best.trial}, objective ${ranked && formatObjective(ranked, settings.objective)}` : "Best: no complete trial yet",
    ...running.map((t) => `  trial ${t.number} running on ${t.host} (process ${t.pid}, worker ${t.worker}), attempt ${t.attempts}, since ${t.startedAt ?? "?"}, last heartbeat ${t.heartbeatAgeS.toFixed(1)} s ago`),
  ];
  return { ...base, budget: settings.trials, finished, counts, running, best, text: lines.join("\n") };
}

/** The objective chart's files. */
export interface ObjectivePlot {
  png: string | null;  // null where no PNG could be rendered (src/lib/log/plot.ts)
  svg: string;
}

/** Writes `${base}.svg` and `${base}.png`: the objective per trial with labelled axes (src/lib/log/plot.ts). */
export async function plotObjective(trials: readonly TrialRow[], settings: StudySettings, base: string): Promise<ObjectivePlot> {
  const title = settings.objective === "episodes" ? "Episodes to solve (unsolved: penalty)" : "Wall seconds to solve (unsolved: penalty)";
  const [svg, png = null] = await writeChart(objectiveSpec(trials, title), base);
  return { png, svg };
}
