// A small canvas line chart for the dashboard (no library): one scalar tag of one or more runs drawn
// as lines, TensorBoard-style smoothing (the raw values faint behind the smoothed line), a linear or
// log y axis with round ticks, an optional dashed reference line and a legend.
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
  }
}

function strokeLine(ctx, points, px, py, width) {
  ctx.lineWidth = width;
  ctx.beginPath();
  points.forEach(([x, y], i) => (i === 0 ? ctx.moveTo(px(x), py(y)) : ctx.lineTo(px(x), py(y))));
  ctx.stroke();
  ctx.lineWidth = 1;
}
