#!/usr/bin/env python3
"""Random agent on tennis-train's built-in Tennis served over the bridge, with PyTorch tensors.

    tennis-train env-server --bind tcp://127.0.0.1:5555 --envs 8 --seed 0 &
    /usr/bin/python3 bridge/python/example.py tcp://127.0.0.1:5555

Prints the mean episode score (the Udacity score: the better agent's summed rewards)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

from tennis_bridge import TennisEnvClient  # noqa: E402

try:
    import torch
except ImportError:  # the client itself needs only numpy and pyzmq
    torch = None


def main(address="tcp://127.0.0.1:5555", episodes=50):
    with TennisEnvClient(address) as env:
        obs = env.reset()
        scores = np.zeros((env.num_envs, env.num_agents))
        finished = []
        while len(finished) < episodes:
            if torch is not None:
                states = torch.from_numpy(obs)  # (envs, agents, 24): what a policy network would take
                actions = torch.clamp(torch.randn(env.action_shape), -1, 1).numpy()
            else:
                actions = np.clip(np.random.randn(*env.action_shape), -1, 1)
            obs, rewards, dones, info = env.step(actions)
            scores += rewards
            for e in np.flatnonzero(dones[:, 0] & ~info["lost"][:, 0]):
                finished.append(scores[e].max())
                scores[e] = 0
            scores[info["lost"][:, 0]] = 0
        print(f"{len(finished)} episodes, mean score {np.mean(finished):.4f}")


if __name__ == "__main__":
    main(*sys.argv[1:2])
