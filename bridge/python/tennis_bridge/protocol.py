"""Wire format of the tennis-train env bridge (docs/bridge-protocol.md), the Python twin of
src/lib/bridge/protocol.ts: one JSON header frame, then little-endian float32 payload frames."""
import hashlib
import hmac
import json
import re

import numpy as np

PROTOCOL_VERSION = 1
SUPPORTED_VERSIONS = [1]
# Header frames longer than this are rejected (they only ever hold a few short fields).
MAX_HEADER_BYTES = 4096
# Payload frames a request may carry (step carries one).
MAX_PAYLOAD_FRAMES = 4
# Longest client / session / token string accepted in a header.
MAX_ID_LENGTH = 128
OPS = ("hello", "ping", "reset", "step", "close")
STEP_FRAMES = ("obs", "nextObs", "rewards", "dones", "maxReached")
FLOAT32 = np.dtype("<f4")

ERR_MALFORMED = "ERR_BRIDGE_MALFORMED"
ERR_VERSION = "ERR_BRIDGE_VERSION"
ERR_OVERSIZE = "ERR_BRIDGE_OVERSIZE"
ERR_AUTH = "ERR_BRIDGE_AUTH"
ERR_OP = "ERR_BRIDGE_OP"
ERR_SESSION = "ERR_BRIDGE_SESSION"
ERR_SHAPE = "ERR_BRIDGE_SHAPE"
ERR_STATE = "ERR_BRIDGE_STATE"
ERR_STALE = "ERR_BRIDGE_STALE"
# The server has no record of the client (no hello, closed, or forgotten): not executed; hello again.
ERR_CLIENT = "ERR_BRIDGE_CLIENT"
ERR_INTERNAL = "ERR_BRIDGE_INTERNAL"
ERR_TIMEOUT = "ERR_BRIDGE_TIMEOUT"
ERR_MISMATCH = "ERR_BRIDGE_MISMATCH"
ERR_SEQUENCE = "ERR_BRIDGE_SEQUENCE"


class BridgeError(Exception):
    """An error reply from a server, or a client-side failure; `code` is one of the ERR_BRIDGE_* names."""

    def __init__(self, code, message, request_id=None, op=None, extra=None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.request_id = request_id
        self.op = op
        self.extra = extra or {}


def encode_header(header):
    return json.dumps(header, separators=(",", ":")).encode("utf-8")


def frame_from_floats(values):
    """A float32 little-endian copy of `values` as bytes."""
    return np.ascontiguousarray(values, dtype=FLOAT32).tobytes()


def floats_from_frame(frame, length, name, finite=True):
    """The floats of a payload frame, checked to hold exactly `length` (finite) values."""
    data = bytes(frame)
    if len(data) != length * 4:
        raise BridgeError(
            ERR_SHAPE,
            f"Expected {length} float32 values ({length * 4} bytes) for {name} but received {len(data)} bytes",
        )
    values = np.frombuffer(data, dtype=FLOAT32).copy()
    if finite and not np.all(np.isfinite(values)):
        i = int(np.flatnonzero(~np.isfinite(values))[0])
        raise BridgeError(ERR_SHAPE, f"Expected finite values for {name} but {name}[{i}] is {values[i]}")
    return values


def parse_header_frame(frame):
    if frame is None or len(frame) == 0:
        raise BridgeError(ERR_MALFORMED, "Expected a JSON header frame but received none")
    if len(frame) > MAX_HEADER_BYTES:
        raise BridgeError(ERR_OVERSIZE, f"Header frame of {len(frame)} bytes exceeds {MAX_HEADER_BYTES}")
    try:
        value = json.loads(bytes(frame).decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise BridgeError(ERR_MALFORMED, "Header frame is not valid JSON") from None
    if not isinstance(value, dict):
        raise BridgeError(ERR_MALFORMED, "Header frame must be a JSON object")
    return value


def _is_id(value):
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 2**53 - 1


def peek(frames):
    """Best-effort (id, op) of a request that failed before full decoding, for the error reply."""
    try:
        header = parse_header_frame(frames[0] if frames else None)
    except BridgeError:
        return None, None
    request_id = header.get("id") if _is_id(header.get("id")) else None
    op = header.get("op")[:32] if isinstance(header.get("op"), str) else None
    return request_id, op


def decode_request(frames):
    """(header dict, payload frames) of a request; raises BridgeError as the Node server does."""
    raw = parse_header_frame(frames[0] if frames else None)
    request_id = raw.get("id") if _is_id(raw.get("id")) else None
    op = raw.get("op")[:32] if isinstance(raw.get("op"), str) else None
    if request_id is None:
        raise BridgeError(ERR_MALFORMED, "Expected a non-negative integer for id", None, op)
    if raw.get("v") != PROTOCOL_VERSION or isinstance(raw.get("v"), bool):
        raise BridgeError(
            ERR_VERSION,
            f"Protocol version {json.dumps(raw.get('v'))} is not supported; this server speaks "
            + ", ".join(map(str, SUPPORTED_VERSIONS)),
            request_id,
            op,
            {"supported": list(SUPPORTED_VERSIONS)},
        )
    if op not in OPS:
        raise BridgeError(
            ERR_OP, f"Unknown op {json.dumps(raw.get('op'))}; expected one of {', '.join(OPS)}", request_id, op
        )
    header = {"v": PROTOCOL_VERSION, "id": request_id, "op": op}
    for key in ("client", "session", "token"):
        value = raw.get(key)
        if value is None:
            continue
        if not isinstance(value, str) or not 1 <= len(value) <= MAX_ID_LENGTH:
            raise BridgeError(
                ERR_MALFORMED, f"Expected a string of 1-{MAX_ID_LENGTH} characters for {key}", request_id, op
            )
        header[key] = value
    payload = list(frames[1:])
    if len(payload) > MAX_PAYLOAD_FRAMES:
        raise BridgeError(
            ERR_MALFORMED,
            f"Expected at most {MAX_PAYLOAD_FRAMES} payload frames but received {len(payload)}",
            request_id,
            op,
        )
    return header, payload


def encode_request(header, payload=()):
    return [encode_header(header)] + [frame_from_floats(p) for p in payload]


def encode_reply(request_id, op, fields, payload=()):
    header = {"v": PROTOCOL_VERSION, "id": request_id, "op": op, "ok": True}
    header.update(fields)
    return [encode_header(header)] + [frame_from_floats(p) for p in payload]


def encode_error(error):
    body = {"code": error.code, "message": error.message}
    body.update(error.extra)
    return [encode_header({"v": PROTOCOL_VERSION, "id": error.request_id, "op": error.op, "ok": False, "error": body})]


def decode_reply(frames):
    header = parse_header_frame(frames[0] if frames else None)
    if not isinstance(header.get("ok"), bool):
        raise BridgeError(ERR_MALFORMED, "Reply header lacks ok")
    return header, list(frames[1:])


def token_matches(expected, given):
    if given is None:
        return False
    return hmac.compare_digest(hashlib.sha256(expected.encode()).digest(), hashlib.sha256(given.encode()).digest())


def is_local_endpoint(endpoint):
    """tcp on 127.0.0.0/8, ::1 or localhost, ipc:// and inproc:// listen on this machine only."""
    if endpoint.startswith(("ipc://", "inproc://")):
        return True
    match = re.match(r"^tcp://(.+):(\d+|\*)$", endpoint)
    if not match:
        return False
    host = match.group(1).strip("[]")
    return host in ("localhost", "::1") or re.match(r"^127\.\d+\.\d+\.\d+$", host) is not None
