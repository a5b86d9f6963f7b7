// Child-process entry of one server run: `node --import tsx runner.ts RUN_DIR` trains the config in
// RUN_DIR/config.json into RUN_DIR and reports on stdout, one JSON object per line. A crash here
// ends this process only; SIGTERM stops the run with a checkpoint, as Ctrl-C does for the CLI.
import { readFileSync } from "node:fs";
import { join } from "node:path";

/** The lines the server reads from a runner's stdout. */
export type RunnerMessage =
  | { type: "started"; pid: number; runDir: string }
  | { type: "episode"; episode: number; score: number; average: number; steps: number; agentScores: [number, number] }
  | { type: "summary"; summary: Record<string, unknown> }
  | { type: "error"; message: string; problems?: string[] };

function emit(message: RunnerMessage): void {
  process.stdout.write(`${JSON.stringify(message)}\n`);
}

async function main(runDir: string): Promise<void> {
  const stop = new AbortController();
  process.on("SIGTERM", () => stop.abort());
  process.on("SIGINT", () => stop.abort());
  emit({ type: "started", pid: process.pid, runDir });
  try {
    // Imported here so that a missing addon is reported as an error line, not a bare stack trace.
    const { resolveConfig } = await import("../../lib/config/resolve.ts");
    const { train } = await import("../../lib/trainer/train.ts");
    const config = resolveConfig({ fileObject: JSON.parse(readFileSync(join(runDir, "config.json"), "utf8")) });
    // `runDir`: write into the folder the server created (and named the run after) at POST time.
    const options = {
      runDir,
      quiet: true,
      signal: stop.signal,
      onEpisode: (ep: { episode: number; score: number; average: number; steps: number; agentScores: [number, number] }) =>
        emit({ type: "episode", episode: ep.episode, score: ep.score, average: ep.average, steps: ep.steps, agentScores: ep.agentScores }),
    };
    const summary = await train(config, options as Parameters<typeof train>[1]);
    emit({ type: "summary", summary: summary as unknown as Record<string, unknown> });
  } catch (err) {
    const problems = (err as { problems?: unknown }).problems;
    emit({ type: "error", message: (err as Error).message ?? String(err), ...(Array.isArray(problems) ? { problems: problems as string[] } : {}) });
    process.exitCode = 1;
  }
}

const runDir = process.argv[2];
if (!runDir) {
  emit({ type: "error", message: "usage: runner.ts RUN_DIR" });
  process.exitCode = 2;
} else {
  await main(runDir);
}
