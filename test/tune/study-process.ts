// Runs a study worker in its own process so a test can kill it (SIGKILL) mid-way, or run several on one
// study: argv[2] is the study folder, argv[3] a JSON object of StudyOptions overrides (the space as
// JSON). Each progress line goes to stdout as it happens.
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import { parseSpace } from "../../src/apps/tune/space.ts";
import { runStudy } from "../../src/apps/tune/study.ts";

const here = dirname(fileURLToPath(import.meta.url));
const [dir, overrides] = [process.argv[2], JSON.parse(process.argv[3] ?? "{}")];
await runStudy({
  ...overrides,
  dir,
  space: parseSpace(overrides.space),
  runner: join(here, "toy-runner.ts"),
  threadsPerTrial: 1,
  log: (line) => process.stdout.write(`${line}\n`),
});
