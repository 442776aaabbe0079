"""Batched envs behind the gymnasium VectorEnv API: a C++ batch (envs._C) or its pure-Python twin.

How to add a C++ task with a Python twin (NumberLine in csrc/gymcards.hpp + envs/gymcards.py is the
smallest complete example):

1. C++ (csrc/<family>.hpp): a struct with kNumActions, Config + configure(Options), Art (static layers
   and sprites built once per batch), reset(Rng&), step(int, Rng&) -> StepResult, draw(const Art&, Image)
   (the whole frame; compose it from Art so it stays cheap), text() (prompt text state, "" if none),
   state()/set_state() (an int vector, for tests). The exact contract is at the top of csrc/vecenv.hpp.
   Draw with csrc/render.hpp and draw random numbers only from the Rng passed in, in a fixed order.
2. Binding (csrc/<family>_bind.cpp): `bind_vecenv<MyTask>(m, "MyTask", "doc");` inside a
   `void bind_<family>(py::module_& m)`, plus one `bind_<family>(m);` line in csrc/bindings.cpp.
3. Python twin (envs/<family>.py): a TwinEnv subclass implementing the same rules with envs.rng.Rng and
   envs.render (same draws in the same order, same pixels), and a Task naming both and the text side:
       MY_TASK = Task("family/mytask", cpp="MyTask", twin=MyTwin, symbols=("a", "b"),
                      prompt=lambda state: "...rules... " + reply_format(("a", "b")),
                      options={"image_size": (300, 32, 1024)})
4. Register it in envs/__init__.py: "family/mytask": "envs.<family>:MY_TASK" in TASKS.
5. Tests: lock-step parity of both backends (tests/test_gymcards.py: assert_same_step), corner cases on
   injected states (set_state), benchmark rows (benchmarks/bench_envs.py: TASKS).

Both backends share BatchedEnv (spaces, same-step autoreset infos, prompts, parsing); they differ only in
_reset/_step. Tasks without a C++ kernel can subclass gymnasium.vector.VectorEnv directly and register a
callable with the signature of Task.make.
"""
from dataclasses import dataclass, field
from typing import Callable

import gymnasium
import numpy as np
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space

from .rng import MASK, Rng
from .text import parse_action

BACKENDS = ("cpp", "python")


class TwinEnv:
    """One env of a task in pure Python: the readable reference the C++ batch must match exactly."""

    num_actions: int

    def __init__(self, image_size: int):
        self.image_size = image_size

    def reset(self, rng: Rng) -> None:
        raise NotImplementedError

    def step(self, action: int, rng: Rng) -> tuple[float, bool, bool]:
        """Applies a range-checked action; returns (reward, terminated, truncated)."""
        raise NotImplementedError

    def render(self) -> np.ndarray:
        """The observation, (S, S, 3) uint8, drawn from scratch."""
        raise NotImplementedError

    def text(self) -> str:
        return ""

    def get_state(self) -> list[int]:
        raise NotImplementedError

    def set_state(self, state: list[int]) -> None:
        raise NotImplementedError


@dataclass(frozen=True)
class Task:
    """A task with a C++ batch and a Python twin, plus its text side."""

    name: str  # "family/task"
    cpp: str  # class name in envs._C
    twin: type  # TwinEnv subclass
    symbols: tuple  # action index -> the symbol the model writes
    prompt: Callable[[str], str]  # text state -> prompt text (rules, symbols, reply format)
    options: dict = field(default_factory=lambda: {"image_size": (300, 32, 1024)})  # name -> (default, lo, hi)

    def resolve_options(self, options: dict) -> dict:
        """Defaults filled in and values checked; unknown names or bad values raise ValueError."""
        unknown = sorted(set(options) - set(self.options))
        if unknown:
            raise ValueError(f"{self.name}: unknown option(s) {unknown}; known: {sorted(self.options)}")
        resolved = {}
        for key, (default, lo, hi) in self.options.items():
            value = options.get(key, default)
            kind = bool if isinstance(default, bool) else int
            if kind is int and (isinstance(value, bool) or not isinstance(value, (int, np.integer))):
                raise ValueError(f"{self.name}: option {key} must be an int, got {value!r}")
            if kind is bool and not isinstance(value, (bool, np.bool_)):
                raise ValueError(f"{self.name}: option {key} must be a bool, got {value!r}")
            if not lo <= value <= hi:
                raise ValueError(f"{self.name}: option {key}={value} is out of range [{lo}, {hi}]")
            resolved[key] = kind(value)
        return resolved

    def make(self, num_envs: int, seed: int = 0, backend: str = "cpp", **options) -> "BatchedEnv":
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        cls = CppBatchedEnv if backend == "cpp" else PyBatchedEnv
        return cls(self, num_envs, seed, self.resolve_options(options))


def _check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"seed must be an int, got {seed!r}")
    return int(seed) & MASK


class BatchedEnv(gymnasium.vector.VectorEnv):
    """Common gymnasium side: spaces, same-step autoreset infos, prompts and reply parsing."""

    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP, "render_modes": []}

    def __init__(self, task: Task, num_envs: int, seed: int, options: dict):
        if isinstance(num_envs, bool) or not isinstance(num_envs, (int, np.integer)) or num_envs < 1:
            raise ValueError(f"num_envs must be an int >= 1, got {num_envs!r}")
        self.task, self.options, self.num_envs = task, options, int(num_envs)
        self.base_seed = _check_seed(seed)
        size = options["image_size"]
        self.single_observation_space = gymnasium.spaces.Box(0, 255, (size, size, 3), np.uint8)
        self.single_action_space = gymnasium.spaces.Discrete(len(task.symbols))
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.action_symbols = tuple(task.symbols)
        self.render_mode = None
        self._obs = None  # last observations (N, S, S, 3)
        self._final_obs = None  # final observations of the episodes that ended at the last step
        self._ended = None  # which envs ended an episode at the last step (None: none did)

    # -- backend hooks
    def _reset(self, seed):  # seed: int in [0, 2**64) or None (keep the RNG streams) -> obs
        raise NotImplementedError

    def _step(self, actions: np.ndarray):  # -> obs, rewards, terminated, truncated, ends (see envs._C step)
        raise NotImplementedError

    def _text(self, i: int, final: bool) -> str:
        raise NotImplementedError

    # -- gymnasium API
    def reset(self, *, seed=None, options=None):
        if options:
            raise ValueError(f"reset options are not supported, got {options!r}")
        obs = self._reset(None if seed is None else _check_seed(seed))
        self._obs, self._final_obs, self._ended = obs, None, None
        return obs, {}

    def step(self, actions):
        if self._obs is None:
            raise RuntimeError("call reset() before step()")
        a = np.asarray(actions)
        if a.shape != (self.num_envs,) or not np.issubdtype(a.dtype, np.integer):
            raise ValueError(f"actions must be an integer array of shape ({self.num_envs},), got {a.dtype} {a.shape}")
        obs, rewards, terminated, truncated, ends = self._step(np.ascontiguousarray(a, dtype=np.int64))
        self._obs, self._final_obs, self._ended, infos = obs, None, None, {}
        if ends is not None:
            ended, final_obs, ep_return, ep_length, ep_success = ends
            self._final_obs, self._ended = final_obs, ended
            infos = {
                "final_obs": final_obs,
                "_final_obs": ended,
                "episode": {"r": ep_return, "l": ep_length, "success": ep_success},
                "_episode": ended.copy(),
            }
        return obs, rewards, terminated, truncated, infos

    # -- text side
    def prompt(self, i: int, final: bool = False) -> tuple[list, str]:
        """(images, text) of env i's current observation, or of the episode it just ended (final=True)."""
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)) or not 0 <= i < self.num_envs:
            raise IndexError(f"env index {i!r} is out of range [0, {self.num_envs})")
        if self._obs is None:
            raise RuntimeError("call reset() before prompt()")
        if final and (self._ended is None or not self._ended[i]):
            raise ValueError(f"env {i} did not end an episode at the last step")
        image = self._final_obs[i] if final else self._obs[i]
        return [image], self.task.prompt(self._text(int(i), final))

    def parse_action(self, text) -> tuple[int, bool]:
        return parse_action(text, self.action_symbols)

    def __repr__(self):
        return f"{type(self).__name__}({self.task.name}, num_envs={self.num_envs}, {self.options})"


class CppBatchedEnv(BatchedEnv):
    """The C++ batch envs._C.<task.cpp>; NumPy owns the arrays, C++ fills them with the GIL released."""

    def __init__(self, task, num_envs, seed, options):
        super().__init__(task, num_envs, seed, options)
        from . import _C

        self.batch = getattr(_C, task.cpp)(self.num_envs, self.base_seed, {k: int(v) for k, v in options.items()})

    def _reset(self, seed):
        return self.batch.reset(seed)

    def _step(self, actions):
        return self.batch.step(actions)

    def _text(self, i, final):
        return self.batch.text(i, final)

    def get_state(self, i: int) -> list[int]:
        return self.batch.get_state(i)

    def set_state(self, i: int, state) -> None:
        """Injects a state into env i (tests); the next observation is self.render_all()[i]."""
        self.batch.set_state(i, [int(v) for v in state])

    def render_all(self) -> np.ndarray:
        return self.batch.render()


class PyBatchedEnv(BatchedEnv):
    """The pure-Python twin: num_envs TwinEnv objects stepped in a loop, same rules and RNG draws as C++."""

    def __init__(self, task, num_envs, seed, options):
        super().__init__(task, num_envs, seed, options)
        self.envs = [task.twin(**options) for _ in range(self.num_envs)]
        self.rngs = [Rng(self.base_seed + i) for i in range(self.num_envs)]
        self._returns = [0.0] * self.num_envs
        self._lengths = [0] * self.num_envs
        self._final_text = [""] * self.num_envs

    def _reset(self, seed):
        for i, (env, rng) in enumerate(zip(self.envs, self.rngs)):
            if seed is not None:
                rng.reseed(seed + i)
            env.reset(rng)
            self._returns[i], self._lengths[i] = 0.0, 0
        return np.stack([env.render() for env in self.envs])

    def _step(self, actions):
        n, num_actions = self.num_envs, len(self.action_symbols)
        bad = np.flatnonzero((actions < 0) | (actions >= num_actions))
        if bad.size:
            i = int(bad[0])
            raise IndexError(f"actions[{i}] = {actions[i]} is out of range [0, {num_actions})")
        obs = np.empty((n,) + self.single_observation_space.shape, np.uint8)
        rewards = np.zeros(n, np.float32)
        terminated, truncated, ended = np.zeros(n, bool), np.zeros(n, bool), np.zeros(n, bool)
        final_obs = np.zeros_like(obs)
        ep_return, ep_length, ep_success = np.zeros(n, np.float32), np.zeros(n, np.int32), np.zeros(n, bool)
        for i, (env, rng) in enumerate(zip(self.envs, self.rngs)):
            rewards[i], terminated[i], truncated[i] = env.step(int(actions[i]), rng)
            self._returns[i] += float(rewards[i])
            self._lengths[i] += 1
            if terminated[i] or truncated[i]:
                ended[i] = True
                ep_return[i], ep_length[i], ep_success[i] = self._returns[i], self._lengths[i], self._returns[i] > 0
                final_obs[i] = env.render()
                self._final_text[i] = env.text()
                env.reset(rng)
                self._returns[i], self._lengths[i] = 0.0, 0
            obs[i] = env.render()
        ends = (ended, final_obs, ep_return, ep_length, ep_success) if ended.any() else None
        return obs, rewards, terminated, truncated, ends

    def _text(self, i, final):
        return self._final_text[i] if final else self.envs[i].text()

    def get_state(self, i: int) -> list[int]:
        return self.envs[i].get_state()

    def set_state(self, i: int, state) -> None:
        self.envs[i].set_state([int(v) for v in state])

    def render_all(self) -> np.ndarray:
        return np.stack([env.render() for env in self.envs])
