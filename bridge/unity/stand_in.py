"""A stand-in for `unityagents.UnityEnvironment` with the API surface the Udacity Tennis notebook uses
(brain_names, brains[...] parameters, reset(train_mode)[brain], step(actions)[brain] -> BrainInfo with
vector_observations, rewards, local_done, max_reached, agents; close()). Its dynamics are a small
deterministic toy, not tennis: it exists so bridge/unity/server.py can be tested without the Unity
binary, which cannot be run here."""
import numpy as np

BRAIN_NAME = "TennisBrain"
# Observation variables per frame and stacked frames, as in the Tennis build (8 x 3 = 24).
FRAME_SIZE = 8
STACKED = 3
ACTION_SIZE = 2
NUM_AGENTS = 2
# Episode cap of the stand-in (the real build's is 1001 decisions): short so tests see max_reached.
MAX_STEPS = 20


class BrainParameters:
    def __init__(self):
        self.brain_name = BRAIN_NAME
        self.vector_observation_space_size = FRAME_SIZE
        self.num_stacked_vector_observations = STACKED
        self.vector_action_space_size = ACTION_SIZE
        self.vector_action_space_type = "continuous"
        self.camera_resolutions = []


class BrainInfo:
    def __init__(self, vector_observations, rewards, local_done, max_reached):
        self.vector_observations = vector_observations
        self.visual_observations = []
        self.text_observations = [""] * NUM_AGENTS
        self.rewards = rewards
        self.local_done = local_done
        self.max_reached = max_reached
        self.agents = list(range(NUM_AGENTS))
        self.previous_vector_actions = np.zeros((NUM_AGENTS, ACTION_SIZE))


class UnityEnvironment:
    """Same constructor keywords as unityagents 0.4 (file_name, worker_id, seed, no_graphics)."""

    def __init__(self, file_name=None, worker_id=0, base_port=5005, curriculum=None, seed=0, docker_training=False, no_graphics=False):
        self.file_name = file_name
        self.worker_id = worker_id
        self._rng = np.random.RandomState(seed * 1009 + worker_id)
        self._weights = self._rng.uniform(-0.5, 0.5, size=(FRAME_SIZE, FRAME_SIZE + ACTION_SIZE))
        self._frames = np.zeros((NUM_AGENTS, STACKED, FRAME_SIZE))
        self._steps = 0
        self._closed = False
        self.brain_names = [BRAIN_NAME]
        self.brains = {BRAIN_NAME: BrainParameters()}
        self.external_brain_names = [BRAIN_NAME]
        self.number_brains = 1
        self.academy_name = "TennisAcademy (stand-in)"

    def reset(self, train_mode=True, config=None, lesson=None):
        self._check_open()
        first = self._rng.uniform(-1, 1, size=(NUM_AGENTS, FRAME_SIZE))
        self._frames = np.repeat(first[:, None, :], STACKED, axis=1)
        self._steps = 0
        zeros = [0.0] * NUM_AGENTS
        falses = [False] * NUM_AGENTS
        return {BRAIN_NAME: BrainInfo(self._observations(), zeros, falses, list(falses))}

    def step(self, vector_action=None, memory=None, text_action=None):
        self._check_open()
        actions = np.clip(np.asarray(vector_action, dtype=np.float64).reshape(NUM_AGENTS, ACTION_SIZE), -1, 1)
        latest = self._frames[:, -1, :]
        new = np.tanh(np.concatenate([latest, actions], axis=1) @ self._weights.T)
        self._frames = np.concatenate([self._frames[:, 1:, :], new[:, None, :]], axis=1)
        self._steps += 1
        # Agent 0's first variable below -0.55 "misses the ball": both agents' episode ends.
        missed = bool(new[0, 0] < -0.55)
        capped = self._steps >= MAX_STEPS and not missed
        rewards = [(-0.01 if missed else 0.1 * float(new[i, 1] > 0)) for i in range(NUM_AGENTS)]
        done = missed or capped
        return {BRAIN_NAME: BrainInfo(self._observations(), rewards, [done] * NUM_AGENTS, [capped] * NUM_AGENTS)}

    def close(self):
        self._closed = True

    def _observations(self):
        return self._frames.reshape(NUM_AGENTS, STACKED * FRAME_SIZE).astype(np.float32)

    def _check_open(self):
        if self._closed:
            raise RuntimeError("UnityEnvironment is closed")
