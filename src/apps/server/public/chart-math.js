// Pure helpers of the dashboard (no DOM, so the tests import them in Node): axis ticks and their
// labels, TensorBoard's debiased EMA smoothing, number and duration formats, config differences, ETA.
// The page loads the plain ES modules of public/ only, so these cannot import src/'s TypeScript helpers.

/** The round step (1, 2 or 5 times a power of ten) nearest to `span` split into `ticks` parts. */
export function niceStep(span, ticks) {
  const raw = span / Math.max(1, ticks);
  if (!(raw > 0) || !Number.isFinite(raw)) return 1;
  const power = 10 ** Math.floor(Math.log10(raw));
  const m = raw / power;
  return (m >= 7.5 ? 10 : m >= 3.5 ? 5 : m >= 1.5 ? 2 : 1) * power;
}

/** Multiples of a round step inside [lo, hi], each snapped so float error never shows (no 6.9e-18 for 0). */
export function linearTicks(lo, hi, count = 4) {
  const step = niceStep(hi - lo, count);
  const ticks = [];
  for (let i = Math.ceil(lo / step - 1e-9); i * step <= hi + step * 1e-9; i++) ticks.push(snap(i * step, step));
  return { ticks, step };
}

/**
 * Ticks of a log axis given the range of log10(value): whole decades when it spans at least one,
 * else 1, 2 and 5 times a power of ten, else round linear steps. Values, not exponents.
 */
export function logTicks(lo10, hi10, count = 5) {
  if (hi10 - lo10 >= 1) {
    const stride = Math.max(1, Math.ceil((Math.floor(hi10) - Math.ceil(lo10) + 1) / count));
    const ticks = [];
    for (let k = Math.ceil(lo10); k <= Math.floor(hi10); k += stride) ticks.push(Number(`1e${k}`));
    return ticks;
  }
  const ticks = [];
  for (let k = Math.floor(lo10); k <= Math.ceil(hi10); k++) {
    for (const m of [1, 2, 5]) {
      const v = Number(`${m}e${k}`);
      if (Math.log10(v) >= lo10 - 1e-12 && Math.log10(v) <= hi10 + 1e-12) ticks.push(v);
    }
  }
  if (ticks.length >= 2) return ticks;
  const { ticks: linear } = linearTicks(10 ** lo10, 10 ** hi10, 3);
  return linear.filter((v) => v > 0);
}

/** `v` rounded to the precision of `step` (a multiple of a step computed in floats carries noise). */
function snap(v, step) {
  const decimals = Math.max(0, -Math.floor(Math.log10(step)) + 1);
  const rounded = Number(v.toFixed(Math.min(20, decimals)));
  return rounded === 0 ? 0 : rounded;
}

/** Short text of a number for ticks, tables and legends: 4 significant digits at most, exponents only
 *  for very small or very large magnitudes, written without padding ("1e-4", "2.5e-5"). */
export function formatNumber(v, digits = 4) {
  if (typeof v !== "number") return String(v);
  if (!Number.isFinite(v)) return String(v);
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e6 || a < 1e-3) {
    const [mantissa, exponent] = v.toExponential(digits - 1).split("e");
    return `${Number(mantissa)}e${Number(exponent)}`;
  }
  if (Number.isInteger(v)) return String(v);
  return String(Number(v.toPrecision(digits)));
}

/**
 * TensorBoard's scalar smoothing: an exponential moving average with weight `weight` in [0, 1),
 * debiased so the first points are not pulled towards 0. Non-finite values pass through unsmoothed.
 */
export function emaSmooth(values, weight) {
  if (!(weight > 0)) return values.slice();
  let last = 0;
  let debias = 0;
  return values.map((v) => {
    if (!Number.isFinite(v)) return v;
    last = last * weight + (1 - weight) * v;
    debias = debias * weight + (1 - weight);
    return last / debias;
  });
}

/** "45 s", "3 min 20 s", "1 h 02 min". */
export function formatDuration(seconds) {
  if (!Number.isFinite(seconds) || seconds < 0) return "";
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, "0")} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")} min`;
}

/** "0 B", "812 B", "3.4 KiB", "12.1 MiB". */
export function formatBytes(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} KiB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
  return `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
}

/** [dotted key, leaf value] pairs of a JSON object; arrays are leaves. */
export function flatten(object, prefix = "") {
  const pairs = [];
  for (const [key, value] of Object.entries(object ?? {})) {
    const path = prefix ? `${prefix}.${key}` : key;
    if (value !== null && typeof value === "object" && !Array.isArray(value)) pairs.push(...flatten(value, path));
    else pairs.push([path, value]);
  }
  return pairs;
}

/** Config keys under these prefixes say where and how a run logs, not how it learns. */
const kNotHyperparameters = ["log."];

/**
 * The hyperparameters that differ between configs (a Map or array of resolved configs): dotted keys,
 * sorted, whose values are not the same in all of them; where runs log is left out.
 */
export function configDifferences(configs) {
  const list = [...(configs instanceof Map ? configs.values() : configs)];
  if (list.length < 2) return [];
  const values = new Map();
  list.forEach((config, i) => {
    for (const [key, value] of flatten(config)) {
      if (kNotHyperparameters.some((p) => key.startsWith(p))) continue;
      if (!values.has(key)) values.set(key, new Array(list.length).fill(undefined));
      values.get(key)[i] = JSON.stringify(value);
    }
  });
  return [...values].filter(([, texts]) => new Set(texts).size > 1).map(([key]) => key).sort();
}

/** The value at a dotted key of an object, or undefined. */
export function pick(object, dotted) {
  return dotted.split(".").reduce((o, k) => (o == null ? undefined : o[k]), object);
}

/**
 * Seconds left until a running run reaches its episode budget at its rate so far; null when unknown.
 * It is an upper bound: a run stops earlier once it is solved (and polished).
 */
export function etaSeconds({ episodes, budget, elapsedS }) {
  if (!(episodes > 0) || !(budget > 0) || !(elapsedS > 0)) return null;
  return Math.max(0, ((budget - episodes) * elapsedS) / episodes);
}
