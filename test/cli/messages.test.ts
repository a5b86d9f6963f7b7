// The CLI's rough edges: mistyped commands, --resume and --checkpoint that name nothing, what eval and
// watch --out print, --help grouped by schema section and bench --help without the training options.
import { expect } from "chai";
import { mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { resolveConfig } from "../../src/lib/config/resolve.ts";
import { latestCheckpoint } from "../../src/lib/trainer/checkpoint.ts";
import { train } from "../../src/lib/trainer/train.ts";
import { runCli } from "./cli.test.ts";

describe("cli messages", function () {
  this.timeout(180_000);

  it("a mistyped command is suggested as the command, with or without --help, and exits with 2", () => {
    for (const args of [["evl"], ["evaluate", "--help"]]) {
      const { code, stdout, stderr } = runCli(args);
      expect(code, args.join(" ")).to.equal(2);
      expect(stderr.trim()).to.equal(`Unknown command \`${args[0]}\` (did you mean \`tennis-train eval\`?); \`tennis-train --help\` lists the commands`);
      expect(stdout).to.equal("");
    }
    expect(runCli(["frobnicate"]).stderr.trim()).to.equal("Unknown command `frobnicate`; `tennis-train --help` lists the commands");
  });

  it("--resume of a path that holds no run says so plainly", () => {
    const missing = join(tmpdir(), "tt-no-such-run");
    const { code, stderr } = runCli(["--resume", missing]);
    expect(code).to.equal(2);
    expect(stderr.trim()).to.equal(`No run at ${missing}: no such directory (--resume takes a run directory that \`tennis-train train\` made)`);
    const empty = mkdtempSync(join(tmpdir(), "tt-empty-"));
    expect(runCli(["--resume", empty]).stderr.trim()).to.equal(`No run at ${empty}: it has no config.json (--resume takes a run directory that \`tennis-train train\` made)`);
  });

  it("eval and watch fail alike (words and exit code) without a checkpoint", () => {
    const missing = join(tmpdir(), "tt-no-such-checkpoint");
    const empty = mkdtempSync(join(tmpdir(), "tt-empty-"));
    for (const [dir, problem] of [[missing, "no such file or directory"], [empty, "it holds no complete checkpoint"]]) {
      const expected = `No checkpoint at ${dir}: ${problem} (--checkpoint takes a run directory or a checkpoint folder)`;
      for (const args of [["eval", "--checkpoint", dir], ["watch", "--checkpoint", dir], ["watch", "--checkpoint", dir, "--out", join(empty, "r.gif")]]) {
        const { code, stderr } = runCli(args);
        expect(code, args.join(" ")).to.equal(2);
        expect(stderr.trim(), args.join(" ")).to.equal(expected);
      }
    }
  });

  it("eval names the checkpoint it played; watch --out says once what it wrote", async () => {
    const runsDir = mkdtempSync(join(tmpdir(), "tt-cli-msg-"));
    const config = resolveConfig({
      fileObject: {
        threads: 1,
        train: { episodes: 3, warmupSteps: 60, batchSize: 32, selectEvery: 0, evalEpisodes: 0 },
        buffer: { capacity: 5000 },
        agent: { hidden: [16, 16] },
        log: { runsDir, tensorboard: false, progress: false },
      },
    });
    const run = await train(config, { quiet: true });
    const checkpoint = latestCheckpoint(run.run_dir)!;
    const evaluated = runCli(["eval", "--checkpoint", run.run_dir, "--episodes", "2"]);
    expect(evaluated.code, evaluated.stderr).to.equal(0);
    expect(evaluated.stdout).to.match(new RegExp(`^checkpoint ${checkpoint}: mean score -?\\d+\\.\\d{3} over 2 episodes`));
    const json = runCli(["eval", "--checkpoint", run.run_dir, "--episodes", "2", "--json"]);
    expect(JSON.parse(json.stdout.trim().split("\n").pop()!)).to.include({ policy: "checkpoint", checkpoint });

    const gif = join(runsDir, "rally.gif");
    const watched = runCli(["watch", "--checkpoint", run.run_dir, "--out", gif]);
    expect(watched.code, watched.stderr).to.equal(0);
    const wrote = watched.stdout.trim().split("\n").filter((line) => line.startsWith("Wrote "));
    expect(wrote).to.have.length(1);
    expect(wrote[0]).to.match(new RegExp(`^Wrote ${gif}: \\d+ frames \\(\\d+ KiB\\), greedy score -?\\d+\\.\\d\\d, checkpoint ${checkpoint}$`));
    expect(readdirSync(runsDir)).to.include("rally.gif");
  });

  it("--help groups the config options by schema section; bench --help leaves them out and says where they are", () => {
    const help = runCli(["--help"]).stdout;
    const sections = ["Run options:", "Environment (env.*):", "Training loop (train.*):", "Replay buffer (buffer.*):", "MADDPG / MATD3 learner (agent.*):",
      "Exploration noise (noise.*):", "Learning-health checks (diagnostics.*):", "Logging and outputs (log.*):"];
    const at = sections.map((heading) => help.indexOf(`\n${heading}\n`));
    expect(at.every((i) => i > 0), help).to.equal(true);
    expect([...at].sort((a, b) => a - b)).to.deep.equal(at);
    // Each flag under its own section: --batch-size (train.batchSize) between the train and buffer headings.
    const batchSize = help.indexOf("\n  --batch-size ");
    expect(batchSize).to.be.within(at[2], at[3]);
    expect(help.indexOf("\n  --buffer-size ")).to.be.within(at[3], at[4]);
    const bench = runCli(["bench", "--help"]);
    expect(bench.code).to.equal(0);
    expect(bench.stdout).not.to.contain("--batch-size").and.not.to.contain("Training loop (train.*)");
    expect(bench.stdout).to.contain("--seeds").and.contain("bench solve and bench update also take every training option (`tennis-train train --help` lists them).");
  });
});
