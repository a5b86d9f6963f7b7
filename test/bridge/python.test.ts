// The Python side of the bridge: bridge/python's client against the Node server (same trajectory as
// the in-process env), bridge/unity/server.py around the unityagents stand-in (same trajectory as the
// notebook loop run directly), its error replies, and the Python client's restart handling.
import { expect } from "chai";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { TennisEnv } from "../../binding/env.ts";
import { RemoteVecEnv } from "../../src/lib/bridge/remote-vec-env.ts";
import { EnvServer } from "../../src/lib/bridge/server.ts";
import { PYTHON, RawClient, firstDifference, killChild, pythonMissing, runPython, seededActions, startChild, type ChildServer } from "./helpers.ts";
import { skipBecause } from "../test-deps.ts";
import { envOptions } from "../helpers/env-options.ts";

type Trajectory = { reset: number[]; steps: Record<string, number[]>[] };
const kFields = ["obs", "nextObs", "rewards", "dones", "maxReached"] as const;

describe("bridge from and to Python", function () {
  let folder: string;

  before(function () {
    const missing = pythonMissing();
    if (missing) skipBecause(this, missing);
    folder = mkdtempSync(join(tmpdir(), "bridge-py-"));
  });

  after(() => {
    if (folder) rmSync(folder, { recursive: true, force: true });
  });

  function writeActions(actions: Float32Array[]): string {
    const path = join(folder, `actions-${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(path, JSON.stringify(actions.map((a) => Array.from(a))));
    return path;
  }

  it("a Python client gets the in-process env's trajectory from the Node server", async () => {
    const server = await EnvServer.start({ bind: "tcp://127.0.0.1:0", envs: 3, seed: 9 });
    const local = new TennisEnv(envOptions({ numEnvs: 3, seed: 9, autoReset: true }));
    try {
      const actions = seededActions(4, 120, 12);
      const out = (await runPython("test/bridge/py_client_driver.py", [server.endpoint, writeActions(actions)])) as Trajectory & {
        info: object;
        bad_actions: string;
      };
      expect(out.info).to.deep.equal({ num_envs: 3, observation_shape: [3, 2, 24], action_shape: [3, 2, 2] });
      expect(firstDifference(Float32Array.from(out.reset), local.reset())).to.equal(-1);
      let dones = 0;
      actions.forEach((a, t) => {
        const want = local.step(a);
        for (const k of kFields) expect(firstDifference(Float32Array.from(out.steps[t][k]), want[k]), `step ${t} ${k}`).to.equal(-1);
        expect(out.steps[t].lost.every((v) => v === 0)).to.equal(true);
        dones += want.dones.reduce((s, v) => s + v, 0);
      });
      expect(dones).to.be.greaterThan(0);
      expect(out.bad_actions).to.equal("Expected actions of shape (3, 2, 2) but received (3,)");
      expect(server.stats.steps).to.equal(120);
    } finally {
      local.dispose();
      await server.close();
    }
  });

  describe("bridge/unity/server.py with the unityagents stand-in", () => {
    let unity: ChildServer;

    before(async () => {
      unity = await startChild(PYTHON, ["bridge/unity/server.py", "--stand-in", "--instances", "2", "--seed", "3", "--bind", "tcp://127.0.0.1:0"]);
    });

    after(async () => {
      if (unity) await killChild(unity, "SIGTERM");
    });

    it("serves the notebook loop's trajectory to RemoteVecEnv", async () => {
      const remote = await RemoteVecEnv.connect({ addresses: [unity.endpoint], timeoutMs: 2000, retries: 1, retryDelayMs: 50 });
      try {
        expect(remote.servers[0].info).to.deep.include({ envs: 2, agents: 2, obsSize: 24, actionSize: 2, stacking: 3, brain: "TennisBrain" });
        const actions = seededActions(5, 100, 8);
        const direct = (await runPython("test/bridge/unity_direct.py", ["2", "3", writeActions(actions)])) as Trajectory;
        expect(firstDifference(await remote.reset(), Float32Array.from(direct.reset))).to.equal(-1);
        let dones = 0;
        let capped = 0;
        for (const [t, a] of actions.entries()) {
          const got = await remote.step(a);
          for (const k of kFields) expect(firstDifference(got[k], Float32Array.from(direct.steps[t][k])), `step ${t} ${k}`).to.equal(-1);
          dones += got.dones.reduce((s, v) => s + v, 0);
          capped += got.maxReached.reduce((s, v) => s + v, 0);
        }
        // Both episode ends (a miss and the step cap) were crossed, with the server-side reset after each.
        expect(dones).to.be.greaterThan(capped);
        expect(capped).to.be.greaterThan(0);
      } finally {
        await remote.close();
      }
    });

    it("answers bad requests with error replies and keeps serving", async () => {
      const raw = new RawClient(unity.endpoint);
      try {
        const garbage = await raw.request(["{oops"]);
        expect(garbage!.header).to.deep.include({ ok: false, id: null });
        expect(garbage!.header.error).to.deep.equal({ code: "ERR_BRIDGE_MALFORMED", message: "Header frame is not valid JSON" });
        const version = await raw.call({ v: 7, id: 1, op: "hello", client: "p" });
        expect(version!.header.error).to.deep.equal({
          code: "ERR_BRIDGE_VERSION",
          message: "Protocol version 7 is not supported; this server speaks 1",
          supported: [1],
        });
        const hello = await raw.call({ v: 1, id: 2, op: "hello", client: "p" });
        const session = hello!.header.session;
        const big = Buffer.from(JSON.stringify({ v: 1, id: 3, op: "step", client: "p", session }));
        const oversize = await raw.request([big, Buffer.alloc(1 << 20)]);
        expect(oversize!.header).to.deep.include({ ok: false, id: 3 });
        expect(oversize!.header.error.code).to.equal("ERR_BRIDGE_OVERSIZE");
        const shape = await raw.call({ v: 1, id: 4, op: "step", client: "p", session }, [new Float32Array(5)]);
        expect(shape!.header.error.code).to.equal("ERR_BRIDGE_SHAPE");
        const stranger = await raw.call({ v: 1, id: 5, op: "reset", client: "p", session: "nope" });
        expect(stranger!.header.error.code).to.equal("ERR_BRIDGE_SESSION");
        const ping = await raw.call({ v: 1, id: 6, op: "ping" });
        expect(ping!.header).to.include({ ok: true, session });
      } finally {
        raw.close();
      }
    });
  });

  it("the Python client survives a server restart and reports the lost episode; the Python server checks tokens", async () => {
    const out = (await runPython("test/bridge/py_selftest.py", [])) as Record<string, unknown>;
    // Steps 1-3, restart (lost, fresh obs 0), then the new server's steps 1-2.
    expect(out).to.deep.equal({
      after_restart: { obs: 0, dones: [[true, true], [true, true]], lost: [[true, true], [true, true]] },
      seen: [1, 2, 3, 1, 2],
      lost_episodes: 2,
      internal: ["ERR_BRIDGE_INTERNAL", (out.internal as string[])[1]],
      after_internal: 3,
      no_token: "ERR_BRIDGE_AUTH",
      with_token: 2,
      open_bind: "Expected a loopback address (tcp://127.0.0.1:PORT) for bind unless a token is given, got tcp://0.0.0.0:0",
    });
    expect((out.internal as string[])[1]).to.match(/refused step: Env failed: backend exploded$/);
  });
});
