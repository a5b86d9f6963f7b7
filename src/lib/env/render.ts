// Draws one Tennis state as a PNG: court, walls, net, both rackets as the rotated collider rectangles
// of the spec (section 1), the ball, and the scores and step count in a tiny built-in pixel font.
// The geometry helpers are exported so that an animated view can draw the same picture.
import type { TennisState } from "../../../binding/env.ts";
import { Canvas } from "../log/canvas.ts";

type Rgb = [number, number, number];

/** Racket collider: rotation 55 degrees, half extents along the face normal u and along the face v. */
const kAngle = (55 * Math.PI) / 180;
const kHalfU = 0.55;
const kHalfV = 0.9375;
/** Box centre of the left racket (agent 1) relative to its position; mirrored in x for agent 0. */
const kCentre: [number, number] = [-0.5 * Math.cos(kAngle), -0.5 * Math.sin(kAngle)];
/** Mirror multiplier per agent (0 = right-hand racket). */
const kMirror = [-1, 1];
const kBallRadius = 0.5;
/** World window drawn: the court between the walls' inner faces and from below the floor to above the serve. */
const kView = { x0: -13.2, x1: 13.2, y0: -4.2, y1: 7.4 };

const kColors = {
  sky: [236, 244, 250] as Rgb,
  floor: [92, 150, 84] as Rgb,
  wall: [150, 150, 160] as Rgb,
  net: [40, 40, 40] as Rgb,
  over: [190, 200, 215] as Rgb,
  ball: [214, 230, 40] as Rgb,
  ballEdge: [90, 100, 10] as Rgb,
  text: [30, 30, 30] as Rgb,
  agents: [
    [40, 90, 210],
    [215, 70, 40],
  ] as Rgb[],
  faces: [
    [10, 30, 110],
    [120, 20, 5],
  ] as Rgb[],
};

/** The four corners (world frame) of racket `agent`'s collider, in order around the rectangle. */
export function racketCorners(state: Pick<TennisState, "racketX" | "racketY">, agent: number): [number, number][] {
  const m = kMirror[agent];
  const cx = state.racketX[agent] + m * kCentre[0];
  const cy = state.racketY[agent] + kCentre[1];
  const u = [m * Math.cos(kAngle), Math.sin(kAngle)];
  const v = [-m * Math.sin(kAngle), Math.cos(kAngle)];
  return [
    [1, 1],
    [1, -1],
    [-1, -1],
    [-1, 1],
  ].map(([a, b]) => [cx + a * kHalfU * u[0] + b * kHalfV * v[0], cy + a * kHalfU * u[1] + b * kHalfV * v[1]]);
}

export interface RenderOptions {
  /** Image width in pixels (height follows the court's aspect). Default 780. */
  width?: number;
  /** Scores to print (left agent 1, right agent 0 as [agent0, agent1]); default the state's episode score. */
  scores?: [number, number];
  /** Step number to print at the top centre; default the state's steps. */
  step?: number;
  /** Draw the ball's velocity as a line (0.1 s ahead). Default true. */
  velocity?: boolean;
}

/** The state as a PNG image. */
export function renderPng(state: TennisState, options: RenderOptions = {}): Buffer {
  const width = Math.max(200, Math.round(options.width ?? 780));
  const scale = width / (kView.x1 - kView.x0);
  const height = Math.round((kView.y1 - kView.y0) * scale);
  const px = (x: number) => (x - kView.x0) * scale;
  const py = (y: number) => (kView.y1 - y) * scale;
  const canvas = new Canvas(width, height, kColors.sky);
  const rect = (x0: number, x1: number, y0: number, y1: number, color: Rgb) =>
    canvas.fillRect(px(x0), py(y1), Math.max(2, (x1 - x0) * scale), Math.max(2, (y1 - y0) * scale), color);

  // The `over` trigger (zero thickness at x = 0, above the net) as a faint dashed line.
  canvas.line(px(0), py(kView.y1), px(0), py(-1), kColors.over, 6);
  rect(kView.x0, kView.x1, kView.y0, -3.25, kColors.floor); // floorA / floorB tops at y = -3.25
  rect(kView.x0, -12.27, kView.y0, kView.y1, kColors.wall); // wallA inner face at x = -12.27
  rect(12.27, kView.x1, kView.y0, kView.y1, kColors.wall);
  rect(-0.05, 0.05, -3.25, -1, kColors.net); // the net box above the floor, top at y = -1

  for (const agent of [0, 1]) {
    const corners = racketCorners(state, agent).map(([x, y]) => [px(x), py(y)] as [number, number]);
    fillPolygon(canvas, corners, kColors.agents[agent]);
    // The hitting face (outward normal u, toward the net and up) drawn darker.
    canvas.line(corners[0][0], corners[0][1], corners[1][0], corners[1][1], kColors.faces[agent]);
  }

  const [bx, by] = [px(state.ballX), py(state.ballY)];
  canvas.disc(bx, by, kBallRadius * scale, kColors.ballEdge);
  canvas.disc(bx, by, kBallRadius * scale - 1.5, kColors.ball);
  const speed = Math.hypot(state.ballVx, state.ballVy);
  if ((options.velocity ?? true) && speed > 0) {
    // From the ball's edge to where the ball centre will be in 0.1 s (one step) at this velocity.
    const [dx, dy] = [state.ballVx / speed, state.ballVy / speed];
    const [ex, ey] = [state.ballX + kBallRadius * dx, state.ballY + kBallRadius * dy];
    canvas.line(px(ex), py(ey), px(ex + 0.1 * state.ballVx), py(ey + 0.1 * state.ballVy), kColors.ballEdge);
  }

  const scores = options.scores ?? state.score;
  const glyph = Math.max(2, Math.round(width / 260));
  drawText(canvas, formatScore(scores[1]), 10, 8, glyph, kColors.agents[1]);
  const right = formatScore(scores[0]);
  drawText(canvas, right, width - 10 - textWidth(right, glyph), 8, glyph, kColors.agents[0]);
  const step = String(options.step ?? state.steps);
  drawText(canvas, step, (width - textWidth(step, glyph)) / 2, 8, glyph, kColors.text);
  return canvas.toBuffer();
}

function formatScore(score: number): string {
  return (Math.round(score * 100) / 100).toFixed(2);
}

// Even-odd scanline fill of a convex or concave polygon given in pixel coordinates.
function fillPolygon(canvas: Canvas, points: [number, number][], color: Rgb): void {
  const ys = points.map((p) => p[1]);
  for (let y = Math.floor(Math.min(...ys)); y <= Math.ceil(Math.max(...ys)); y++) {
    const sy = y + 0.5;
    const xs: number[] = [];
    for (let i = 0; i < points.length; i++) {
      const [x0, y0] = points[i];
      const [x1, y1] = points[(i + 1) % points.length];
      if ((y0 <= sy && y1 > sy) || (y1 <= sy && y0 > sy)) xs.push(x0 + ((sy - y0) / (y1 - y0)) * (x1 - x0));
    }
    xs.sort((a, b) => a - b);
    for (let k = 0; k + 1 < xs.length; k += 2) {
      for (let x = Math.round(xs[k]); x < Math.round(xs[k + 1]); x++) canvas.setPixel(x, y, color);
    }
  }
}

// A 3x5 pixel font for the characters the scores and step counts use.
const kFont: Record<string, string[]> = {
  "0": ["111", "101", "101", "101", "111"],
  "1": ["010", "110", "010", "010", "111"],
  "2": ["111", "001", "111", "100", "111"],
  "3": ["111", "001", "111", "001", "111"],
  "4": ["101", "101", "111", "001", "001"],
  "5": ["111", "100", "111", "001", "111"],
  "6": ["111", "100", "111", "101", "111"],
  "7": ["111", "001", "010", "010", "010"],
  "8": ["111", "101", "111", "101", "111"],
  "9": ["111", "101", "111", "001", "111"],
  ".": ["000", "000", "000", "000", "010"],
  "-": ["000", "000", "111", "000", "000"],
  " ": ["000", "000", "000", "000", "000"],
};

function textWidth(text: string, size: number): number {
  return text.length * 4 * size - size;
}

function drawText(canvas: Canvas, text: string, x: number, y: number, size: number, color: Rgb): void {
  for (const [i, ch] of [...text].entries()) {
    const rows = kFont[ch] ?? kFont[" "];
    rows.forEach((row, r) => {
      for (let c = 0; c < 3; c++) {
        if (row[c] === "1") canvas.fillRect(Math.round(x + (i * 4 + c) * size), Math.round(y + r * size), size, size, color);
      }
    });
  }
}
