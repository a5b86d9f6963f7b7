// Turns replay frames into palette-indexed pictures for the GIF writer, drawn by the env's own PNG
// render (src/lib/env/render.ts) so the animation looks exactly like `renderPng` of each state.
import { PNG } from "pngjs";

import type { TennisState } from "../../../binding/env.ts";
import { renderPng } from "../../lib/env/render.ts";
import type { Replay, ReplayFrame } from "../server/replay.ts";
import { ExactPalette, type Rgb } from "./gif.ts";

export interface RasterizedReplay {
  width: number;
  height: number;
  palette: Rgb[];
  /** One array of width*height palette indices per replay frame. */
  frames: Uint8Array[];
}

/** GIF width in pixels: half the PNG render's default keeps a 1000-step rally to a few MiB. */
export const kGifWidth = 480;

/** The render's view of a replay frame (the replay keeps positions and scores only). */
function stateOf(frame: ReplayFrame): TennisState {
  return {
    ballX: frame.ball[0],
    ballY: frame.ball[1],
    ballVx: 0,
    ballVy: 0,
    racketX: [frame.rackets[0][0], frame.rackets[1][0]],
    racketY: [frame.rackets[0][1], frame.rackets[1][1]],
    racketVx: [0, 0],
    racketVy: [0, 0],
    lastHitter: -1,
    lastToucher: -1,
    steps: 0,
    score: frame.score,
    actions: [
      [0, 0],
      [0, 0],
    ],
    ballInOver: false,
    touching: [false, false],
    academyTicks: 0,
  };
}

/** Renders every frame (step number and scores printed on it) and maps the pixels to one palette. */
export function rasterizeReplay(replay: Replay, width = kGifWidth): RasterizedReplay {
  const palette = new ExactPalette();
  let size: [number, number] | null = null;
  const frames = replay.frames.map((frame, step) => {
    const png = PNG.sync.read(renderPng(stateOf(frame), { width, step, scores: frame.score, velocity: false }));
    size ??= [png.width, png.height];
    return palette.map(png.data);
  });
  if (!size) throw new Error("The replay has no frames");
  return { width: size[0], height: size[1], palette: palette.colors, frames };
}
