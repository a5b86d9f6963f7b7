// The trainer end to end on tiny budgets: logs written, same seed -> same curve, resume == uninterrupted.
import { expect } from "chai";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { spawnEnvServer, type SpawnedServer } from "../../src/lib/bridge/spawn.ts";
import { resolveConfig } from "../../src/lib/config/resolve.ts";
import { latestCheckpoint, writeCheckpoint } from "../../src/lib/trainer/checkpoint.ts";
import { Maddpg } from "../../binding/maddpg.ts";
import { maddpgOptions } from "../../src/lib/trainer/maddpg-options.ts";
import { train } from "../../src/lib/trainer/train.ts";
import { runCli } from "../cli/cli.test.ts";

/** A small, fast config: tiny nets, short warm-up, so updates happen within a few episodes. */
function tinyConfig(runsDir: string, episodes: number) {
  return resolveConfig({
    fileObject: {
      threads: 1,
      train: { episodes, warmupSteps: 60, batchSize: 32, checkpointEvery: 4 },
      buffer: { capacity: 5000 },
      agent: { hidden: [32, 32] },
      log: { runsDir, tensorboard: false, progress: false },
    },
  });
}

function scoresOf(runDir: string): number[] {
  return readFileSync(join(runDir, "metrics.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line))
    .filter((r) => "rollout/score" in r)
    .map((r) => r["rollout/score"]);
}

function metricsOf(runDir: string): Record<string, number>[] {
  return readFileSync(join(runDir, "metrics.jsonl"), "utf8").trim().split("\n").map((line) => JSON.parse(line));
}

describe("trainer", function () {
  this.timeout(180_000);
  const runsDir = mkdtempSync(join(tmpdir(), "tt-train-"));

  it("`tennis-train --episodes 30` finishes with config, metrics, TensorBoard, checkpoint, summary and plot", () => {
    const { code, stdout, stderr } = runCli(["--episodes", "30", "--runs-dir", runsDir, "--log-every", "10", "--threads", "1"]);
    expect(code, stderr).to.equal(0);
    expect(stdout).to.match(/Episode 10 \| Last Score: -?\d+\.\d\d \(-?\d+\.\d\d\/-?\d+\.\d\d\) \| Moving Average \d+\.\d{3} \| Steps \d+ \| Updates \d+ \| \d+ steps\/s/);
    expect(stdout).to.contain("Not solved after 30 episodes");
    const [run] = readdirSync(runsDir).filter((d) => d.startsWith("tennis__default__0__"));
    const dir = join(runsDir, run);
    for (const file of ["config.json", "metrics.jsonl", "summary.json", "scores.png"]) expect(existsSync(join(dir, file)), file).to.equal(true);
    expect(readdirSync(join(dir, "tb")).some((f) => f.startsWith("events.out.tfevents."))).to.equal(true);
    expect(latestCheckpoint(dir)).to.not.equal(null);
    const summary = JSON.parse(readFileSync(join(dir, "summary.json"), "utf8"));
    expect(summary).to.include({ solved: false, episodes_to_solve: null, episodes: 30, stopped: "episodes" });
    expect(summary.env_steps).to.be.greaterThan(30 * 13);
    expect(JSON.parse(readFileSync(join(dir, "config.json"), "utf8")).train.episodes).to.equal(30);
    expect(scoresOf(dir)).to.have.length(30);
  });

  it("is deterministic: same config and seed -> identical scores and losses", async () => {
    const a = await train(tinyConfig(runsDir, 12), { quiet: true });
    const b = await train(tinyConfig(runsDir, 12), { quiet: true });
    expect(a.updates).to.be.greaterThan(50);
    expect(metricsOf(b.run_dir)).to.deep.equal(metricsOf(a.run_dir));
    expect(b.env_steps).to.equal(a.env_steps);
  });

  it("normalises observations when asked, deterministically, and checkpoints the statistics", async () => {
    const config = () => {
      const c = tinyConfig(runsDir, 8);
      c.train.normalizeObs = true;
      c.log.every = 4;
      return c;
    };
    const a = await train(config(), { quiet: true });
    const b = await train(config(), { quiet: true });
    expect(metricsOf(b.run_dir)).to.deep.equal(metricsOf(a.run_dir));
    const saved = JSON.parse(readFileSync(join(latestCheckpoint(a.run_dir)!, "trainer.json"), "utf8"));
    expect(saved.norm.mean).to.have.length(24);
    expect(saved.norm.count).to.be.greaterThan(2 * a.env_steps - 1);
    expect(a.diagnostics.recent).to.have.keys("obs_mean_agent0", "obs_std_agent0", "reward_mean_agent0", "reward_std_agent0", "obs_mean_agent1", "obs_std_agent1", "reward_mean_agent1", "reward_std_agent1");
  });

  /** Trains 12 episodes whole and 6 + 6 resumed with the same config, expects both to match exactly, and
   *  returns the resumed run's directory. */
  async function expectExactResume(config: (episodes: number) => ReturnType<typeof tinyConfig>) {
    const whole = await train(config(12), { quiet: true });
    const first = await train(config(6), { quiet: true });
    const resumed = await train(config(12), { quiet: true, resume: first.run_dir });
    expect(resumed.run_dir).to.equal(first.run_dir);
    expect(resumed.env_steps).to.equal(whole.env_steps);
    expect(resumed.updates).to.equal(whole.updates);
    // Every record matches exactly (update-loss means recorded before the checkpoint go into the resumed
    // run's first dump), so do the diagnostics; the learners end bit-identical.
    expect(metricsOf(first.run_dir)).to.deep.equal(metricsOf(whole.run_dir));
    expect(resumed.diagnostics).to.deep.equal(whole.diagnostics);
    const learned = async (dir: string) => {
      const agent = new Maddpg(maddpgOptions(config(12)));
      await agent.load(join(latestCheckpoint(dir)!, "agent.pt"));
      const out = { params: Array.from(agent.getParameters()), noiseScale: agent.stats().noiseScale, updates: agent.stats().updates };
      agent.dispose();
      return out;
    };
    expect(await learned(first.run_dir)).to.deep.equal(await learned(whole.run_dir));
    return first.run_dir;
  }

  it("a resumed run continues exactly like an uninterrupted one", async () => {
    await expectExactResume((episodes) => tinyConfig(runsDir, episodes));
  });

  it("a resumed run with n-step returns and an update cap per episode continues exactly", async () => {
    // Two envs, so the checkpoint (taken when one env's episode ends) holds the other env's pending steps.
    const first = await expectExactResume((episodes) => {
      const c = tinyConfig(runsDir, episodes);
      c.env.envs = 2;
      c.train.nStep = 3;
      c.train.maxUpdatesPerEpisode = 10;
      return c;
    });
    const pending = readdirSync(join(first, "checkpoints")).filter((d) => d.startsWith("ep")).map((d) => {
      const state = new Float32Array(new Uint8Array(readFileSync(join(first, "checkpoints", d, "n_step.bin"))).buffer);
      return state[0] + state[1 + 3 * 54];
    });
    expect(Math.max(...pending)).to.be.greaterThan(0);
  });

  it("starts the actors afresh after train.stallEpisodes learning episodes without a point, and resumes exactly", async () => {
    const stalling = (episodes: number) => {
      const c = tinyConfig(runsDir, episodes);
      c.train.stallEpisodes = 2;
      return c;
    };
    const dir = await expectExactResume(stalling);
    const summary = JSON.parse(readFileSync(join(dir, "summary.json"), "utf8"));
    // The restarts the scores call for: runs of pointless episodes that began after the warm-up.
    let [run, expected] = [0, 0];
    for (const r of metricsOf(dir)) {
      if (r["time/env_steps"] - 1 < 60) continue;
      run = r["rollout/score"] > 0 ? 0 : run + 1;
      if (run === 2) [run, expected] = [0, expected + 1];
    }
    expect(expected).to.be.greaterThan(0);
    expect(summary.diagnostics.actor_resets).to.equal(expected);
    const plain = await train(tinyConfig(runsDir, 12), { quiet: true });
    expect(plain.diagnostics.actor_resets).to.equal(0);
    expect(scoresOf(plain.run_dir)).to.not.deep.equal(scoresOf(dir));
  });

  it("makes at most maxUpdatesPerEpisode updates between two episode ends", async () => {
    const c = tinyConfig(runsDir, 12);
    c.train.updatesPerStep = 3;
    c.train.maxUpdatesPerEpisode = 7;
    const summary = await train(c, { quiet: true });
    const updates = metricsOf(summary.run_dir).map((r) => r["time/updates"]);
    const perEpisode = updates.slice(1).map((u, i) => u - updates[i]);
    expect(Math.max(...perEpisode)).to.equal(7);
    expect(summary.updates).to.be.at.most(7 * 12);
  });
});

describe("trainer on remote env servers", function () {
  this.timeout(120_000);

  it("trains through the ZeroMQ bridge and finishes when a server is killed and restarted mid-run", async () => {
    const runsDir = mkdtempSync(join(tmpdir(), "tt-remote-"));
    const first = await spawnEnvServer({ bind: "tcp://127.0.0.1:0", envs: 2, seed: 3, quiet: true });
    let second: SpawnedServer | null = null;
    let restart: Promise<void> | null = null;
    const config = tinyConfig(runsDir, 10);
    config.env.kind = "remote";
    config.env.addresses = [first.endpoint];
    try {
      const summary = await train(config, {
        quiet: true,
        onEpisode: (ep) => {
          if (ep.episode === 4 && !restart) {
            restart = (async () => {
              await first.stop("SIGKILL");
              second = await spawnEnvServer({ bind: first.endpoint, envs: 2, seed: 3, quiet: true });
            })();
          }
        },
      });
      await restart;
      expect(second, "the server was restarted").to.not.equal(null);
      expect(summary.stopped).to.equal("episodes");
      expect(summary.episodes).to.be.at.least(10);
      expect(summary.updates).to.be.greaterThan(0);
    } finally {
      await first.stop("SIGKILL").catch(() => undefined);
      if (second) await (second as SpawnedServer).stop();
    }
  });
});

describe("trainer on a diverging learner", function () {
  this.timeout(120_000);

  it("stops at a non-finite loss with a clear report and leaves the last checkpoint intact", async () => {
    const runsDir = mkdtempSync(join(tmpdir(), "tt-nan-"));
    const first = await train(tinyConfig(runsDir, 4), { quiet: true });
    // Poison the learner of a new latest checkpoint: finite but huge weights overflow the critic.
    const config = tinyConfig(runsDir, 8);
    const good = latestCheckpoint(first.run_dir)!;
    const poisoned = await writeCheckpoint(first.run_dir, "ep0000005", async (dir) => {
      for (const f of ["buffer.bin", "env.bin", "trainer.json"]) copyFileSync(join(good, f), join(dir, f));
      const agent = new Maddpg(maddpgOptions(config));
      await agent.load(join(good, "agent.pt"));
      agent.setParameters(new Float32Array(agent.parameterCount).fill(1e30));
      await agent.save(join(dir, "agent.pt"));
      agent.dispose();
    });
    const before = readFileSync(join(poisoned, "agent.pt"));
    const lines: string[] = [];
    const log = console.log;
    console.log = (line: string) => lines.push(line);
    let summary;
    try {
      summary = await train(config, { resume: first.run_dir });
    } finally {
      console.log = log;
    }
    expect(summary.stopped).to.equal("nan");
    expect(lines.join("\n")).to.match(/Stopping: the loss became (NaN|Infinity|-Infinity) \(critic\)/);
    expect(latestCheckpoint(first.run_dir)).to.equal(poisoned);
    expect(readFileSync(join(poisoned, "agent.pt")).equals(before)).to.equal(true);
    expect(JSON.parse(readFileSync(join(first.run_dir, "summary.json"), "utf8")).stopped).to.equal("nan");
  });
});
