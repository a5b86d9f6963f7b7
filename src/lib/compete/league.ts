// A round-robin league on the competitive Tennis: every pair of players (checkpoints of the given
// runs, optionally the scripted controller and random play as anchors) plays a match, and one set of
// Elo ratings is fitted to all the games at once: the Bradley-Terry maximum-likelihood strengths
// (Hunter's MM iterations, draws as half a win each), with 95% Wald intervals from the Fisher
// information. One virtual draw per pairing keeps the fit finite when a player wins every game.
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

import { kCheckpointsDir, latestCheckpoint } from "../trainer/checkpoint.ts";
import { formatElo, kEloScale, kZ95 } from "./elo.ts";
import {
  PlayerSpecError,
  checkpointLabel,
  createPlayer,
  kDefaultMatchEnvs,
  matchObservations,
  runMatch,
  type MatchResult,
  type Player,
  type PlayerSpec,
} from "./match.ts";

/** Anchors a league may add beside the checkpoints. */
export const kAnchors = ["scripted", "rally", "random"] as const;
export type Anchor = (typeof kAnchors)[number];
/** Virtual draws added to every pairing's games before the fit (a prior that keeps ratings finite). */
export const kPriorDraws = 1;

export interface LeagueOptions {
  /** Run directories (or checkpoint folders). */
  runs: string[];
  /** Every complete checkpoint of each run, or only its latest. Default "latest". */
  checkpoints?: "all" | "latest";
  /** Anchors that play too. Default none. */
  anchors?: Anchor[];
  /** Points per pairing; integer >= 1. Default 100. */
  episodes?: number;
  /** Match seed (every pairing plays on the same env seeds). Default 0. */
  seed?: number;
  /** Envs per match. Default min(episodes, 64). */
  envs?: number;
  /** Called after each pairing (progress). */
  onMatch?: (result: MatchResult, done: number, total: number) => void;
}

export interface LeaguePlayer {
  label: string;
  /** The checkpoint folder, or the anchor's name. */
  spec: string;
  /** Fitted Elo rating and its 95% interval (the anchor random, when it plays, is 0; otherwise the mean is 0). */
  rating: number;
  rating_low: number;
  rating_high: number;
  games: number;
  wins: number;
  draws: number;
  losses: number;
  /** (wins + draws / 2) / games. */
  score: number;
}

export interface LeagueResult {
  episodes: number;
  seed: number;
  envs: number;
  /** How the ratings were fitted, in words. */
  method: string;
  /** Players, best rating first. */
  players: LeaguePlayer[];
  /** Every pairing's match (outcomes left out). */
  pairings: Omit<MatchResult, "outcomes">[];
}

/** The complete checkpoint folders of a run, oldest first (a checkpoint folder given itself is its only one). */
export function completeCheckpoints(runOrCheckpoint: string): string[] {
  const latest = latestCheckpoint(runOrCheckpoint);
  if (latest === null) return [];
  if (resolve(latest) === resolve(runOrCheckpoint)) return [latest];
  const root = join(runOrCheckpoint, kCheckpointsDir);
  return readdirSync(root)
    .filter((name) => !name.startsWith(".") && existsSync(join(root, name, "COMPLETE")))
    .sort()
    .map((name) => join(root, name));
}

/** The league's players: the chosen checkpoints of each run, then the anchors; PlayerSpecError for a run without one. */
export function leagueSpecs(runs: string[], checkpoints: "all" | "latest", anchors: Anchor[]): PlayerSpec[] {
  const specs: PlayerSpec[] = [];
  for (const run of runs) {
    const dirs = checkpoints === "all" ? completeCheckpoints(resolve(run)) : [latestCheckpoint(resolve(run))].filter((d): d is string => d !== null);
    if (dirs.length === 0) {
      const problem = existsSync(run) ? "it holds no complete checkpoint" : "no such file or directory";
      throw new PlayerSpecError(`No checkpoint at ${run}: ${problem} (league takes run directories or checkpoint folders)`);
    }
    for (const checkpoint of dirs) {
      if (specs.some((s) => s.kind === "checkpoint" && resolve(s.checkpoint) === resolve(checkpoint))) continue;
      // Runs of one name in different folders: the later ones' labels get " (2)", " (3)", ...
      const base = checkpointLabel(checkpoint);
      let label = base;
      for (let n = 2; specs.some((s) => s.label === label); n++) label = `${base} (${n})`;
      specs.push({ kind: "checkpoint", checkpoint, label });
    }
  }
  for (const anchor of anchors) specs.push({ kind: anchor, label: anchor } as PlayerSpec);
  if (specs.length < 2) throw new PlayerSpecError(`A league needs at least 2 players, got ${specs.length} (add runs, --checkpoints all or --anchors)`);
  return specs;
}

/** Games between players i and j from i's side: points[i][j] = wins + draws / 2, games[i][j] = games. */
export interface PairTable {
  points: number[][];
  games: number[][];
}

/**
 * Bradley-Terry maximum-likelihood Elo ratings of a pair table (draws as half a win each), with
 * `prior` virtual draws added to every pair that played, and 95% Wald intervals from the Fisher
 * information. `anchor`: the index whose rating is 0 (its interval is then 0 wide and the others are
 * relative to it), or null for mean 0 (pseudo-inverse of the information).
 */
export function fitRatings(table: PairTable, anchor: number | null, prior = kPriorDraws): { rating: number[]; low: number[]; high: number[] } {
  const k = table.points.length;
  const games = table.games.map((row, i) => row.map((g, j) => (i !== j && (g > 0 || table.games[j][i] > 0) ? g + prior : 0)));
  const points = table.points.map((row, i) => row.map((p, j) => (games[i][j] > 0 ? p + prior / 2 : 0)));
  const wins = points.map((row) => row.reduce((a, p) => a + p, 0));
  // Strengths gamma_i (Hunter 2004, MM): gamma_i <- W_i / sum_j n_ij / (gamma_i + gamma_j), normalised to geometric mean 1.
  let gamma = new Array<number>(k).fill(1);
  for (let iter = 0; iter < 100000; iter++) {
    const next = gamma.map((g, i) => {
      let denominator = 0;
      for (let j = 0; j < k; j++) if (games[i][j] > 0) denominator += games[i][j] / (g + gamma[j]);
      return denominator > 0 ? wins[i] / denominator : g;
    });
    const logMean = next.reduce((a, g) => a + Math.log(g), 0) / k;
    for (let i = 0; i < k; i++) next[i] /= Math.exp(logMean);
    const change = Math.max(...next.map((g, i) => Math.abs(Math.log(g / gamma[i]))));
    gamma = next;
    if (change < 1e-12) break;
  }
  const theta = gamma.map((g) => Math.log(g));
  // Fisher information of theta (natural log strengths): I_ii = sum_j n_ij p_ij (1 - p_ij), I_ij = -n_ij p_ij (1 - p_ij).
  const info = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < k; j++) {
      if (i === j || games[i][j] === 0) continue;
      const p = 1 / (1 + Math.exp(theta[j] - theta[i]));
      info[i][j] -= games[i][j] * p * (1 - p);
      info[i][i] += games[i][j] * p * (1 - p);
    }
  }
  let covariance: number[][];
  if (anchor === null) {
    // Pseudo-inverse of a matrix whose null space is the ones vector: (I + J/k)^-1 - J/k.
    const shifted = info.map((row) => row.map((v) => v + 1 / k));
    covariance = invert(shifted).map((row) => row.map((v) => v - 1 / k));
  } else {
    const keep = [...Array(k).keys()].filter((i) => i !== anchor);
    const reduced = invert(keep.map((i) => keep.map((j) => info[i][j])));
    covariance = Array.from({ length: k }, () => new Array<number>(k).fill(0));
    keep.forEach((i, a) => keep.forEach((j, b) => (covariance[i][j] = reduced[a][b])));
  }
  const toElo = kEloScale / Math.LN10;
  const offset = anchor === null ? theta.reduce((a, t) => a + t, 0) / k : theta[anchor];
  const rating = theta.map((t) => (t - offset) * toElo);
  const half = covariance.map((row, i) => kZ95 * Math.sqrt(Math.max(0, row[i])) * toElo);
  return { rating, low: rating.map((r, i) => r - half[i]), high: rating.map((r, i) => r + half[i]) };
}

/** Inverse of a small symmetric positive-definite matrix (Gauss-Jordan with partial pivoting). */
function invert(matrix: number[][]): number[][] {
  const n = matrix.length;
  const a = matrix.map((row, i) => [...row, ...Array.from({ length: n }, (_, j) => (i === j ? 1 : 0))]);
  for (let c = 0; c < n; c++) {
    let pivot = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(a[r][c]) > Math.abs(a[pivot][c])) pivot = r;
    [a[c], a[pivot]] = [a[pivot], a[c]];
    const d = a[c][c];
    if (d === 0) throw new Error("the league's games do not connect every player (singular information matrix)");
    for (let j = 0; j < 2 * n; j++) a[c][j] /= d;
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = a[r][c];
      if (f !== 0) for (let j = 0; j < 2 * n; j++) a[r][j] -= f * a[c][j];
    }
  }
  return a.map((row) => row.slice(n));
}

export const kLeagueMethod =
  `Bradley-Terry maximum likelihood over all games (draws count half a win each; ${kPriorDraws} virtual draw per pairing), ` +
  "Elo = 400 log10(strength); 95% Wald intervals from the Fisher information; random is rated 0 when it plays, else the mean is 0";

/** Plays the round robin (every pair once, A = the earlier player) and fits the ratings. */
export async function playLeague(options: LeagueOptions): Promise<LeagueResult> {
  const episodes = options.episodes ?? 100;
  const seed = options.seed ?? 0;
  const envs = options.envs ?? Math.min(episodes, kDefaultMatchEnvs);
  const specs = leagueSpecs(options.runs, options.checkpoints ?? "latest", options.anchors ?? []);
  const observations = matchObservations(specs);
  const k = specs.length;
  const players: Player[] = [];
  const pairings: MatchResult[] = [];
  // The players' indices of each pairing, in play order.
  const pairs: [number, number][] = [];
  const table: PairTable = {
    points: Array.from({ length: k }, () => new Array<number>(k).fill(0)),
    games: Array.from({ length: k }, () => new Array<number>(k).fill(0)),
  };
  try {
    for (const [i, spec] of specs.entries()) players.push(await createPlayer(spec, envs, (seed * 2 + 1 + i) >>> 0));
    const total = (k * (k - 1)) / 2;
    for (let i = 0; i < k; i++) {
      for (let j = i + 1; j < k; j++) {
        const result = { ...runMatch(players[i], players[j], { episodes, seed, envs, ...observations }), a: specs[i].label, b: specs[j].label };
        pairings.push(result);
        pairs.push([i, j]);
        table.points[i][j] += result.wins + result.draws / 2;
        table.points[j][i] += result.losses + result.draws / 2;
        table.games[i][j] += result.episodes;
        table.games[j][i] += result.episodes;
        options.onMatch?.(result, pairings.length, total);
      }
    }
  } finally {
    for (const player of players) player.dispose();
  }
  const randomIndex = specs.findIndex((s) => s.kind === "random");
  const fit = fitRatings(table, randomIndex >= 0 ? randomIndex : null);
  const rows: LeaguePlayer[] = specs.map((spec, i) => {
    const record = { wins: 0, draws: 0, losses: 0 };
    for (const [p, m] of pairings.entries()) {
      const [a, b] = pairs[p];
      if (a === i) (record.wins += m.wins), (record.draws += m.draws), (record.losses += m.losses);
      if (b === i) (record.wins += m.losses), (record.draws += m.draws), (record.losses += m.wins);
    }
    const games = record.wins + record.draws + record.losses;
    return {
      label: spec.label,
      spec: spec.kind === "checkpoint" ? spec.checkpoint : spec.kind,
      rating: fit.rating[i],
      rating_low: fit.low[i],
      rating_high: fit.high[i],
      games,
      ...record,
      score: games > 0 ? (record.wins + record.draws / 2) / games : 0,
    };
  });
  rows.sort((x, y) => y.rating - x.rating);
  return { episodes, seed, envs, method: kLeagueMethod, players: rows, pairings: pairings.map(({ outcomes: _, ...rest }) => rest) };
}

/** The league as Markdown: the ratings table, then every pairing. */
export function leagueMarkdown(league: LeagueResult): string {
  const lines = [
    "# League",
    "",
    `${league.players.length} players, ${league.episodes} points per pairing (sides swapped every point), seed ${league.seed}, ${league.envs} envs per match.`,
    `Ratings: ${league.method}.`,
    "",
    "| rank | player | Elo | 95% interval | games | score | W / D / L |",
    "|---:|---|---:|---|---:|---:|---|",
    ...league.players.map(
      (p, i) =>
        `| ${i + 1} | ${p.label} | ${formatElo(p.rating)} | ${formatElo(p.rating_low)} to ${formatElo(p.rating_high)} | ${p.games} | ${p.score.toFixed(3)} | ${p.wins} / ${p.draws} / ${p.losses} |`,
    ),
    "",
    "## Pairings",
    "",
    "| A | B | A's W / D / L | A's score (95%) | Elo A - B (95%) | rally steps |",
    "|---|---|---|---|---|---:|",
    ...league.pairings.map(
      (m) =>
        `| ${m.a} | ${m.b} | ${m.wins} / ${m.draws} / ${m.losses} | ${m.score.toFixed(3)} (${m.score_low.toFixed(3)}-${m.score_high.toFixed(3)}) | ${eloText(m.elo, m.score)} (${eloText(m.elo_low, m.score_low)} to ${eloText(m.elo_high, m.score_high)}) | ${m.mean_rally_steps === null ? "-" : m.mean_rally_steps.toFixed(1)} |`,
    ),
    "",
  ];
  return lines.join("\n");
}

/** An Elo figure of a match (null in JSON: infinite, signed by its score). */
export function eloText(elo: number | null, score: number): string {
  return formatElo(elo ?? (score >= 0.5 ? Infinity : -Infinity));
}

/** Writes league.md and league.json into `dir` (created where missing); returns their paths. */
export function writeLeague(league: LeagueResult, dir: string): { markdown: string; json: string } {
  mkdirSync(dir, { recursive: true });
  const markdown = join(dir, "league.md");
  const json = join(dir, "league.json");
  writeFileSync(markdown, leagueMarkdown(league));
  writeFileSync(json, `${JSON.stringify(league, null, 2)}\n`);
  return { markdown, json };
}
