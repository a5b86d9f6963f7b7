#!/usr/bin/env python3
"""Python-side checks for test/bridge/python.test.ts: the Python client survives a Python server
restart (the episode in flight is reported lost, the counters continue); the Python server turns a
failing backend into an ERR_BRIDGE_INTERNAL reply, checks tokens and refuses open binds without one.
Prints a JSON summary."""
import json
import os
import shutil
import sys
import tempfile
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bridge", "python"))

import numpy as np  # noqa: E402

from tennis_bridge import Backend, BridgeError, EnvServer, TennisEnvClient  # noqa: E402


class Counter(Backend):
    """Two envs whose observation is the number of steps since reset (fails on an action of 99)."""

    num_envs = 2
    info = {"server": "counter", "agents": 2, "obsSize": 3, "actionSize": 2, "stacking": 1, "brain": "B"}

    def __init__(self):
        self.t = 0

    def reset(self):
        self.t = 0
        return np.zeros(2 * 2 * 3, dtype=np.float32)

    def step(self, actions):
        if np.any(actions == 99):
            raise RuntimeError("backend exploded")
        self.t += 1
        obs = np.full(12, self.t, dtype=np.float32)
        zeros = np.zeros(4, dtype=np.float32)
        return obs, obs, zeros, zeros, zeros


class ServerThread:
    def __init__(self, endpoint, token=None):
        self.token = token
        self.stop = False
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self.run, args=(endpoint,), daemon=True)
        self.thread.start()
        self.ready.wait(10)

    def run(self, endpoint):
        server = EnvServer(Counter(), bind=endpoint, token=self.token, log=lambda line: None)
        self.ready.set()
        server.serve_forever(lambda: self.stop)
        server.close()

    def close(self):
        self.stop = True
        self.thread.join(10)


def main():
    folder = tempfile.mkdtemp()
    endpoint = f"ipc://{folder}/bridge.sock"
    out = {}
    first = ServerThread(endpoint)
    client = TennisEnvClient(endpoint, timeout_ms=300, retries=20, retry_delay_ms=50)
    client.reset()
    seen = [float(client.step(np.zeros((2, 2, 2)))[0][0, 0, 0]) for _ in range(3)]
    first.close()
    second = ServerThread(endpoint)
    obs, rewards, dones, info = client.step(np.zeros((2, 2, 2)))
    out["after_restart"] = {"obs": float(obs[0, 0, 0]), "dones": dones.tolist(), "lost": info["lost"].tolist()}
    seen += [float(client.step(np.zeros((2, 2, 2)))[0][0, 0, 0]) for _ in range(2)]
    out["seen"] = seen
    out["lost_episodes"] = client.lost_episodes
    try:
        client.step(np.full((2, 2, 2), 99))
        out["internal"] = None
    except BridgeError as err:
        out["internal"] = [err.code, err.message]
    out["after_internal"] = float(client.step(np.zeros((2, 2, 2)))[0][0, 0, 0])
    client.close()
    second.close()

    guarded = ServerThread(endpoint, token="s3cret")
    try:
        TennisEnvClient(endpoint, timeout_ms=300, retries=0)
        out["no_token"] = None
    except BridgeError as err:
        out["no_token"] = err.code
    with TennisEnvClient(endpoint, timeout_ms=300, retries=0, token="s3cret") as ok:
        out["with_token"] = ok.num_envs
    guarded.close()
    try:
        EnvServer(Counter(), bind="tcp://0.0.0.0:0", log=lambda line: None)
        out["open_bind"] = None
    except ValueError as err:
        out["open_bind"] = str(err)
    shutil.rmtree(folder, ignore_errors=True)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
