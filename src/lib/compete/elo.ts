// Elo arithmetic for competitive Tennis: the expected score of a rating difference, the sequential
// update with a K-factor, and the rating difference a measured score implies, with a 95% interval
// from the score's Wilson interval. Scores count a draw as half a win (the chess convention).

/** Rating points per factor of 10 in the odds (the Elo scale). */
export const kEloScale = 400;
/** z of a two-sided 95% interval (the 0.975 quantile of the standard normal). */
export const kZ95 = 1.959963984540054;

/** Expected score of a player rated `ratingA` against one rated `ratingB`: 1 / (1 + 10^((rB - rA) / 400)). */
export function expectedScore(ratingA: number, ratingB: number): number {
  return 1 / (1 + 10 ** ((ratingB - ratingA) / kEloScale));
}

/**
 * Both ratings after one game (or a batch of games at fixed ratings) in which A scored `scoreA`
 * (1 win, 0.5 draw, 0 loss; a sum over games with `games` > 1) : rA + K (scoreA - games E_A), and
 * rB moves by the opposite amount (the update is zero-sum).
 */
export function updateElo(ratingA: number, ratingB: number, scoreA: number, k = 32, games = 1): [number, number] {
  const delta = k * (scoreA - games * expectedScore(ratingA, ratingB));
  return [ratingA + delta, ratingB - delta];
}

/** The rating difference whose expected score is `score`: 400 log10(s / (1 - s)); +-Infinity at 1 and 0. */
export function eloFromScore(score: number): number {
  if (!(score >= 0 && score <= 1)) throw new RangeError(`Expected a score in [0, 1] but received ${score}`);
  if (score === 1) return Infinity;
  if (score === 0) return -Infinity;
  return kEloScale * Math.log10(score / (1 - score));
}

/**
 * Wilson score interval of a proportion `successes` / `n` (successes may hold halves, draws counting
 * half): (p + z^2/2n +- z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n). Unlike the normal approximation it
 * stays inside [0, 1] and is not empty at p = 0 or 1.
 */
export function wilsonInterval(successes: number, n: number, z = kZ95): { low: number; high: number } {
  if (!(n > 0)) throw new RangeError(`Expected n > 0 but received ${n}`);
  if (!(successes >= 0 && successes <= n)) throw new RangeError(`Expected successes in [0, ${n}] but received ${successes}`);
  const p = successes / n;
  const z2n = (z * z) / n;
  const centre = (p + z2n / 2) / (1 + z2n);
  const half = (z / (1 + z2n)) * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n));
  return { low: Math.max(0, centre - half), high: Math.min(1, centre + half) };
}

/** Games of one player against another, from the first player's side. */
export interface Record3 {
  wins: number;
  losses: number;
  draws: number;
}

/** What a record says: the score rate, its 95% interval, and the Elo difference they imply. */
export interface ScoreEstimate {
  games: number;
  /** (wins + draws / 2) / games. */
  score: number;
  /** Wilson 95% interval of the score. */
  scoreLow: number;
  scoreHigh: number;
  /** eloFromScore(score) and of the interval's ends (+-Infinity where an end is 1 or 0). */
  elo: number;
  eloLow: number;
  eloHigh: number;
}

/** The score rate of a record, its Wilson 95% interval and the Elo difference each implies. */
export function scoreEstimate(record: Record3): ScoreEstimate {
  const games = record.wins + record.losses + record.draws;
  if (games === 0) throw new RangeError("Expected at least one game");
  const points = record.wins + record.draws / 2;
  const { low, high } = wilsonInterval(points, games);
  const score = points / games;
  return { games, score, scoreLow: low, scoreHigh: high, elo: eloFromScore(score), eloLow: eloFromScore(low), eloHigh: eloFromScore(high) };
}

/** An Elo figure for text: "+123", "-45", "+inf". */
export function formatElo(elo: number): string {
  if (elo === Infinity) return "+inf";
  if (elo === -Infinity) return "-inf";
  const rounded = Math.round(elo);
  return `${rounded > 0 ? "+" : rounded < 0 ? "-" : ""}${Math.abs(rounded)}`;
}

/** An Elo figure for JSON, which has no Infinity: the number, or null for +-Infinity (the sign is in the score). */
export function jsonElo(elo: number): number | null {
  return Number.isFinite(elo) ? elo : null;
}
