// The CLI as a user runs it: `npx tennis-train ...` in the checkout.
import { expect } from "chai";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { packageRoot, packageVersion } from "../../binding/package.ts";

export function runCli(args: string[], env: NodeJS.ProcessEnv = {}) {
  const result = spawnSync(process.execPath, [join(packageRoot, "bin", "tennis-train.js"), ...args], {
    cwd: packageRoot,
    encoding: "utf8",
    env: { ...process.env, ...env },
    timeout: 120_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe("cli", () => {
  it("info prints package, addon and LibTorch versions; --json is one object on the last line", () => {
    const text = runCli(["info"]);
    expect(text.code).to.equal(0);
    expect(text.stdout).to.match(new RegExp(`tennis-train\\s+${packageVersion.replace(/\./g, "\\.")}`));
    expect(text.stdout).to.match(/LibTorch\s+\d+\.\d+/);
    const json = runCli(["info", "--json", "--threads", "2"]);
    const last = JSON.parse(json.stdout.trim().split("\n").pop()!);
    expect(last).to.include({ package: packageVersion, addon: packageVersion, threads: 2 });
    expect(last).to.have.keys("package", "addon", "libtorch", "cudaBuilt", "cudaAvailable", "cudaDevice", "threads", "blas", "node", "platform");
  });

  it("--help and train --help list the options with defaults and ranges", () => {
    for (const args of [["--help"], ["train", "--help"]]) {
      const { code, stdout: raw } = runCli(args);
      expect(code).to.equal(0);
      const stdout = raw.replace(/\s+/g, " ");
      expect(stdout).to.contain("--batch-size");
      expect(stdout).to.match(/Transitions per update\. \[integer between 1 and 65536; default 64\]/);
      expect(stdout).to.match(/--device\s+.*\[one of "cpu", "cuda"; default "cpu"\]/);
    }
  });

  it("a bad config file exits non-zero naming the wrong type, the out-of-range value and the unknown key", () => {
    const dir = mkdtempSync(join(tmpdir(), "tt-cli-"));
    const bad = join(dir, "bad.json");
    writeFileSync(bad, JSON.stringify({ train: { batchSize: "big" }, agent: { tau: 5 }, nosie: {} }));
    const { code, stderr } = runCli(["train", "--config", bad]);
    expect(code).to.equal(2);
    expect(stderr).to.contain(`Unknown option \`nosie\` in ${bad} (did you mean \`noise\`?)`);
    expect(stderr).to.contain(`Expected integer between 1 and 65536 for \`train.batchSize\` but received "big" of type string in ${bad}`);
    expect(stderr).to.contain(`Expected number > 0 and <= 1 for \`agent.tau\` but received 5 of type number in ${bad}`);
  });

  it("a misspelt flag gets a did-you-mean and exit code 2", () => {
    const { code, stderr } = runCli(["--batch-sise", "3"]);
    expect(code).to.equal(2);
    expect(stderr.trim()).to.equal("Unknown option --batch-sise (did you mean --batch-size?)");
  });

  it("an option of another command is named as such, not suggested as its own correction", () => {
    const { code, stderr } = runCli(["eval", "--threads", "1"]);
    expect(code).to.equal(2);
    expect(stderr.trim()).to.equal("Option --threads does not apply to `tennis-train eval` (`tennis-train eval --help` lists its options)");
  });

  it("a command missing a required option names it and exits with 2", () => {
    const { code, stdout, stderr } = runCli(["tune", "--trials", "2"]);
    expect(code).to.equal(2);
    expect(stdout).to.equal("");
    expect(stderr).to.contain("--space is required: the search-space JSON file");
  });
});
