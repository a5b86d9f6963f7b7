#!/usr/bin/env python3
"""Runs the numpy Tennis prototype (shared/reference/tennis_proto.py) and prints JSON for
test/env/proto-compare.test.ts, which replays the same seeds and actions on the native env.

The prototype is found at $TENNIS_PROTO, else <repo>/../shared/reference/tennis_proto.py. If numpy or
the prototype is missing, prints {"skip": "<reason>"} and exits 0.

Usage:
  proto_driver.py trajectory SEED EPISODES MAX_STEPS [clean]  notebook loop, random clipped-normal
      actions; per episode the reset obs and per step actions, obs, rewards, dones and the number of
      racket hits so far (the first contact is where that becomes > 0).
  proto_driver.py rally SEED STEPS [clean]   the prototype's hand-written controller, one episode
      (or until STEPS): per step actions, obs, rewards, dones, hits so far.
  proto_driver.py random EPISODES SEED       the notebook's random-agent statistics.
"""
import contextlib
import io
import json
import os
import sys


def load_proto():
    here = os.path.dirname(os.path.abspath(__file__))
    default = os.path.join(here, "..", "..", "..", "shared", "reference", "tennis_proto.py")
    path = os.environ.get("TENNIS_PROTO", default)
    if not os.path.exists(path):
        return None, f"prototype not found at {os.path.normpath(path)} (set TENNIS_PROTO)"
    try:
        import numpy  # noqa: F401
    except ImportError:
        return None, f"numpy is not installed for {sys.executable}"
    sys.path.insert(0, os.path.dirname(os.path.abspath(path)))
    import importlib.util

    spec = importlib.util.spec_from_file_location("tennis_proto", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module, None


def floats(array):
    return [float(x) for x in array]


def hits(env):
    return sum(1 for kind, _ in env.events if kind == "hit")


def trajectory(proto, seed, episodes, max_steps, clean):
    import numpy as np

    env, rs = proto.TennisEnv(seed, clean_reset=clean), np.random.RandomState(seed)
    startup = env.reset()
    out = {"startup_obs": floats(startup.ravel()), "episodes": []}
    for _ in range(episodes):
        obs = env.reset()
        base = hits(env)
        episode = {"reset_obs": floats(obs.ravel()), "steps": []}
        for _ in range(max_steps):
            actions = np.clip(rs.randn(2, 2), -1, 1).astype(np.float32)
            obs, r, d, _ = env.step(actions)
            episode["steps"].append({"actions": floats(actions.ravel()), "obs": floats(obs.ravel()),
                                     "rewards": floats(r), "dones": [bool(x) for x in d], "hits": hits(env) - base})
            if any(d):
                break
        out["episodes"].append(episode)
    return out


def rally(proto, seed, steps, clean):
    import numpy as np

    env = proto.TennisEnv(seed, clean_reset=clean)
    env.reset()
    obs = env.reset()
    env.events = []
    out = {"reset_obs": floats(obs.ravel()), "steps": []}
    for _ in range(steps):
        actions = np.asarray([proto.controller(env, proto.B), proto.controller(env, proto.A)], dtype=np.float32)
        obs, r, d, _ = env.step(actions)
        out["steps"].append({"actions": floats(actions.ravel()), "obs": floats(obs.ravel()),
                             "rewards": floats(r), "dones": [bool(x) for x in d], "hits": hits(env)})
        if any(d):
            break
    return out


def random_stats(proto, episodes, seed):
    import numpy as np

    env, rs = proto.TennisEnv(seed), np.random.RandomState(seed)
    env.reset()
    lengths, scores = [], []
    for _ in range(episodes):
        env.reset()
        score, t = np.zeros(2), 0
        while True:
            _, r, d, _ = env.step(np.clip(rs.randn(2, 2), -1, 1))
            score += r
            t += 1
            if any(d):
                break
        lengths.append(t)
        scores.append(float(score.max()))
    return {"lengths": lengths, "scores": scores,
            "mean_steps": float(np.mean(lengths)), "share_14": float(np.mean(np.asarray(lengths) == 14)),
            "mean_score": float(np.mean(scores))}


def main(argv):
    proto, reason = load_proto()
    if proto is None:
        print(json.dumps({"skip": reason}))
        return 0
    mode = argv[1] if len(argv) > 1 else ""
    with contextlib.redirect_stdout(io.StringIO()):  # keep the prototype's prints out of the JSON
        if mode == "trajectory":
            result = trajectory(proto, int(argv[2]), int(argv[3]), int(argv[4]), len(argv) > 5 and argv[5] == "clean")
        elif mode == "rally":
            result = rally(proto, int(argv[2]), int(argv[3]), len(argv) > 4 and argv[4] == "clean")
        elif mode == "random":
            result = random_stats(proto, int(argv[2]), int(argv[3]))
        else:
            result = None
    if result is None:
        print(__doc__, file=sys.stderr)
        return 2
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
