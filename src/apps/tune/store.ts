// A study in its database (src/apps/tune/db.ts: an SQLite file or PostgreSQL, one schema, versioned
// migrations): the settings, every trial with its state, per-seed results, the worker running it and
// that worker's last heartbeat, and the moving averages reported at checkpoints. Workers in any number
// of processes and hosts share a study: each change is one transaction, waiting trials are claimed with
// row locks that skip rows another worker holds, new trial numbers are drawn under the study row's
// lock, and a trial whose worker stopped sending heartbeats is failed, or queued once more.
import { hostname } from "node:os";

import { processAlive } from "../../lib/util/process.ts";
import { openDb, type RetryOptions, type Row, type SqlDb } from "./db.ts";
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
  /** Why the trial failed, or why an earlier attempt ended (its worker was lost). */
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
  /** A seed sweep: trial n trains seed `seeds[n]` of a fixed config (no search). */
  sweep?: boolean;
}

/** The SQLite file of a study folder (the default storage). */
export const kStudyFile = "study.sqlite";

/** Schema versions in order; a database is brought to the last one when a store opens it. */
const kMigrations: { version: number; sql: string[] }[] = [
  {
    version: 1,
    sql: [
      `CREATE TABLE tune_studies (
        name TEXT PRIMARY KEY,
        settings TEXT NOT NULL,
        created_at TEXT NOT NULL
      )`,
      `CREATE TABLE tune_trials (
        study TEXT NOT NULL REFERENCES tune_studies (name),
        number INTEGER NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('waiting', 'running', 'complete', 'pruned', 'failed')),
        params TEXT NOT NULL,
        objective DOUBLE PRECISION,
        seeds TEXT NOT NULL DEFAULT '[]',
        error TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        started_at TEXT,
        ended_at TEXT,
        reached INTEGER,
        worker TEXT,
        host TEXT,
        pid INTEGER,
        heartbeat DOUBLE PRECISION,
        PRIMARY KEY (study, number)
      )`,
      "CREATE INDEX tune_trials_state ON tune_trials (study, state, number)",
      `CREATE TABLE tune_intermediates (
        study TEXT NOT NULL,
        trial INTEGER NOT NULL,
        seed BIGINT NOT NULL,
        episode INTEGER NOT NULL,
        value DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (study, trial, seed, episode)
      )`,
    ],
  },
];

/** The schema version this code writes. */
export const kSchemaVersion = kMigrations[kMigrations.length - 1].version;

/** A process taking part in a study. */
export interface Worker {
  /** Unique per process: host, pid and a random suffix. */
  id: string;
  host: string;
  pid: number;
}

export function newWorker(): Worker {
  const host = hostname();
  return { id: `${host}:${process.pid}:${Math.random().toString(36).slice(2, 8)}`, host, pid: process.pid };
}

/** What the next claim gave: a trial to run, nothing yet (trials of other workers may still come back), or the end. */
export type Claim = { kind: "trial"; trial: TrialRow } | { kind: "wait" } | { kind: "done" };

/** A running trial taken from a worker that stopped sending heartbeats. */
export interface LostTrial {
  number: number;
  worker: string;
  /** Why: "worker W sent no heartbeat for 61.2 s" or "worker W (process P on this host) is gone". */
  reason: string;
  /** Queued to run again (true) or failed. */
  retried: boolean;
}

export interface ReapOptions {
  /** Seconds without a heartbeat after which a worker counts as dead. */
  graceS: number;
  /** Times a lost trial is queued again before it is failed. */
  retries: number;
  /** Also count as dead, at once, workers of this host whose process is gone (sound for one host's SQLite file). */
  localPids: boolean;
}

interface TrialRecord extends Row {
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
  worker: string | null;
  host: string | null;
  pid: number | null;
  heartbeat: number | null;
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

/** A running trial as `tune --status` shows it. */
export interface RunningTrial {
  number: number;
  worker: string;
  host: string;
  pid: number;
  attempts: number;
  startedAt: string | null;
  /** Seconds since its worker's last heartbeat (database clock). */
  heartbeatAgeS: number;
}

const kFinished = "('complete', 'pruned', 'failed')";

export class StudyStore {
  private constructor(
    private readonly db: SqlDb,
    /** The study's name in the database. */
    readonly name: string,
  ) {}

  /** The storage, password hidden. */
  get label(): string {
    return this.db.label;
  }

  get dialect(): SqlDb["dialect"]["name"] {
    return this.db.dialect.name;
  }

  /** Opens study `name` in `storage` (sqlite:PATH or postgresql://...), bringing the schema up to date. */
  static async open(storage: string, name: string, options: RetryOptions = {}): Promise<StudyStore> {
    const db = await openDb(storage, options);
    try {
      await migrate(db);
    } catch (error) {
      await db.close();
      throw error;
    }
    return new StudyStore(db, name);
  }

  async settings(): Promise<StudySettings | null> {
    const [row] = await this.db.query<{ settings: string }>("SELECT settings FROM tune_studies WHERE name = ?", [this.name]);
    return row ? (JSON.parse(row.settings) as StudySettings) : null;
  }

  /**
   * Stores the settings of a new study; for an existing one, returns the stored settings (before this
   * call) and sets its trial budget to the one given (the last worker to start decides).
   */
  async ensureSettings(settings: StudySettings): Promise<StudySettings | null> {
    return this.db.transaction(async (tx) => {
      // Workers starting at once: one insert wins, the others wait for it and read its row.
      const created = await tx.query("INSERT INTO tune_studies (name, settings, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING RETURNING name", [
        this.name,
        JSON.stringify(settings),
        new Date().toISOString(),
      ]);
      if (created.length > 0) return null;
      const [row] = await tx.query<{ settings: string }>(`SELECT settings FROM tune_studies WHERE name = ?${this.db.dialect.forUpdate}`, [this.name]);
      const stored = JSON.parse(row.settings) as StudySettings;
      if (stored.trials !== settings.trials) {
        await tx.query("UPDATE tune_studies SET settings = ? WHERE name = ?", [JSON.stringify({ ...stored, trials: settings.trials }), this.name]);
      }
      return stored;
    });
  }

  async trials(): Promise<TrialRow[]> {
    return (await this.db.query<TrialRecord>("SELECT * FROM tune_trials WHERE study = ? ORDER BY number", [this.name])).map(toRow);
  }

  async trial(number: number): Promise<TrialRow | null> {
    const [record] = await this.db.query<TrialRecord>("SELECT * FROM tune_trials WHERE study = ? AND number = ?", [this.name, number]);
    return record ? toRow(record) : null;
  }

  /** Trials that are finished (complete, pruned or failed): these count towards the budget's end. */
  async finishedCount(): Promise<number> {
    const [row] = await this.db.query<{ n: number }>(`SELECT CAST(COUNT(*) AS INTEGER) AS n FROM tune_trials WHERE study = ? AND state IN ${kFinished}`, [this.name]);
    return Number(row.n);
  }

  async completeCount(): Promise<number> {
    const [row] = await this.db.query<{ n: number }>("SELECT CAST(COUNT(*) AS INTEGER) AS n FROM tune_trials WHERE study = ? AND state = 'complete'", [this.name]);
    return Number(row.n);
  }

  /**
   * The next trial for `worker`: the lowest-numbered waiting one, else a new one numbered after the
   * last, with parameters from `sample` (run inside the transaction, so it must be pure), while the
   * study has fewer than `budget` trials. Otherwise "wait" while trials are waiting or running in
   * other workers (they may come back), and "done" when the rest are finished or this worker's own.
   */
  async claim(worker: Worker, budget: number, sample: (number: number, history: TrialRow[]) => Record<string, unknown>): Promise<Claim> {
    const { now, skipLocked, forUpdate } = this.db.dialect;
    return this.db.transaction(async (tx): Promise<Claim> => {
      const started = new Date().toISOString();
      const holder = [worker.id, worker.host, worker.pid];
      const [waiting] = await tx.query<{ number: number }>(`SELECT number FROM tune_trials WHERE study = ? AND state = 'waiting' ORDER BY number LIMIT 1${skipLocked}`, [this.name]);
      if (waiting) {
        await tx.query(
          `UPDATE tune_trials SET state = 'running', attempts = attempts + 1, started_at = ?, worker = ?, host = ?, pid = ?, heartbeat = ${now} WHERE study = ? AND number = ?`,
          [started, ...holder, this.name, waiting.number],
        );
        return { kind: "trial", trial: toRow((await tx.query<TrialRecord>("SELECT * FROM tune_trials WHERE study = ? AND number = ?", [this.name, waiting.number]))[0]) };
      }
      // New numbers are drawn one worker at a time: the study's row is the lock.
      await tx.query(`SELECT name FROM tune_studies WHERE name = ?${forUpdate}`, [this.name]);
      const history = (await tx.query<TrialRecord>("SELECT * FROM tune_trials WHERE study = ? ORDER BY number", [this.name])).map(toRow);
      if (history.length >= budget) {
        // Trials this worker runs itself end by its own hand: only other workers' trials are waited for.
        const open = await tx.query<{ number: number }>("SELECT number FROM tune_trials WHERE study = ? AND (state = 'waiting' OR (state = 'running' AND worker <> ?))", [this.name, worker.id]);
        return open.length > 0 ? { kind: "wait" } : { kind: "done" };
      }
      const number = history.length === 0 ? 0 : history[history.length - 1].number + 1;
      const params = sample(number, history);
      await tx.query(
        `INSERT INTO tune_trials (study, number, state, params, attempts, started_at, worker, host, pid, heartbeat) VALUES (?, ?, 'running', ?, 1, ?, ?, ?, ?, ${now})`,
        [this.name, number, JSON.stringify(params), started, ...holder],
      );
      return { kind: "trial", trial: toRow((await tx.query<TrialRecord>("SELECT * FROM tune_trials WHERE study = ? AND number = ?", [this.name, number]))[0]) };
    });
  }

  /** Renews `worker`'s heartbeat on the given running trials; returns those it still holds. */
  async heartbeat(worker: Worker, numbers: readonly number[]): Promise<number[]> {
    if (numbers.length === 0) return [];
    const rows = await this.db.query<{ number: number }>(
      `UPDATE tune_trials SET heartbeat = ${this.db.dialect.now} WHERE study = ? AND worker = ? AND state = 'running' AND number IN (${numbers.map(() => "?").join(", ")}) RETURNING number`,
      [this.name, worker.id, ...numbers],
    );
    return rows.map((r) => Number(r.number));
  }

  /**
   * Takes running trials from dead workers (no heartbeat for `graceS` seconds of the database's clock,
   * counted from the server's last start at the earliest, so a database restart gives every worker a
   * fresh grace period): each is queued to run again while it has retries left, else failed.
   */
  async reapLost(self: Worker, options: ReapOptions): Promise<LostTrial[]> {
    const { now, serverStart, skipLocked } = this.db.dialect;
    return this.db.transaction(async (tx) => {
      const rows = await tx.query<TrialRecord & { db_now: number; server_start: number }>(
        `SELECT number, attempts, worker, host, pid, heartbeat, ${now} AS db_now, ${serverStart} AS server_start FROM tune_trials WHERE study = ? AND state = 'running'${skipLocked}`,
        [this.name],
      );
      const lost: LostTrial[] = [];
      for (const row of rows) {
        if (row.worker === self.id) continue;
        const ageS = Number(row.db_now) - Math.max(Number(row.heartbeat ?? 0), Number(row.server_start));
        const gone = options.localPids && row.host === self.host && row.pid !== null && row.pid !== self.pid && !processAlive(row.pid);
        if (!gone && ageS <= options.graceS) continue;
        const reason = gone ? `worker ${row.worker} (process ${row.pid} on this host) is gone` : `worker ${row.worker} sent no heartbeat for ${ageS.toFixed(1)} s`;
        const retried = row.attempts <= options.retries;
        await tx.query("DELETE FROM tune_intermediates WHERE study = ? AND trial = ?", [this.name, row.number]);
        if (retried) {
          await tx.query(
            "UPDATE tune_trials SET state = 'waiting', seeds = '[]', error = ?, started_at = NULL, worker = NULL, host = NULL, pid = NULL, heartbeat = NULL WHERE study = ? AND number = ?",
            [reason, this.name, row.number],
          );
        } else {
          await tx.query("UPDATE tune_trials SET state = 'failed', error = ?, ended_at = ?, worker = NULL, heartbeat = NULL WHERE study = ? AND number = ?", [
            reason,
            new Date().toISOString(),
            this.name,
            row.number,
          ]);
        }
        lost.push({ number: row.number, worker: row.worker ?? "?", reason, retried });
      }
      return lost;
    });
  }

  /** Records the seeds finished so far of a running trial (so a crash mid-trial keeps them visible). */
  async updateSeeds(worker: Worker, number: number, seeds: SeedResult[]): Promise<void> {
    await this.db.query("UPDATE tune_trials SET seeds = ? WHERE study = ? AND number = ? AND worker = ? AND state = 'running'", [JSON.stringify(seeds), this.name, number, worker.id]);
  }

  /**
   * Writes a trial's result; false when the trial is no longer this worker's (it was taken after
   * missed heartbeats), in which case nothing is written. Writing the same result twice is harmless,
   * so a write retried after a lost acknowledgement succeeds.
   */
  async finish(worker: Worker, number: number, result: { state: "complete" | "pruned" | "failed"; objective: number | null; seeds: SeedResult[]; error?: string | null; reached?: number | null }): Promise<boolean> {
    const rows = await this.db.query(
      "UPDATE tune_trials SET state = ?, objective = ?, seeds = ?, error = COALESCE(?, error), reached = ?, ended_at = ? WHERE study = ? AND number = ? AND worker = ? AND state IN ('running', ?) RETURNING number",
      [result.state, result.objective, JSON.stringify(result.seeds), result.error ?? null, result.reached ?? null, new Date().toISOString(), this.name, number, worker.id, result.state],
    );
    return rows.length > 0;
  }

  /** Puts a running trial of this worker back in the queue (the worker was stopped while it ran). */
  async requeue(worker: Worker, number: number): Promise<void> {
    await this.db.transaction(async (tx) => {
      const rows = await tx.query(
        "UPDATE tune_trials SET state = 'waiting', seeds = '[]', started_at = NULL, worker = NULL, host = NULL, pid = NULL, heartbeat = NULL WHERE study = ? AND number = ? AND worker = ? AND state = 'running' RETURNING number",
        [this.name, number, worker.id],
      );
      if (rows.length > 0) await tx.query("DELETE FROM tune_intermediates WHERE study = ? AND trial = ?", [this.name, number]);
    });
  }

  async addIntermediate(trial: number, seed: number, episode: number, value: number): Promise<void> {
    await this.db.query(
      "INSERT INTO tune_intermediates (study, trial, seed, episode, value) VALUES (?, ?, ?, ?, ?) ON CONFLICT (study, trial, seed, episode) DO UPDATE SET value = excluded.value",
      [this.name, trial, seed, episode, value],
    );
  }

  /** Moving averages of one trial and seed, by episode. */
  async intermediates(trial: number, seed: number): Promise<{ episode: number; value: number }[]> {
    return this.db.query<{ episode: number; value: number }>("SELECT episode, value FROM tune_intermediates WHERE study = ? AND trial = ? AND seed = ? ORDER BY episode", [this.name, trial, seed]);
  }

  /** The complete trials' moving averages at (seed, episode), whichever worker ran them. */
  async completeAt(seed: number, episode: number): Promise<number[]> {
    const rows = await this.db.query<{ value: number }>(
      "SELECT i.value FROM tune_intermediates i JOIN tune_trials t ON t.study = i.study AND t.number = i.trial WHERE i.study = ? AND t.state = 'complete' AND i.seed = ? AND i.episode = ?",
      [this.name, seed, episode],
    );
    return rows.map((r) => r.value);
  }

  /** The running trials with their workers and heartbeat ages. */
  async running(): Promise<RunningTrial[]> {
    const rows = await this.db.query<TrialRecord & { db_now: number }>(
      `SELECT number, worker, host, pid, attempts, started_at, heartbeat, ${this.db.dialect.now} AS db_now FROM tune_trials WHERE study = ? AND state = 'running' ORDER BY number`,
      [this.name],
    );
    return rows.map((r) => ({
      number: r.number,
      worker: r.worker ?? "?",
      host: r.host ?? "?",
      pid: r.pid ?? 0,
      attempts: r.attempts,
      startedAt: r.started_at,
      heartbeatAgeS: Number(r.db_now) - Number(r.heartbeat ?? 0),
    }));
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}

/** Brings the database's schema to kSchemaVersion, one migration per transaction. */
async function migrate(db: SqlDb): Promise<void> {
  await db.transaction(async (tx) => {
    if (db.dialect.migrationLock) await tx.query(db.dialect.migrationLock);
    if (db.dialect.name === "sqlite" && (await tx.query("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'meta'")).length > 0) {
      throw new Error(`${db.label} holds a study of an older tennis-train (tables meta and trials), which this version does not read: start a new --study folder`);
    }
    await tx.query("CREATE TABLE IF NOT EXISTS tune_schema (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)");
    const [row] = await tx.query<{ v: number | null }>("SELECT MAX(version) AS v FROM tune_schema");
    const current = Number(row?.v ?? 0);
    if (current > kSchemaVersion) throw new Error(`The study database ${db.label} has schema version ${current}, newer than this tennis-train's ${kSchemaVersion}: update tennis-train`);
    for (const migration of kMigrations.filter((m) => m.version > current)) {
      for (const statement of migration.sql) await tx.query(statement);
      await tx.query("INSERT INTO tune_schema (version, applied_at) VALUES (?, ?)", [migration.version, new Date().toISOString()]);
    }
  });
}

/** Runs `body` with a store of study `name` in `storage`, closed afterwards. */
export async function withStore<T>(storage: string, name: string, options: RetryOptions, body: (store: StudyStore) => Promise<T>): Promise<T> {
  const store = await StudyStore.open(storage, name, options);
  try {
    return await body(store);
  } finally {
    await store.close();
  }
}
