// The bridge wire format without sockets: request/reply round trips and every decoding refusal.
import { expect } from "chai";

import {
  ErrorCodes,
  PROTOCOL_VERSION,
  ProtocolError,
  decodeReply,
  decodeRequest,
  encodeError,
  encodeReply,
  encodeRequest,
  floatsFromFrame,
  isLocalEndpoint,
  kMaxHeaderBytes,
  tokenMatches,
} from "../../src/lib/bridge/protocol.ts";

function refusal(fn: () => unknown): ProtocolError {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(ProtocolError);
    return err as ProtocolError;
  }
  throw new Error("expected a ProtocolError");
}

const header = (fields: object) => Buffer.from(JSON.stringify({ v: PROTOCOL_VERSION, id: 3, op: "step", client: "c", ...fields }));

describe("bridge protocol", () => {
  it("round-trips a request with float payload bit for bit", () => {
    const actions = Float32Array.from([0.1, -1, 1e-30, 3.4e38]);
    const frames = encodeRequest({ v: 1, id: 7, op: "step", client: "abc", session: "s1" }, [actions]);
    const { header: h, payload } = decodeRequest(frames);
    expect(h).to.include({ v: 1, id: 7, op: "step", client: "abc", session: "s1" });
    expect(Array.from(floatsFromFrame(payload[0], 4, "actions"))).to.deep.equal(Array.from(actions));
  });

  it("copies floats into frames, so the caller may reuse its array", () => {
    const values = Float32Array.from([1, 2]);
    const [, frame] = encodeRequest({ v: 1, id: 1, op: "step" }, [values]);
    values[0] = 99;
    expect(Array.from(floatsFromFrame(frame, 2, "x"))).to.deep.equal([1, 2]);
  });

  it("reads unaligned frames", () => {
    const bytes = Buffer.alloc(13);
    Buffer.from(Float32Array.from([1.5, -2.25, 8]).buffer).copy(bytes, 1);
    expect(Array.from(floatsFromFrame(bytes.subarray(1), 3, "x"))).to.deep.equal([1.5, -2.25, 8]);
  });

  it("refuses frames of the wrong length or with non-finite values, naming the field", () => {
    const short = refusal(() => floatsFromFrame(Buffer.alloc(6), 2, "actions"));
    expect(short.code).to.equal(ErrorCodes.shape);
    expect(short.message).to.equal("Expected 2 float32 values (8 bytes) for actions but received 6 bytes");
    const nan = refusal(() => floatsFromFrame(Buffer.from(Float32Array.from([0, NaN]).buffer), 2, "actions"));
    expect(nan.message).to.equal("Expected finite values for actions but actions[1] is NaN");
    expect(Array.from(floatsFromFrame(Buffer.from(Float32Array.from([Infinity]).buffer), 1, "obs", false))).to.deep.equal([Infinity]);
  });

  it("refuses malformed headers with ERR_BRIDGE_MALFORMED", () => {
    expect(refusal(() => decodeRequest([])).message).to.equal("Expected a JSON header frame but received none");
    expect(refusal(() => decodeRequest([Buffer.from("{not json")])).message).to.equal("Header frame is not valid JSON");
    expect(refusal(() => decodeRequest([Buffer.from("[1,2]")])).message).to.equal("Header frame must be a JSON object");
    const noId = refusal(() => decodeRequest([Buffer.from(JSON.stringify({ v: 1, op: "step" }))]));
    expect(noId.code).to.equal(ErrorCodes.malformed);
    expect(noId.op).to.equal("step");
    const badClient = refusal(() => decodeRequest([header({ client: 5 })]));
    expect(badClient.message).to.equal("Expected a string of 1-128 characters for client");
    expect(badClient.id).to.equal(3);
    const frames = refusal(() => decodeRequest([header({}), ...Array.from({ length: 5 }, () => Buffer.alloc(4))]));
    expect(frames.message).to.equal("Expected at most 4 payload frames but received 5");
  });

  it("refuses another protocol version, quoting the id and the supported versions", () => {
    const err = refusal(() => decodeRequest([header({ v: 2 })]));
    expect(err.code).to.equal(ErrorCodes.version);
    expect(err.id).to.equal(3);
    expect(err.message).to.equal("Protocol version 2 is not supported; this server speaks 1");
    const reply = decodeReply(encodeError(err));
    expect(reply.header).to.deep.include({ ok: false, id: 3, op: "step" });
    expect(reply.header.error).to.deep.equal({ code: "ERR_BRIDGE_VERSION", message: err.message, supported: [1] });
  });

  it("refuses unknown ops and oversize headers", () => {
    expect(refusal(() => decodeRequest([header({ op: "jump" })])).code).to.equal(ErrorCodes.op);
    const big = Buffer.from(JSON.stringify({ v: 1, id: 1, op: "ping", pad: "x".repeat(kMaxHeaderBytes) }));
    expect(refusal(() => decodeRequest([big])).code).to.equal(ErrorCodes.oversize);
  });

  it("encodes replies with their payload", () => {
    const { header: h, payload } = decodeReply(encodeReply(4, "reset", { envs: 1 }, [Float32Array.from([2])]));
    expect(h).to.deep.equal({ v: 1, id: 4, op: "reset", ok: true, envs: 1 });
    expect(Array.from(floatsFromFrame(payload[0], 1, "obs"))).to.deep.equal([2]);
    expect(() => decodeReply([Buffer.from("{}")])).to.throw("Reply header lacks ok");
  });

  it("tells loopback endpoints from the rest", () => {
    for (const e of ["tcp://127.0.0.1:5555", "tcp://127.3.0.1:0", "tcp://localhost:1", "tcp://[::1]:5", "ipc:///tmp/x", "inproc://a"]) {
      expect(isLocalEndpoint(e), e).to.equal(true);
    }
    for (const e of ["tcp://0.0.0.0:5555", "tcp://*:5555", "tcp://10.0.0.2:1", "tcp://eth0:5", "udp://127.0.0.1:1"]) {
      expect(isLocalEndpoint(e), e).to.equal(false);
    }
  });

  it("compares tokens exactly", () => {
    expect(tokenMatches("s3cret", "s3cret")).to.equal(true);
    expect(tokenMatches("s3cret", "s3cre")).to.equal(false);
    expect(tokenMatches("s3cret", undefined)).to.equal(false);
  });
});
