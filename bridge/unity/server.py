#!/usr/bin/env python3
"""Serves the Udacity Tennis Unity build (unityagents.UnityEnvironment) over the tennis-train env
bridge, so `tennis-train train --env remote --remote tcp://127.0.0.1:5556` trains on the real binary.

    /usr/bin/python3 bridge/unity/server.py --file Tennis_Linux/Tennis.x86_64 --bind tcp://127.0.0.1:5556

--instances K starts K Unity processes (worker ids base..base+K-1) served as K envs. --stand-in uses
bridge/unity/stand_in.py instead of unityagents (how the tests run: the binary is not available here).
Prints one JSON line {"endpoint", "session"} on stdout once bound; logs go to stderr.
"""
import argparse
import os
import signal
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))

from tennis_bridge.server import Backend, EnvServer, print_endpoint  # noqa: E402


class UnityBackend(Backend):
    """K UnityEnvironments as one batch of K envs, resetting an env after its done as the notebook does."""

    def __init__(self, environments, train_mode=True):
        self.environments = environments
        self.train_mode = train_mode
        first = environments[0]
        self.brain_name = first.brain_names[0]
        brain = first.brains[self.brain_name]
        frame = int(brain.vector_observation_space_size)
        stacking = int(getattr(brain, "num_stacked_vector_observations", 1))
        self.action_size = int(brain.vector_action_space_size)
        # A first reset tells the agent count (and the notebook resets before stepping anyway).
        infos = [env.reset(train_mode=train_mode)[self.brain_name] for env in environments]
        self.agents = len(infos[0].agents)
        self.obs_size = frame * stacking
        self.num_envs = len(environments)
        self.info = {
            "server": f"unityagents {getattr(first, 'academy_name', 'Unity')}",
            "agents": self.agents,
            "obsSize": self.obs_size,
            "actionSize": self.action_size,
            "stacking": stacking,
            "brain": self.brain_name,
            "maxEpisodeSteps": None,
        }
        self.obs = np.stack([self._observations(info) for info in infos])
        # That reset was ours, not a client's: the first client reset gets its episode, unstepped.
        self.untouched = True

    def _observations(self, info):
        obs = np.asarray(info.vector_observations, dtype=np.float32)
        if obs.shape != (self.agents, self.obs_size):
            raise RuntimeError(f"Unity sent observations of shape {obs.shape}, expected {(self.agents, self.obs_size)}")
        return obs

    def reset(self):
        if self.untouched:
            self.untouched = False
            return self.obs.reshape(-1)
        self.obs = np.stack([self._observations(env.reset(train_mode=self.train_mode)[self.brain_name]) for env in self.environments])
        return self.obs.reshape(-1)

    def step(self, actions):
        self.untouched = False
        actions = actions.reshape(self.num_envs, self.agents, self.action_size)
        shape = (self.num_envs, self.agents)
        obs = np.empty((self.num_envs, self.agents, self.obs_size), dtype=np.float32)
        next_obs = np.empty_like(obs)
        rewards = np.zeros(shape, dtype=np.float32)
        dones = np.zeros(shape, dtype=np.float32)
        max_reached = np.zeros(shape, dtype=np.float32)
        for k, env in enumerate(self.environments):
            info = env.step(actions[k])[self.brain_name]
            next_obs[k] = self._observations(info)
            rewards[k] = info.rewards
            dones[k] = info.local_done
            max_reached[k] = getattr(info, "max_reached", [False] * self.agents)
            if np.any(dones[k]):
                obs[k] = self._observations(env.reset(train_mode=self.train_mode)[self.brain_name])
            else:
                obs[k] = next_obs[k]
        self.obs = obs
        return obs.reshape(-1), next_obs.reshape(-1), rewards.reshape(-1), dones.reshape(-1), max_reached.reshape(-1)

    def close(self):
        for env in self.environments:
            env.close()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--file", help="Path of the Tennis build (Tennis.x86_64, Tennis.app, Tennis.exe)")
    parser.add_argument("--bind", default="tcp://127.0.0.1:5556", help="ZeroMQ endpoint (default tcp://127.0.0.1:5556)")
    parser.add_argument("--token", help="Shared secret clients must send (required for a non-loopback bind)")
    parser.add_argument("--instances", type=int, default=1, help="Unity processes served as envs (default 1)")
    parser.add_argument("--base-worker-id", type=int, default=0, help="unityagents worker_id of the first instance")
    parser.add_argument("--seed", type=int, default=0, help="Seed passed to UnityEnvironment (default 0)")
    parser.add_argument("--no-graphics", action="store_true", help="Start Unity without rendering")
    parser.add_argument("--inference", action="store_true", help="reset(train_mode=False): real-time, rendered")
    parser.add_argument("--stand-in", action="store_true", help="Use bridge/unity/stand_in.py (tests)")
    args = parser.parse_args(argv)
    if args.instances < 1:
        parser.error("--instances must be >= 1")
    if args.stand_in:
        from stand_in import UnityEnvironment
    else:
        if not args.file:
            parser.error("--file is required (or --stand-in)")
        try:
            from unityagents import UnityEnvironment
        except ImportError:
            parser.error("unityagents is not installed for this Python (pip install unityagents==0.4.0, as the Udacity repo does)")
    environments = []
    try:
        for i in range(args.instances):
            environments.append(
                UnityEnvironment(file_name=args.file, worker_id=args.base_worker_id + i, seed=args.seed, no_graphics=args.no_graphics)
            )
        backend = UnityBackend(environments, train_mode=not args.inference)
        server = EnvServer(backend, bind=args.bind, token=args.token)
    except BaseException:
        for env in environments:
            env.close()
        raise
    stop = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
    print_endpoint(server)
    server.serve_forever(lambda: stop["now"])
    server.close()


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    main()
