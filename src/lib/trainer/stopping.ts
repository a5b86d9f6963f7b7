// When a run stops: solved (train.stopWhenSolved, past the polishing that train.polishTarget asks for)
// or out of episodes (train.episodes), decided after each step's update round and policy check.
import type { Config } from "../config/types.ts";

/**
 * train.polishTarget: a solved run goes on until a greedy check reaches it, for train.polishEpisodes at
 * most. `bestCheck` is the best check's score (null without checks: train.selectEvery 0).
 */
export function polishing(t: Config["train"], solvedAt: number | null, bestCheck: number | null, episodes: number): boolean {
  return bestCheck !== null && t.polishTarget > 0 && bestCheck < t.polishTarget && solvedAt !== null && episodes - solvedAt < t.polishEpisodes;
}

/** Why the run stops after this step: "solved", "episodes" (the budget is spent), or null: it goes on. */
export function stopAfterStep(t: Config["train"], solvedAt: number | null, bestCheck: number | null, episodes: number): "solved" | "episodes" | null {
  if (solvedAt !== null && t.stopWhenSolved && !polishing(t, solvedAt, bestCheck, episodes)) return "solved";
  return episodes >= t.episodes ? "episodes" : null;
}
