// Env bridge retries: a step is never run twice. A client the server no longer remembers (64 newer
// clients, or no hello at all) is refused with ERR_BRIDGE_CLIENT instead of stepping again, in the
// TypeScript server and the Python one; the TypeScript client then says hello, resets and reports
// the episodes in flight as lost.
import { expect } from "chai";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import { BridgeConnection } from "../../src/lib/bridge/connection.ts";
import { EnvServer } from "../../src/lib/bridge/server.ts";
import { RawClient, pythonMissing, runPython } from "../bridge/helpers.ts";

const kEvictScript = join(dirname(fileURLToPath(import.meta.url)), "bridge_evict.py");
/** Clients the servers remember (src/lib/bridge/server.ts, bridge/python/tennis_bridge/server.py). */
const kRemembered = 64;

describe("reliability: bridge retries", function () {
  let server: EnvServer;
  let raw: RawClient;

  beforeEach(async function () {
    server = await EnvServer.start({ bind: "tcp://127.0.0.1:0", envs: 1 });
    raw = new RawClient(server.endpoint);
  });

  afterEach(async function () {
    raw.close();
    await server.close();
  });

  /** `count` other clients say hello, pushing older ones out of the server's memory. */
  async function crowdOut(count: number): Promise<void> {
    for (let i = 0; i < count; i++) expect((await raw.call({ v: 1, id: 1, op: "hello", client: `other-${i}` }))!.header.ok).to.equal(true);
  }

  it("refuses, without stepping, the retry of a step from a client forgotten after 64 newer ones", async function () {
    const session = (await raw.call({ v: 1, id: 1, op: "hello", client: "victim" }))!.header.session as string;
    await raw.call({ v: 1, id: 2, op: "reset", client: "victim", session });
    const step = { v: 1, id: 3, op: "step", client: "victim", session };
    const actions = [new Float32Array(4)];
    expect((await raw.call(step, actions))!.header).to.include({ ok: true, step: 1 });
    // Up to the limit, a retry is still answered from the cache.
    await crowdOut(kRemembered - 1);
    expect((await raw.call(step, actions))!.header).to.include({ ok: true, step: 1 });
    expect(server.stats).to.include({ steps: 1, replays: 1 });
    await crowdOut(kRemembered);
    const retry = await raw.call(step, actions);
    expect(retry!.header).to.deep.equal({
      v: 1,
      id: 3,
      op: "step",
      ok: false,
      error: {
        code: "ERR_BRIDGE_CLIENT",
        message: 'Unknown client "victim" (never said hello, closed, or forgotten after 64 newer clients): step not executed; hello again',
      },
    });
    const next = await raw.call({ ...step, id: 4 }, actions);
    expect(next!.header.error.code).to.equal("ERR_BRIDGE_CLIENT");
    expect(server.stats.steps).to.equal(1);
    // Hello again opens a new record; the late retry of id 3 is then stale, not a second step.
    expect((await raw.call({ v: 1, id: 5, op: "hello", client: "victim" }))!.header.ok).to.equal(true);
    expect((await raw.call(step, actions))!.header.error.code).to.equal("ERR_BRIDGE_STALE");
    expect((await raw.call({ ...step, id: 6 }, actions))!.header).to.include({ ok: true, step: 2 });
  });

  it("refuses reset and step from a client that never said hello", async function () {
    const session = server.session;
    for (const op of ["reset", "step"]) {
      const reply = await raw.call({ v: 1, id: 1, op, client: "stranger", session }, op === "step" ? [new Float32Array(4)] : []);
      expect(reply!.header.error.code, op).to.equal("ERR_BRIDGE_CLIENT");
    }
    expect(server.stats.steps).to.equal(0);
  });

  it("the TypeScript client recovers from being forgotten: hello, reset, episodes reported lost", async function () {
    const connection = new BridgeConnection(server.endpoint, { clientId: "victim", timeoutMs: 2000, retries: 0 });
    try {
      await connection.hello();
      await connection.reset();
      const first = await connection.step(new Float32Array(4));
      expect(first.kind).to.equal("step");
      await crowdOut(kRemembered);
      const second = await connection.step(new Float32Array(4));
      expect(second.kind).to.equal("restarted");
      expect(server.stats.steps).to.equal(1);
      const third = await connection.step(new Float32Array(4));
      expect(third.kind).to.equal("step");
      expect(server.stats.steps).to.equal(2);
    } finally {
      await connection.close();
    }
  });

  it("the Python server refuses the same retries", async function () {
    const missing = pythonMissing();
    if (missing) this.skip();
    const result = await runPython(kEvictScript, []);
    expect(result).to.deep.equal({ first: true, retry: "ERR_BRIDGE_CLIENT", stranger: "ERR_BRIDGE_CLIENT", steps: 1 });
  });
});
