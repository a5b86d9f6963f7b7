// A cheap stand-in for src/apps/server/runner.ts in the tune tests: same stdout protocol and summary
// fields, no native trainer. Its "training" is a closed form of the config: skill =
// exp(-(log10(agent.lrActor) + 3)^2) (1 at lrActor = 1e-3), each episode scores
// 2 x target x skill x min(1, episode / 200), so a skilled run solves at episode 150 and a run at
// lrActor = 1e-5 never does. agent.batchNorm = true crashes after three episodes (a native crash).
// TOY_EPISODE_MS sets the time per episode (default 1 ms).
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const runDir = process.argv[2];
const config = JSON.parse(readFileSync(join(runDir, "config.json"), "utf8"));
const emit = (message: unknown) => process.stdout.write(`${JSON.stringify(message)}\n`);
const episodeMs = Number(process.env.TOY_EPISODE_MS ?? 1);
let stopping = false;
process.on("SIGTERM", () => {
  stopping = true;
});
writeFileSync(join(runDir, "toy.pid"), String(process.pid));

emit({ type: "started", pid: process.pid, runDir });
const { episodes: budget, targetScore: target, window } = config.train;
const skill = Math.exp(-((Math.log10(config.agent.lrActor) + 3) ** 2));
const started = Date.now();
const scores: number[] = [];
let best = -Infinity;
let solvedAt: number | null = null;
let stopped = "episodes";
let episode = 0;
while (episode < budget) {
  if (stopping) {
    stopped = "interrupted";
    break;
  }
  await new Promise((resolve) => setTimeout(resolve, episodeMs));
  episode += 1;
  const score = 2 * target * skill * Math.min(1, episode / 200);
  scores.push(score);
  const recent = scores.slice(-window);
  const average = recent.reduce((a, b) => a + b, 0) / recent.length;
  if (scores.length >= window) best = Math.max(best, average);
  emit({ type: "episode", episode, score, average, steps: 20, agentScores: [score, 0] });
  if (config.agent.batchNorm === true && episode === 3) {
    process.stderr.write("toy trainer: simulated native crash\n");
    process.exit(3);
  }
  if (scores.length >= window && average >= target && solvedAt === null) {
    solvedAt = episode;
    if (config.train.stopWhenSolved) {
      stopped = "solved";
      break;
    }
  }
}
const summary = {
  solved: solvedAt !== null,
  episodes_to_solve: solvedAt,
  episodes: episode,
  wall_s: (Date.now() - started) / 1000,
  best_avg100: Number.isFinite(best) ? best : null,
  stopped,
  run_dir: runDir,
};
writeFileSync(join(runDir, "summary.json"), JSON.stringify(summary));
emit({ type: "summary", summary });
