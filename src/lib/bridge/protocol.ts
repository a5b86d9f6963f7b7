// Wire format of the env bridge (docs/bridge-protocol.md): a ZeroMQ multipart message is one small JSON
// header frame followed by little-endian float32 payload frames. Shared by EnvServer and RemoteVecEnv;
// bridge/python/tennis_bridge/protocol.py is its Python twin.
import { createHash, timingSafeEqual } from "node:crypto";
import { endianness } from "node:os";

import { TennisTrainError } from "../../../binding/errors.ts";

/** Version this code speaks; a request with another `v` gets ERR_BRIDGE_VERSION. */
export const PROTOCOL_VERSION = 1;
/** Versions a server answers (listed in the ERR_BRIDGE_VERSION reply so a client can adapt). */
export const SUPPORTED_VERSIONS: readonly number[] = [1];
/** Header frames longer than this are rejected (they only ever hold a few short fields). */
export const kMaxHeaderBytes = 4096;
/** Payload frames a request may carry (step carries one). */
export const kMaxPayloadFrames = 4;
/** Longest `client` / `session` / `token` string accepted in a header. */
export const kMaxIdLength = 128;

/** Requests a server understands. */
export const OPS = ["hello", "ping", "reset", "step", "close"] as const;
export type Op = (typeof OPS)[number];

/** The names (in order) of the payload frames of a step reply. */
export const STEP_FRAMES = ["obs", "nextObs", "rewards", "dones", "maxReached"] as const;

/** Error codes sent in error replies (and used as TennisTrainError codes on the client). */
export const ErrorCodes = {
  /** Not a multipart message of a JSON header plus float32 frames, or a header field of the wrong type. */
  malformed: "ERR_BRIDGE_MALFORMED",
  /** Header `v` is not a supported protocol version. */
  version: "ERR_BRIDGE_VERSION",
  /** The message is larger than the server's maxMessageBytes. */
  oversize: "ERR_BRIDGE_OVERSIZE",
  /** The server requires a token and the header's is missing or wrong. */
  auth: "ERR_BRIDGE_AUTH",
  /** Unknown `op`. */
  op: "ERR_BRIDGE_OP",
  /** The request names a session the server does not have (it restarted): hello again. */
  session: "ERR_BRIDGE_SESSION",
  /** A payload frame has the wrong length or non-finite values. */
  shape: "ERR_BRIDGE_SHAPE",
  /** step before the first reset. */
  state: "ERR_BRIDGE_STATE",
  /** A request id older than the last one this client sent (a late duplicate): not executed. */
  stale: "ERR_BRIDGE_STALE",
  /** The server has no record of the client (no hello, closed, or forgotten): not executed; hello again. */
  client: "ERR_BRIDGE_CLIENT",
  /** The env failed while serving the request. */
  internal: "ERR_BRIDGE_INTERNAL",
  // Raised by the client only:
  /** No reply after every retry. */
  timeout: "ERR_BRIDGE_TIMEOUT",
  /** Servers disagree on agents / sizes, or a restarted server serves a different env count. */
  mismatch: "ERR_BRIDGE_MISMATCH",
  /** A step reply's counter skipped or repeated: another client steps the same server. */
  sequence: "ERR_BRIDGE_SEQUENCE",
  /** The client was closed. */
  closed: "ERR_BRIDGE_CLOSED",
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/** Fields every request header carries (plus op-specific ones, none in version 1). */
export interface RequestHeader {
  /** Protocol version. */
  v: number;
  /** Request id: a non-negative safe integer, increasing per client. A retry reuses its id. */
  id: number;
  op: Op;
  /** Random id of the client (its dedupe key across reconnects); required except for ping. */
  client?: string;
  /** The session from hello; required by reset and step. */
  session?: string;
  /** Shared secret, when the server was started with one. */
  token?: string;
}

/** What hello returns: the server's shape and identity. */
export interface HelloInfo {
  /** Changes whenever the server (re)starts; requests must quote it. */
  session: string;
  /** Free text, e.g. "tennis-train 0.1.0 built-in" or "unityagents Tennis". */
  server: string;
  protocol: number;
  agents: number;
  /** Floats per agent observation (frame size x stacking). */
  obsSize: number;
  actionSize: number;
  /** Frames stacked in one observation. */
  stacking: number;
  /** Envs this server steps per request. */
  envs: number;
  brain: string;
  /** Done envs are reset by the server before the step reply (always true in version 1). */
  autoReset: boolean;
  maxEpisodeSteps: number | null;
  /** Largest message the server accepts. */
  maxMessageBytes: number;
}

export interface ReplyHeader {
  v: number;
  id: number | null;
  op: string | null;
  ok: boolean;
  error?: { code: string; message: string; supported?: number[] };
  [field: string]: unknown;
}

/** A decoded message: its header and its payload frames. */
export interface Message<H> {
  header: H;
  payload: Buffer[];
}

/** A request the server cannot serve; carries what is known of it so the error reply can quote its id. */
export class ProtocolError extends Error {
  readonly code: ErrorCode;
  readonly id: number | null;
  readonly op: string | null;
  readonly extra: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, id: number | null = null, op: string | null = null, extra: Record<string, unknown> = {}) {
    super(message);
    this.name = "ProtocolError";
    this.code = code;
    this.id = id;
    this.op = op;
    this.extra = extra;
  }
}

// Payloads are raw little-endian float32 read and written in the host's byte order, which must be little-endian (no byte swap is implemented).
if (endianness() !== "LE") throw new TennisTrainError("The env bridge supports little-endian hosts only", "ERR_BRIDGE_MALFORMED");

/** JSON header as a frame. */
export function encodeHeader(header: object): Buffer {
  return Buffer.from(JSON.stringify(header), "utf8");
}

/** A copy of `values` as a frame (a copy, so the caller may reuse its array at once). */
export function frameFromFloats(values: Float32Array): Buffer {
  return Buffer.from(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
}

/**
 * The floats of a payload frame, checked to hold exactly `length` finite values (else ERR_BRIDGE_SHAPE
 * naming `name`). Copies when the frame is not 4-byte aligned.
 */
export function floatsFromFrame(frame: Buffer, length: number, name: string, finite = true): Float32Array {
  if (frame.byteLength !== length * 4) {
    throw new ProtocolError(
      ErrorCodes.shape,
      `Expected ${length} float32 values (${length * 4} bytes) for ${name} but received ${frame.byteLength} bytes`,
    );
  }
  const floats =
    frame.byteOffset % 4 === 0
      ? new Float32Array(frame.buffer, frame.byteOffset, length)
      : new Float32Array(new Uint8Array(frame).buffer.slice(0), 0, length);
  if (finite) {
    for (let i = 0; i < floats.length; i++) {
      if (!Number.isFinite(floats[i])) {
        throw new ProtocolError(ErrorCodes.shape, `Expected finite values for ${name} but ${name}[${i}] is ${floats[i]}`);
      }
    }
  }
  return floats;
}

function parseHeaderFrame(frame: Buffer | undefined): Record<string, unknown> {
  if (frame === undefined || frame.byteLength === 0) throw new ProtocolError(ErrorCodes.malformed, "Expected a JSON header frame but received none");
  if (frame.byteLength > kMaxHeaderBytes) {
    throw new ProtocolError(ErrorCodes.oversize, `Header frame of ${frame.byteLength} bytes exceeds ${kMaxHeaderBytes}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(frame.toString("utf8"));
  } catch {
    throw new ProtocolError(ErrorCodes.malformed, "Header frame is not valid JSON");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ProtocolError(ErrorCodes.malformed, "Header frame must be a JSON object");
  }
  return value as Record<string, unknown>;
}

function optionalId(header: Record<string, unknown>, key: string, id: number, op: string): string | undefined {
  const value = header[key];
  if (value === undefined) return undefined;
  if (typeof value !== "string" || value.length === 0 || value.length > kMaxIdLength) {
    throw new ProtocolError(ErrorCodes.malformed, `Expected a string of 1-${kMaxIdLength} characters for ${key}`, id, op);
  }
  return value;
}

/**
 * Parses a request (frames after the ZeroMQ envelope). Checks, in order: header JSON, id, version,
 * op, string fields, payload frame count. Throws ProtocolError with as much of id/op as was readable.
 */
export function decodeRequest(frames: Buffer[]): Message<RequestHeader> {
  const raw = parseHeaderFrame(frames[0]);
  const id = Number.isSafeInteger(raw.id) && (raw.id as number) >= 0 ? (raw.id as number) : null;
  const op = typeof raw.op === "string" ? raw.op.slice(0, 32) : null;
  if (id === null) throw new ProtocolError(ErrorCodes.malformed, "Expected a non-negative integer for id", null, op);
  if (raw.v !== PROTOCOL_VERSION) {
    throw new ProtocolError(
      ErrorCodes.version,
      `Protocol version ${JSON.stringify(raw.v)} is not supported; this server speaks ${SUPPORTED_VERSIONS.join(", ")}`,
      id,
      op,
      { supported: [...SUPPORTED_VERSIONS] },
    );
  }
  if (op === null || !(OPS as readonly string[]).includes(op)) {
    throw new ProtocolError(ErrorCodes.op, `Unknown op ${JSON.stringify(raw.op)}; expected one of ${OPS.join(", ")}`, id, op);
  }
  const header: RequestHeader = {
    v: PROTOCOL_VERSION,
    id,
    op: op as Op,
    client: optionalId(raw, "client", id, op),
    session: optionalId(raw, "session", id, op),
    token: optionalId(raw, "token", id, op),
  };
  const payload = frames.slice(1);
  if (payload.length > kMaxPayloadFrames) {
    throw new ProtocolError(ErrorCodes.malformed, `Expected at most ${kMaxPayloadFrames} payload frames but received ${payload.length}`, id, op);
  }
  return { header, payload };
}

/** A request as frames. */
export function encodeRequest(header: RequestHeader, payload: Float32Array[] = []): Buffer[] {
  return [encodeHeader(header), ...payload.map(frameFromFloats)];
}

/** A success reply as frames. */
export function encodeReply(id: number, op: string, fields: Record<string, unknown>, payload: Float32Array[] = []): Buffer[] {
  return [encodeHeader({ v: PROTOCOL_VERSION, id, op, ok: true, ...fields }), ...payload.map(frameFromFloats)];
}

/** An error reply as frames (one header, no payload). */
export function encodeError(error: ProtocolError): Buffer[] {
  const body: ReplyHeader = {
    v: PROTOCOL_VERSION,
    id: error.id,
    op: error.op,
    ok: false,
    error: { code: error.code, message: error.message, ...error.extra },
  };
  return [encodeHeader(body)];
}

/** Parses a reply (frames after the envelope); throws ProtocolError on garbage. */
export function decodeReply(frames: Buffer[]): Message<ReplyHeader> {
  const raw = parseHeaderFrame(frames[0]);
  if (typeof raw.ok !== "boolean") throw new ProtocolError(ErrorCodes.malformed, "Reply header lacks ok");
  return { header: raw as ReplyHeader, payload: frames.slice(1) };
}

/** Equal-time token comparison (hashes first so lengths do not leak through timing either). */
export function tokenMatches(expected: string, given: string | undefined): boolean {
  if (given === undefined) return false;
  const a = createHash("sha256").update(expected).digest();
  const b = createHash("sha256").update(given).digest();
  return timingSafeEqual(a, b);
}

/**
 * True when a ZeroMQ endpoint only listens on this machine: tcp on 127.0.0.0/8, ::1 or localhost,
 * ipc:// and inproc://. Anything else needs a token.
 */
export function isLocalEndpoint(endpoint: string): boolean {
  if (endpoint.startsWith("ipc://") || endpoint.startsWith("inproc://")) return true;
  const match = /^tcp:\/\/(.+):(\d+|\*)$/.exec(endpoint);
  if (!match) return false;
  const host = match[1].replace(/^\[|\]$/g, "");
  return host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/**
 * What is wrong with a ZeroMQ endpoint a server binds, as the expectation it misses, or null: tcp://
 * needs a host and a port of 0-65535 or `*` (ZeroMQ would take a larger number as an ephemeral
 * port), and ipc:// and inproc:// need a path or a name.
 */
export function endpointProblem(endpoint: string): string | null {
  const tcp = /^tcp:\/\/(.+):([^:\]]*)$/.exec(endpoint);
  if (tcp) {
    const port = tcp[2];
    if (port === "*" || (/^\d{1,5}$/.test(port) && Number(port) <= 65535)) return null;
    return "a tcp://HOST:PORT endpoint with a port of 0-65535 or *";
  }
  if (/^(ipc|inproc):\/\/.+$/.test(endpoint)) return null;
  return "an endpoint tcp://HOST:PORT, ipc://PATH or inproc://NAME";
}
