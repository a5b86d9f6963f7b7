// A small canvas line chart for the dashboard (no library): series of (episode, value) points drawn
// as lines or dots, axes with a few round ticks, an optional dashed reference line and a legend.

function niceStep(span, ticks) {
  const raw = span / Math.max(1, ticks);
  const power = 10 ** Math.floor(Math.log10(raw));
  const m = raw / power;
  return (m >= 5 ? 10 : m >= 2 ? 5 : m >= 1 ? 2 : 1) * power;
}

function format(v) {
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e4 || a < 1e-3) return v.toExponential(1);
  return Number(v.toPrecision(3)).toString();
}

export class LineChart {
  /**
   * @param canvas a <canvas>
   * @param series [{key, label, color, dots?}] keys of the metric rows to plot
   * @param options {title, reference?: {value, label}, log?: boolean}
   */
  constructor(canvas, series, options = {}) {
    this.canvas = canvas;
    this.series = series;
    this.options = options;
    this.data = new Map(series.map((s) => [s.key, []]));
    this.pending = false;
  }

  /** Adds metric rows ({step, key: value, ...}); a key missing from a row adds no point. */
  add(rows) {
    for (const row of rows) {
      for (const s of this.series) {
        const v = row[s.key];
        if (typeof v === "number" && Number.isFinite(v) && (!this.options.log || v > 0)) this.data.get(s.key).push([row.step, v]);
      }
    }
    this.schedule();
  }

  clear() {
    for (const points of this.data.values()) points.length = 0;
    this.schedule();
  }

  get points() {
    let n = 0;
    for (const points of this.data.values()) n += points.length;
    return n;
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
    const { canvas } = this;
    const ratio = window.devicePixelRatio || 1;
    const cssW = canvas.clientWidth || 400;
    const cssH = canvas.clientHeight || 200;
    if (canvas.width !== Math.round(cssW * ratio)) canvas.width = Math.round(cssW * ratio);
    if (canvas.height !== Math.round(cssH * ratio)) canvas.height = Math.round(cssH * ratio);
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, cssW, cssH);
    const margin = { left: 52, right: 10, top: 22, bottom: 24 };
    const w = cssW - margin.left - margin.right;
    const h = cssH - margin.top - margin.bottom;
    ctx.font = "12px system-ui, sans-serif";
    ctx.fillStyle = "#1c2330";
    ctx.textBaseline = "top";
    ctx.fillText(this.options.title ?? "", margin.left, 3);

    const all = [...this.data.values()].flat();
    const tf = this.options.log ? Math.log10 : (v) => v;
    let [x0, x1] = [Infinity, -Infinity];
    let [y0, y1] = [Infinity, -Infinity];
    for (const [x, y] of all) {
      x0 = Math.min(x0, x);
      x1 = Math.max(x1, x);
      y0 = Math.min(y0, tf(y));
      y1 = Math.max(y1, tf(y));
    }
    const ref = this.options.reference;
    if (ref && all.length) {
      y0 = Math.min(y0, tf(ref.value));
      y1 = Math.max(y1, tf(ref.value));
    }
    if (!all.length) {
      ctx.fillStyle = "#7a8291";
      ctx.fillText("no data yet", margin.left + 8, margin.top + h / 2 - 6);
      canvas.dataset.points = "0";
      return;
    }
    if (x1 === x0) x1 = x0 + 1;
    if (y1 === y0) [y0, y1] = [y0 - 0.5, y1 + 0.5];
    const pad = (y1 - y0) * 0.05;
    y0 -= pad;
    y1 += pad;
    const px = (x) => margin.left + ((x - x0) / (x1 - x0)) * w;
    const py = (y) => margin.top + h - ((tf(y) - y0) / (y1 - y0)) * h;

    ctx.strokeStyle = "#c9d1dc";
    ctx.fillStyle = "#4a5260";
    ctx.lineWidth = 1;
    const yStep = niceStep(y1 - y0, 4);
    ctx.textBaseline = "middle";
    ctx.textAlign = "right";
    for (let t = Math.ceil(y0 / yStep) * yStep; t <= y1; t += yStep) {
      const y = margin.top + h - ((t - y0) / (y1 - y0)) * h;
      ctx.beginPath();
      ctx.moveTo(margin.left, y);
      ctx.lineTo(margin.left + w, y);
      ctx.stroke();
      ctx.fillText(this.options.log ? format(10 ** t) : format(t), margin.left - 5, y);
    }
    const xStep = Math.max(1, niceStep(x1 - x0, 6));
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    for (let t = Math.ceil(x0 / xStep) * xStep; t <= x1; t += xStep) ctx.fillText(format(t), px(t), margin.top + h + 5);
    ctx.textAlign = "left";

    if (ref) {
      ctx.strokeStyle = "#c0392b";
      ctx.setLineDash([6, 4]);
      ctx.beginPath();
      ctx.moveTo(margin.left, py(ref.value));
      ctx.lineTo(margin.left + w, py(ref.value));
      ctx.stroke();
      ctx.setLineDash([]);
    }
    for (const s of this.series) {
      const points = this.data.get(s.key);
      ctx.strokeStyle = ctx.fillStyle = s.color;
      if (s.dots) {
        for (const [x, y] of points) ctx.fillRect(px(x) - 1.5, py(y) - 1.5, 3, 3);
      } else {
        ctx.lineWidth = 2;
        ctx.beginPath();
        points.forEach(([x, y], i) => (i === 0 ? ctx.moveTo(px(x), py(y)) : ctx.lineTo(px(x), py(y))));
        ctx.stroke();
        ctx.lineWidth = 1;
      }
    }
    // Legend, right-aligned on the title line.
    let lx = margin.left + w;
    ctx.textAlign = "right";
    ctx.textBaseline = "top";
    for (const s of [...this.series].reverse()) {
      if (!this.data.get(s.key).length) continue;
      ctx.fillStyle = s.color;
      ctx.fillText(s.label, lx, 3);
      lx -= ctx.measureText(s.label).width + 14;
    }
    ctx.textAlign = "left";
    canvas.dataset.points = String(this.points);
    canvas.dataset.lastStep = String(x1);
  }
}
