"""The Python EnvServer (bridge/python) against the retry of an evicted client, driven through its
handle() without sockets: prints the error codes and the step count as one JSON object.
Used by test/reliability/bridge.test.ts."""
import json
import sys

import numpy as np

sys.path.insert(0, "bridge/python")
from tennis_bridge import protocol as p  # noqa: E402
from tennis_bridge.server import MAX_CLIENTS, Backend, EnvServer  # noqa: E402


class Counter(Backend):
    num_envs = 1
    info = {"agents": 1, "obsSize": 1, "actionSize": 1}

    def reset(self):
        return np.zeros(1, dtype=np.float32)

    def step(self, actions):
        obs = np.zeros(1, dtype=np.float32)
        return obs, obs, obs, obs, obs


def call(server, header, payload=()):
    reply = server.handle(p.encode_request({"v": 1, **header}, list(payload)))
    return json.loads(bytes(reply[0]))


server = EnvServer(Counter(), bind="tcp://127.0.0.1:0", log=lambda line: None)
session = call(server, {"id": 1, "op": "hello", "client": "victim"})["session"]
call(server, {"id": 2, "op": "reset", "client": "victim", "session": session})
step = {"id": 3, "op": "step", "client": "victim", "session": session}
actions = [np.zeros(1, dtype=np.float32)]
first = call(server, step, actions)
for i in range(MAX_CLIENTS):
    call(server, {"id": 1, "op": "hello", "client": f"other-{i}"})
retry = call(server, step, actions)
stranger = call(server, {"id": 1, "op": "step", "client": "stranger", "session": session}, actions)
server.close()
print(json.dumps({"first": first["ok"], "retry": retry["error"]["code"], "stranger": stranger["error"]["code"], "steps": server.stats["steps"]}))
