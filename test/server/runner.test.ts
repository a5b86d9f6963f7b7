// The child-process runner with the native trainer: JSON lines on stdout (started, episodes, summary),
// files written into the run directory the server created, SIGTERM stops with a checkpoint, and a
// bad config is an error line, not a stack trace.
import { expect } from "chai";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

import { packageRoot } from "../../binding/package.ts";
import { resolveConfig } from "../../src/lib/config/resolve.ts";
import type { RunnerMessage } from "../../src/apps/server/runner.ts";
import { latestCheckpoint } from "../../src/lib/trainer/checkpoint.ts";
import { createRunDir } from "../../src/lib/trainer/run-dir.ts";

const kRunner = join(dirname(fileURLToPath(import.meta.url)), "../../src/apps/server/runner.ts");

/** Runs the runner on runDir; `onMessage` may send signals. Resolves with every message and the exit code. */
function runRunner(runDir: string, onMessage: (m: RunnerMessage, kill: (s: NodeJS.Signals) => void) => void = () => {}) {
  return new Promise<{ messages: RunnerMessage[]; code: number | null }>((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", kRunner, runDir], { cwd: packageRoot, stdio: ["ignore", "pipe", "inherit"] });
    const messages: RunnerMessage[] = [];
    createInterface({ input: child.stdout }).on("line", (line) => {
      if (!line.startsWith("{")) return;
      const message = JSON.parse(line) as RunnerMessage;
      messages.push(message);
      onMessage(message, (s) => child.kill(s));
    });
    child.on("close", (code) => resolve({ messages, code }));
  });
}

describe("server runner (native trainer)", function () {
  this.timeout(60_000);
  const runsDir = mkdtempSync(join(tmpdir(), "tennis-runner-"));
  after(() => rmSync(runsDir, { recursive: true, force: true }));
  const config = (episodes: number) =>
    resolveConfig({
      fileObject: {
        name: "runner",
        threads: 1,
        train: { episodes, warmupSteps: 60, batchSize: 32, checkpointEvery: 0 },
        buffer: { capacity: 5000 },
        agent: { hidden: [16, 16] },
        log: { runsDir, tensorboard: false, progress: false },
      },
    });

  it("trains into the given run directory and reports each episode and the summary", async function () {
    const runDir = createRunDir(config(5));
    const { messages, code } = await runRunner(runDir);
    expect(code).to.equal(0);
    expect(messages[0]).to.include({ type: "started", runDir });
    const episodes = messages.filter((m) => m.type === "episode");
    expect(episodes.map((m) => (m as { episode: number }).episode)).to.deep.equal([1, 2, 3, 4, 5]);
    const last = messages[messages.length - 1] as Extract<RunnerMessage, { type: "summary" }>;
    expect(last.type).to.equal("summary");
    expect(last.summary).to.include({ episodes: 5, stopped: "episodes", run_dir: runDir });
    expect(readFileSync(join(runDir, "metrics.jsonl"), "utf8").trim().split("\n").length).to.be.at.least(5);
    expect(existsSync(join(runDir, "summary.json"))).to.equal(true);
    expect(latestCheckpoint(runDir)).to.not.equal(null);
  });

  it("stops on SIGTERM with a checkpoint and stopped = interrupted", async function () {
    const runDir = createRunDir(config(100000));
    const { messages, code } = await runRunner(runDir, (m, kill) => {
      if (m.type === "episode" && m.episode === 3) kill("SIGTERM");
    });
    expect(code).to.equal(0);
    const last = messages[messages.length - 1] as Extract<RunnerMessage, { type: "summary" }>;
    expect(last.summary).to.include({ stopped: "interrupted" });
    expect(last.summary.episodes as number).to.be.at.least(3).and.below(100000);
    expect(latestCheckpoint(runDir)).to.not.equal(null);
  });

  it("reports a config the trainer refuses as an error line and exits 1", async function () {
    const runDir = createRunDir(config(5));
    writeFileSync(join(runDir, "config.json"), JSON.stringify({ train: { episodes: -3 } }));
    const { messages, code } = await runRunner(runDir);
    expect(code).to.equal(1);
    const error = messages.find((m) => m.type === "error") as Extract<RunnerMessage, { type: "error" }>;
    expect(error.problems!.join("\n")).to.contain("`train.episodes`");
  });
});
