// A fuzz of config values and command-line flags: every bad value of every schema option (in a config
// file, as a flag) and of every command's own flags exits with 2 and a message naming the field, never
// a stack trace, never a hang; plus the reproducers as real processes (the /proc runs folder that
// made mkdir spin, flags that were accepted and then misbehaved).
import { expect } from "chai";
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

import { packageRoot } from "../../binding/package.ts";
import { ConfigError, resolveConfig } from "../../src/lib/config/resolve.ts";
import { optionLeaves, type SchemaNode } from "../../src/lib/config/schema.ts";

const kDriver = join(dirname(fileURLToPath(import.meta.url)), "cli-fuzz-driver.ts");
/** tsx's loader (what `--import tsx` loads), by path: the driver runs in a temporary folder. */
const kTsxLoader = pathToFileURL(join(packageRoot, "node_modules", "tsx", "dist", "loader.mjs")).href;
/** Longest any one case may take before it counts as a hang. */
const kCaseTimeoutMs = 10_000;
/** A stack trace line, as Node prints them. */
const kStackLine = /^\s+at .+(:\d+:\d+\)?|native\))$/m;

interface FuzzCase {
  args: string[];
  /** Text the output must contain: the field or flag the bad value was given for. */
  names: string;
}

interface CaseResult {
  index: number;
  code: number;
  output: string;
}

/**
 * Values each schema option must refuse, as flag text: a wrong type, a non-finite number and one
 * past the range (the config-file fuzz tries more values at less cost per value).
 */
function badFlagValues(path: string, node: SchemaNode): string[] {
  if (path === "log.runsDir") return ["/proc/nope/runs", ""];
  if (path === "name") return ["a..b", ".hidden"];
  if (node.enum) return ["nope"];
  if (node.type === "boolean") return [];
  if (node.type === "array") return node.items?.type === "integer" ? ["abc", "1e309", "0"] : [""];
  if (node.type === "string") return [];
  const values = [node.type === "integer" ? "1.5" : "abc", "1e309"];
  if (node.maximum !== undefined) values.push(String(node.maximum + 1));
  else if (node.minimum !== undefined) values.push(String(node.minimum - 1));
  return values;
}

/** Values each schema option must refuse in a JSON config file, as JSON text. */
function badJsonValues(node: SchemaNode): string[] {
  if (node.type === "boolean") return ['"yes"', "1"];
  if (node.type === "array") return ['"x"', "[1e309]", "{}"];
  if (node.type === "string") return ["1", "null"];
  const values = ["1e309", "-1e309", '"1"', "null", "true"];
  if (node.type === "integer") values.push("0.5");
  return values;
}

/** Runs the cases in one child process; rejects naming the case that hung. */
function runCases(cases: FuzzCase[]): Promise<CaseResult[]> {
  const dir = mkdtempSync(join(tmpdir(), "tennis-fuzz-"));
  const file = join(dir, "cases.json");
  writeFileSync(file, JSON.stringify(cases.map((c) => c.args)));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", kTsxLoader, kDriver, file], { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
    const results: CaseResult[] = [];
    let started = -1;
    let buffer = "";
    let stderr = "";
    let timer: NodeJS.Timeout;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        child.kill("SIGKILL");
        reject(new Error(`case ${started} hung: tennis-train ${cases[started]?.args.join(" ")}`));
      }, kCaseTimeoutMs + (started < 0 ? 20_000 : 0));
    };
    arm();
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout.on("data", (chunk: Buffer) => {
      buffer += chunk.toString();
      let cut: number;
      while ((cut = buffer.indexOf("\n")) >= 0) {
        const line = JSON.parse(buffer.slice(0, cut)) as CaseResult & { started?: number };
        buffer = buffer.slice(cut + 1);
        if (line.started !== undefined) started = line.started;
        else results.push(line);
        arm();
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      rmSync(dir, { recursive: true, force: true });
      if (results.length === cases.length) resolve(results);
      else reject(new Error(`the fuzz driver exited with ${code} after ${results.length} of ${cases.length} cases: ${stderr}`));
    });
  });
}

/** A real `tennis-train` process: exit code and stderr, or a rejection after `timeoutMs`. */
function runCli(args: string[], cwd: string, timeoutMs = 15_000): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(packageRoot, "bin", "tennis-train.js"), ...args], { cwd, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`tennis-train ${args.join(" ")} still running after ${timeoutMs} ms`));
    }, timeoutMs);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

describe("reliability: config and CLI fuzz", function () {
  this.timeout(120_000);
  let work: string;
  let checkpoint: string;
  let space: string;

  before(function () {
    work = mkdtempSync(join(tmpdir(), "tennis-fuzz-work-"));
    checkpoint = join(work, "run", "checkpoints", "ep0000001");
    mkdirSync(checkpoint, { recursive: true });
    writeFileSync(join(checkpoint, "COMPLETE"), "");
    space = join(work, "space.json");
    writeFileSync(space, JSON.stringify({ base: { train: { episodes: 5 } }, params: { "agent.tau": { type: "loguniform", low: 0.001, high: 0.1 } } }));
  });

  after(function () {
    rmSync(work, { recursive: true, force: true });
  });

  it("refuses every bad value of every option in a config file, naming the field", function () {
    let cases = 0;
    for (const { path, node } of optionLeaves()) {
      for (const json of badJsonValues(node)) {
        const keys = path.split(".");
        const text = keys.reduceRight((inner, key) => `{"${key}": ${inner}}`, json);
        let problems: string[] = [];
        try {
          resolveConfig({ fileObject: JSON.parse(text) });
        } catch (err) {
          expect(err, text).to.be.instanceOf(ConfigError);
          problems = (err as ConfigError).problems;
        }
        expect(problems, text).to.have.length(1);
        expect(problems[0], text).to.contain(`\`${path}\``);
        cases++;
      }
    }
    expect(cases).to.be.greaterThan(200);
  });

  it("exits 2 naming the field for every bad flag value of every command, without a stack trace or a hang", async function () {
    const companion = join(work, "companion.json");
    // A second bad field in a config file, so that no flag value wrongly accepted could start training.
    writeFileSync(companion, JSON.stringify({ diagnostics: { deadGradUpdates: 0 } }));
    const companionOf = join(work, "companion-seed.json");
    writeFileSync(companionOf, JSON.stringify({ seed: -1 }));
    const cases: FuzzCase[] = [];
    for (const { path, flag, node } of optionLeaves()) {
      for (const value of badFlagValues(path, node)) {
        const guard = path === "log.runsDir" ? [] : ["--config", path === "diagnostics.deadGradUpdates" ? companionOf : companion];
        cases.push({ args: ["train", `--${flag}=${value}`, ...guard], names: `\`${path}\`` });
      }
    }
    const flagCases: [string[], string, string[]][] = [
      [["eval", "--policy", "scripted"], "episodes", ["0", "1000001", "1.5", "abc", "1e309", ""]],
      [["eval", "--policy", "scripted"], "seed", ["-1", "4294967296", "abc"]],
      [["eval"], "checkpoint", ["", join(work, "nothing")]],
      [["random"], "episodes", ["0", "-1", "abc", "1e309"]],
      [["random"], "seed", ["-1", "4294967296", "0.5"]],
      [["watch", "--checkpoint", checkpoint], "port", ["-1", "65536", "99999", "abc"]],
      [["watch", "--checkpoint", checkpoint], "seed", ["-1", "abc"]],
      [["watch"], "checkpoint", ["", join(work, "nothing")]],
      [["watch", "--b", "random"], "a", ["", join(work, "nothing")]],
      [["match", "--b", "random"], "a", ["", join(work, "nothing")]],
      [["match", "--a", "scripted"], "b", ["", join(work, "nothing")]],
      [["match", "--a", "scripted", "--b", "random"], "episodes", ["0", "1000001", "1.5", "abc", "1e309", ""]],
      [["match", "--a", "scripted", "--b", "random"], "seed", ["-1", "4294967296", "abc"]],
      [["match", "--a", "scripted", "--b", "random"], "envs", ["0", "4097", "abc"]],
      [["league", join(work, "nothing")], "episodes", ["0", "abc"]],
      [["league", join(work, "nothing")], "anchors", ["", "best", "random,random"]],
      [["league", join(work, "nothing")], "out", ["", "/proc/nope"]],
      [["bench", "env"], "seconds", ["0", "-1", "abc", "1e309", "3601"]],
      [["bench", "update"], "repeats", ["0", "101", "abc"]],
      [["bench", "solve"], "seeds", ["", "abc", "0-5000", "5-1", "0-4294967295"]],
      [["env-server"], "envs", ["0", "65537", "abc", "1e309"]],
      [["env-server"], "seed", ["-1", "abc"]],
      [["env-server"], "bind", ["", "tcp://127.0.0.1:99999", "tcp://127.0.0.1", "tcp://127.0.0.1:-1", "nonsense"]],
      [["env-server"], "token", [""]],
      [["serve"], "port", ["99999", "-1", "abc", "1.5"]],
      [["serve"], "max-concurrent", ["0", "-1", "abc", "1025", "1e309"]],
      [["serve"], "token", ["", "short"]],
      [["serve"], "runs-dir", ["", "/proc/nope", "/proc/nope/runs"]],
      [["serve"], "host", [""]],
      [["info"], "threads", ["0", "257", "abc"]],
      [["tune", "--space", space], "trials", ["0", "abc"]],
      [["tune", "--space", space, "--trials", "1"], "parallel", ["0", "abc"]],
      [["tune", "--space", space, "--trials", "1"], "sampler-seed", ["-1", "abc"]],
      [["tune", "--space", space, "--trials", "1"], "study", ["/proc/nope"]],
      [["tune", "--trials", "1"], "space", ["", join(work, "nothing.json")]],
      [["train"], "resume", ["", join(work, "nothing")]],
      [["train"], "config", ["", join(work, "nothing.json")]],
    ];
    for (const [command, flag, values] of flagCases) {
      for (const value of values) cases.push({ args: [...command, `--${flag}=${value}`], names: flag === "resume" || flag === "space" || flag === "config" ? "" : `--${flag}` });
    }
    // The same flag twice is one value too many.
    cases.push({ args: ["serve", "--port", "1", "--port", "2"], names: "--port" });
    cases.push({ args: ["env-server", "--envs", "1", "--envs", "2"], names: "--envs" });

    const results = await runCases(cases);
    const failures = results.flatMap(({ index, code, output }) => {
      const { args, names } = cases[index];
      const problems = [
        code !== 2 && `exit ${code}`,
        !output.includes(names) && `no mention of ${names}`,
        kStackLine.test(output) && "a stack trace",
        output.trim() === "" && "no message",
      ].filter(Boolean);
      return problems.length > 0 ? [`tennis-train ${args.join(" ")}: ${problems.join(", ")}\n${output}`] : [];
    });
    expect(failures, failures.join("\n")).to.deep.equal([]);
    expect(cases.length).to.be.greaterThan(200);
  });

  it("fails fast, as a real process, on an unusable runs folder and on flags once accepted", async function () {
    const reproducers: [string[], string][] = [
      [["--runs-dir", "/proc/nope", "--episodes", "1"], "Invalid config:\n  - Expected a folder that can be created and written for `log.runsDir` but received \"/proc/nope\" of type string: ENOENT: no such file or directory, mkdir '/proc/nope'\n"],
      [["serve", "--max-concurrent", "0"], "Expected integer between 1 and 1024 for --max-concurrent but received 0 of type number\n"],
      [["env-server", "--bind", "tcp://127.0.0.1:99999"], 'Expected a tcp://HOST:PORT endpoint with a port of 0-65535 or * for --bind but received "tcp://127.0.0.1:99999" of type string\n'],
    ];
    for (const [args, stderr] of reproducers) expect(await runCli(args, work), args.join(" ")).to.deep.equal({ code: 2, stderr });
  });

  it("refuses a replay buffer larger than RAM with exit 2 before training", async function () {
    const result = await runCli(["--buffer-size", "100000000", "--runs-dir", join(work, "runs"), "--tensorboard=false"], work, 60_000);
    expect(result.code).to.equal(2);
    expect(result.stderr).to.match(/^tennis-train: capacity 100000000 needs \d+ bytes, more than the \d+ bytes of RAM\n$/);
  });
});
