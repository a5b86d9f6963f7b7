// `tennis-train watch --checkpoint DIR`: the notebook's "watch the trained pair play" for a headless
// machine. Serves the dashboard's rally canvas for one checkpoint (greedy episodes, one after another,
// in real time), or with `--out rally.gif` writes one greedy episode as an animated GIF instead.
// `watch --a SPEC --b SPEC` shows competitive points between two players the same way.
import { writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { basename } from "node:path";

import { packageVersion } from "../../../binding/package.ts";
import { HttpError, hostAllowed, sendError, sendJson } from "../server/http.ts";
import { kMaxReplaySteps, locateCheckpoint, playGreedyEpisode, type Replay } from "../server/replay.ts";
import { sendPublic } from "../server/static.ts";
import type { PlayerSpec } from "../../lib/compete/match.ts";
import { GifWriter } from "./gif.ts";
import { matchLabel, playMatchReplay } from "./match-replay.ts";
import { rasterizeReplay } from "./raster.ts";

export interface WatchOptions {
  /** A run directory (its latest checkpoint plays) or a checkpoint folder; or `match`. */
  checkpoint?: string;
  /** Competitive points between two players instead of a checkpoint's cooperative rally. */
  match?: { a: PlayerSpec; b: PlayerSpec };
  /** Write an animated GIF of one greedy episode here instead of serving. */
  out?: string;
  /** Listen address of the replay page. Default 127.0.0.1. */
  host?: string;
  /** Port of the replay page; 0 picks a free one. Default 8081. */
  port?: number;
  /** Env seed of the (first) episode; default the run's evaluation seed. */
  seed?: number;
  /** Decisions to play at most (GIF), integer in [1, 1001]. Default 1001. */
  maxSteps?: number;
}

export interface GifResult {
  out: string;
  frames: number;
  bytes: number;
  score: number;
  checkpoint: string;
}

export interface WatchServer {
  url: string;
  server: Server;
  close(): Promise<void>;
}

/** GIF delays are in hundredths of a second; one decision is 0.1 s, so real time is 10 per frame. */
const kCentisecondsPerSecond = 100;

/** The replay watch shows: a checkpoint's greedy episode, or a competitive point of `match`. */
function playReplay(options: WatchOptions, seed: number | undefined, maxSteps: number | undefined): Promise<Replay> {
  if (options.match) return playMatchReplay(options.match.a, options.match.b, { seed, maxSteps });
  if (options.checkpoint === undefined) throw new Error("watch needs a checkpoint or a match");
  return playGreedyEpisode(options.checkpoint, { seed, maxSteps });
}

/** What watch shows, for its messages. */
function subject(options: WatchOptions): string {
  return options.match ? matchLabel(options.match.a, options.match.b, (options.seed ?? 0) % 2).replace(/ \(A on .*\)$/, "") : locateCheckpoint(options.checkpoint!).checkpoint;
}

/** Writes one greedy episode of the checkpoint (or one point of the match) as an animated GIF (one frame per decision, real time). */
export async function writeRallyGif(options: WatchOptions & { out: string }): Promise<GifResult> {
  const replay = await playReplay(options, options.seed, options.maxSteps);
  const bytes = encodeReplayGif(replay);
  writeFileSync(options.out, bytes);
  return { out: options.out, frames: replay.frames.length, bytes: bytes.length, score: replay.score, checkpoint: replay.checkpoint };
}

/** The GIF bytes of a replay: every frame rendered like the env's PNG render, shown for replay.dt. */
export function encodeReplayGif(replay: Replay): Buffer {
  const { width, height, palette, frames } = rasterizeReplay(replay);
  const gif = new GifWriter(width, height, palette);
  const delay = Math.max(2, Math.round(replay.dt * kCentisecondsPerSecond));
  frames.forEach((indices, i) => gif.addFrame(indices, i === frames.length - 1 ? delay * 10 : delay));
  return gif.finish();
}

/** Serves the rally page for one checkpoint: `/` shows it, `/api/replay?seed=N` plays an episode. */
export async function serveWatch(options: WatchOptions): Promise<WatchServer> {
  const host = options.host ?? "127.0.0.1";
  const watched = options.match ? subject(options) : basename(locateCheckpoint(options.checkpoint!).checkpoint);
  const server = createServer((req, res) => {
    const handle = async () => {
      if (!hostAllowed(req, host)) throw new HttpError(403, "Host header not allowed for a localhost server");
      if (req.method !== "GET" && req.method !== "HEAD") throw new HttpError(405, `${req.method} is not allowed`);
      const url = new URL(req.url ?? "/", "http://localhost");
      if (url.pathname === "/api/health") return sendJson(res, 200, { ok: true, mode: "watch", version: packageVersion, checkpoint: watched });
      if (url.pathname === "/api/replay") {
        const text = url.searchParams.get("seed");
        const seed = text === null ? options.seed : Number(text);
        if (seed !== undefined && (!Number.isInteger(seed) || seed < 0 || seed > 2 ** 32 - 1)) {
          throw new HttpError(400, `Expected integer in [0, 4294967295] for seed but received ${JSON.stringify(text)}`);
        }
        const replay = await playReplay(options, seed, options.maxSteps ?? kMaxReplaySteps);
        return sendJson(res, 200, { ...replay, checkpoint: options.match ? replay.checkpoint : basename(replay.checkpoint) });
      }
      if (url.pathname.startsWith("/api/")) throw new HttpError(404, `No endpoint ${url.pathname}`);
      return sendPublic(res, url.pathname, req.method === "HEAD");
    };
    handle().catch((err: unknown) => {
      if (res.headersSent) return void res.destroy();
      sendError(res, err instanceof HttpError ? err : new HttpError(500, (err as Error).message ?? String(err)));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 8081, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${host.includes(":") ? `[${host}]` : host}:${port}`,
    server,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * The CLI's `watch`: with `out`, writes the GIF and prints what it wrote; otherwise serves the replay
 * page until Ctrl-C.
 */
export async function runWatch(options: WatchOptions): Promise<GifResult | WatchServer> {
  if (options.out) {
    const result = await writeRallyGif({ ...options, out: options.out });
    const what = options.match ? `${result.checkpoint}, ${result.score > 0 ? "the point decided" : "a draw (not decided within the cap)"}` : `greedy score ${result.score.toFixed(2)}, checkpoint ${result.checkpoint}`;
    console.log(`Wrote ${result.out}: ${result.frames} frames (${(result.bytes / 1024).toFixed(0)} KiB), ${what}`);
    return result;
  }
  const watching = await serveWatch(options);
  console.log(`Watching ${subject(options)}: open ${watching.url}/ (Ctrl-C to stop)`);
  const close = async () => {
    process.off("SIGINT", shutdown);
    await watching.close();
  };
  const shutdown = () => void close();
  process.on("SIGINT", shutdown);
  return { ...watching, close };
}
