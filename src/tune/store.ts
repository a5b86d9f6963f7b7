// The study on disk: one SQLite file (better-sqlite3, WAL) holding the settings, every trial with its
// state and per-seed results, and the moving averages reported at checkpoints. Each change is one
// transaction, so a study killed at any moment reopens with every finished trial intact; trials that
// were running when it died are put back in the queue with the same parameters.
import Database from "better-sqlite3";
import { mkdirSync } from "node:fs";
import { join } from "node:path";

import { processAlive } from "../util/process.ts";
import type { SearchSpace } from "./space.ts";

export type TrialState = "waiting" | "running" | "complete" | "pruned" | "failed";
export type Objective = "episodes" | "wall";
export type SamplerName = "tpe" | "random";

/** What one seed of a trial gave. */
export interface SeedResult {
  seed: number;
  state: "complete" | "pruned" | "failed";
  runDir: string;
  solved: boolean;
  episodesToSolve: number | null;
  /** Episodes run (the last one reported, for pruned and failed runs). */
  episodes: number;
  wallS: number | null;
  bestAverage: number | null;
  /** This seed's objective (lower is better); null unless complete. */
  value: number | null;
  error?: string;
}

export interface TrialRow {
  number: number;
  state: TrialState;
  params: Record<string, unknown>;
  /** Mean of the seeds' objectives; null unless complete. */
  objective: number | null;
  seeds: SeedResult[];
  error: string | null;
  /** Times the trial was started (more than 1 after a study was killed while it ran). */
  attempts: number;
  startedAt: string | null;
  endedAt: string | null;
  /** Last checkpoint episode a pruned trial reached. */
  reached: number | null;
}

/** What a study was started with; a resumed study must match it (the trial count may change). */
export interface StudySettings {
  version: 1;
  space: SearchSpace;
  /** The `--config` layer under the space's base (a partial config), or {}. */
  config: Record<string, unknown>;
  objective: Objective;
  seeds: number[];
  sampler: SamplerName;
  samplerSeed: number;
  trials: number;
}

export const kStudyFile = "study.sqlite";

interface TrialRecord {
  number: number;
  state: TrialState;
  params: string;
  objective: number | null;
  seeds: string;
  error: string | null;
  attempts: number;
  started_at: string | null;
  ended_at: string | null;
  reached: number | null;
}

function toRow(r: TrialRecord): TrialRow {
  return {
    number: r.number,
    state: r.state,
    params: JSON.parse(r.params),
    objective: r.objective,
    seeds: JSON.parse(r.seeds),
    error: r.error,
    attempts: r.attempts,
    startedAt: r.started_at,
    endedAt: r.ended_at,
    reached: r.reached,
  };
}

export class StudyStore {
  private readonly db: Database.Database;

  private constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true });
    this.db = new Database(join(dir, kStudyFile));
    this.db.pragma("journal_mode = WAL");
    this.db.pragma("busy_timeout = 5000");
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS trials (
        number INTEGER PRIMARY KEY,
        state TEXT NOT NULL CHECK (state IN ('waiting', 'running', 'complete', 'pruned', 'failed')),
        params TEXT NOT NULL,
        objective REAL,
        seeds TEXT NOT NULL DEFAULT '[]',
        error TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        started_at TEXT,
        ended_at TEXT,
        reached INTEGER
      );
      CREATE TABLE IF NOT EXISTS intermediates (
        trial INTEGER NOT NULL REFERENCES trials(number),
        seed INTEGER NOT NULL,
        episode INTEGER NOT NULL,
        value REAL NOT NULL,
        PRIMARY KEY (trial, seed, episode)
      );
    `);
  }

  /** Opens (creating if needed) the study in `dir`. */
  static open(dir: string): StudyStore {
    return new StudyStore(dir);
  }

  settings(): StudySettings | null {
    const row = this.db.prepare("SELECT value FROM meta WHERE key = 'settings'").get() as { value: string } | undefined;
    return row ? (JSON.parse(row.value) as StudySettings) : null;
  }

  saveSettings(settings: StudySettings): void {
    this.db.prepare("INSERT INTO meta (key, value) VALUES ('settings', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value").run(JSON.stringify(settings));
  }

  /**
   * Claims the study for this process; throws when another live process holds it. A holder that
   * died (killed study) leaves a stale claim, which is taken over.
   */
  acquire(): void {
    this.db.transaction(() => {
      const row = this.db.prepare("SELECT value FROM meta WHERE key = 'owner'").get() as { value: string } | undefined;
      const owner = row ? (JSON.parse(row.value) as { pid: number }) : null;
      if (owner && owner.pid !== process.pid && processAlive(owner.pid)) {
        throw new Error(`The study in ${this.dir} is being run by process ${owner.pid}; wait for it or stop it first`);
      }
      const value = JSON.stringify({ pid: process.pid, since: new Date().toISOString() });
      this.db.prepare("INSERT INTO meta (key, value) VALUES ('owner', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value").run(value);
    })();
  }

  release(): void {
    this.db.prepare("DELETE FROM meta WHERE key = 'owner' AND json_extract(value, '$.pid') = ?").run(process.pid);
  }

  /** Puts trials left running by a dead study back in the queue (their partial records dropped). */
  requeueRunning(): number[] {
    return this.db.transaction(() => {
      const numbers = (this.db.prepare("SELECT number FROM trials WHERE state = 'running'").all() as { number: number }[]).map((r) => r.number);
      for (const number of numbers) {
        this.db.prepare("DELETE FROM intermediates WHERE trial = ?").run(number);
        this.db.prepare("UPDATE trials SET state = 'waiting', seeds = '[]', started_at = NULL WHERE number = ?").run(number);
      }
      return numbers;
    })();
  }

  trials(): TrialRow[] {
    return (this.db.prepare("SELECT * FROM trials ORDER BY number").all() as TrialRecord[]).map(toRow);
  }

  trial(number: number): TrialRow | null {
    const record = this.db.prepare("SELECT * FROM trials WHERE number = ?").get(number) as TrialRecord | undefined;
    return record ? toRow(record) : null;
  }

  /** Trials that are finished (complete, pruned or failed): these count towards --trials. */
  finishedCount(): number {
    return (this.db.prepare("SELECT COUNT(*) AS n FROM trials WHERE state IN ('complete', 'pruned', 'failed')").get() as { n: number }).n;
  }

  /** The lowest-numbered waiting trial, marked running; or null. */
  claimWaiting(): TrialRow | null {
    return this.db.transaction(() => {
      const record = this.db.prepare("SELECT * FROM trials WHERE state = 'waiting' ORDER BY number LIMIT 1").get() as TrialRecord | undefined;
      if (!record) return null;
      this.db.prepare("UPDATE trials SET state = 'running', attempts = attempts + 1, started_at = ? WHERE number = ?").run(new Date().toISOString(), record.number);
      return this.trial(record.number);
    })();
  }

  /** A new running trial with these parameters. */
  createRunning(params: Record<string, unknown>): TrialRow {
    return this.db.transaction(() => {
      const { next } = this.db.prepare("SELECT COALESCE(MAX(number) + 1, 0) AS next FROM trials").get() as { next: number };
      this.db
        .prepare("INSERT INTO trials (number, state, params, attempts, started_at) VALUES (?, 'running', ?, 1, ?)")
        .run(next, JSON.stringify(params), new Date().toISOString());
      return this.trial(next)!;
    })();
  }

  /** Records the seeds finished so far of a running trial (so a crash mid-trial keeps them visible). */
  updateSeeds(number: number, seeds: SeedResult[]): void {
    this.db.prepare("UPDATE trials SET seeds = ? WHERE number = ?").run(JSON.stringify(seeds), number);
  }

  finish(number: number, result: { state: "complete" | "pruned" | "failed"; objective: number | null; seeds: SeedResult[]; error?: string | null; reached?: number | null }): void {
    this.db
      .prepare("UPDATE trials SET state = ?, objective = ?, seeds = ?, error = ?, reached = ?, ended_at = ? WHERE number = ?")
      .run(result.state, result.objective, JSON.stringify(result.seeds), result.error ?? null, result.reached ?? null, new Date().toISOString(), number);
  }

  /** Puts a running trial back in the queue (the study was stopped while it ran). */
  requeue(number: number): void {
    this.db.transaction(() => {
      this.db.prepare("DELETE FROM intermediates WHERE trial = ?").run(number);
      this.db.prepare("UPDATE trials SET state = 'waiting', seeds = '[]', started_at = NULL WHERE number = ? AND state = 'running'").run(number);
    })();
  }

  addIntermediate(trial: number, seed: number, episode: number, value: number): void {
    this.db.prepare("INSERT OR REPLACE INTO intermediates (trial, seed, episode, value) VALUES (?, ?, ?, ?)").run(trial, seed, episode, value);
  }

  /** Moving averages of one trial and seed, by episode. */
  intermediates(trial: number, seed: number): { episode: number; value: number }[] {
    return this.db.prepare("SELECT episode, value FROM intermediates WHERE trial = ? AND seed = ? ORDER BY episode").all(trial, seed) as { episode: number; value: number }[];
  }

  /** The complete trials' moving averages at (seed, episode). */
  completeAt(seed: number, episode: number): number[] {
    const rows = this.db
      .prepare("SELECT i.value FROM intermediates i JOIN trials t ON t.number = i.trial WHERE t.state = 'complete' AND i.seed = ? AND i.episode = ?")
      .all(seed, episode) as { value: number }[];
    return rows.map((r) => r.value);
  }

  completeCount(): number {
    return (this.db.prepare("SELECT COUNT(*) AS n FROM trials WHERE state = 'complete'").get() as { n: number }).n;
  }

  close(): void {
    this.db.close();
  }
}
