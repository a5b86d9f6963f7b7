// `tennis-train serve`: the dashboard at `/` and the HTTP API under `/api/` (node:http, no framework):
// start, stop and list runs, stream their metrics (Server-Sent Events), read summaries, download
// checkpoints and replay a greedy episode of the latest checkpoint. Control endpoints need the token.
import { randomBytes } from "node:crypto";
import { closeSync, constants, createReadStream, fstatSync, openSync, statSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";

import { packageVersion } from "../../../binding/package.ts";
import { assertInt } from "../../../binding/validate.ts";
import { ConfigError, resolveConfig } from "../../lib/config/resolve.ts";
import { schemaDefaults } from "../../lib/config/schema.ts";
import { apiHeaders, HttpError, hasToken, hostAllowed, integerParam, isLoopback, readJsonBody, sendError, sendJson } from "./http.ts";
import { MetricsFeed } from "./metrics-feed.ts";
import { kMaxReplaySteps, playGreedyEpisode, type Replay } from "./replay.ts";
import { isServableFile, kRunFiles, RunStore } from "./run-store.ts";
import { RunManager, type RunInfo } from "./runs.ts";
import { sendPublic } from "./static.ts";

export interface ServeOptions {
  /** Listen address. Default 127.0.0.1 (localhost only). */
  host?: string;
  /** Port; 0 picks a free one. Default 8080. */
  port?: number;
  /** Token of the control endpoints; default $TENNIS_TRAIN_TOKEN, else a random one. */
  token?: string;
  /** Folder of the run directories. Default "runs". */
  runsDir?: string;
  /** Runs training at once; more wait in a queue. Default 1. */
  maxConcurrent?: number;
  /** Largest request body accepted, in bytes. Default 65536. */
  maxBodyBytes?: number;
  /** Metric streams open at once at most. Default 64. */
  maxStreams?: number;
  /** Module each run's child process runs (tests use a fake trainer). Default runner.ts. */
  runner?: string;
  /** Milliseconds between SIGTERM and SIGKILL when a run is stopped. Default 60000. */
  stopGraceMs?: number;
}

export interface RunningServer {
  /** Base URL, e.g. http://127.0.0.1:8080 */
  url: string;
  /** The token control requests must send as `Authorization: Bearer <token>`. */
  token: string;
  port: number;
  server: Server;
  manager: RunManager;
  /** Stops every run (with checkpoints), ends the streams and closes the server. */
  close(): Promise<void>;
}

/** Rows and bytes of row text per `metrics` event of a stream. */
const kEventRows = 500;
const kEventBytes = 256 << 10;
/** Rows per GET /api/runs/RUN/metrics page unless `limit` says fewer, and the most `limit` may ask. */
const kDefaultPageRows = 1000;
const kMaxPageRows = 5000;
/** Bytes a stream may have waiting for a slow client; past this the client is dropped. */
const kMaxStreamBufferBytes = 1 << 20;
/** A stream whose client reads nothing for this long is dropped. */
const kStreamStallMs = 30_000;
/** Feeds kept for runs nobody streams (their row index makes the next page request cheap). */
const kIdleFeeds = 16;
/** Comment lines keep idle streams open through proxies. */
const kHeartbeatMs = 15_000;
/** Replays kept per server (a few dashboards asking for the same checkpoint get one play). */
const kReplayCacheSize = 16;

/** Shortest token accepted. */
export const kMinServeTokenLength = 8;
/** Most runs training at once. */
export const kMaxConcurrentRuns = 1024;
/** Runs folder unless told otherwise. */
export const kDefaultRunsDir = "runs";

/** Starts the server; resolves once it listens. */
export async function serve(options: ServeOptions = {}): Promise<RunningServer> {
  const host = options.host ?? "127.0.0.1";
  const token = options.token ?? process.env.TENNIS_TRAIN_TOKEN ?? randomBytes(18).toString("base64url");
  if (token.length < kMinServeTokenLength) throw new Error(`The token must have at least ${kMinServeTokenLength} characters`);
  assertInt("maxConcurrent", options.maxConcurrent ?? 1, 1, kMaxConcurrentRuns);
  const maxBodyBytes = options.maxBodyBytes ?? 64 * 1024;
  const maxStreams = options.maxStreams ?? 64;
  const store = new RunStore(options.runsDir ?? kDefaultRunsDir);
  const manager = new RunManager({ store, maxConcurrent: options.maxConcurrent ?? 1, runner: options.runner, stopGraceMs: options.stopGraceMs });
  const feeds = new Map<string, MetricsFeed>();
  const streams = new Set<ServerResponse>();
  const replays = new Map<string, Promise<Replay>>();

  const infoOf = (id: string): RunInfo => manager.info(id) ?? diskInfo(store, id);

  const requireToken = (req: IncomingMessage) => {
    if (!hasToken(req, token)) throw new HttpError(401, "Missing or wrong token: send `Authorization: Bearer <token>` (printed when the server started)");
  };

  /** The run's shared feed, caught up with its file; idle feeds beyond kIdleFeeds are dropped, oldest first. */
  const feedOf = (id: string): MetricsFeed => {
    let feed = feeds.get(id);
    if (!feed) feed = new MetricsFeed(join(store.existingDir(id), "metrics.jsonl"));
    feeds.delete(id);
    feeds.set(id, feed);
    const idle = [...feeds].filter(([, f]) => f.subscribers === 0);
    for (const [old] of idle.slice(0, Math.max(0, idle.length - kIdleFeeds))) feeds.delete(old);
    feed.catchUp();
    return feed;
  };

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!hostAllowed(req, host)) throw new HttpError(403, "Host header not allowed for a localhost server");
    const url = new URL(req.url ?? "/", "http://localhost");
    const path = url.pathname;
    const method = req.method ?? "GET";
    const only = (...methods: string[]) => {
      if (!methods.includes(method)) throw new HttpError(405, `${method} is not allowed on ${path}`, { allowed: methods });
    };

    if (!path.startsWith("/api/")) {
      only("GET", "HEAD");
      return sendPublic(res, path, method === "HEAD");
    }

    const parts = path.slice("/api/".length).split("/").map((part) => {
      try {
        return decodeURIComponent(part);
      } catch {
        throw new HttpError(400, `Malformed path ${path}`);
      }
    });
    if (parts[0] === "health" && parts.length === 1) {
      only("GET");
      return sendJson(res, 200, { ok: true, mode: "serve", version: packageVersion, running: manager.active, maxConcurrent: options.maxConcurrent ?? 1 });
    }
    if (parts[0] === "defaults" && parts.length === 1) {
      only("GET");
      return sendJson(res, 200, schemaDefaults());
    }
    if (parts[0] !== "runs") throw new HttpError(404, `No endpoint ${path}`);

    if (parts.length === 1) {
      only("GET", "POST");
      if (method === "GET") return sendJson(res, 200, { runs: store.list().map(infoOf) });
      requireToken(req);
      const body = await readJsonBody(req, maxBodyBytes);
      if (body === undefined) throw new HttpError(400, "Send the run's config as a JSON object (an empty object {} trains with the defaults)", { problems: ["Expected a JSON object in the config but received nothing"] });
      let config;
      try {
        config = resolveConfig({ fileObject: body });
      } catch (err) {
        if (err instanceof ConfigError) throw new HttpError(400, "Invalid config", { problems: err.problems });
        throw err;
      }
      return sendJson(res, 201, manager.start(config));
    }

    const id = parts[1];
    store.dirOf(id);
    const rest = parts.slice(2);
    if (rest.length === 0) {
      only("GET");
      const dir = store.existingDir(id);
      return sendJson(res, 200, {
        ...infoOf(id),
        config: store.readJson(id, "config.json"),
        latestCheckpoint: store.latestCheckpoint(id),
        checkpoints: store.checkpoints(id),
        files: Object.keys(kRunFiles).filter((f) => isServableFile(store.root, join(dir, f))),
      });
    }
    const action = rest[0];
    if (action === "stop" && rest.length === 1) {
      only("POST");
      requireToken(req);
      store.existingDir(id);
      return sendJson(res, 202, manager.stop(id));
    }
    if (action === "events" && rest.length === 1) {
      only("GET");
      store.existingDir(id);
      if (streams.size >= maxStreams) throw new HttpError(503, `Too many open streams (limit ${maxStreams})`);
      const from = Number(req.headers["last-event-id"] ?? url.searchParams.get("from") ?? 0);
      return openStream(id, Number.isInteger(from) && from >= 0 ? from : 0, req, res);
    }
    if (action === "metrics" && rest.length === 1) {
      only("GET");
      return sendMetricsPage(res, feedOf(id), url.searchParams);
    }
    if (action === "summary" && rest.length === 1) {
      only("GET");
      const summary = store.readJson(id, "summary.json");
      if (summary === null) throw new HttpError(404, `Run ${id} has no summary yet`);
      return sendJson(res, 200, summary);
    }
    if (action === "files" && rest.length === 2) {
      only("GET");
      return sendFile(res, store.filePath(id, rest[1]), kRunFiles[rest[1]]);
    }
    if (action === "checkpoints" && rest.length === 1) {
      only("GET");
      return sendJson(res, 200, { latest: store.latestCheckpoint(id), checkpoints: store.checkpoints(id) });
    }
    if (action === "checkpoints" && rest.length === 3) {
      only("GET");
      const file = store.checkpointFile(id, rest[1], rest[2]);
      return sendFile(res, file, "application/octet-stream", `${id}__${rest[1]}__${rest[2]}`);
    }
    if (action === "replay" && rest.length === 1) {
      only("GET");
      return sendJson(res, 200, await replay(id, url.searchParams));
    }
    throw new HttpError(404, `No endpoint ${path}`);
  }

  function sendFile(res: ServerResponse, path: string, type: string, downloadName?: string): void {
    // O_NOFOLLOW: a file swapped for a symlink after the checks is not opened through the link.
    const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
    const size = fstatSync(fd).size;
    res.writeHead(200, {
      ...apiHeaders,
      "Content-Type": type,
      "Content-Length": size,
      ...(downloadName ? { "Content-Disposition": `attachment; filename="${downloadName}"` } : {}),
    });
    if (size === 0) {
      closeSync(fd);
      res.end();
      return;
    }
    // A file still being appended to (metrics.jsonl) is sent as it was when its length was taken.
    const stream = createReadStream("", { fd, start: 0, end: size - 1 });
    stream.on("error", () => res.destroy());
    stream.pipe(res);
  }

  async function replay(id: string, params: URLSearchParams): Promise<Replay> {
    const dir = store.existingDir(id);
    const latest = store.latestCheckpoint(id);
    if (!latest) throw new HttpError(404, `Run ${id} has no checkpoint yet`);
    const integer = (name: string, min: number, max: number) => integerParam(params, name, min, max);
    const seed = integer("seed", 0, 2 ** 32 - 1);
    const maxSteps = integer("maxSteps", 1, kMaxReplaySteps);
    const key = `${id}/${latest}/${seed}/${maxSteps}`;
    let played = replays.get(key);
    if (!played) {
      played = playGreedyEpisode(dir, { seed, maxSteps });
      replays.set(key, played);
      played.catch(() => replays.delete(key));
      if (replays.size > kReplayCacheSize) replays.delete(replays.keys().next().value!);
    }
    try {
      const result = await played;
      // The client needs the checkpoint's name, not where the server keeps it.
      return { ...result, checkpoint: latest };
    } catch (err) {
      throw new HttpError(500, `Replay failed: ${(err as Error).message}`);
    }
  }

  /**
   * One page of a run's metrics rows: from row `from` (default 0), or the rows after step `after`, or
   * the last `tail` rows; at most `limit` rows (default kDefaultPageRows, at most kMaxPageRows).
   * `next` is the row to ask for next, `total` the rows so far.
   */
  function sendMetricsPage(res: ServerResponse, feed: MetricsFeed, params: URLSearchParams): void {
    const integer = (name: string, min: number, max: number) => integerParam(params, name, min, max);
    const from = integer("from", 0, Number.MAX_SAFE_INTEGER);
    const after = integer("after", -Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
    const tail = integer("tail", 0, kMaxPageRows);
    if ([from, after, tail].filter((v) => v !== undefined).length > 1) throw new HttpError(400, "Give at most one of from, after and tail");
    const limit = integer("limit", 0, kMaxPageRows) ?? kDefaultPageRows;
    const total = feed.count;
    const first = Math.min(total, tail !== undefined ? Math.max(0, total - tail) : after !== undefined ? feed.firstAfterStep(after) : from ?? 0);
    const end = Math.min(total, first + (tail ?? limit));
    // The rows go out as the JSON text the trainer wrote: no parse and re-serialise of a large page.
    const body = Buffer.concat([Buffer.from('{"rows":'), feed.rowsJson(first, end), Buffer.from(`,"first":${first},"next":${end},"total":${total}}`)]);
    res.writeHead(200, { ...apiHeaders, "Content-Type": "application/json; charset=utf-8", "Content-Length": body.length });
    res.end(body);
  }

  /**
   * A run's Server-Sent Events: its status, its metrics rows from row `from` (the backlog, then new
   * rows as they arrive) and its episodes. Rows go out a page at a time, each once the client has
   * taken the last (backpressure), so a slow reader holds one page, not the log; a client with more
   * than kMaxStreamBufferBytes waiting, or that reads nothing for kStreamStallMs, is dropped.
   */
  function openStream(id: string, from: number, req: IncomingMessage, res: ServerResponse): void {
    res.writeHead(200, {
      ...apiHeaders,
      "Content-Type": "text/event-stream; charset=utf-8",
      Connection: "keep-alive",
      "X-Accel-Buffering": "no",
    });
    streams.add(res);
    const write = (text: string | Buffer): boolean => {
      if (res.destroyed) return false;
      if (res.writableLength > kMaxStreamBufferBytes) {
        res.destroy();
        return false;
      }
      return res.write(text);
    };
    const send = (event: string, data: unknown) => write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    const drained = () =>
      new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          res.off("drain", done);
          res.off("close", done);
          resolve();
        };
        const timer = setTimeout(() => {
          res.destroy();
          done();
        }, kStreamStallMs);
        res.once("drain", done);
        res.once("close", done);
      });
    write("retry: 2000\n\n");
    send("status", infoOf(id));
    const feed = feedOf(id);
    let next = from;
    const sendRows = async () => {
      while (!res.destroyed && next < feed.count) {
        const end = feed.pageEnd(next, kEventRows, kEventBytes);
        const ok = write(Buffer.concat([Buffer.from(`id: ${end}\nevent: metrics\ndata: {"first":${next},"rows":`), feed.rowsJson(next, end), Buffer.from("}\n\n")]));
        next = end;
        if (!ok) await drained();
        // Other requests get their turn between pages, however fast this client reads.
        else await new Promise((resolve) => setImmediate(resolve));
      }
    };
    let sending: Promise<void> | null = null;
    const pump = (): Promise<void> => (sending ??= sendRows().finally(() => (sending = null)));
    void pump();
    const unsubscribe = feed.subscribe(() => void pump());
    const onStatus = (info: RunInfo) => {
      if (info.id !== id) return;
      // Rows written just before the run ended go out before the status that says it ended.
      feed.catchUp();
      void pump()
        .then(pump)
        .then(() => send("status", info));
    };
    const onEpisode = (runId: string, message: unknown) => runId === id && send("episode", message);
    manager.on("status", onStatus);
    manager.on("episode", onEpisode);
    const heartbeat = setInterval(() => write(": ping\n\n"), kHeartbeatMs);
    heartbeat.unref();
    const cleanup = () => {
      clearInterval(heartbeat);
      unsubscribe();
      manager.off("status", onStatus);
      manager.off("episode", onEpisode);
      streams.delete(res);
    };
    req.on("close", cleanup);
    res.on("close", cleanup);
  }

  const server = createServer((req, res) => {
    route(req, res).catch((err: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (err instanceof HttpError) return sendError(res, err);
      console.error(err);
      sendError(res, new HttpError(500, (err as Error).message ?? String(err)));
    });
  });
  // Slow-loris limits: a request must send its headers and body in reasonable time.
  server.headersTimeout = 20_000;
  server.requestTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 8080, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost = host.includes(":") ? `[${host}]` : host;
  return {
    url: `http://${urlHost}:${port}`,
    token,
    port,
    server,
    manager,
    close: async () => {
      await manager.close();
      for (const res of streams) res.end();
      for (const feed of feeds.values()) feed.stop();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
    },
  };
}

/** Metrics keys of an episode's score and its moving average (as the trainer logs them). */
const kScoreKey = "rollout/score";
const kAverageKey = "rollout/score_mean100";

/** What the API says about a run directory this server did not start: its summary, and its last
 *  episode row of metrics.jsonl for the score, the moving average and (while it runs) the episodes. */
function diskInfo(store: RunStore, id: string): RunInfo {
  const summary = store.readJson(id, "summary.json") as Record<string, unknown> | null;
  const dir = store.existingDir(id);
  const created = statSync(join(dir, "config.json")).mtime.toISOString();
  const last = store.lastMetricsRow(id, kAverageKey);
  const number = (v: unknown) => (typeof v === "number" ? v : null);
  return {
    id,
    state: summary ? (summary.stopped === "interrupted" ? "stopped" : "finished") : "incomplete",
    managed: false,
    createdAt: created,
    startedAt: null,
    endedAt: summary ? statSync(join(dir, "summary.json")).mtime.toISOString() : null,
    episodes: number(summary?.episodes) ?? number(last?.step),
    lastScore: number(last?.[kScoreKey]),
    average: number(last?.[kAverageKey]),
    queuePosition: null,
    error: null,
    summary,
  };
}

export interface RunServeOptions {
  host?: string;
  port?: number;
  token?: string;
  runsDir?: string;
  maxConcurrent?: number;
}

/** The CLI's `serve`: starts the server, prints where and the token, and stops runs on Ctrl-C. */
export async function runServe(options: RunServeOptions = {}): Promise<RunningServer> {
  const fromEnv = options.token === undefined && process.env.TENNIS_TRAIN_TOKEN !== undefined;
  const running = await serve({ host: "127.0.0.1", port: 8080, ...options });
  if (fromEnv) {
    // The user chose the token: no need to print a secret into logs.
    console.log(`tennis-train dashboard: ${running.url}/  (API token from TENNIS_TRAIN_TOKEN; enter it in the page)`);
  } else {
    console.log(`tennis-train dashboard: ${running.url}/#token=${running.token}`);
    console.log(`API token: ${running.token}  (send "Authorization: Bearer <token>" to POST /api/runs and /api/runs/:id/stop)`);
  }
  if (!isLoopback(options.host ?? "127.0.0.1")) {
    console.log(`Warning: listening on ${options.host}: anyone who can reach it can list runs, read metrics and download checkpoints.`);
  }
  const shutdown = () => {
    console.log("Stopping: runs are stopped with a checkpoint...");
    void close().then(() => console.log("Server closed."));
  };
  const close = async () => {
    process.off("SIGINT", shutdown);
    process.off("SIGTERM", shutdown);
    await running.close();
  };
  process.on("SIGINT", shutdown);
  process.on("SIGTERM", shutdown);
  return { ...running, close };
}
