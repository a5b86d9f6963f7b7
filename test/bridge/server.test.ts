// EnvServer with hand-made frames: the handshake, every error reply (after which it must keep
// serving), retries answered from the cache, tokens and bind rules.
import { expect } from "chai";
import { Request } from "zeromq";

import { TennisTrainError } from "../../binding/errors.ts";
import { EnvServer, type ServedEnv } from "../../src/lib/bridge/server.ts";
import { runEnvServer } from "../../src/lib/bridge/run-env-server.ts";
import { RawClient } from "./helpers.ts";

const kLocal = "tcp://127.0.0.1:0";

describe("bridge EnvServer", function () {
  let server: EnvServer;
  let raw: RawClient;
  let session: string;
  let nextId = 1;

  const call = (fields: object, payload: Float32Array[] = []) => raw.call({ v: 1, id: nextId++, client: "t", session, ...fields }, payload);

  // After any refusal the server must still answer a normal request.
  async function stillServes(): Promise<void> {
    const reply = await raw.call({ v: 1, id: nextId++, op: "ping" });
    expect(reply?.header).to.include({ ok: true, session });
  }

  beforeEach(async () => {
    server = await EnvServer.start({ bind: kLocal, envs: 3, seed: 11 });
    raw = new RawClient(server.endpoint);
    const hello = await raw.call({ v: 1, id: nextId++, op: "hello", client: "t" });
    session = hello!.header.session;
  });

  afterEach(async () => {
    raw.close();
    await server.close();
  });

  it("says hello with the served shape", async () => {
    const reply = await call({ op: "hello" });
    expect(reply!.header).to.deep.include({
      ok: true,
      op: "hello",
      session: server.session,
      protocol: 1,
      agents: 2,
      obsSize: 24,
      actionSize: 2,
      stacking: 3,
      envs: 3,
      brain: "TennisBrain",
      autoReset: true,
      maxEpisodeSteps: 1001,
      maxMessageBytes: server.maxMessageBytes,
    });
  });

  it("resets and steps with float frames of the right sizes", async () => {
    const reset = await call({ op: "reset" });
    expect(reset!.header).to.include({ ok: true, envs: 3, step: 0 });
    expect(reset!.payload[0].byteLength).to.equal(3 * 2 * 24 * 4);
    const step = await call({ op: "step" }, [new Float32Array(3 * 2 * 2).fill(0.5)]);
    expect(step!.header).to.deep.include({ ok: true, step: 1 });
    expect(step!.payload.map((f) => f.byteLength)).to.deep.equal([576, 576, 24, 24, 24]);
  });

  it("answers malformed frames with ERR_BRIDGE_MALFORMED and keeps serving", async () => {
    for (const frames of [["{not json"], ["[1,2,3]"], [Buffer.alloc(0)], [JSON.stringify({ v: 1, op: "hello" })]]) {
      const reply = await raw.request(frames);
      expect(reply!.header).to.deep.include({ ok: false, id: null });
      expect(reply!.header.error.code).to.equal("ERR_BRIDGE_MALFORMED");
    }
    const noClient = await raw.call({ v: 1, id: nextId++, op: "reset", session });
    expect(noClient!.header.error).to.deep.equal({ code: "ERR_BRIDGE_MALFORMED", message: "Expected a client id for reset" });
    await call({ op: "reset" });
    const twoFrames = await call({ op: "step" }, [new Float32Array(12), new Float32Array(12)]);
    expect(twoFrames!.header.error.message).to.equal("step takes exactly one payload frame (actions), received 2");
    await stillServes();
    expect(server.stats.steps).to.equal(0);
  });

  it("answers a wrong protocol version with ERR_BRIDGE_VERSION quoting the id", async () => {
    const id = nextId++;
    const reply = await raw.call({ v: 99, id, op: "hello", client: "t" });
    expect(reply!.header).to.deep.include({ ok: false, id, op: "hello" });
    expect(reply!.header.error).to.deep.equal({
      code: "ERR_BRIDGE_VERSION",
      message: "Protocol version 99 is not supported; this server speaks 1",
      supported: [1],
    });
    await stillServes();
  });

  it("answers an oversize message with ERR_BRIDGE_OVERSIZE, without touching the envs", async () => {
    await call({ op: "reset" });
    const id = nextId++;
    const head = Buffer.from(JSON.stringify({ v: 1, id, op: "step", client: "t", session }));
    const reply = await raw.request([head, Buffer.alloc(1 << 20)]);
    expect(reply!.header).to.deep.include({ ok: false, id, op: "step" });
    expect(reply!.header.error).to.deep.equal({
      code: "ERR_BRIDGE_OVERSIZE",
      message: `Message of ${head.byteLength + (1 << 20)} bytes exceeds this server's limit of ${server.maxMessageBytes}`,
    });
    expect(server.stats.steps).to.equal(0);
    const ok = await call({ op: "step" }, [new Float32Array(12)]);
    expect(ok!.header).to.include({ ok: true, step: 1 });
  });

  it("refuses unknown ops, steps before reset, bad actions and unknown sessions", async () => {
    expect((await call({ op: "jump" }))!.header.error.code).to.equal("ERR_BRIDGE_OP");
    const early = await call({ op: "step" }, [new Float32Array(12)]);
    expect(early!.header.error).to.deep.equal({ code: "ERR_BRIDGE_STATE", message: "reset before the first step" });
    await call({ op: "reset" });
    const short = await call({ op: "step" }, [new Float32Array(11)]);
    expect(short!.header.error).to.deep.equal({
      code: "ERR_BRIDGE_SHAPE",
      message: "Expected 12 float32 values (48 bytes) for actions but received 44 bytes",
    });
    const nan = await call({ op: "step" }, [Float32Array.from({ length: 12 }, (_, i) => (i === 5 ? NaN : 0))]);
    expect(nan!.header.error.message).to.equal("Expected finite values for actions but actions[5] is NaN");
    const stranger = await call({ op: "step", session: "0123456789abcdef" }, [new Float32Array(12)]);
    expect(stranger!.header.error.code).to.equal("ERR_BRIDGE_SESSION");
    expect(server.stats.steps).to.equal(0);
    await stillServes();
  });

  it("answers a retried request from its cache and refuses older ids", async () => {
    await call({ op: "reset" });
    const id = nextId++;
    const actions = [Float32Array.from({ length: 12 }, (_, i) => Math.sin(i))];
    const first = await raw.call({ v: 1, id, op: "step", client: "t", session }, actions);
    const again = await raw.call({ v: 1, id, op: "step", client: "t", session }, actions);
    expect(again!.header).to.deep.equal(first!.header);
    expect(again!.payload.map((f) => f.toString("hex"))).to.deep.equal(first!.payload.map((f) => f.toString("hex")));
    expect(server.stats).to.include({ steps: 1, replays: 1 });
    const stale = await raw.call({ v: 1, id: id - 1, op: "step", client: "t", session }, actions);
    expect(stale!.header.error.code).to.equal("ERR_BRIDGE_STALE");
    // Another client id has its own sequence, from its hello on.
    expect((await raw.call({ v: 1, id: 1, op: "hello", client: "u" }))!.header.ok).to.equal(true);
    const other = await raw.call({ v: 1, id: 2, op: "step", client: "u", session }, actions);
    expect(other!.header).to.include({ ok: true, step: 2 });
    expect(server.stats.steps).to.equal(2);
  });

  it("serves REQ sockets (empty delimiter frame)", async () => {
    const req = new Request({ linger: 0, receiveTimeout: 2000 });
    req.connect(server.endpoint);
    await req.send(JSON.stringify({ v: 1, id: 1, op: "ping" }));
    const [head] = await req.receive();
    expect(JSON.parse(head.toString())).to.include({ ok: true, session: server.session });
    req.close();
  });

  it("requires the token when it has one", async () => {
    const guarded = await EnvServer.start({ bind: kLocal, envs: 1, token: "s3cret" });
    const client = new RawClient(guarded.endpoint);
    try {
      const none = await client.call({ v: 1, id: 1, op: "hello", client: "a" });
      expect(none!.header.error).to.deep.equal({ code: "ERR_BRIDGE_AUTH", message: "Missing or wrong token" });
      const wrong = await client.call({ v: 1, id: 2, op: "ping", token: "guess" });
      expect(wrong!.header.error.code).to.equal("ERR_BRIDGE_AUTH");
      const right = await client.call({ v: 1, id: 3, op: "hello", client: "a", token: "s3cret" });
      expect(right!.header).to.include({ ok: true, envs: 1 });
    } finally {
      client.close();
      await guarded.close();
    }
  });

  it("binds beyond loopback only with a token, and reports a taken port", async () => {
    let error: unknown;
    try {
      await EnvServer.start({ bind: "tcp://0.0.0.0:0" });
    } catch (err) {
      error = err;
    }
    expect(error).to.be.instanceOf(TypeError);
    expect((error as Error).message).to.equal(
      'Expected a loopback address (tcp://127.0.0.1:PORT) unless a token is given for bind but received "tcp://0.0.0.0:0" of type string',
    );
    try {
      await EnvServer.start({ bind: server.endpoint });
      expect.fail("second bind succeeded");
    } catch (err) {
      expect(err).to.be.instanceOf(TennisTrainError);
      expect((err as TennisTrainError).code).to.equal("ERR_BRIDGE_BIND");
    }
  });

  it("turns an env failure into a cached ERR_BRIDGE_INTERNAL and keeps serving (custom backend)", async () => {
    let t = 0;
    let calls = 0;
    const env: ServedEnv = {
      numEnvs: 1,
      reset: () => new Float32Array(2),
      step: (actions) => {
        calls++;
        if (actions[0] === 99) throw new Error("backend exploded");
        const obs = new Float32Array(2).fill(++t);
        const mask = new Float32Array(1);
        return { obs, nextObs: obs, rewards: mask, dones: mask, maxReached: mask };
      },
      dispose: () => {},
    };
    const info = { server: "counter", agents: 1, obsSize: 2, actionSize: 1, stacking: 1, brain: "B", maxEpisodeSteps: null };
    const custom = await EnvServer.start({ bind: kLocal, backend: { env, info } });
    const client = new RawClient(custom.endpoint);
    try {
      const hello = await client.call({ v: 1, id: 1, op: "hello", client: "c" });
      expect(hello!.header).to.include({ envs: 1, agents: 1, obsSize: 2, actionSize: 1, server: "counter" });
      const s = hello!.header.session;
      await client.call({ v: 1, id: 2, op: "reset", client: "c", session: s });
      const boom = await client.call({ v: 1, id: 3, op: "step", client: "c", session: s }, [Float32Array.of(99)]);
      expect(boom!.header.error).to.deep.equal({ code: "ERR_BRIDGE_INTERNAL", message: "Env failed: backend exploded" });
      // A retry of the failed request gets the same answer without running the env again.
      const retry = await client.call({ v: 1, id: 3, op: "step", client: "c", session: s }, [Float32Array.of(99)]);
      expect(retry!.header).to.deep.equal(boom!.header);
      expect(calls).to.equal(1);
      const ok = await client.call({ v: 1, id: 4, op: "step", client: "c", session: s }, [Float32Array.of(0)]);
      expect(ok!.header).to.include({ ok: true, step: 1 });
      expect(Array.from(new Float32Array(new Uint8Array(ok!.payload[0]).buffer))).to.deep.equal([1, 1]);
    } finally {
      client.close();
      await custom.close();
    }
  });

  it("runEnvServer serves until aborted and returns the counters", async () => {
    const abort = new AbortController();
    const lines: string[] = [];
    let endpoint = "";
    const done = runEnvServer({ bind: kLocal, envs: 2, seed: 1, signal: abort.signal, log: (l) => lines.push(l), ready: (s) => (endpoint = s.endpoint) });
    while (endpoint === "") await new Promise((r) => setTimeout(r, 5));
    const client = new RawClient(endpoint);
    const ping = await client.call({ v: 1, id: 1, op: "ping" });
    expect(ping!.header).to.include({ ok: true, steps: 0 });
    client.close();
    abort.abort();
    expect(await done).to.deep.equal({ requests: 1, errors: 0, steps: 0, replays: 0 });
    expect(lines[0]).to.match(/^env-server: serving 2 env\(s\) on tcp:\/\/127\.0\.0\.1:\d+ \(session [0-9a-f]{16}\)$/);
    expect(lines.at(-1)).to.equal(`env-server: closed ${endpoint} after 0 steps`);
  });
});
