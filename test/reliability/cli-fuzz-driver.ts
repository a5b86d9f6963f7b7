// Child process of the CLI fuzz (cli-fuzz.test.ts): runs each argument list of the JSON file in
// argv[2] through the CLI's main() in this one process and prints one JSON line per case on stdout:
// its index, exit code and everything the CLI wrote. A case that never returns leaves its index as
// the last one started, which the parent reports as a hang.
import { readFileSync } from "node:fs";

import { main } from "../../src/apps/cli/main.ts";

const cases = JSON.parse(readFileSync(process.argv[2], "utf8")) as string[][];
const writeOut = process.stdout.write.bind(process.stdout);
let captured = "";
const capture = ((chunk: string | Uint8Array) => {
  captured += typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8");
  return true;
}) as typeof process.stdout.write;
process.stdout.write = capture;
process.stderr.write = capture;

for (const [index, args] of cases.entries()) {
  captured = "";
  process.exitCode = 0;
  writeOut(`${JSON.stringify({ started: index })}\n`);
  const start = performance.now();
  await main(args);
  const ms = Math.round(performance.now() - start);
  writeOut(`${JSON.stringify({ index, code: process.exitCode, output: captured, ms })}\n`);
}
process.exitCode = 0;
