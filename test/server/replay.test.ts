// The replay endpoint on a real checkpoint: a greedy episode played natively, checked against the
// same episode stepped here through the bindings, deterministic per seed, with bad queries refused.
import { expect } from "chai";
import { rmSync } from "node:fs";
import { basename, join } from "node:path";

import { TennisEnv } from "../../binding/env.ts";
import { Maddpg } from "../../binding/maddpg.ts";
import type { Config } from "../../src/lib/config/types.ts";
import type { Replay } from "../../src/apps/server/replay.ts";
import { serve, type RunningServer } from "../../src/apps/server/server.ts";
import { latestCheckpoint } from "../../src/lib/trainer/checkpoint.ts";
import { loadObsNorm } from "../../src/lib/trainer/loop-state.ts";
import { maddpgOptions } from "../../src/lib/trainer/maddpg-options.ts";
import { tinyRun } from "./tiny-run.ts";
import { envOptions } from "../helpers/env-options.ts";

/** The episode stepped here: per-step ball and racket positions of env 0 (observations normalised with
 * the checkpoint's statistics, as the run saw them). */
async function stepHere(runDir: string, config: Config, seed: number): Promise<number[][]> {
  const agent = new Maddpg(maddpgOptions(config));
  const checkpoint = latestCheckpoint(runDir)!;
  await agent.load(join(checkpoint, "agent.pt"));
  const norm = loadObsNorm(checkpoint);
  const seen = new Float32Array(48);
  const env = new TennisEnv(envOptions({ seed, cleanReset: config.env.cleanReset, observeBallVelocity: config.env.observeBallVelocity, fixLastHitter: config.env.fixLastHitter, mode: config.env.mode }));
  const out: number[][] = [];
  const record = () => {
    const s = env.state(0);
    out.push([s.ballX, s.ballY, s.racketX[0], s.racketY[0], s.racketX[1], s.racketY[1]]);
  };
  let obs = env.reset();
  record();
  for (let step = 0; step < 1001; step++) {
    const r = env.step(agent.act(norm ? norm.normalize(obs, seen) : obs, undefined, false));
    if (r.dones[0] || r.dones[1]) {
      // The env re-served on the done: the replay ends on the positions before.
      out.push(out[out.length - 1]);
      break;
    }
    record();
    obs = r.obs;
  }
  env.dispose();
  agent.dispose();
  return out;
}

describe("server replay (native trainer)", function () {
  this.timeout(60_000);
  let run: Awaited<ReturnType<typeof tinyRun>>;
  let srv: RunningServer;
  let id: string;

  before(async function () {
    run = await tinyRun();
    id = basename(run.runDir);
    srv = await serve({ port: 0, token: "replay-token-0123456789", runsDir: run.runsDir });
  });

  after(async function () {
    await srv?.close();
    if (run) rmSync(run.runsDir, { recursive: true, force: true });
  });

  it("plays the latest checkpoint greedily, frame for frame as the bindings step it", async function () {
    const res = await fetch(`${srv.url}/api/runs/${id}/replay?seed=7`);
    expect(res.status).to.equal(200);
    const replay = (await res.json()) as Replay;
    expect(replay).to.include({ seed: 7, dt: 0.1, checkpoint: basename(latestCheckpoint(run.runDir)!) });
    const here = await stepHere(run.runDir, run.config, 7);
    expect(replay.frames).to.have.length(here.length);
    replay.frames.forEach((f, i) => {
      const flat = [f.ball[0], f.ball[1], f.rackets[0][0], f.rackets[0][1], f.rackets[1][0], f.rackets[1][1]];
      flat.forEach((v, k) => expect(v, `frame ${i} value ${k}`).to.be.closeTo(here[i][k], 1e-4));
    });
    expect(replay.ended).to.equal(here.length - 1 < 1001 ? "done" : "maxSteps");
    const last = replay.frames[replay.frames.length - 1].score;
    expect(replay.score).to.be.closeTo(Math.max(last[0], last[1]), 1e-9);
  });

  it("is deterministic per seed, differs across seeds, and honours maxSteps", async function () {
    const get = async (query: string) => (await (await fetch(`${srv.url}/api/runs/${id}/replay${query}`)).json()) as Replay;
    const a = await get("?seed=11");
    const b = await get("?seed=11");
    const c = await get("?seed=12");
    expect(a.frames).to.deep.equal(b.frames);
    expect(c.frames[0].ball).not.to.deep.equal(a.frames[0].ball);
    const short = await get("?seed=11&maxSteps=3");
    expect(short.frames.length).to.equal(Math.min(4, a.frames.length));
    expect(short.frames).to.deep.equal(a.frames.slice(0, short.frames.length));
    const fallback = await get("");
    expect(fallback.seed).to.equal(run.config.seed + 1_000_003);
  });

  it("refuses bad queries with 400 naming the parameter", async function () {
    for (const [query, name] of [["?seed=-1", "seed"], ["?seed=1.5", "seed"], ["?maxSteps=0", "maxSteps"], ["?maxSteps=2000", "maxSteps"], ["?seed=abc", "seed"]]) {
      const res = await fetch(`${srv.url}/api/runs/${id}/replay${query}`);
      expect(res.status, query).to.equal(400);
      expect(((await res.json()) as { error: string }).error).to.contain(`for ${name}`);
    }
  });
});
