// Browser drawing of the Tennis court for the dashboard's replay canvas, the same picture as the env's
// PNG render (src/lib/env/render.ts: view window, colours, collider rectangles of the spec's section 1).
// The numbers are restated here because the browser cannot import that TypeScript module; keep them
// in step with render.ts and native/core/env/tennis.cc.

/** Inner faces of the side walls (the ball is "out" past them). */
export const kWallX = 12.27;
/** Top of the floors the rackets stand on (a ball centre touches it at y = -2.75). */
export const kFloorY = -3.25;
/** The net: x in [-0.05, 0.05], top at y = -1. */
export const kNetHalfWidth = 0.05;
export const kNetTopY = -1;
export const kBallRadius = 0.5;
/** Racket collider: a 1.1 x 1.875 box turned 55 degrees, centred off the racket position. */
const kCos55 = Math.cos((55 * Math.PI) / 180);
const kSin55 = Math.sin((55 * Math.PI) / 180);
const kRacketCentre = [-0.5 * kCos55, -0.5 * kSin55];
const kRacketHalfU = 0.55;
const kRacketHalfV = 0.9375;
/** The part of the world the canvas shows (metres). */
export const kView = { x0: -13.2, x1: 13.2, y0: -4.2, y1: 7.4 };

/** Index 0 = the right-hand racket (Unity AgentB), index 1 = the left one (AgentA). */
export const kColors = {
  sky: "rgb(236, 244, 250)",
  floor: "rgb(92, 150, 84)",
  wall: "rgb(150, 150, 160)",
  net: "rgb(40, 40, 40)",
  over: "rgb(190, 200, 215)",
  rackets: ["rgb(40, 90, 210)", "rgb(215, 70, 40)"],
  faces: ["rgb(10, 30, 110)", "rgb(120, 20, 5)"],
  ball: "rgb(214, 230, 40)",
  ballEdge: "rgb(90, 100, 10)",
  text: "rgb(30, 30, 30)",
};

/** Corners of racket `agent` at position (x, y): its mirror m is -1 for agent 0 (right), +1 for agent 1. */
export function racketCorners(agent, x, y) {
  const m = agent === 0 ? -1 : 1;
  const cx = x + m * kRacketCentre[0];
  const cy = y + kRacketCentre[1];
  const u = [m * kCos55, kSin55];
  const v = [-m * kSin55, kCos55];
  // Corners 0-1 are the hitting face (outward normal u, toward the net and up).
  return [
    [1, 1],
    [1, -1],
    [-1, -1],
    [-1, 1],
  ].map(([a, b]) => [cx + a * kRacketHalfU * u[0] + b * kRacketHalfV * v[0], cy + a * kRacketHalfU * u[1] + b * kRacketHalfV * v[1]]);
}

/**
 * Draws one frame {ball: [x, y], rackets: [[x, y], [x, y]], score: [a, b]} filling the canvas, with
 * the step number on top and `caption` at the bottom left; a null frame draws the empty court.
 */
export function drawCourt(ctx, frame, caption = "", step = undefined) {
  const { width, height } = ctx.canvas;
  const sx = width / (kView.x1 - kView.x0);
  const sy = height / (kView.y1 - kView.y0);
  const px = (x) => (x - kView.x0) * sx;
  const py = (y) => (kView.y1 - y) * sy;
  ctx.fillStyle = kColors.sky;
  ctx.fillRect(0, 0, width, height);
  // The `over` trigger (x = 0 above the net) as a faint dashed line.
  ctx.strokeStyle = kColors.over;
  ctx.lineWidth = 1;
  ctx.setLineDash([6, 6]);
  ctx.beginPath();
  ctx.moveTo(px(0), 0);
  ctx.lineTo(px(0), py(kNetTopY));
  ctx.stroke();
  ctx.setLineDash([]);
  ctx.fillStyle = kColors.floor;
  ctx.fillRect(0, py(kFloorY), width, height - py(kFloorY));
  ctx.fillStyle = kColors.wall;
  ctx.fillRect(0, 0, px(-kWallX), height);
  ctx.fillRect(px(kWallX), 0, width - px(kWallX), height);
  ctx.fillStyle = kColors.net;
  const netW = Math.max(2, 2 * kNetHalfWidth * sx);
  ctx.fillRect(px(0) - netW / 2, py(kNetTopY), netW, py(kFloorY) - py(kNetTopY));
  if (!frame) return;
  frame.rackets.forEach(([x, y], agent) => {
    const corners = racketCorners(agent, x, y).map(([cx, cy]) => [px(cx), py(cy)]);
    ctx.beginPath();
    corners.forEach(([cx, cy], i) => (i === 0 ? ctx.moveTo(cx, cy) : ctx.lineTo(cx, cy)));
    ctx.closePath();
    ctx.fillStyle = kColors.rackets[agent];
    ctx.fill();
    ctx.strokeStyle = kColors.faces[agent];
    ctx.lineWidth = 2;
    ctx.beginPath();
    ctx.moveTo(corners[0][0], corners[0][1]);
    ctx.lineTo(corners[1][0], corners[1][1]);
    ctx.stroke();
  });
  const [bx, by] = frame.ball;
  // A ball above the view is drawn at the top edge, so it never just vanishes.
  const shownY = Math.min(by, kView.y1 - kBallRadius);
  ctx.beginPath();
  ctx.arc(px(bx), py(shownY), Math.max(3, kBallRadius * sx), 0, 2 * Math.PI);
  ctx.fillStyle = kColors.ball;
  ctx.fill();
  ctx.strokeStyle = kColors.ballEdge;
  ctx.lineWidth = 1.5;
  ctx.stroke();
  // Scores and step where the PNG render prints them: left racket top-left, right top-right, step centred.
  ctx.font = "bold 16px ui-monospace, monospace";
  ctx.textBaseline = "top";
  const [s0, s1] = frame.score;
  ctx.textAlign = "left";
  ctx.fillStyle = kColors.rackets[1];
  ctx.fillText(s1.toFixed(2), 10, 8);
  ctx.textAlign = "right";
  ctx.fillStyle = kColors.rackets[0];
  ctx.fillText(s0.toFixed(2), width - 10, 8);
  ctx.textAlign = "center";
  ctx.fillStyle = kColors.text;
  if (step !== undefined) ctx.fillText(String(step), width / 2, 8);
  ctx.textAlign = "left";
  ctx.textBaseline = "bottom";
  ctx.font = "12px system-ui, sans-serif";
  ctx.fillStyle = "rgb(255, 255, 255)";
  if (caption) ctx.fillText(caption, px(-kWallX) + 8, height - 6);
}

/** A frame between two frames (t in [0, 1]), for smooth playback at the screen's rate. */
export function lerpFrame(a, b, t) {
  const mix = (p, q) => p + (q - p) * t;
  return {
    ball: [mix(a.ball[0], b.ball[0]), mix(a.ball[1], b.ball[1])],
    rackets: [0, 1].map((i) => [mix(a.rackets[i][0], b.rackets[i][0]), mix(a.rackets[i][1], b.rackets[i][1])]),
    score: b.score,
  };
}
