// Report-ready charts of a run: Vega-Lite specs compiled by vega to SVG in Node (the `none` renderer: no
// canvas, no browser), then @resvg/resvg-js turns the SVG into a PNG with a system font. Every chart is
// written twice, as NAME.svg and NAME.png (the SVG alone where @resvg/resvg-js cannot load, as in the
// one-file CLI bundle of scripts/bundle-cli.sh).
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

import type { TopLevelSpec } from "vega-lite";

import type { LogRecord } from "./logger.ts";


/** The font family of chart text (Debian's fonts-dejavu-core); resvg finds it among the system fonts. */
export const kChartFont = "DejaVu Sans";
/** PNG pixels per SVG pixel. */
const kPngZoom = 2;
/** Plot area of one chart, SVG pixels. */
const kWidth = 720;
const kHeight = 300;
/** Height of one diagnostics panel. */
const kPanelHeight = 110;

/** A piece of a Vega-Lite spec, built as plain data and checked by vega-lite's compiler at run time. */
type SpecPart = Record<string, unknown>;

/** SVG text to PNG bytes, or null where no rasteriser is available. */
export type Rasterise = (svg: string) => Promise<Buffer | null>;

type ResvgModule = typeof import("@resvg/resvg-js");
/** The native package, named through a variable so that bundlers leave the import to run time. */
const kResvgPackage = "@resvg/resvg-js";
let resvgModule: Promise<ResvgModule | null> | undefined;

/** @resvg/resvg-js, loaded on first use; null (said once on stderr) where it cannot load. */
function loadResvg(): Promise<ResvgModule | null> {
  resvgModule ??= import(kResvgPackage).then(
    (module) => module as ResvgModule,
    (err: Error) => {
      process.stderr.write(`charts: PNG files skipped, ${kResvgPackage} did not load (${err.message.split("\n")[0]}); the SVG files are written\n`);
      return null;
    },
  );
  return resvgModule;
}

/** The PNG of an SVG chart by resvg, with the chart font among the system fonts. */
export const rasteriseWithResvg: Rasterise = async (svg) => {
  const resvg = await loadResvg();
  if (!resvg) return null;
  const options = { font: { loadSystemFonts: true, defaultFontFamily: kChartFont }, fitTo: { mode: "zoom" as const, value: kPngZoom } };
  return new resvg.Resvg(svg, options).render().asPng();
};

/**
 * The chart's SVG text and its PNG rendering (null where `rasterise` has none). vega and vega-lite are
 * imported on first use: vega-canvas awaits an optional import at module level, and a module-level await
 * in the static import graph would make every importer of this file wait on it (and deadlocks the
 * one-file bundle, whose module initialisers then await each other).
 */
export async function renderChart(
  spec: TopLevelSpec,
  rasterise: Rasterise = rasteriseWithResvg,
): Promise<{ svg: string; png: Buffer | null }> {
  const [vega, { compile }] = await Promise.all([import("vega"), import("vega-lite")]);
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: "none" });
  try {
    const svg = await view.toSVG();
    return { svg, png: await rasterise(svg) };
  } finally {
    view.finalize();
  }
}

/** Writes `${base}.svg` and, where one could be rendered, `${base}.png`; returns the paths written. */
export async function writeChart(spec: TopLevelSpec, base: string, rasterise?: Rasterise): Promise<string[]> {
  const { svg, png } = await renderChart(spec, rasterise);
  writeFileSync(`${base}.svg`, svg);
  if (!png) return [`${base}.svg`];
  writeFileSync(`${base}.png`, png);
  return [`${base}.svg`, `${base}.png`];
}

/** Where a run stands on the episode axis: its last episode, and the solving episode (null: unsolved). */
export interface RunPhases {
  episodes: number;
  solvedAt: number | null;
}

/**
 * The layers that mark a run's phases on an episode axis: a dashed rule with a label at the solving
 * episode, and the polishing phase (training on past the solve, train.polishTarget) shaded.
 */
function phaseLayers({ episodes, solvedAt }: RunPhases): SpecPart[] {
  if (solvedAt === null) return [];
  const layers: SpecPart[] = [];
  if (episodes > solvedAt) {
    layers.push({
      data: { values: [{ from: solvedAt, to: episodes, label: "polishing" }] },
      layer: [
        { mark: { type: "rect", color: "#2ca02c", opacity: 0.1 }, encoding: { x: { field: "from", type: "quantitative" }, x2: { field: "to" } } },
        {
          mark: { type: "text", align: "center", baseline: "bottom", dy: -4, color: "#2ca02c", fontSize: 11 },
          encoding: { x: { datum: (solvedAt + episodes) / 2, type: "quantitative" }, y: { value: 0 }, text: { field: "label" } },
        },
      ],
    });
  }
  layers.push({
    data: { values: [{ episode: solvedAt, label: `solved at episode ${solvedAt}` }] },
    layer: [
      { mark: { type: "rule", color: "#d62728", strokeDash: [6, 4], strokeWidth: 1.5 }, encoding: { x: { field: "episode", type: "quantitative" } } },
      {
        mark: { type: "text", align: "right", baseline: "top", dx: -4, dy: 4, color: "#d62728", fontSize: 11 },
        encoding: { x: { field: "episode", type: "quantitative" }, y: { value: 0 }, text: { field: "label" } },
      },
    ],
  });
  return layers;
}

const kEpisodeAxis = { title: "Episode", grid: true, tickMinStep: 1 };

/** Shared look: white background, the chart font, titles left-aligned. */
function chartConfig() {
  return {
    background: "white",
    font: kChartFont,
    title: { anchor: "start", fontSize: 15 },
    axis: { labelFontSize: 11, titleFontSize: 12 },
    legend: { labelFontSize: 11, labelLimit: 320, orient: "top-left", fillColor: "rgba(255,255,255,0.8)", padding: 4 },
  };
}

/** What the scores chart shows. */
export interface ScoresChartInput extends RunPhases {
  /** Each episode's score (max over agents), episode 1 first. */
  scores: readonly number[];
  /** The moving average after each episode. */
  averages: readonly number[];
  /** The solving threshold of the moving average. */
  target: number;
  /** Episodes in the moving average. */
  window: number;
}

/** Scores per episode as dots, their moving average as a line, the target dashed, the solve and polishing marked. */
export function scoresSpec(input: ScoresChartInput): TopLevelSpec {
  const series = ["episode score", `${input.window}-episode average`, `target ${input.target}`];
  const color = (name: string) => ({ datum: name, type: "nominal", scale: { domain: series, range: ["#8fb3e0", "#e6550d", "#555555"] }, legend: { title: null } });
  const values = input.scores.map((score, i) => ({ episode: i + 1, score, average: input.averages[i] }));
  const x = { field: "episode", type: "quantitative", axis: kEpisodeAxis, scale: { domain: [1, Math.max(2, input.scores.length)] } };
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    title: { text: "Score per episode", subtitle: subtitle(input) },
    width: kWidth,
    height: kHeight,
    config: chartConfig(),
    layer: [
      ...phaseLayers(input),
      {
        data: { values },
        layer: [
          { mark: { type: "circle", size: 12, opacity: 0.8 }, encoding: { x, y: { field: "score", type: "quantitative", title: "Score (max over agents)" }, color: color(series[0]) } },
          { mark: { type: "line", strokeWidth: 2 }, encoding: { x, y: { field: "average", type: "quantitative" }, color: color(series[1]) } },
        ],
      },
      {
        data: { values: [{ target: input.target }] },
        mark: { type: "rule", strokeDash: [6, 4], strokeWidth: 1.5 },
        encoding: { y: { field: "target", type: "quantitative" }, color: color(series[2]) },
      },
    ],
  } as unknown as TopLevelSpec;
}

function subtitle({ episodes, solvedAt }: RunPhases): string {
  if (solvedAt === null) return `${episodes} episodes, not solved`;
  return episodes > solvedAt ? `solved at episode ${solvedAt}; trained on to episode ${episodes}` : `solved at episode ${solvedAt}`;
}

/** One diagnostics panel: its title, y axis title, the metric keys it draws (with legend names), log scale or not. */
interface Panel {
  title: string;
  keys: [key: string, name: string][];
  log: boolean;
}

const kDiagnosticsPanels: Panel[] = [
  { title: "Critic loss", keys: [["train/critic_loss", "critic loss"]], log: true },
  { title: "Actor loss", keys: [["train/actor_loss", "actor loss (-Q)"]], log: false },
  { title: "Q (batch mean)", keys: [["train/q_mean", "mean Q"]], log: false },
  { title: "Gradient norm", keys: [["train/critic_grad_norm", "critic"], ["train/actor_grad_norm", "actor"]], log: true },
  { title: "Action saturation", keys: [["train/action_saturation", "|action| near 1"]], log: false },
];

/**
 * Losses, Q, gradient norms and saturation per episode from the run's metric records (`step` is the
 * episode), one panel each with the solve and the polishing phase marked; log panels leave out values <= 0.
 */
export function diagnosticsSpec(records: readonly LogRecord[], phases: RunPhases): TopLevelSpec {
  const x = { field: "episode", type: "quantitative", axis: kEpisodeAxis, scale: { domain: [1, Math.max(2, phases.episodes)] } };
  const panels = kDiagnosticsPanels.map(({ title, keys, log }) => {
    const values = records.flatMap((r) =>
      keys.flatMap(([key, series]) => {
        const value = r[key];
        return typeof value === "number" && Number.isFinite(value) && (!log || value > 0) ? [{ episode: r.step, series, value }] : [];
      }),
    );
    return {
      title: { text: title, fontSize: 12 },
      width: kWidth,
      height: kPanelHeight,
      layer: [
        ...phaseLayers(phases),
        {
          data: { values },
          mark: { type: "line", strokeWidth: 1.2, clip: true },
          encoding: {
            x,
            y: {
              field: "value", type: "quantitative", title: log ? `${title} (log)` : title,
              scale: log ? { type: "log" } : { zero: false },
            axis: log ? { values: decades(values.map((v) => v.value)), format: "~g" } : { tickCount: 5, format: "~g" },
            },
            color: { field: "series", type: "nominal", scale: { domain: keys.map(([, name]) => name) }, legend: { title: null, orient: "right" } },
          },
        },
      ],
    };
  });
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    title: { text: "Training diagnostics", subtitle: subtitle(phases) },
    config: chartConfig(),
    vconcat: panels,
    resolve: { scale: { color: "independent", y: "independent" }, legend: { color: "independent" } },
  } as unknown as TopLevelSpec;
}

/** The powers of ten from the one at or below the least value to the one at or above the largest: the
 * ticks of a log axis (vega's own log ticks draw a grid line at every 1-9 multiple). */
function decades(values: readonly number[]): number[] {
  if (values.length === 0) return [];
  const low = Math.floor(Math.log10(Math.min(...values)));
  const high = Math.ceil(Math.log10(Math.max(...values)));
  return Array.from({ length: high - low + 1 }, (_, i) => Number(`1e${low + i}`));
}

/** The metric records of a run's metrics.jsonl (none when it has none). */
export function readMetrics(runDir: string): LogRecord[] {
  const path = join(runDir, "metrics.jsonl");
  if (!existsSync(path)) return [];
  return readFileSync(path, "utf8").split("\n").filter((line) => line.trim() !== "").map((line) => JSON.parse(line) as LogRecord);
}

/** Writes scores.{png,svg} and diagnostics.{png,svg} into the run directory; returns the paths written. */
export async function writeRunPlots(runDir: string, input: ScoresChartInput): Promise<string[]> {
  const scores = await writeChart(scoresSpec(input), join(runDir, "scores"));
  const diagnostics = await writeChart(diagnosticsSpec(readMetrics(runDir), input), join(runDir, "diagnostics"));
  return [...scores, ...diagnostics];
}

/** One trial of a study on the objective chart: its number, state and objective (null unless complete). */
export interface TrialPoint {
  number: number;
  state: string;
  objective: number | null;
}

/**
 * A study's objective per trial: complete trials as dots, the best so far as a step line, pruned and
 * failed trials (no objective) as marks along the top; `yTitle` names the objective.
 */
export function objectiveSpec(trials: readonly TrialPoint[], yTitle: string): TopLevelSpec {
  const series = ["complete trial", "best so far", "pruned", "failed"];
  const color = { field: "series", type: "nominal", scale: { domain: series, range: ["#1f77b4", "#e6550d", "#8c8c8c", "#d62728"] }, legend: { title: null, orient: "right" } };
  const sorted = [...trials].sort((a, b) => a.number - b.number);
  const complete = sorted.filter((t) => t.state === "complete" && t.objective !== null);
  let best = Infinity;
  const bestSoFar = complete.map((t) => ({ trial: t.number, objective: (best = Math.min(best, t.objective!)), series: series[1] }));
  const lastTrial = Math.max(1, ...sorted.map((t) => t.number));
  if (bestSoFar.length > 0) bestSoFar.push({ ...bestSoFar[bestSoFar.length - 1], trial: lastTrial });
  const x = { field: "trial", type: "quantitative", title: "Trial", scale: { domain: [0, lastTrial] }, axis: { tickMinStep: 1, format: "d" } };
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    title: { text: "Objective per trial", subtitle: `${complete.length} complete of ${trials.length} trials; lower is better` },
    width: kWidth,
    height: kHeight,
    config: chartConfig(),
    layer: [
      { data: { values: bestSoFar }, mark: { type: "line", interpolate: "step-after", strokeWidth: 2 }, encoding: { x, y: { field: "objective", type: "quantitative" }, color } },
      {
        data: { values: complete.map((t) => ({ trial: t.number, objective: t.objective, series: series[0] })) },
        mark: { type: "circle", size: 60 },
        encoding: { x, y: { field: "objective", type: "quantitative", title: yTitle, scale: { zero: false, padding: 12 } }, color },
      },
      {
        data: { values: sorted.filter((t) => t.state === "pruned" || t.state === "failed").map((t) => ({ trial: t.number, series: t.state })) },
        mark: { type: "point", shape: "triangle-down", size: 70, filled: true },
        encoding: { x, y: { value: 6 }, color },
      },
    ],
  } as unknown as TopLevelSpec;
}
