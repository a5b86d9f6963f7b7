#!/usr/bin/env python3
"""Drives an env server through bridge/python's TennisEnvClient for test/bridge/python.test.ts.

Usage: py_client_driver.py ENDPOINT ACTIONS_JSON
ACTIONS_JSON holds a list of steps, each a flat list of num_envs*2*2 actions. Prints JSON
{"info", "reset", "steps": [{"obs", "nextObs", "rewards", "dones", "maxReached", "lost"}]} with
flat lists (floats exactly as received, booleans as 0/1)."""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bridge", "python"))

import numpy as np  # noqa: E402

from tennis_bridge import TennisEnvClient  # noqa: E402


def flat(values):
    return np.asarray(values, dtype=np.float32).reshape(-1).tolist()


def main():
    endpoint, actions_path = sys.argv[1], sys.argv[2]
    with open(actions_path) as f:
        steps = json.load(f)
    with TennisEnvClient(endpoint, timeout_ms=2000, retries=2, retry_delay_ms=50) as env:
        out = {"info": {"num_envs": env.num_envs, "observation_shape": env.observation_shape, "action_shape": env.action_shape}}
        out["reset"] = flat(env.reset())
        out["steps"] = []
        for actions in steps:
            obs, rewards, dones, info = env.step(np.asarray(actions, dtype=np.float32).reshape(env.action_shape))
            out["steps"].append(
                {
                    "obs": flat(obs),
                    "nextObs": flat(info["next_obs"]),
                    "rewards": flat(rewards),
                    "dones": flat(dones),
                    "maxReached": flat(info["max_reached"]),
                    "lost": flat(info["lost"]),
                }
            )
        try:
            env.step(np.zeros(3))
            out["bad_actions"] = None
        except ValueError as err:
            out["bad_actions"] = str(err)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
