// RemoteVecEnv against real servers: the same trajectories as the in-process env, several servers as
// one env, retries after a lost reply (nothing repeated), a server killed and restarted mid-run
// (its episodes reported lost, nothing else touched), and the client-side refusals.
import { expect } from "chai";
import { Dealer, Router } from "zeromq";

import { TennisEnv, type StepResult } from "../../binding/env.ts";
import { TennisTrainError } from "../../binding/errors.ts";
import { BridgeConnection } from "../../src/lib/bridge/connection.ts";
import { RemoteVecEnv, type LostEpisodes } from "../../src/lib/bridge/remote-vec-env.ts";
import { EnvServer } from "../../src/lib/bridge/server.ts";
import { firstDifference, killChild, seededActions, startNodeServer, type ChildServer } from "./helpers.ts";
import { envOptions } from "../helpers/env-options.ts";

const kLocal = "tcp://127.0.0.1:0";
const kFields = ["obs", "nextObs", "rewards", "dones", "maxReached"] as const;
/** Fast failure settings for tests (the defaults wait 2 s between 5 retries). */
const kQuick = { timeoutMs: 300, retries: 3, retryDelayMs: 20 };

/** Rows [from, to) of a per-env array with `width` floats per env. */
function rows(values: Float32Array, from: number, to: number, width: number): Float32Array {
  return values.subarray(from * width, to * width);
}

const width = { obs: 48, nextObs: 48, rewards: 2, dones: 2, maxReached: 2 } as const;

function expectSameStep(got: StepResult, want: StepResult, envs: [number, number], wantEnvs: [number, number], label: string): void {
  for (const k of kFields) {
    const diff = firstDifference(rows(got[k], envs[0], envs[1], width[k]), rows(want[k], wantEnvs[0], wantEnvs[1], width[k]));
    expect(diff, `${label}: ${k} differs at ${diff}`).to.equal(-1);
  }
}

/** A one-client relay that forwards requests to `target` and drops the replies whose number is in `drop`. */
async function lossyRelay(target: string, drop: Set<number>) {
  const front = new Router({ linger: 0 });
  await front.bind(kLocal);
  const back = new Dealer({ linger: 0 });
  back.connect(target);
  let replies = 0;
  const loop = (async () => {
    try {
      for (;;) {
        const [identity, ...frames] = await front.receive();
        await back.send(frames);
        const reply = await back.receive();
        replies++;
        if (!drop.has(replies)) await front.send([identity, ...reply]);
      }
    } catch {
      // closed
    }
  })();
  return {
    endpoint: front.lastEndpoint!,
    close: async () => {
      front.close();
      back.close();
      await loop;
    },
  };
}

describe("bridge RemoteVecEnv", function () {
  const servers: EnvServer[] = [];
  const start = async (envs: number, seed: number) => {
    const s = await EnvServer.start({ bind: kLocal, envs, seed });
    servers.push(s);
    return s;
  };

  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });

  it("steps two servers as one env, exactly like the in-process env with the same seed", async () => {
    // Env i of the in-process batch has seed 5 + i: servers of envs {0,1} and {2,3,4}.
    const a = await start(2, 5);
    const b = await start(3, 7);
    const remote = await RemoteVecEnv.connect({ addresses: [a.endpoint, b.endpoint], ...kQuick });
    const local = new TennisEnv(envOptions({ numEnvs: 5, seed: 5, autoReset: true }));
    try {
      expect(remote.numEnvs).to.equal(5);
      expect(remote.servers.map((s) => s.firstEnv)).to.deep.equal([0, 2]);
      expect(firstDifference(await remote.reset(), local.reset())).to.equal(-1);
      let dones = 0;
      for (const [t, actions] of seededActions(1, 150, 5 * 4).entries()) {
        const got = await remote.step(actions);
        const want = local.step(actions);
        expectSameStep(got, want, [0, 5], [0, 5], `step ${t}`);
        expect(Array.from(got.lost).every((v) => v === 0)).to.equal(true);
        dones += want.dones.reduce((s, v) => s + v, 0);
      }
      // The comparison covered episode ends (and the server-side resets after them).
      expect(dones).to.be.greaterThan(0);
      expect(remote.lostEpisodes).to.equal(0);
      expect(a.stats.steps).to.equal(150);
    } finally {
      await remote.close();
      local.dispose();
    }
  });

  it("retries a request whose reply was lost, and the server does not step twice", async () => {
    const server = await start(2, 3);
    // Replies 1 = hello, 2 = reset, 3.. = steps: lose the replies of steps 4 and 9.
    const relay = await lossyRelay(server.endpoint, new Set([6, 12]));
    const remote = await RemoteVecEnv.connect({ addresses: [relay.endpoint], ...kQuick });
    const retries: unknown[] = [];
    remote.on("retry", (e) => retries.push(e));
    const local = new TennisEnv(envOptions({ numEnvs: 2, seed: 3, autoReset: true }));
    try {
      expect(firstDifference(await remote.reset(), local.reset())).to.equal(-1);
      for (const [t, actions] of seededActions(2, 20, 8).entries()) {
        expectSameStep(await remote.step(actions), local.step(actions), [0, 2], [0, 2], `step ${t}`);
      }
      expect(retries).to.have.length(2);
      expect(retries[0]).to.deep.include({ type: "retry", op: "step", attempt: 1, address: relay.endpoint });
      expect(server.stats).to.include({ steps: 20, replays: 2 });
    } finally {
      await remote.close();
      await relay.close();
      local.dispose();
    }
  });

  it("reconnects to a server killed mid-step, reports its episodes lost and loses nothing else", async function () {
    this.timeout(30000);
    const stable = await start(1, 40);
    let killed: ChildServer | null = await startNodeServer({ bind: kLocal, envs: 2, seed: 20 });
    const endpoint = killed.endpoint;
    let restarted: ChildServer | null = null;
    const remote = await RemoteVecEnv.connect({ addresses: [endpoint, stable.endpoint], timeoutMs: 300, retries: 40, retryDelayMs: 50 });
    const lost: LostEpisodes[] = [];
    const reconnects: unknown[] = [];
    remote.on("lost", (e) => lost.push(e));
    remote.on("reconnect", (e) => reconnects.push(e));
    // Rows 0-1 come from the killed server (seed 20), row 2 from the stable one (seed 40).
    const localStable = new TennisEnv(envOptions({ numEnvs: 1, seed: 40, autoReset: true }));
    let localKilled = new TennisEnv(envOptions({ numEnvs: 2, seed: 20, autoReset: true }));
    const kKillAt = 15;
    let lostAt = -1;
    try {
      const obs = await remote.reset();
      expect(firstDifference(obs.subarray(0, 96), localKilled.reset())).to.equal(-1);
      expect(firstDifference(obs.subarray(96), localStable.reset())).to.equal(-1);
      for (const [t, actions] of seededActions(3, 40, 12).entries()) {
        let pending: Promise<StepResult & { lost: Float32Array }>;
        if (t === kKillAt) {
          pending = remote.step(actions);
          await killChild(killed!);
          killed = null;
          restarted = await startNodeServer({ bind: endpoint, envs: 2, seed: 20 });
        } else {
          pending = remote.step(actions);
        }
        const got = await pending;
        const wantStable = localStable.step(actions.subarray(8));
        expectSameStep(got, wantStable, [2, 3], [0, 1], `stable step ${t}`);
        if (got.lost[0] === 1) {
          // The kill lands while step kKillAt is in flight, so that step's reply may or may not have made it.
          expect(lostAt, "episodes lost twice").to.equal(-1);
          expect(t).to.be.oneOf([kKillAt, kKillAt + 1]);
          lostAt = t;
          // The restarted server's fresh episode replaces the lost one.
          expect(Array.from(got.lost)).to.deep.equal([1, 1, 1, 1, 0, 0]);
          expect(Array.from(got.dones.subarray(0, 4))).to.deep.equal([1, 1, 1, 1]);
          expect(Array.from(got.maxReached.subarray(0, 4))).to.deep.equal([1, 1, 1, 1]);
          expect(Array.from(got.rewards.subarray(0, 4))).to.deep.equal([0, 0, 0, 0]);
          localKilled.dispose();
          localKilled = new TennisEnv(envOptions({ numEnvs: 2, seed: 20, autoReset: true }));
          const fresh = localKilled.reset();
          expect(firstDifference(got.obs.subarray(0, 96), fresh)).to.equal(-1);
          expect(firstDifference(got.nextObs.subarray(0, 96), fresh)).to.equal(-1);
        } else {
          expectSameStep(got, localKilled.step(actions.subarray(0, 8)), [0, 2], [0, 2], `restarting step ${t}`);
          expect(Array.from(got.lost).every((v) => v === 0)).to.equal(true);
        }
      }
      expect(lostAt).to.be.oneOf([kKillAt, kKillAt + 1]);
      expect(remote.lostEpisodes).to.equal(2);
      expect(lost).to.deep.equal([{ address: endpoint, server: 0, firstEnv: 0, envs: 2 }]);
      expect(reconnects).to.have.length(1);
      expect(reconnects[0]).to.deep.include({ type: "reconnect", address: endpoint, session: restarted!.session });
      // The stable server saw every step once.
      expect(stable.stats.steps).to.equal(40);
    } finally {
      await remote.close();
      localStable.dispose();
      localKilled.dispose();
      if (killed) await killChild(killed);
      if (restarted) await killChild(restarted, "SIGTERM");
    }
  });

  it("gives up with ERR_BRIDGE_TIMEOUT after the configured retries", async () => {
    const retries: unknown[] = [];
    const connection = new BridgeConnection("tcp://127.0.0.1:9", { timeoutMs: 50, retries: 2, retryDelayMs: 10 }, (e) => retries.push(e));
    try {
      await connection.hello();
      expect.fail("hello succeeded");
    } catch (err) {
      expect(err).to.be.instanceOf(TennisTrainError);
      expect((err as TennisTrainError).code).to.equal("ERR_BRIDGE_TIMEOUT");
      expect((err as Error).message).to.equal(
        "env server tcp://127.0.0.1:9 did not answer hello: no reply within 50 ms (after 2 retries 10 ms apart)",
      );
    } finally {
      await connection.close();
    }
    expect(retries).to.have.length(2);
  });

  it("detects a second client stepping the same server (ERR_BRIDGE_SEQUENCE)", async () => {
    const server = await start(1, 0);
    const one = await RemoteVecEnv.connect({ addresses: [server.endpoint], ...kQuick });
    const two = await RemoteVecEnv.connect({ addresses: [server.endpoint], ...kQuick });
    try {
      await one.reset();
      await one.step(new Float32Array(4));
      await two.reset();
      await two.step(new Float32Array(4));
      await one.step(new Float32Array(4)).then(
        () => expect.fail("step succeeded"),
        (err) => expect(err.code).to.equal("ERR_BRIDGE_SEQUENCE"),
      );
    } finally {
      await one.close();
      await two.close();
    }
  });

  it("refuses servers of another shape, bad actions and use after close", async () => {
    const server = await start(1, 0);
    try {
      await RemoteVecEnv.connect({ addresses: [server.endpoint], expect: { agents: 2, obsSize: 33, actionSize: 2 }, ...kQuick });
      expect.fail("connect succeeded");
    } catch (err) {
      expect((err as TennisTrainError).code).to.equal("ERR_BRIDGE_MISMATCH");
      expect((err as Error).message).to.equal(`env server ${server.endpoint} serves obsSize = 24, expected 33`);
    }
    await RemoteVecEnv.connect({ addresses: [] }).then(
      () => expect.fail("connect succeeded"),
      (err) => expect(err.message).to.equal("Expected a non-empty array of ZeroMQ addresses for addresses but received Array of length 0"),
    );
    const remote = await RemoteVecEnv.connect({ addresses: [server.endpoint], ...kQuick });
    await remote.reset();
    await remote.step(new Float32Array(3)).then(
      () => expect.fail("step succeeded"),
      (err) => expect(err).to.be.instanceOf(TypeError),
    );
    await remote.close();
    await remote.step(new Float32Array(4)).then(
      () => expect.fail("step succeeded"),
      (err) => expect(err.code).to.equal("ERR_BRIDGE_CLOSED"),
    );
  });
});
