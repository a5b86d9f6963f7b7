#!/usr/bin/env python3
"""The Udacity notebook's loop run directly on bridge/unity/stand_in.py's UnityEnvironment, for
comparison with the same instances served by bridge/unity/server.py (test/bridge/python.test.ts).

Usage: unity_direct.py INSTANCES SEED ACTIONS_JSON
Prints {"reset", "steps": [{"obs", "nextObs", "rewards", "dones", "maxReached"}]} with flat lists."""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bridge", "unity"))

import numpy as np  # noqa: E402

from stand_in import UnityEnvironment  # noqa: E402


def main():
    instances, seed, actions_path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    with open(actions_path) as f:
        steps = json.load(f)
    envs = [UnityEnvironment(file_name=None, worker_id=i, seed=seed) for i in range(instances)]
    brain_name = envs[0].brain_names[0]
    obs = [env.reset(train_mode=True)[brain_name].vector_observations for env in envs]
    out = {"reset": np.asarray(obs, dtype=np.float32).reshape(-1).tolist(), "steps": []}
    for actions in steps:
        actions = np.asarray(actions, dtype=np.float32).reshape(instances, 2, 2)
        record = {"obs": [], "nextObs": [], "rewards": [], "dones": [], "maxReached": []}
        for k, env in enumerate(envs):
            env_info = env.step(actions[k])[brain_name]
            next_states = np.asarray(env_info.vector_observations, dtype=np.float32)
            states = next_states
            if np.any(env_info.local_done):
                states = np.asarray(env.reset(train_mode=True)[brain_name].vector_observations, dtype=np.float32)
            record["obs"] += states.reshape(-1).tolist()
            record["nextObs"] += next_states.reshape(-1).tolist()
            record["rewards"] += np.asarray(env_info.rewards, dtype=np.float32).tolist()
            record["dones"] += [float(d) for d in env_info.local_done]
            record["maxReached"] += [float(m) for m in env_info.max_reached]
        out["steps"].append(record)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
