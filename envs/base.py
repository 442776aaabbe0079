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

Snapshots (checkpoint/resume): env.get_snapshot() -> dict, taken between steps (after reset()), and
env.set_snapshot(snapshot) on an env made with the same (name, num_envs, options), fresh or not, of either
backend: from then on it steps exactly as the original did from the moment of the snapshot (observations,
rewards, flags, episode statistics, prompts, and reset(seed=None), which keeps the RNG streams). The dict
holds only str, int, bool, bytes, lists and dicts, so it pickles and survives
torch.save / torch.load(weights_only=True):
    format       SNAPSHOT_FORMAT
    task, num_envs, options    what it belongs to (options resolved: every name, with its int/bool value)
    seed         the batch's base seed (informational: the RNG words below are what count)
    rng          per env: the RNG's four 64-bit state words (ints in [0, 2**64))
    state        per env: get_state(i), the task state (which also gives the prompt text)
    return_bits  per env: the running episode return, the float64's IEEE-754 bit pattern as an int
    length       per env: the running episode length
  plus, for the navigation envs (envs/grid.py NavEnv):
    prev_frames  per env: the earlier frames of the prompt history, oldest first, raw (H, W, 3) uint8 bytes
The observations are re-rendered from the states. set_snapshot checks everything (the C++ batch checks its
part again in C++) and raises ValueError on a snapshot of another task, num_envs or options, or on a
malformed one (missing or unknown keys, wrong lengths or types, out-of-range values, a state the task cannot
be in), changing nothing. What a snapshot does not hold: the episodes that ended at the step just before it,
so prompt(i, final=True) raises after set_snapshot as it does after reset().
"""
import operator
import struct
from dataclasses import dataclass, field
from typing import Callable

import gymnasium
import numpy as np
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space

from .rng import MASK, Rng
from .text import parse_action

BACKENDS = ("cpp", "python")
SNAPSHOT_FORMAT = "vldac.env_snapshot.v1"
_SNAPSHOT_HEADER = ("format", "task", "num_envs", "options", "seed")
_SNAPSHOT_COLUMNS = ("rng", "state", "return_bits", "length")  # one entry per env


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


def snapshot_list(value, what: str, n: int | None = None) -> list:
    """`value` as a list if it is a list or tuple (of n entries when n is given), else ValueError."""
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"{what}: expected a list, got {type(value).__name__}")
    if n is not None and len(value) != n:
        raise ValueError(f"{what}: expected {n} entries, got {len(value)}")
    return list(value)


def snapshot_int(value, what: str, lo: int, hi: int) -> int:
    """`value` as an int in [lo, hi] (anything with __index__ but bool), else ValueError."""
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{what}: expected an int, got bool")
    try:
        v = operator.index(value)
    except TypeError:
        raise ValueError(f"{what}: expected an int, got {type(value).__name__}") from None
    if not lo <= v <= hi:
        raise ValueError(f"{what} = {v} is out of range [{lo}, {hi}]")
    return v


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

    def render_all(self) -> np.ndarray:  # the current observations, drawn from the states
        raise NotImplementedError

    def _get_snapshot(self) -> dict:  # -> the _SNAPSHOT_COLUMNS, one entry per env
        raise NotImplementedError

    def _set_snapshot(self, columns: dict) -> None:  # checks every value; all or nothing (ValueError)
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
        if a.shape != (self.num_envs,) or a.dtype.kind not in "iu":  # signed or unsigned integers
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

    def actions(self, i: int) -> tuple[str, ...]:
        """What env i can do now, as the model writes it: the task's fixed symbols."""
        return self.action_symbols

    def sample_action(self, i: int, rng: np.random.Generator) -> int:
        """A uniformly random action of env i (one draw from rng), in the form step() takes."""
        return int(rng.integers(len(self.action_symbols)))

    def parse_action(self, text, i: int = 0) -> tuple[int, bool]:
        """Reply text -> (action for step(), True), or (-1, False) when it names no legal symbol."""
        return parse_action(text, self.action_symbols)

    # -- snapshots (checkpoint/resume; the format is in the module docstring)
    def get_snapshot(self) -> dict:
        """Everything this batch carries between steps, as plain Python data (see the module docstring)."""
        if self._obs is None:
            raise RuntimeError("call reset() before get_snapshot()")
        header = {"format": SNAPSHOT_FORMAT, "task": self.task.name, "num_envs": self.num_envs,
                  "options": dict(self.options), "seed": self.base_seed}
        return {**header, **self._get_snapshot()}

    def set_snapshot(self, snapshot: dict) -> None:
        """Restores a get_snapshot() of a batch with the same task, num_envs and options (either backend):
        this batch then continues exactly as that one did. ValueError, changing nothing, on a mismatch or a
        malformed snapshot. Afterwards prompt(i, final=True) raises, as after reset()."""
        self._check_snapshot(snapshot)
        self._set_snapshot({key: snapshot[key] for key in _SNAPSHOT_COLUMNS})
        self.base_seed = snapshot_int(snapshot["seed"], "snapshot seed", 0, MASK)
        self._obs, self._final_obs, self._ended = self.render_all(), None, None

    def _snapshot_keys(self) -> tuple:
        return _SNAPSHOT_HEADER + _SNAPSHOT_COLUMNS

    def _check_snapshot(self, snapshot) -> None:
        """The header (what the snapshot belongs to), the keys and the columns' lengths; ValueError if not."""
        if not isinstance(snapshot, dict) or snapshot.get("format") != SNAPSHOT_FORMAT:
            got = snapshot.get("format") if isinstance(snapshot, dict) else type(snapshot).__name__
            raise ValueError(f"not an env snapshot of format {SNAPSHOT_FORMAT!r} (got {got!r})")
        if snapshot.get("task") != self.task.name:
            raise ValueError(f"snapshot of task {snapshot.get('task')!r} cannot restore a {self.task.name} env")
        num_envs = snapshot.get("num_envs")
        if isinstance(num_envs, bool) or not isinstance(num_envs, int) or num_envs != self.num_envs:
            raise ValueError(f"snapshot of {num_envs!r} envs cannot restore a batch of {self.num_envs}")
        options = snapshot.get("options")
        if not (isinstance(options, dict) and options.keys() == self.options.keys()
                and all(type(options[k]) is type(v) and options[k] == v for k, v in self.options.items())):
            raise ValueError(f"{self.task.name}: snapshot options {options!r} differ from this env's {self.options}")
        keys = self._snapshot_keys()
        missing, unknown = [k for k in keys if k not in snapshot], sorted(map(str, set(snapshot) - set(keys)))
        if missing or unknown:
            raise ValueError(f"malformed snapshot: missing keys {missing}, unknown keys {unknown}")
        snapshot_int(snapshot["seed"], "snapshot seed", 0, MASK)
        for key in _SNAPSHOT_COLUMNS:
            snapshot_list(snapshot[key], f"snapshot {key}", self.num_envs)

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

    def _get_snapshot(self):
        return self.batch.get_snapshot()

    def _set_snapshot(self, columns):
        self.batch.set_snapshot(columns["rng"], columns["state"], columns["return_bits"], columns["length"])


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
                won = env.succeeded() if hasattr(env, "succeeded") else self._returns[i] > 0  # as csrc/vecenv.hpp
                ep_return[i], ep_length[i], ep_success[i] = self._returns[i], self._lengths[i], won
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

    def _get_snapshot(self):
        return {"rng": [rng.get_words() for rng in self.rngs], "state": [env.get_state() for env in self.envs],
                "return_bits": [struct.unpack("<Q", struct.pack("<d", r))[0] for r in self._returns],
                "length": list(self._lengths)}

    def _set_snapshot(self, columns):
        """The checks of VecEnv::restore and its binding (csrc/vecenv.hpp); all or nothing."""
        n, int64 = self.num_envs, (-(1 << 63), (1 << 63) - 1)
        envs, words, returns, lengths = [], [], [], []
        for i in range(n):
            at = f"[{i}]"
            w = [snapshot_int(v, f"rng{at}[{k}]", 0, MASK)
                 for k, v in enumerate(snapshot_list(columns["rng"][i], "rng" + at, 4))]
            state = [snapshot_int(v, f"state{at}[{k}]", *int64)
                     for k, v in enumerate(snapshot_list(columns["state"][i], "state" + at))]
            (ret,) = struct.unpack("<d", struct.pack("<Q", snapshot_int(columns["return_bits"][i], "return_bits" + at,
                                                                        0, MASK)))
            length = snapshot_int(columns["length"][i], "length" + at, 0, (1 << 31) - 1)
            where = f"snapshot env {i}: "
            if not any(w):
                raise ValueError(where + "the RNG words are all zero (not a reachable RNG state)")
            if not np.isfinite(ret):
                raise ValueError(where + "the episode return is not finite")
            env = self.task.twin(**self.options)
            try:
                env.set_state(state)
            except ValueError as e:
                raise ValueError(where + str(e)) from None
            envs.append(env), words.append(w), returns.append(ret), lengths.append(length)
        self.envs, self._returns, self._lengths = envs, returns, lengths
        for rng, w in zip(self.rngs, words):
            rng.set_words(w)
        self._final_text = [""] * n
