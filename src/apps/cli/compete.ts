// `tennis-train match` (two players, N points on the competitive Tennis, the Elo difference the score
// implies) and `tennis-train league` (a round robin of checkpoints with fitted Elo ratings).
import type { CommandModule } from "yargs";

import { eloText, kAnchors, leagueMarkdown, playLeague, writeLeague, type Anchor } from "../../lib/compete/league.ts";
import { PlayerSpecError, kMaxMatchEnvs, kSpecHelp, parsePlayerSpec, playMatch, type MatchResult } from "../../lib/compete/match.ts";
import { invalidParameter } from "../../../binding/validate.ts";
import { UsageError, printJson, withJson } from "./common.ts";
import { intFlag, kMaxSeed, writableDirFlag } from "./options.ts";

/** Most points a match (or a league pairing) plays. */
const kMaxMatchEpisodes = 1_000_000;
/** Folder `league` writes into unless --out says otherwise. */
export const kDefaultLeagueOut = "league";

/** A player spec flag, or a UsageError naming the flag. */
export function specFlag(argv: Record<string, unknown>, flag: string) {
  try {
    return parsePlayerSpec(argv[flag], `--${flag}`);
  } catch (err) {
    throw err instanceof PlayerSpecError ? new UsageError(err.message) : err;
  }
}

/** A PlayerSpecError thrown while running becomes a UsageError (exit 2). */
async function usageOnSpecError<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    throw err instanceof PlayerSpecError ? new UsageError(err.message) : err;
  }
}

/** One line of a match result from A's side. */
export function matchSummary(m: MatchResult): string {
  const rally = m.mean_rally_steps === null ? "no decided points" : `mean rally ${m.mean_rally_steps.toFixed(1)} steps per decided point`;
  return [
    `${m.a} vs ${m.b}: ${m.episodes} points (seed ${m.seed}, ${m.envs} envs, sides swapped every point)`,
    `A wins ${m.wins}, loses ${m.losses}, draws ${m.draws} (A on side 0: ${m.by_side[0].wins}/${m.by_side[0].losses}/${m.by_side[0].draws}, on side 1: ${m.by_side[1].wins}/${m.by_side[1].losses}/${m.by_side[1].draws})`,
    `A's score ${m.score.toFixed(3)} (95% ${m.score_low.toFixed(3)}-${m.score_high.toFixed(3)}), Elo A - B ${eloText(m.elo, m.score)} (95% ${eloText(m.elo_low, m.score_low)} to ${eloText(m.elo_high, m.score_high)}), ${rally}`,
  ].join("\n");
}

export const matchCommand: CommandModule = {
  command: "match",
  describe: "Two players play N points of competitive Tennis (sides swapped every point): wins, score with a 95% interval, the Elo difference",
  builder: (y) =>
    withJson(y)
      .option("a", { type: "string", describe: `Player A: ${kSpecHelp}` })
      .option("b", { type: "string", describe: `Player B: ${kSpecHelp}` })
      .option("episodes", { describe: "Points played (one point per episode) [default: 200]" })
      .option("seed", { describe: "Env seed (env i gets seed + i) and random players' seed [default: 0]" })
      .option("envs", { describe: `Envs played at once, up to ${kMaxMatchEnvs}; the result depends on it [default: min(episodes, 64)]` }),
  handler: async (argv) => {
    if (argv.a === undefined || argv.b === undefined) throw new UsageError(`match needs --a SPEC and --b SPEC (a SPEC is ${kSpecHelp})`);
    const episodes = intFlag(argv, "episodes", 1, kMaxMatchEpisodes, 200);
    const seed = intFlag(argv, "seed", 0, kMaxSeed, 0);
    const envs = intFlag(argv, "envs", 1, kMaxMatchEnvs);
    const a = specFlag(argv, "a");
    const b = specFlag(argv, "b");
    const result = await usageOnSpecError(() => playMatch({ a, b, episodes, seed, envs }));
    if (argv.json) return printJson(result);
    console.log(matchSummary(result));
  },
};

/** --anchors: "none" or a comma-separated subset of scripted,random. */
function anchorsFlag(argv: Record<string, unknown>): Anchor[] {
  const value = argv.anchors;
  if (value === undefined || value === "none") return [];
  const names = typeof value === "string" ? value.split(",") : [];
  if (names.length === 0 || names.some((n) => !(kAnchors as readonly string[]).includes(n)) || new Set(names).size !== names.length) {
    throw new UsageError(invalidParameter("--anchors", `none or a comma-separated list of ${kAnchors.join(", ")}`, value).message);
  }
  return names as Anchor[];
}

export const leagueCommand: CommandModule = {
  command: "league <runs..>",
  describe: "Round robin of runs' checkpoints (and scripted / random anchors) on competitive Tennis; Elo ratings fitted to all games, written as Markdown and JSON",
  builder: (y) =>
    withJson(y)
      .positional("runs", { type: "string", array: true, describe: "Run directories or checkpoint folders" })
      .option("checkpoints", { choices: ["all", "latest"] as const, describe: "Every complete checkpoint of each run, or its latest [default: latest]" })
      .option("anchors", { type: "string", describe: `Players beside the checkpoints: none, or a comma-separated list of ${kAnchors.join(", ")} [default: none]` })
      .option("episodes", { describe: "Points per pairing [default: 100]" })
      .option("seed", { describe: "Env seed of every match [default: 0]" })
      .option("envs", { describe: `Envs per match, up to ${kMaxMatchEnvs} [default: min(episodes, 64)]` })
      .option("out", { type: "string", describe: `Folder for league.md and league.json [default: ${kDefaultLeagueOut}]` }),
  handler: async (argv) => {
    const runs = (argv.runs as unknown[]).map(String);
    const episodes = intFlag(argv, "episodes", 1, kMaxMatchEpisodes, 100);
    const seed = intFlag(argv, "seed", 0, kMaxSeed, 0);
    const envs = intFlag(argv, "envs", 1, kMaxMatchEnvs);
    const anchors = anchorsFlag(argv);
    // Last: the check creates the folder, which no other bad flag should leave behind.
    const out = writableDirFlag(argv, "out", kDefaultLeagueOut);
    const league = await usageOnSpecError(() =>
      playLeague({
        runs,
        checkpoints: (argv.checkpoints as "all" | "latest" | undefined) ?? "latest",
        anchors,
        episodes,
        seed,
        envs,
        onMatch: argv.json
          ? undefined
          : (m, done, total) => console.error(`[${done}/${total}] ${m.a} vs ${m.b}: ${m.wins}/${m.draws}/${m.losses}, Elo A - B ${eloText(m.elo, m.score)}`),
      }),
    );
    const written = writeLeague(league, out);
    if (argv.json) return printJson({ ...league, files: written });
    console.log(leagueMarkdown(league));
    console.log(`Wrote ${written.markdown} and ${written.json}`);
  },
};
