"""A gym-like Python client for tennis-train env servers (`tennis-train env-server`, or
bridge/unity/server.py): a vectorized env with reset() and step(actions) returning numpy arrays, for
PyTorch code that wants the fast built-in Tennis.

    from tennis_bridge import TennisEnvClient
    with TennisEnvClient("tcp://127.0.0.1:5555") as env:
        obs = env.reset()                              # (num_envs, 2, 24) float32
        obs, rewards, dones, info = env.step(actions)  # actions (num_envs, 2, 2) in [-1, 1]
"""
import secrets
import time

import numpy as np
import zmq

from . import protocol as p

DEFAULT_TIMEOUT_MS = 5000
# Retries after the first attempt and the pause between them, as the notebook's BootstrappedEnvironment.
DEFAULT_RETRIES = 5
DEFAULT_RETRY_DELAY_MS = 2000
# Error replies a new hello recovers from: the server restarted, or forgot this client.
HELLO_AGAIN = (p.ERR_SESSION, p.ERR_CLIENT)


class TennisEnvClient:
    """One env server as a vectorized env. Done envs are reset by the server: `obs` from step() is
    what to act on next, info["next_obs"] what the step returned (the replay buffer's next state)."""

    def __init__(
        self,
        address="tcp://127.0.0.1:5555",
        timeout_ms=DEFAULT_TIMEOUT_MS,
        retries=DEFAULT_RETRIES,
        retry_delay_ms=DEFAULT_RETRY_DELAY_MS,
        token=None,
        client_id=None,
    ):
        self.address = address
        self.timeout_ms = int(timeout_ms)
        self.retries = int(retries)
        self.retry_delay_ms = int(retry_delay_ms)
        self.token = token
        self.client_id = client_id or secrets.token_hex(8)
        self.context = zmq.Context.instance()
        self.socket = None
        self.next_id = 1
        self.last_step = 0
        # Episodes dropped because the server restarted mid-episode.
        self.lost_episodes = 0
        self.info = None
        try:
            self.info = self._hello()
        except BaseException:
            self._drop_socket()
            raise
        self.num_envs = self.info["envs"]
        self.num_agents = self.info["agents"]
        self.obs_size = self.info["obsSize"]
        self.action_size = self.info["actionSize"]
        self.observation_shape = (self.num_envs, self.num_agents, self.obs_size)
        self.action_shape = (self.num_envs, self.num_agents, self.action_size)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def reset(self):
        """Resets every env; returns obs (num_envs, agents, obs_size) float32."""
        try:
            header, payload = self._request("reset")
        except p.BridgeError as err:
            if err.code not in HELLO_AGAIN:
                raise
            self._rehello()
            header, payload = self._request("reset")
        self.last_step = int(header["step"])
        return self._floats(payload, 0, self.observation_shape, "obs")

    def step(self, actions):
        """One decision in every env. actions: array-like (num_envs, agents, action_size).

        Returns (obs, rewards, dones, info): obs (num_envs, agents, obs_size) to act on next; rewards
        and dones (num_envs, agents); info = {"next_obs", "max_reached", "lost"} where lost marks envs
        whose episode was dropped because the server restarted or forgot this client (their dones are True, rewards 0)."""
        actions = np.asarray(actions, dtype=np.float32)
        if actions.size != int(np.prod(self.action_shape)):
            raise ValueError(f"Expected actions of shape {self.action_shape} but received {actions.shape}")
        if not np.all(np.isfinite(actions)):
            raise ValueError("Expected finite values for actions")
        mask_shape = (self.num_envs, self.num_agents)
        try:
            header, payload = self._request("step", [actions.reshape(-1)])
        except p.BridgeError as err:
            if err.code not in HELLO_AGAIN:
                raise
            # The step may or may not have run before the server lost track: the episodes are lost.
            self._rehello()
            obs = self.reset()
            self.lost_episodes += self.num_envs
            ones = np.ones(mask_shape, dtype=bool)
            info = {"next_obs": obs.copy(), "max_reached": ones.copy(), "lost": ones.copy()}
            return obs, np.zeros(mask_shape, dtype=np.float32), ones, info
        step = int(header["step"])
        if step != self.last_step + 1:
            raise p.BridgeError(
                p.ERR_SEQUENCE, f"env server {self.address} answered step {step} after {self.last_step}: another client is stepping it"
            )
        self.last_step = step
        obs, next_obs = (self._floats(payload, i, self.observation_shape, n) for i, n in ((0, "obs"), (1, "nextObs")))
        rewards = self._floats(payload, 2, mask_shape, "rewards")
        dones = self._floats(payload, 3, mask_shape, "dones") != 0
        max_reached = self._floats(payload, 4, mask_shape, "maxReached") != 0
        info = {"next_obs": next_obs, "max_reached": max_reached, "lost": np.zeros(mask_shape, dtype=bool)}
        return obs, rewards, dones, info

    def ping(self):
        header, _ = self._request("ping")
        return {"session": header["session"], "steps": header["steps"]}

    def close(self):
        """Tells the server we are done (one short attempt) and closes the socket."""
        if self.socket is not None:
            try:
                self._attempt(self._header("close", self._new_id()), [], min(self.timeout_ms, 500))
            except zmq.ZMQError:
                pass
            self._drop_socket()

    # -- internals ------------------------------------------------------------------------------

    def _hello(self):
        header, _ = self._request("hello")
        keys = ("session", "server", "protocol", "agents", "obsSize", "actionSize", "stacking", "envs", "brain", "maxEpisodeSteps", "maxMessageBytes")
        info = {k: header.get(k) for k in keys}
        for key in ("envs", "agents", "obsSize", "actionSize"):
            if not isinstance(info[key], int) or info[key] < 1:
                raise p.BridgeError(p.ERR_MALFORMED, f"env server {self.address} sent a hello without a positive integer {key}")
        if self.info is not None:
            for key in ("envs", "agents", "obsSize", "actionSize"):
                if info[key] != self.info[key]:
                    raise p.BridgeError(p.ERR_MISMATCH, f"env server {self.address} came back serving {key} = {info[key]} instead of {self.info[key]}")
        return info

    def _rehello(self):
        self.info = self._hello()

    def _new_id(self):
        request_id = self.next_id
        self.next_id += 1
        return request_id

    def _header(self, op, request_id):
        header = {"v": p.PROTOCOL_VERSION, "id": request_id, "op": op, "client": self.client_id}
        if self.info is not None:
            header["session"] = self.info["session"]
        if self.token is not None:
            header["token"] = self.token
        return header

    def _request(self, op, payload=()):
        header = self._header(op, self._new_id())
        for attempt in range(self.retries + 1):
            reply = self._attempt(header, payload, self.timeout_ms)
            if reply is not None:
                reply_header, frames = reply
                if not reply_header["ok"]:
                    error = reply_header.get("error") or {}
                    raise p.BridgeError(
                        error.get("code", p.ERR_MALFORMED),
                        f"env server {self.address} refused {op}: {error.get('message', '')}",
                        header["id"],
                        op,
                    )
                return reply_header, frames
            if attempt == self.retries:
                break
            # A fresh socket drops whatever the old one still queued; the server dedupes by client id.
            self._drop_socket()
            time.sleep(self.retry_delay_ms / 1000)
        raise p.BridgeError(
            p.ERR_TIMEOUT,
            f"env server {self.address} did not answer {op} (after {self.retries} retries {self.retry_delay_ms} ms apart)",
            header["id"],
            op,
        )

    def _attempt(self, header, payload, timeout_ms):
        if self.socket is None:
            self.socket = self.context.socket(zmq.DEALER)
            self.socket.setsockopt(zmq.LINGER, 0)
            self.socket.connect(self.address)
        self.socket.send_multipart(p.encode_request(header, payload))
        deadline = time.monotonic() + timeout_ms / 1000
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self.socket.poll(max(1, int(remaining * 1000)), zmq.POLLIN):
                return None
            frames = self.socket.recv_multipart()
            try:
                reply_header, reply_payload = p.decode_reply(frames)
            except p.BridgeError:
                continue
            # Replies to earlier attempts of other requests are stale: skip them.
            if reply_header.get("id") == header["id"]:
                return reply_header, reply_payload

    def _drop_socket(self):
        if self.socket is not None:
            self.socket.close(0)
            self.socket = None

    def _floats(self, payload, index, shape, name):
        if index >= len(payload):
            raise p.BridgeError(p.ERR_MALFORMED, f"env server {self.address} sent a reply without {name}")
        return p.floats_from_frame(payload[index], int(np.prod(shape)), name, finite=False).reshape(shape)
