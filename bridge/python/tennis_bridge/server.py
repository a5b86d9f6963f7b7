"""A bridge env server in Python: the same protocol, session and retry semantics as
src/lib/bridge/server.ts, around any backend with reset()/step(). bridge/unity/server.py plugs in
unityagents' UnityEnvironment."""
import json
import secrets
import sys

import zmq

from . import protocol as p

# Clients whose last reply is kept for retries; the least recently served is forgotten beyond this,
# and its later requests other than hello get ERR_BRIDGE_CLIENT.
MAX_CLIENTS = 64
# ZeroMQ drops (without a reply) any frame this many times over the soft limit, to bound memory.
HARD_LIMIT_FACTOR = 16
# How often the serve loop wakes to check for a stop request (ms).
POLL_MS = 200


def default_max_message_bytes(envs, agents, obs_size):
    return 65536 + 4 * envs * agents * obs_size


class Backend:
    """What a server steps. reset() returns obs [envs*agents*obs_size]; step(actions) returns
    (obs, next_obs, rewards, dones, max_reached), flat float32, done envs already reset in obs."""

    num_envs = 1
    info = {}

    def reset(self):
        raise NotImplementedError

    def step(self, actions):
        raise NotImplementedError

    def close(self):
        pass


class EnvServer:
    """Serves `backend` on `bind` (loopback unless a token is given). Call serve_forever()."""

    def __init__(self, backend, bind="tcp://127.0.0.1:5555", token=None, max_message_bytes=None, log=None):
        if not p.is_local_endpoint(bind) and token is None:
            raise ValueError(f"Expected a loopback address (tcp://127.0.0.1:PORT) for bind unless a token is given, got {bind}")
        if token is not None and not 1 <= len(token) <= p.MAX_ID_LENGTH:
            raise ValueError(f"Expected a token of 1-{p.MAX_ID_LENGTH} characters")
        self.backend = backend
        self.info = dict(backend.info)
        self.num_envs = backend.num_envs
        self.token = token
        self.log = log or (lambda line: print(line, file=sys.stderr, flush=True))
        self.max_message_bytes = max_message_bytes or default_max_message_bytes(
            self.num_envs, self.info["agents"], self.info["obsSize"]
        )
        self.session = secrets.token_hex(8)
        self.stats = {"requests": 0, "errors": 0, "steps": 0, "replays": 0}
        self.clients = {}
        self.reset_done = False
        self.context = zmq.Context.instance()
        self.socket = self.context.socket(zmq.ROUTER)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.setsockopt(zmq.SNDTIMEO, 1000)
        self.socket.setsockopt(zmq.MAXMSGSIZE, max(HARD_LIMIT_FACTOR * self.max_message_bytes, 16 << 20))
        self.socket.bind(bind)
        self.endpoint = self.socket.getsockopt(zmq.LAST_ENDPOINT).decode()
        self.log(f"env-server: serving {self.num_envs} env(s) on {self.endpoint} (session {self.session})")

    def hello(self):
        return {
            "session": self.session,
            "server": self.info.get("server", "python"),
            "protocol": p.PROTOCOL_VERSION,
            "agents": self.info["agents"],
            "obsSize": self.info["obsSize"],
            "actionSize": self.info["actionSize"],
            "stacking": self.info.get("stacking", 1),
            "envs": self.num_envs,
            "brain": self.info.get("brain", ""),
            "autoReset": True,
            "maxEpisodeSteps": self.info.get("maxEpisodeSteps"),
            "maxMessageBytes": self.max_message_bytes,
        }

    def serve_forever(self, should_stop=lambda: False):
        poller = zmq.Poller()
        poller.register(self.socket, zmq.POLLIN)
        try:
            while not should_stop():
                if not poller.poll(POLL_MS):
                    continue
                frames = self.socket.recv_multipart(copy=True)
                # ROUTER prepends the peer identity; REQ peers add an empty delimiter, which we echo.
                envelope_length = 2 if len(frames) > 2 and len(frames[1]) == 0 else 1
                reply = self.handle(frames[envelope_length:])
                try:
                    self.socket.send_multipart(frames[:envelope_length] + reply)
                except zmq.Again:
                    self.log("env-server: reply dropped (peer gone or stalled)")
        except KeyboardInterrupt:
            pass

    def close(self):
        self.socket.close(0)
        self.backend.close()
        self.log(f"env-server: closed {self.endpoint} after {self.stats['steps']} steps")

    def handle(self, frames):
        """One request to one reply, never raising."""
        self.stats["requests"] += 1
        try:
            return self._dispatch(frames)
        except Exception as err:  # noqa: BLE001 - every failure becomes an error reply
            self.stats["errors"] += 1
            if not isinstance(err, p.BridgeError):
                request_id, op = p.peek(frames)
                err = p.BridgeError(p.ERR_INTERNAL, f"Env failed: {err}", request_id, op)
            self.log(f"env-server: {err.code} {err.message}")
            return p.encode_error(err)

    def _dispatch(self, frames):
        size = sum(len(f) for f in frames)
        if size > self.max_message_bytes:
            request_id, op = p.peek(frames)
            raise p.BridgeError(
                p.ERR_OVERSIZE,
                f"Message of {size} bytes exceeds this server's limit of {self.max_message_bytes}",
                request_id,
                op,
            )
        header, payload = p.decode_request(frames)
        request_id, op = header["id"], header["op"]
        if self.token is not None and not p.token_matches(self.token, header.get("token")):
            raise p.BridgeError(p.ERR_AUTH, "Missing or wrong token", request_id, op)
        if op == "ping":
            return p.encode_reply(request_id, op, {"session": self.session, "steps": self.stats["steps"]})
        client = header.get("client")
        if client is None:
            raise p.BridgeError(p.ERR_MALFORMED, f"Expected a client id for {op}", request_id, op)
        state = self.clients.get(client)
        if state is not None and request_id <= state["id"]:
            if request_id == state["id"] and op == state["op"]:
                self.stats["replays"] += 1
                return state["reply"]
            raise p.BridgeError(
                p.ERR_STALE, f"Request {request_id} is older than this client's last request {state['id']}", request_id, op
            )
        # Without the client's record the server cannot tell a retry of an executed request from a
        # new one: only hello (which changes nothing) opens a record, so nothing runs twice.
        if state is None and op != "hello":
            raise p.BridgeError(
                p.ERR_CLIENT,
                f"Unknown client {json.dumps(client)} (never said hello, closed, or forgotten after {MAX_CLIENTS} newer clients): {op} not executed; hello again",
                request_id,
                op,
            )
        if op == "close":
            self.clients.pop(client, None)
            return p.encode_reply(request_id, op, {})
        try:
            reply = self._execute(header, payload)
        except Exception as err:  # noqa: BLE001 - every failure becomes an error reply
            # Cache refusals and env failures too, so a retry gets the same answer and never runs
            # twice; a session error is not cached (the client says hello and asks again).
            if isinstance(err, p.BridgeError) and err.code == p.ERR_SESSION:
                raise
            if not isinstance(err, p.BridgeError):
                err = p.BridgeError(p.ERR_INTERNAL, f"Env failed: {err}", request_id, op)
            self.log(f"env-server: {err.code} {err.message}")
            self.stats["errors"] += 1
            reply = p.encode_error(err)
        self.clients.pop(client, None)
        self.clients[client] = {"id": request_id, "op": op, "reply": reply}
        if len(self.clients) > MAX_CLIENTS:
            self.clients.pop(next(iter(self.clients)))
        return reply

    def _execute(self, header, payload):
        request_id, op = header["id"], header["op"]
        if op == "hello":
            return p.encode_reply(request_id, op, self.hello())
        if header.get("session") != self.session:
            raise p.BridgeError(
                p.ERR_SESSION, f"Unknown session {header.get('session')!r}: hello again", request_id, op
            )
        if op == "reset":
            if payload:
                raise p.BridgeError(p.ERR_MALFORMED, "reset takes no payload frames", request_id, op)
            obs = self.backend.reset()
            self.reset_done = True
            return p.encode_reply(request_id, op, {"envs": self.num_envs, "step": self.stats["steps"]}, [obs])
        if len(payload) != 1:
            raise p.BridgeError(
                p.ERR_MALFORMED,
                f"step takes exactly one payload frame (actions), received {len(payload)}",
                request_id,
                op,
            )
        if not self.reset_done:
            raise p.BridgeError(p.ERR_STATE, "reset before the first step", request_id, op)
        length = self.num_envs * self.info["agents"] * self.info["actionSize"]
        try:
            actions = p.floats_from_frame(payload[0], length, "actions")
        except p.BridgeError as err:
            raise p.BridgeError(err.code, err.message, request_id, op) from None
        result = self.backend.step(actions)
        self.stats["steps"] += 1
        return p.encode_reply(request_id, op, {"step": self.stats["steps"]}, list(result))


def print_endpoint(server):
    """The one machine-readable stdout line tests and scripts wait for."""
    print(json.dumps({"endpoint": server.endpoint, "session": server.session}), flush=True)
