// `tennis-train bench <what>`: each benchmark prints a human table, or with --json one object last.
import type { CommandModule } from "yargs";

import { benchBridge } from "../../../bench/bridge.ts";
import { benchBuffer } from "../../../bench/buffer.ts";
import { benchEnv } from "../../../bench/env.ts";
import { benchSolve, formatSolveRow, parseSeeds } from "../../../bench/solve.ts";
import { benchUpdate, formatBenchUpdate } from "../../../bench/update.ts";
import { UsageError, configFromArgv, printJson, withConfigOptions, withJson } from "./common.ts";
import { intFlag, kMaxSeed, positiveNumberFlag, stringFlag } from "./options.ts";

/** Longest measuring time per row. */
const kMaxBenchSeconds = 3600;
/** Most seeds one `bench solve` trains. */
const kMaxBenchSeeds = 1000;

/** --seeds of bench solve ("0-4", "0,1,2"): at most kMaxBenchSeeds seeds, each a valid seed. */
function seedsFlag(argv: Record<string, unknown>): number[] {
  const text = stringFlag(argv, "seeds") ?? "0-4";
  const expected = `seeds like 0-4 or 0,1,2 (at most ${kMaxBenchSeeds}, each between 0 and ${kMaxSeed})`;
  // Range ends are checked before parseSeeds expands them, so "0-4294967295" cannot fill memory.
  const ends = [...text.matchAll(/(\d+)\s*-\s*(\d+)/g)];
  if (ends.some(([, lo, hi]) => Number(hi) - Number(lo) >= kMaxBenchSeeds)) throw new UsageError(`Expected ${expected} for --seeds but received "${text}"`);
  let seeds: number[];
  try {
    seeds = parseSeeds(text);
  } catch (err) {
    throw new UsageError(`${(err as Error).message} for --seeds`);
  }
  if (seeds.length > kMaxBenchSeeds || seeds.some((s) => s > kMaxSeed)) throw new UsageError(`Expected ${expected} for --seeds but received "${text}"`);
  return seeds;
}

export const benchCommand: CommandModule = {
  command: "bench <what>",
  describe: "Benchmarks with ratios measured side by side",
  builder: (y) =>
    withJson(withConfigOptions(y, { hidden: true }))
      .epilogue("bench solve and bench update also take every training option (`tennis-train train --help` lists them).")
      .positional("what", { choices: ["env", "buffer", "update", "solve", "bridge"] as const, describe: "What to measure" })
      .option("seconds", { describe: "Measuring time per row (env, buffer, update) [default: 1-2]" })
      .option("repeats", {
        describe: "bench update: rounds of native bench and reference, taking turns; ratios of the medians [default: 3]",
      })
      .option("seeds", { type: "string", describe: "Seeds for bench solve, e.g. 0-4 or 0,1,2 [default: 0-4]" }),
  handler: async (argv) => {
    const seconds = positiveNumberFlag(argv, "seconds", kMaxBenchSeconds);
    if (argv.repeats !== undefined && argv.what !== "update") throw new UsageError("--repeats applies to bench update only");
    const repeats = intFlag(argv, "repeats", 1, 100);
    const json = Boolean(argv.json);
    switch (argv.what as string) {
      case "env": {
        const result = benchEnv({ seconds });
        if (json) return printJson(result);
        for (const r of result.rows) console.log(`envs ${String(r.envs).padStart(5)}  threads ${r.threads}  ${Math.round(r.steps_per_s).toLocaleString("en-US").padStart(12)} env-steps/s`);
        return console.log(`best ${Math.round(result.best_steps_per_s).toLocaleString("en-US")} env-steps/s`);
      }
      case "buffer": {
        const result = await benchBuffer({ seconds });
        if (json) return printJson(result);
        console.log(`append  ${Math.round(result.append_per_s).toLocaleString("en-US")} transitions/s (${result.append_step} per call), ${Math.round(result.append_single_per_s).toLocaleString("en-US")}/s one per call`);
        console.log(`sample  ${Math.round(result.sample_per_s).toLocaleString("en-US")} batches/s at batch ${result.sample_batch}`);
        return console.log(`memory  ${result.rss_ratio_1e6.toFixed(3)}x the raw bytes for ${result.capacity.toLocaleString("en-US")} transitions (${result.memory})`);
      }
      case "update": {
        const result = benchUpdate({ seconds, repeats, device: configFromArgv(argv).device });
        if (json) return printJson(result);
        return console.log(formatBenchUpdate(result));
      }
      case "solve": {
        const config = configFromArgv(argv);
        const seeds = seedsFlag(argv);
        const result = await benchSolve(config, seeds, json ? undefined : (row) => console.log(formatSolveRow(row)));
        if (json) return printJson(result);
        const finalText = result.min_final_eval === null ? "" : `  lowest final eval ${result.min_final_eval.toFixed(2)}`;
        return console.log(
          `solved ${result.solved_count}/${seeds.length}  median episodes ${result.median_episodes ?? "-"}  median wall to solve ${result.median_wall_s?.toFixed(1) ?? "-"} s  ` +
            `median whole run ${result.median_total_wall_s?.toFixed(1) ?? "-"} s${finalText}`,
        );
      }
      case "bridge": {
        const result = await benchBridge({ seconds });
        if (json) return printJson(result);
        console.log(`bridge     ${Math.round(result.bridge_steps_per_s).toLocaleString("en-US")} env-steps/s (${result.envs} envs, ${result.servers} server, ${result.transport})`);
        console.log(`in-process ${Math.round(result.inproc_steps_per_s).toLocaleString("en-US")} env-steps/s`);
        return console.log(`round trip ${Math.round(result.rtt_us_median)} us median`);
      }
      default:
        throw new UsageError(`unknown benchmark ${argv.what as string}`);
    }
  },
};
