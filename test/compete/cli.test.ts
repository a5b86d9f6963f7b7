// `tennis-train match` and `tennis-train league` from the command line: output, --json, and the
// message and exit code of every bad input.
import { expect } from "chai";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { main } from "../../src/apps/cli/main.ts";
import { runCli } from "../cli/cli.test.ts";

/** The message of a usage error (exit code 2), from the CLI run in this process (no addon load per case). */
async function usageError(args: string[]): Promise<string> {
  const lines: string[] = [];
  const original = console.error;
  const exitCode = process.exitCode;
  console.error = (...parts: unknown[]) => void lines.push(parts.join(" "));
  let code: typeof process.exitCode;
  try {
    await main(args);
  } finally {
    console.error = original;
    code = process.exitCode;
    process.exitCode = exitCode;
  }
  expect(code, lines.join("\n")).to.equal(2);
  return lines.join("\n").trim();
}

describe("compete/cli", function () {
  this.timeout(300_000);
  const missing = join(tmpdir(), "tt-no-such-run");
  const spec = "a SPEC is a run directory, a checkpoint folder, first:<self-play run or checkpoint>, scripted, rally or random";

  it("match prints the record, the score and the Elo difference; --json is one object on the last line", () => {
    const text = runCli(["match", "--a", "scripted", "--b", "random", "--episodes", "8", "--seed", "2"]);
    expect(text.code, text.stderr).to.equal(0);
    expect(text.stdout).to.match(/^scripted vs random: 8 points \(seed 2, 8 envs, sides swapped every point\)\nA wins \d+, loses \d+, draws \d+ \(A on side 0: \d+\/\d+\/\d+, on side 1: \d+\/\d+\/\d+\)\nA's score \d\.\d{3} \(95% \d\.\d{3}-\d\.\d{3}\), Elo A - B [+-]?(\d+|inf) \(95% [+-]?(\d+|inf) to [+-]?(\d+|inf)\)/);
    const json = runCli(["match", "--a", "scripted", "--b", "random", "--episodes", "8", "--seed", "2", "--json"]);
    const result = JSON.parse(json.stdout.trim().split("\n").pop()!);
    expect(result).to.include({ a: "scripted", b: "random", episodes: 8, seed: 2, envs: 8 });
    expect(result.wins + result.losses + result.draws).to.equal(8);
    expect(result.outcomes).to.match(/^[WLD]{8}$/);
  });

  it("match: every bad input is a usage error that names it", async () => {
    expect(await usageError(["match", "--a", "scripted"])).to.equal(`match needs --a SPEC and --b SPEC (${spec})`);
    expect(await usageError(["match", "--a", "scripted", "--b", missing])).to.equal(`No player at ${missing} for --b: no such file or directory (${spec})`);
    const empty = mkdtempSync(join(tmpdir(), "tt-empty-"));
    expect(await usageError(["match", "--a", empty, "--b", "random"])).to.equal(`No player at ${empty} for --a: it holds no complete checkpoint (${spec})`);
    for (const [value, shown] of [["0", "0 of type number"], ["1.5", "1.5 of type number"], ["abc", '"abc" of type string']]) {
      expect(await usageError(["match", "--a", "scripted", "--b", "random", "--episodes", value])).to.equal(
        `Expected integer between 1 and 1000000 for --episodes but received ${shown}`,
      );
    }
    expect(await usageError(["match", "--a", "scripted", "--b", "random", "--seed", "-1"])).to.equal(
      "Expected integer between 0 and 4294967295 for --seed but received -1 of type number",
    );
    expect(await usageError(["match", "--a", "scripted", "--b", "random", "--envs", "0"])).to.equal(
      "Expected integer between 1 and 4096 for --envs but received 0 of type number",
    );
    expect(await usageError(["match", "--a", "scripted", "--b", "random", "--episodse", "3"])).to.equal("Unknown option --episodse (did you mean --episodes?)");
  });

  it("watch --a --b writes one competitive point as a GIF; its flags are checked", async () => {
    const gif = join(mkdtempSync(join(tmpdir(), "tt-watch-")), "point.gif");
    const result = runCli(["watch", "--a", "scripted", "--b", "random", "--seed", "1", "--out", gif]);
    expect(result.code, result.stderr).to.equal(0);
    expect(result.stdout.trim()).to.match(new RegExp(`^Wrote ${gif}: \\d+ frames \\(\\d+ KiB\\), scripted vs random \\(A on the left\\), (the point decided|a draw \\(not decided within the cap\\))$`));
    expect(existsSync(gif)).to.equal(true);
    expect(await usageError(["watch", "--a", "scripted"])).to.equal(`watch --a SPEC needs --b SPEC too (${spec})`);
    expect(await usageError(["watch", "--checkpoint", missing, "--a", "scripted", "--b", "random"])).to.equal("watch takes --checkpoint DIR or --a SPEC --b SPEC, not both");
    expect(await usageError(["watch"])).to.equal("watch needs --checkpoint DIR (a run directory or a checkpoint folder), or --a SPEC --b SPEC for competitive play");
  });

  it("league: every bad input is a usage error that names it", async () => {
    expect(await usageError(["league"])).to.equal("Not enough non-option arguments: got 0, need at least 1");
    const out = join(mkdtempSync(join(tmpdir(), "tt-league-out-")), "league");
    expect(await usageError(["league", missing, "--out", out])).to.equal(
      `No checkpoint at ${missing}: no such file or directory (league takes run directories or checkpoint folders)`,
    );
    expect(await usageError(["league", missing, "--anchors", "scripted,best"])).to.equal(
      'Expected none or a comma-separated list of scripted, rally, random for --anchors but received "scripted,best" of type string',
    );
    expect(await usageError(["league", missing, "--checkpoints", "some"])).to.contain('Argument: checkpoints, Given: "some", Choices: "all", "latest"');
    expect(await usageError(["league", missing, "--episodes", "-3"])).to.equal("Expected integer between 1 and 1000000 for --episodes but received -3 of type number");
    // A failed league writes nothing.
    expect(existsSync(join(out, "league.md"))).to.equal(false);
  });
});
