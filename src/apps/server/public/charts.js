// A small canvas line chart for the dashboard (no library): one scalar tag of one or more runs drawn
// as lines, TensorBoard-style smoothing (the raw values faint behind the smoothed line), a linear or
// log y axis with round ticks, an optional dashed reference line, a legend, and under the pointer
// each run's value at the nearest step.
import { emaSmooth, formatNumber, linearTicks, logTicks } from "./chart-math.js";

export class LineChart {
  /**
   * @param canvas a <canvas>
   * @param options {title, reference?: {value, label}, log?: boolean, smoothing?: number in [0, 1)}
   */
  constructor(canvas, options = {}) {
    this.canvas = canvas;
    this.options = options;
    /** [{label, color, points: [[step, value], ...]}] */
    this.series = [];
    this.pending = false;
    /** The x value under the pointer, or null. */
    this.hoverX = null;
    /** What the last draw mapped: the plot area's left edge and width, and its x range. */
    this.frame = null;
    canvas.addEventListener("mousemove", (e) => {
      const f = this.frame;
      if (!f) return;
      const px = e.clientX - canvas.getBoundingClientRect().left;
      this.hoverX = px < f.left || px > f.left + f.width ? null : f.x0 + ((px - f.left) / f.width) * (f.x1 - f.x0);
      this.schedule();
    });
    canvas.addEventListener("mouseleave", () => {
      this.hoverX = null;
      this.schedule();
    });
  }

  /** Replaces the series drawn (their point arrays are read at draw time, not copied). */
  setSeries(series) {
    this.series = series;
    this.schedule();
  }

  /** Points of every series (raw values, before smoothing or the log axis drops any). */
  get points() {
    return this.series.reduce((n, s) => n + s.points.length, 0);
  }

  schedule() {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      this.draw();
    });
  }

  draw() {
    const { canvas, options } = this;
    const ratio = window.devicePixelRatio || 1;
    const cssW = canvas.clientWidth || 400;
    const cssH = canvas.clientHeight || 200;
    if (canvas.width !== Math.round(cssW * ratio)) canvas.width = Math.round(cssW * ratio);
    if (canvas.height !== Math.round(cssH * ratio)) canvas.height = Math.round(cssH * ratio);
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, cssW, cssH);
    const margin = { left: 56, right: 10, top: 22, bottom: 24 };
    const w = cssW - margin.left - margin.right;
    const h = cssH - margin.top - margin.bottom;
    ctx.font = "12px system-ui, sans-serif";
    ctx.fillStyle = "#1c2330";
    ctx.textBaseline = "top";
    ctx.textAlign = "left";
    ctx.fillText(options.title ?? "", margin.left, 3);
    canvas.dataset.points = String(this.points);
    canvas.dataset.log = String(Boolean(options.log));

    // A log axis has no place for values <= 0: they are left out, as TensorBoard does.
    const usable = (y) => Number.isFinite(y) && (!options.log || y > 0);
    const tf = options.log ? Math.log10 : (v) => v;
    const lines = this.series
      .map((s) => {
        const points = s.points.filter(([, y]) => usable(y));
        const smoothed = emaSmooth(points.map(([, y]) => y), options.smoothing ?? 0);
        return { ...s, points, smoothed: points.map(([x], i) => [x, smoothed[i]]) };
      })
      .filter((s) => s.points.length > 0);
    canvas.dataset.series = String(lines.length);

    let [x0, x1, y0, y1] = [Infinity, -Infinity, Infinity, -Infinity];
    for (const s of lines) {
      for (const [x, y] of s.points) {
        x0 = Math.min(x0, x);
        x1 = Math.max(x1, x);
        y0 = Math.min(y0, tf(y));
        y1 = Math.max(y1, tf(y));
      }
    }
    const ref = options.reference && usable(options.reference.value) ? options.reference : null;
    if (!lines.length) {
      this.frame = null;
      canvas.dataset.hover = "";
      ctx.fillStyle = "#7a8291";
      ctx.fillText(options.log && this.points ? "no positive values for a log scale" : "no data yet", margin.left + 8, margin.top + h / 2 - 6);
      canvas.dataset.yticks = "";
      return;
    }
    if (ref) {
      y0 = Math.min(y0, tf(ref.value));
      y1 = Math.max(y1, tf(ref.value));
    }
    if (x1 === x0) x1 = x0 + 1;
    if (y1 === y0) [y0, y1] = options.log ? [y0 - 0.5, y1 + 0.5] : [y0 - Math.max(0.5, Math.abs(y0) * 0.1), y1 + Math.max(0.5, Math.abs(y1) * 0.1)];
    const pad = (y1 - y0) * 0.05;
    y0 -= pad;
    y1 += pad;
    const px = (x) => margin.left + ((x - x0) / (x1 - x0)) * w;
    const py = (y) => margin.top + h - ((tf(y) - y0) / (y1 - y0)) * h;

    ctx.strokeStyle = "#e3e8ee";
    ctx.fillStyle = "#4a5260";
    ctx.lineWidth = 1;
    ctx.textBaseline = "middle";
    ctx.textAlign = "right";
    const yTicks = options.log ? logTicks(y0, y1) : linearTicks(y0, y1, 4).ticks;
    const yLabels = yTicks.map((t) => formatNumber(t, 3));
    yTicks.forEach((t, i) => {
      const y = py(t);
      ctx.beginPath();
      ctx.moveTo(margin.left, y);
      ctx.lineTo(margin.left + w, y);
      ctx.stroke();
      ctx.fillText(yLabels[i], margin.left - 5, y);
    });
    canvas.dataset.yticks = yLabels.join(" ");
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    const xTicks = linearTicks(x0, x1, 6).ticks.filter((t) => Number.isInteger(t));
    for (const t of xTicks) ctx.fillText(formatNumber(t), px(t), margin.top + h + 5);

    ctx.save();
    ctx.beginPath();
    ctx.rect(margin.left, margin.top, w, h);
    ctx.clip();
    if (ref) {
      ctx.strokeStyle = "#c0392b";
      ctx.setLineDash([6, 4]);
      ctx.beginPath();
      ctx.moveTo(margin.left, py(ref.value));
      ctx.lineTo(margin.left + w, py(ref.value));
      ctx.stroke();
      ctx.setLineDash([]);
    }
    const smoothing = (options.smoothing ?? 0) > 0;
    for (const s of lines) {
      ctx.strokeStyle = s.color;
      if (smoothing) {
        ctx.globalAlpha = 0.25;
        strokeLine(ctx, s.points, px, py, 1);
        ctx.globalAlpha = 1;
      }
      strokeLine(ctx, s.smoothed, px, py, 2);
    }
    ctx.restore();

    // Legend, right-aligned on the title line.
    let lx = margin.left + w;
    ctx.textAlign = "right";
    ctx.textBaseline = "top";
    for (const s of [...lines].reverse()) {
      ctx.fillStyle = s.color;
      ctx.fillText(s.label, lx, 3);
      lx -= ctx.measureText(s.label).width + 14;
    }
    ctx.textAlign = "left";
    canvas.dataset.lastStep = String(x1);
    this.frame = { left: margin.left, width: w, x0, x1 };
    canvas.dataset.hover = this.hoverX === null ? "" : this.drawReadout(ctx, lines, px, py, margin, w, h);
  }

  /** A vertical line at the pointer and, per line, its point nearest to it (smoothed, then raw value). */
  drawReadout(ctx, lines, px, py, margin, w, h) {
    const x = px(this.hoverX);
    ctx.strokeStyle = "#9aa3af";
    ctx.beginPath();
    ctx.moveTo(x, margin.top);
    ctx.lineTo(x, margin.top + h);
    ctx.stroke();
    const rows = lines.map((s) => {
      const i = nearestIndex(s.smoothed, this.hoverX);
      const [sx, sy] = s.smoothed[i];
      ctx.fillStyle = s.color;
      ctx.beginPath();
      ctx.arc(px(sx), py(sy), 3, 0, 2 * Math.PI);
      ctx.fill();
      const raw = s.points[i][1];
      return { color: s.color, text: `${s.label} @ ${formatNumber(sx)}: ${formatNumber(sy)}${sy === raw ? "" : ` (raw ${formatNumber(raw)})`}` };
    });
    ctx.font = "11px system-ui, sans-serif";
    const width = Math.max(...rows.map((r) => ctx.measureText(r.text).width)) + 10;
    // Right of the line where the box fits, else left of it.
    const left = x + 6 + width <= margin.left + w ? x + 6 : Math.max(margin.left, x - 6 - width);
    ctx.fillStyle = "rgba(255, 255, 255, 0.9)";
    ctx.fillRect(left, margin.top + 2, width, rows.length * 14 + 6);
    ctx.textAlign = "left";
    ctx.textBaseline = "top";
    rows.forEach((r, i) => {
      ctx.fillStyle = r.color;
      ctx.fillText(r.text, left + 5, margin.top + 5 + i * 14);
    });
    return rows.map((r) => r.text).join("\n");
  }
}

/** Index of the point whose x is nearest to `x` (points in ascending x). */
function nearestIndex(points, x) {
  let [lo, hi] = [0, points.length - 1];
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (points[mid][0] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo > 0 && x - points[lo - 1][0] < points[lo][0] - x ? lo - 1 : lo;
}

function strokeLine(ctx, points, px, py, width) {
  ctx.lineWidth = width;
  ctx.beginPath();
  points.forEach(([x, y], i) => (i === 0 ? ctx.moveTo(px(x), py(y)) : ctx.lineTo(px(x), py(y))));
  ctx.stroke();
  ctx.lineWidth = 1;
}
