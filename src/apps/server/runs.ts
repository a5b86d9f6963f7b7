// Training runs as child processes: a FIFO queue with a concurrency limit, one `node --import tsx
// runner.ts RUN_DIR` process per run (so a crash ends that run only), stop by SIGTERM (a checkpoint,
// then exit) with SIGKILL after a grace period, and events for the metric streams.
import { spawn, type ChildProcess } from "node:child_process";
import { EventEmitter } from "node:events";
import { basename, dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

import { packageRoot } from "../../../binding/package.ts";
import type { Config } from "../../lib/config/types.ts";
import { createRunDir } from "../../lib/trainer/run-dir.ts";
import { openAppendLog } from "../../lib/util/append-log.ts";
import { HttpError } from "./http.ts";
import type { RunnerMessage } from "./runner.ts";
import type { RunStore } from "./run-store.ts";

/** queued -> running -> (stopping ->) finished | stopped | failed; `incomplete`: a run found on disk
 *  without a summary and not started by this server (e.g. a CLI run in progress, or one that died). */
export type RunState = "queued" | "running" | "stopping" | "finished" | "stopped" | "failed" | "incomplete";

/** What the API says about a run. */
export interface RunInfo {
  id: string;
  state: RunState;
  /** Started by this server (and so stoppable through it). */
  managed: boolean;
  createdAt: string | null;
  startedAt: string | null;
  endedAt: string | null;
  /** Episodes finished so far (live for managed runs, from summary.json otherwise). */
  episodes: number | null;
  lastScore: number | null;
  average: number | null;
  /** 1-based place in the queue while queued. */
  queuePosition: number | null;
  error: string | null;
  summary: Record<string, unknown> | null;
}

export interface RunManagerOptions {
  store: RunStore;
  /** Runs training at the same time; the rest wait in the queue. */
  maxConcurrent: number;
  /** Module the child process runs (tests put a fake trainer here). Default: runner.ts. */
  runner?: string;
  /** Milliseconds between SIGTERM and SIGKILL when stopping. Default 60000. */
  stopGraceMs?: number;
}

interface Job {
  id: string;
  dir: string;
  state: RunState;
  createdAt: Date;
  startedAt: Date | null;
  endedAt: Date | null;
  episodes: number;
  lastScore: number | null;
  average: number | null;
  error: string | null;
  summary: Record<string, unknown> | null;
  child: ChildProcess | null;
  stopRequested: boolean;
  stderrTail: string;
  exited: Promise<void> | null;
}

const kDefaultRunner = join(dirname(fileURLToPath(import.meta.url)), "runner.ts");
/** Characters of a runner's stderr kept for the error message of a crashed run. */
const kStderrTail = 2000;

/**
 * Emits `status` (RunInfo) whenever a managed run changes state and `episode` (id, message) for every
 * episode a runner reports.
 */
export class RunManager extends EventEmitter {
  private readonly jobs = new Map<string, Job>();
  private readonly queue: Job[] = [];
  private running = 0;
  private closed = false;
  private readonly runner: string;
  private readonly stopGraceMs: number;

  constructor(private readonly options: RunManagerOptions) {
    super();
    this.runner = options.runner ?? kDefaultRunner;
    this.stopGraceMs = options.stopGraceMs ?? 60_000;
  }

  /** Creates the run directory for a resolved config, queues the run and returns its info. */
  start(config: Config): RunInfo {
    if (this.closed) throw new HttpError(503, "The server is shutting down");
    // The server decides where runs go; progress bars make no sense without a terminal.
    const placed: Config = { ...config, log: { ...config.log, runsDir: this.options.store.root, progress: false } };
    const dir = createRunDir(placed);
    const job: Job = {
      id: basename(dir),
      dir,
      state: "queued",
      createdAt: new Date(),
      startedAt: null,
      endedAt: null,
      episodes: 0,
      lastScore: null,
      average: null,
      error: null,
      summary: null,
      child: null,
      stopRequested: false,
      stderrTail: "",
      exited: null,
    };
    this.jobs.set(job.id, job);
    this.queue.push(job);
    this.changed(job);
    this.pump();
    return this.info(job.id)!;
  }

  /** Stops a queued (removed from the queue) or running (SIGTERM, checkpoint) run. */
  stop(id: string): RunInfo {
    const job = this.jobs.get(id);
    if (!job) throw new HttpError(409, `Run ${id} was not started by this server, so it cannot be stopped here`);
    if (job.state === "queued") {
      this.queue.splice(this.queue.indexOf(job), 1);
      job.state = "stopped";
      job.endedAt = new Date();
      this.changed(job);
      this.queue.forEach((queued) => this.changed(queued));
    } else if (job.state === "running") {
      job.stopRequested = true;
      job.state = "stopping";
      job.child?.kill("SIGTERM");
      const timer = setTimeout(() => job.child?.kill("SIGKILL"), this.stopGraceMs);
      timer.unref();
      void job.exited?.then(() => clearTimeout(timer));
      this.changed(job);
    } else if (job.state !== "stopping") {
      throw new HttpError(409, `Run ${id} is already ${job.state}`);
    }
    return this.info(id)!;
  }

  /** Info of a managed run, or null. */
  info(id: string): RunInfo | null {
    const job = this.jobs.get(id);
    if (!job) return null;
    const place = this.queue.indexOf(job);
    return {
      id: job.id,
      state: job.state,
      managed: true,
      createdAt: job.createdAt.toISOString(),
      startedAt: job.startedAt?.toISOString() ?? null,
      endedAt: job.endedAt?.toISOString() ?? null,
      episodes: job.episodes,
      lastScore: job.lastScore,
      average: job.average,
      queuePosition: place >= 0 ? place + 1 : null,
      error: job.error,
      summary: job.summary,
    };
  }

  has(id: string): boolean {
    return this.jobs.has(id);
  }

  /** Runs training now. */
  get active(): number {
    return this.running;
  }

  /** Stops every run (queued ones are dropped) and waits for the children to exit. */
  async close(): Promise<void> {
    this.closed = true;
    for (const job of [...this.queue]) this.stop(job.id);
    const exits: Promise<void>[] = [];
    for (const job of this.jobs.values()) {
      if (job.state === "running") this.stop(job.id);
      if (job.exited && (job.state === "stopping" || job.state === "running")) exits.push(job.exited);
    }
    await Promise.all(exits);
  }

  private pump(): void {
    while (!this.closed && this.running < this.options.maxConcurrent && this.queue.length > 0) {
      const job = this.queue.shift()!;
      this.launch(job);
      this.queue.forEach((queued) => this.changed(queued));
    }
  }

  private launch(job: Job): void {
    this.running += 1;
    job.state = "running";
    job.startedAt = new Date();
    const child = spawn(process.execPath, ["--import", "tsx", this.runner, job.dir], {
      cwd: packageRoot,
      stdio: ["ignore", "pipe", "pipe"],
      // The runner needs no API token: keep it out of the child's environment.
      env: { ...process.env, TENNIS_TRAIN_TOKEN: undefined },
    });
    job.child = child;
    // A run folder deleted under a running run must not take the server down with it: errors are ignored.
    const log = openAppendLog(join(job.dir, "stderr.log"));
    child.stderr!.on("data", (chunk: Buffer) => {
      log?.write(chunk);
      job.stderrTail = (job.stderrTail + chunk.toString("utf8")).slice(-kStderrTail);
    });
    const lines = createInterface({ input: child.stdout! });
    lines.on("line", (line) => this.onLine(job, line));
    const stdoutDone = new Promise<void>((resolve) => lines.once("close", resolve));
    const exitCode = new Promise<[number | null, NodeJS.Signals | null]>((resolve) => {
      child.once("exit", (code, signal) => resolve([code, signal]));
      child.once("error", (err) => {
        job.error = `Cannot start the runner: ${err.message}`;
        resolve([null, null]);
      });
    });
    job.exited = Promise.all([exitCode, stdoutDone]).then(([[code, signal]]) => {
      log?.end();
      this.onExit(job, code, signal);
    });
    this.changed(job);
  }

  private onLine(job: Job, line: string): void {
    if (!line.startsWith("{")) return;
    let message: RunnerMessage;
    try {
      message = JSON.parse(line) as RunnerMessage;
    } catch {
      return;
    }
    if (message.type === "episode") {
      job.episodes = message.episode;
      job.lastScore = message.score;
      job.average = message.average;
      this.emit("episode", job.id, message);
    } else if (message.type === "summary") {
      job.summary = message.summary;
    } else if (message.type === "error") {
      // A ConfigError's message already lists its problems, one per line.
      job.error = message.message;
    }
  }

  private onExit(job: Job, code: number | null, signal: NodeJS.Signals | null): void {
    this.running -= 1;
    job.child = null;
    job.endedAt = new Date();
    if (job.summary && (job.stopRequested || job.summary.stopped === "interrupted")) job.state = "stopped";
    else if (job.summary && code === 0) job.state = "finished";
    else if (job.stopRequested && !job.error) job.state = "stopped";
    else {
      job.state = "failed";
      if (!job.error) {
        const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
        const tail = job.stderrTail.trim().split("\n").slice(-5).join("\n");
        job.error = `The run's process ${how}${tail ? `: ${tail}` : ""}`;
      }
    }
    this.changed(job);
    this.pump();
  }

  private changed(job: Job): void {
    this.emit("status", this.info(job.id));
  }
}
