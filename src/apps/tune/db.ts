// The two databases a study can live in, behind one small interface: an SQLite file (better-sqlite3,
// WAL; the embedded default, shared by the processes of one host through SQLite's locking) and
// PostgreSQL (`pg`; shared by workers on any number of hosts). Statements are written once with `?`
// placeholders in the SQL both understand; the few differences are the Dialect's fragments. Transient
// failures (a database restart, a dropped connection, a busy SQLite file) are retried with backoff.
import Database from "better-sqlite3";
import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import pg from "pg";

export type Row = Record<string, unknown>;

/** What differs between the databases, as SQL fragments. */
export interface Dialect {
  name: "sqlite" | "postgresql";
  /** Starts a transaction that writes (SQLite takes the file's write lock at once). */
  begin: string;
  /** The database's clock, seconds since 1970, as a DOUBLE PRECISION expression. */
  now: string;
  /** When the database server last started (seconds since 1970); 0 where there is no server. */
  serverStart: string;
  /** Row locks for the rest of the transaction ("" where the transaction already locks the file). */
  forUpdate: string;
  /** Row locks that skip rows another transaction holds. */
  skipLocked: string;
  /** Serialises schema migrations of concurrent workers, or null. */
  migrationLock: string | null;
}

const kSqlite: Dialect = {
  name: "sqlite",
  begin: "BEGIN IMMEDIATE",
  now: "((julianday('now') - 2440587.5) * 86400.0)",
  serverStart: "0",
  forUpdate: "",
  skipLocked: "",
  migrationLock: null,
};

const kPostgres: Dialect = {
  name: "postgresql",
  begin: "BEGIN",
  now: "CAST(EXTRACT(EPOCH FROM clock_timestamp()) AS DOUBLE PRECISION)",
  serverStart: "CAST(EXTRACT(EPOCH FROM pg_postmaster_start_time()) AS DOUBLE PRECISION)",
  forUpdate: " FOR UPDATE",
  skipLocked: " FOR UPDATE SKIP LOCKED",
  migrationLock: "SELECT pg_advisory_xact_lock(2612026)",
};

export interface Queryable {
  query<T extends Row = Row>(sql: string, params?: readonly unknown[]): Promise<T[]>;
}

export interface SqlDb extends Queryable {
  readonly dialect: Dialect;
  /** The storage as given, with any password replaced by "***". */
  readonly label: string;
  /** Runs `body` in one transaction (retried whole after a transient failure: keep it free of side effects). */
  transaction<T>(body: (tx: Queryable) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export interface RetryOptions {
  /** How long transient failures are retried before the error is thrown, ms. Default 600000. */
  retryWindowMs?: number;
  /** Told about each retry (for a progress line). */
  onRetry?: (error: Error, delayMs: number) => void;
}

/** "sqlite:PATH" (or a bare path) and "postgresql://..." / "postgres://..." open the matching database. */
export async function openDb(storage: string, options: RetryOptions = {}): Promise<SqlDb> {
  if (/^postgres(ql)?:\/\//.test(storage)) return new PostgresDb(storage, options);
  return new SqliteDb(storage.startsWith("sqlite:") ? storage.slice("sqlite:".length) : storage, options);
}

/** What `--storage` says when it is neither form, or null. */
export function storageProblem(storage: string): string | null {
  if (/^postgres(ql)?:\/\//.test(storage)) {
    try {
      new URL(storage);
      return null;
    } catch {
      return `Expected a postgresql://USER@HOST[:PORT]/DATABASE URL for --storage but received "${redact(storage)}"`;
    }
  }
  if (storage.startsWith("sqlite:") && storage.length > "sqlite:".length) return null;
  return `Expected sqlite:PATH or postgresql://USER@HOST[:PORT]/DATABASE for --storage but received ${JSON.stringify(redact(storage))}`;
}

/** The storage with the password of a URL replaced by "***". */
export function redact(storage: string): string {
  return storage.replace(/^(postgres(?:ql)?:\/\/[^:/@]*:)[^@]*@/, "$1***@");
}

const kTransientCodes = new Set(["ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "EAI_AGAIN", "ENOTFOUND", "EHOSTUNREACH", "57P01", "57P02", "57P03", "53300", "40001", "40P01", "SQLITE_BUSY"]);

/** Whether an error is worth retrying: the connection or the server went away, or a lock was contended. */
export function isTransient(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code;
  if (typeof code === "string" && (kTransientCodes.has(code) || /^08/.test(code))) return true;
  const message = error instanceof Error ? error.message : "";
  return /Connection terminated|connection timeout|not queryable|Client has encountered a connection error|terminating connection|the database system is (starting up|shutting down)/i.test(message);
}

/** Runs `attempt` until it succeeds or fails for good: transient failures wait 0.1 s, doubling to 5 s. */
async function withRetry<T>(attempt: () => Promise<T>, options: RetryOptions): Promise<T> {
  const deadline = Date.now() + (options.retryWindowMs ?? 600_000);
  for (let delay = 100; ; delay = Math.min(delay * 2, 5000)) {
    try {
      return await attempt();
    } catch (error) {
      if (!isTransient(error) || Date.now() + delay > deadline) throw error;
      options.onRetry?.(error as Error, delay);
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}

class SqliteDb implements SqlDb {
  readonly dialect = kSqlite;
  readonly label: string;
  private readonly db: Database.Database;
  /** One statement or transaction at a time: the trials of one process share the connection. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(path: string, private readonly options: RetryOptions) {
    const file = resolve(path);
    this.label = `sqlite:${file}`;
    mkdirSync(dirname(file), { recursive: true });
    this.db = new Database(file);
    this.db.pragma("journal_mode = WAL");
    this.db.pragma("busy_timeout = 5000");
  }

  private exclusive<T>(body: () => Promise<T>): Promise<T> {
    const run = this.queue.then(body, body);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private run<T extends Row>(sql: string, params: readonly unknown[]): T[] {
    const statement = this.db.prepare(sql);
    if (statement.reader) return statement.all(...params) as T[];
    statement.run(...params);
    return [];
  }

  query<T extends Row = Row>(sql: string, params: readonly unknown[] = []): Promise<T[]> {
    return this.exclusive(() => withRetry(async () => this.run<T>(sql, params), this.options));
  }

  transaction<T>(body: (tx: Queryable) => Promise<T>): Promise<T> {
    const tx: Queryable = { query: async <R extends Row>(sql: string, params: readonly unknown[] = []) => this.run<R>(sql, params) };
    return this.exclusive(() =>
      withRetry(async () => {
        this.db.exec(this.dialect.begin);
        try {
          const result = await body(tx);
          this.db.exec("COMMIT");
          return result;
        } catch (error) {
          if (this.db.inTransaction) this.db.exec("ROLLBACK");
          throw error;
        }
      }, this.options),
    );
  }

  async close(): Promise<void> {
    await this.queue;
    this.db.close();
  }
}

/** "... WHERE a = ? AND b = ?" -> "... WHERE a = $1 AND b = $2" (the statements hold no literal "?"). */
function numbered(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

class PostgresDb implements SqlDb {
  readonly dialect = kPostgres;
  readonly label: string;
  private readonly pool: pg.Pool;

  constructor(url: string, private readonly options: RetryOptions) {
    this.label = redact(url);
    this.pool = new pg.Pool({ connectionString: url, max: 4, connectionTimeoutMillis: 10_000, idleTimeoutMillis: 30_000 });
    // An idle connection dropped by a server restart: the next query reconnects.
    this.pool.on("error", () => undefined);
  }

  query<T extends Row = Row>(sql: string, params: readonly unknown[] = []): Promise<T[]> {
    return withRetry(async () => (await this.pool.query(numbered(sql), params as unknown[])).rows as T[], this.options);
  }

  transaction<T>(body: (tx: Queryable) => Promise<T>): Promise<T> {
    return withRetry(async () => {
      const client = await this.pool.connect();
      let broken: Error | undefined;
      // A connection lost between two statements is reported as an event, not by a query: keep it
      // from crashing the process; the next statement then fails and the transaction is retried.
      const onError = (error: Error) => {
        broken = error;
      };
      client.on("error", onError);
      try {
        await client.query(this.dialect.begin);
        const result = await body({ query: async <R extends Row>(sql: string, params: readonly unknown[] = []) => (await client.query(numbered(sql), params as unknown[])).rows as R[] });
        await client.query("COMMIT");
        return result;
      } catch (error) {
        // Whatever a lost connection made the statement fail with, the loss is what to retry on.
        if (broken) throw broken;
        if (isTransient(error)) broken = error as Error;
        else await client.query("ROLLBACK").catch(() => undefined);
        throw error;
      } finally {
        client.off("error", onError);
        client.release(broken);
      }
    }, this.options);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
