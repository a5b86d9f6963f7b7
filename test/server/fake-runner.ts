// A stand-in for src/apps/server/runner.ts in the server tests: speaks the same stdout protocol and writes
// the same files (metrics.jsonl rows, a checkpoint, summary.json) without the native trainer, fast.
// config.name picks a behaviour: "crash" dies after two episodes, anything else trains
// config.train.episodes episodes of 15 ms each; SIGTERM stops with stopped = "interrupted".
import { appendFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

import { writeCheckpoint } from "../../src/lib/trainer/checkpoint.ts";

const runDir = process.argv[2];
const config = JSON.parse(readFileSync(join(runDir, "config.json"), "utf8"));
const emit = (message: unknown) => process.stdout.write(`${JSON.stringify(message)}\n`);
let stopping = false;
process.on("SIGTERM", () => {
  stopping = true;
});

emit({ type: "started", pid: process.pid, runDir });
process.stdout.write("a line that is not JSON, as a native library might print\n");
const scores: number[] = [];
let episode = 0;
let stopped = "episodes";
while (episode < config.train.episodes) {
  if (stopping) {
    stopped = "interrupted";
    break;
  }
  await new Promise((resolve) => setTimeout(resolve, 15));
  episode += 1;
  const score = (episode % 7) / 10;
  scores.push(score);
  const average = scores.slice(-config.train.window).reduce((a, b) => a + b, 0) / Math.min(scores.length, config.train.window);
  appendFileSync(join(runDir, "metrics.jsonl"), `${JSON.stringify({ step: episode, "rollout/score": score, "rollout/score_mean100": average, "train/critic_loss": 1 / episode })}\n`);
  emit({ type: "episode", episode, score, average, steps: 14, agentScores: [score, -0.01] });
  if (config.name === "crash" && episode === 2) {
    process.stderr.write("fake trainer: simulated native crash\n");
    process.exit(3);
  }
  if (episode === 3) await writeCheckpoint(runDir, "ep0000003", (dir) => writeFileSync(join(dir, "agent.pt"), Buffer.from("fake weights")));
}
const summary = { solved: false, episodes: episode, stopped, run_dir: runDir };
writeFileSync(join(runDir, "summary.json"), JSON.stringify(summary));
emit({ type: "summary", summary });
