// `tennis-train watch --checkpoint DIR`: the notebook's "watch the trained pair play" for a headless
// machine. Serves the dashboard's rally canvas for one checkpoint (greedy episodes, one after another,
// in real time), or with `--out rally.gif` writes one greedy episode as an animated GIF instead.
import { writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { basename } from "node:path";

import { packageVersion } from "../../../binding/package.ts";
import { HttpError, hostAllowed, sendError, sendJson } from "../server/http.ts";
import { kMaxReplaySteps, locateCheckpoint, playGreedyEpisode, type Replay } from "../server/replay.ts";
import { sendPublic } from "../server/static.ts";
import { GifWriter } from "./gif.ts";
import { rasterizeReplay } from "./raster.ts";

export interface WatchOptions {
  /** A run directory (its latest checkpoint plays) or a checkpoint folder. */
  checkpoint: string;
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

/** Writes one greedy episode of the checkpoint as an animated GIF (one frame per decision, real time). */
export async function writeRallyGif(options: WatchOptions & { out: string }): Promise<GifResult> {
  const replay = await playGreedyEpisode(options.checkpoint, { seed: options.seed, maxSteps: options.maxSteps });
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
  const { checkpoint } = locateCheckpoint(options.checkpoint);
  const server = createServer((req, res) => {
    const handle = async () => {
      if (!hostAllowed(req, host)) throw new HttpError(403, "Host header not allowed for a localhost server");
      if (req.method !== "GET" && req.method !== "HEAD") throw new HttpError(405, `${req.method} is not allowed`);
      const url = new URL(req.url ?? "/", "http://localhost");
      if (url.pathname === "/api/health") return sendJson(res, 200, { ok: true, mode: "watch", version: packageVersion, checkpoint: basename(checkpoint) });
      if (url.pathname === "/api/replay") {
        const text = url.searchParams.get("seed");
        const seed = text === null ? options.seed : Number(text);
        if (seed !== undefined && (!Number.isInteger(seed) || seed < 0 || seed > 2 ** 32 - 1)) {
          throw new HttpError(400, `Expected integer in [0, 4294967295] for seed but received ${JSON.stringify(text)}`);
        }
        const replay = await playGreedyEpisode(options.checkpoint, { seed, maxSteps: options.maxSteps ?? kMaxReplaySteps });
        return sendJson(res, 200, { ...replay, checkpoint: basename(replay.checkpoint) });
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
    console.log(`Wrote ${result.out}: ${result.frames} frames (${(result.bytes / 1024).toFixed(0)} KiB), greedy score ${result.score.toFixed(2)}, checkpoint ${result.checkpoint}`);
    return result;
  }
  const watching = await serveWatch(options);
  console.log(`Watching ${locateCheckpoint(options.checkpoint).checkpoint}: open ${watching.url}/ (Ctrl-C to stop)`);
  const close = async () => {
    process.off("SIGINT", shutdown);
    await watching.close();
  };
  const shutdown = () => void close();
  process.on("SIGINT", shutdown);
  return { ...watching, close };
}
