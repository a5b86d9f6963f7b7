#!/usr/bin/env python3
"""Records the golden trajectories of test/env/golden.test.ts from the numpy prototype of the Tennis
build (tennis_proto.py, written from the rules that docs/tennis-env.md describes), into
test/fixtures/env/.

Usage: /usr/bin/python3 test/env/record_env_fixtures.py PATH/TO/tennis_proto.py [OUT_DIR]
Needs numpy. The same prototype gives byte-identical files (gzip without a time stamp).

Each case file <name>.bin.gz is gzip of one JSON header line, then little-endian float32 values:
  the start-up reset's observations [2][24], then per episode the reset's observations [2][24] and
  contacts, and per step: actions [2][2], obs [2][24], rewards [2], dones [2], max_reached [2], contacts.
`contacts` counts racket touches since the ball was last served, up to the end of the reset or step:
where it is 0 the prototype and the native env do the same float32 arithmetic, so they agree to
rounding.
Each episode is one env.reset() (the notebook's loop) and steps until a done.

The prototype has no competitive mode: for it the recorder keeps the prototype's physics and replaces
its rewards by the competitive rules of docs/tennis-env.md (section 9), applied to the prototype's
events (racket touches since the serve, where the ball ended the point).

random-stats.json holds the notebook's random-agent statistics over 1000 episodes.
"""
import gzip
import hashlib
import importlib.util
import json
import os
import sys

import numpy as np

kStepFloats = 4 + 48 + 2 + 2 + 2 + 1
kCases = [
    # name, seed, clean_reset, competitive, play, episodes, description
    ("random-faithful", 0, False, False, "random", 40, "notebook loop, random actions, the build's reset"),
    ("random-clean", 5, True, False, "random", 40, "notebook loop, random actions, clean reset"),
    ("random-competitive", 3, False, True, "random", 60, "random actions, competitive rewards, the build's reset"),
    ("scripted-clean", 1, True, False, "scripted", 1, "the hand-written controller through a capped rally, clean reset"),
    ("scripted-competitive", 1, False, True, "scripted", 2,
     "the hand-written controller: two capped rallies (draws), the build's reset leaves the ball in play between them"),
]


def load_prototype(path):
    spec = importlib.util.spec_from_file_location("tennis_proto", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def recording_env(proto):
    """The prototype's env, counting racket touches since the serve and, in competitive mode, paying
    each point +1 / -1 instead of the cooperative rewards."""

    class RecordingEnv(proto.TennisEnv):
        def __init__(self, seed, clean_reset, competitive):
            self.competitive = competitive
            self.contacts, self.toucher, self.seen = 0, proto.NONE, 0
            super().__init__(seed, clean_reset=clean_reset)

        def take_events(self):
            """Touches since the last look; the name of the collider that ended the point, if any."""
            ended = None
            for kind, detail in self.events[self.seen:]:
                if kind == "hit":
                    self.contacts += 1
                    self.toucher = detail
                elif kind == "out":
                    ended = detail
            self.seen = len(self.events)
            return ended

        def serve(self):
            ended = self.take_events()
            if self.competitive and ended is not None:
                side = proto.A if self.bp[0] < 0 else proto.B
                toucher = self.toucher if self.toucher != proto.NONE else side
                loser = {"floorA": proto.A, "floorB": proto.B}.get(ended, toucher)
                self.point = (loser, 1 - loser)
            self.contacts, self.toucher = 0, proto.NONE
            super().serve()

        def tick(self):
            rewards, self.point = list(self.rew), None
            super().tick()
            self.take_events()
            if self.competitive:
                self.rew = rewards
                if self.point is not None:
                    loser, winner = self.point
                    self.rew[loser], self.rew[winner] = -1.0, 1.0

        def step(self, actions):
            hits = sum(1 for kind, _ in self.events if kind == "hit")
            contacts = self.contacts
            obs, rewards, dones, max_reached = super().step(actions)
            contacts += sum(1 for kind, _ in self.events if kind == "hit") - hits
            return obs, rewards, dones, max_reached, contacts

    return RecordingEnv


def record_case(proto, env_class, seed, clean, competitive, play, episodes):
    env = env_class(seed, clean, competitive)
    rs = np.random.RandomState(seed)
    lengths, values = [], [env.reset().ravel()]
    for _ in range(episodes):
        values.append(env.reset().ravel())
        values.append([env.contacts])
        steps = 0
        while True:
            if play == "random":
                actions = np.clip(rs.randn(2, 2), -1, 1).astype(np.float32)
            else:
                actions = np.asarray([proto.controller(env, proto.B), proto.controller(env, proto.A)], np.float32)
            obs, rewards, dones, max_reached, contacts = env.step(actions)
            values.append(np.concatenate([actions.ravel(), obs.ravel(), rewards, np.asarray(dones, float),
                                          np.asarray(max_reached, float), [contacts]]))
            steps += 1
            if any(dones):
                break
        lengths.append(steps)
    data = np.concatenate(values).astype("<f4")
    assert data.size == 48 + (48 + 1) * episodes + kStepFloats * sum(lengths)
    return lengths, data


def random_stats(proto, episodes, seed):
    """The notebook's random agent (proto's random_play loop): episode lengths and max-over-agents scores."""
    env, rs = proto.TennisEnv(seed), np.random.RandomState(seed)
    env.reset()
    lengths, scores = [], []
    for _ in range(episodes):
        env.reset()
        score, steps = np.zeros(2), 0
        while True:
            _, rewards, dones, _ = env.step(np.clip(rs.randn(2, 2), -1, 1))
            score += rewards
            steps += 1
            if any(dones):
                break
        lengths.append(steps)
        scores.append(float(score.max()))
    lengths = np.asarray(lengths)
    return {"episodes": episodes, "seed": seed, "mean_steps": float(lengths.mean()),
            "share_14": float(np.mean(lengths == 14)), "mean_score": float(np.mean(scores))}


def main(argv):
    if len(argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    proto_path = os.path.abspath(argv[1])
    here = os.path.dirname(os.path.abspath(__file__))
    out_dir = argv[2] if len(argv) == 3 else os.path.join(here, "..", "fixtures", "env")
    os.makedirs(out_dir, exist_ok=True)
    with open(proto_path, "rb") as f:
        proto_sha256 = hashlib.sha256(f.read()).hexdigest()
    proto = load_prototype(proto_path)
    env_class = recording_env(proto)
    source = {"generator": "test/env/record_env_fixtures.py", "prototype_sha256": proto_sha256}
    for name, seed, clean, competitive, play, episodes, description in kCases:
        lengths, data = record_case(proto, env_class, seed, clean, competitive, play, episodes)
        header = {"format": "tennis-golden/1", "case": name, "description": description, **source,
                  "env": {"seed": seed, "cleanReset": clean, "mode": "competitive" if competitive else "cooperative"},
                  "play": play, "resetLayout": {"obs": 48, "contacts": 1}, "stepLayout": {"actions": 4, "obs": 48, "rewards": 2, "dones": 2, "maxReached": 2,
                                               "contacts": 1},
                  "episodeSteps": lengths}
        payload = (json.dumps(header) + "\n").encode() + data.tobytes()
        with open(os.path.join(out_dir, f"{name}.bin.gz"), "wb") as f:
            f.write(gzip.compress(payload, compresslevel=9, mtime=0))
        print(f"{name}: {len(lengths)} episodes, {sum(lengths)} steps")
    stats = {**source, **random_stats(proto, 1000, 0)}
    with open(os.path.join(out_dir, "random-stats.json"), "w") as f:
        f.write(json.dumps(stats, indent=2) + "\n")
    print(f"random-stats: mean length {stats['mean_steps']:.2f}, 14-step share {stats['share_14']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
