"""MiniWorld navigation tasks (Farama `miniworld`): OneRoom, Hallway, FourRooms, WallGap, headless.

"Go to the red box", first person, with the actions, prompt, time limit and reward of the grid twins
(envs/grid.py): turn left / turn right 15 degrees, move forward / move back 0.15 m, TimeLimit 128
(instead of MiniWorld's 180-300), reward 1 - 0.2 t/T when the box is reached. Reaching the box on the last
step counts as terminated, not truncated (MiniWorld reports both). Frames are image_size wide and 3/4 as
high (80x60 by default, as in the paper). Option shaping=k adds k/100 per metre of progress towards the box
at every step, as the grid twins' (off by default; success stays reaching the box).

Headless: miniworld draws with OpenGL through pyglet. Without a display, pyglet's headless mode (EGL; Mesa
llvmpipe renders on the CPU) must be switched on before miniworld is imported, which _miniworld() does.
llvmpipe runs single-threaded (LP_NUM_THREADS=0): faster than its thread pool at 80x60, and it keeps
forked workers from hanging. miniworld is imported only when such an env is made.

Option workers=k steps the envs in k forked subprocesses (contiguous shares of the batch) instead of in
this process; the random streams are per env, so both give the same episodes.
"""
import contextlib
import io
import math
import multiprocessing
import os
from dataclasses import dataclass

import numpy as np

from .base import BACKENDS, BatchedEnv, Task
from .grid import CAPTION_FIELDS, SYMBOLS, VIEW_CAPTIONS, NavEnv, nav_prompt


def _miniworld():
    os.environ.setdefault("LP_NUM_THREADS", "0")
    import pyglet

    pyglet.options["headless"] = True
    import miniworld.envs

    return miniworld.envs


def new_env(task: str, width: int, height: int, max_steps: int):
    """One miniworld env of class `task` with (height, width) frames and a `max_steps` time limit."""
    with contextlib.redirect_stdout(io.StringIO()):  # miniworld prints its frame-buffer fallbacks
        env = getattr(_miniworld(), task)(obs_width=width, obs_height=height, window_width=width,
                                          window_height=height)
    env.max_episode_steps = max_steps  # read by its step() and its reward
    return env


def view_caption(env):
    """Where the box is in the agent's view, as an index into VIEW_CAPTIONS, from miniworld's own state: in view
    by its occlusion query, and on the left / ahead / on the right by where the box's centre projects on the
    image (the grid's fifths: 2/5, 1/5, 2/5 of the width)."""
    world = env.unwrapped
    if world.box not in world.get_visible_ents():
        return 3
    d, agent = world.box.pos - world.agent.pos, world.agent
    half_width = math.tan(math.radians(agent.cam_fov_y / 2)) * world.obs_fb.width / world.obs_fb.height
    x = (d @ agent.right_vec) / max(d @ agent.dir_vec, 1e-9) / half_width  # -1 .. 1 across the image
    return 0 if x < -0.2 else 2 if x > 0.2 else 1


def box_distance(env):
    """The agent's distance to the box on the floor plane, in metres."""
    world = env.unwrapped
    return float(np.hypot(*(world.box.pos - world.agent.pos)[[0, 2]]))


class _Share:
    """A contiguous share of a batch's envs, stepped in a loop with same-step autoreset."""

    def __init__(self, task, count, width, height, max_steps, shaping):
        self.envs, self.shaping = [new_env(task, width, height, max_steps) for _ in range(count)], shaping

    def reset(self, seeds):
        return np.stack([env.reset(seed=seed)[0] for env, seed in zip(self.envs, seeds)])

    def step(self, actions):
        obs, final_obs = [], []
        rewards = np.zeros(len(self.envs), np.float32)
        terminated, truncated = np.zeros(len(self.envs), bool), np.zeros(len(self.envs), bool)
        for j, (env, action) in enumerate(zip(self.envs, actions)):
            before = box_distance(env)
            frame, rewards[j], terminated[j], truncated[j], _ = env.step(int(action))
            if self.shaping:
                rewards[j] += self.shaping / 100 * (before - box_distance(env))
            truncated[j] &= not terminated[j]
            final_obs.append(frame if terminated[j] or truncated[j] else None)
            obs.append(env.reset()[0] if terminated[j] or truncated[j] else frame)
        return np.stack(obs), rewards, terminated, truncated, final_obs

    def captions(self, _=None):
        return [view_caption(env) for env in self.envs]

    def close(self, _=None):
        for env in self.envs:
            env.close()


def _serve(conn, args):
    """Worker loop: builds a _Share, then answers (method, argument) requests until "close"."""
    try:
        share = _Share(*args)
    except Exception as e:
        conn.send(("error", f"{type(e).__name__}: {e}"))
        return
    conn.send(("ok", None))
    while True:
        method, arg = conn.recv()
        try:
            conn.send(("ok", getattr(share, method)(arg)))
        except Exception as e:
            conn.send(("error", f"{type(e).__name__}: {e}"))
        if method == "close":
            return


class MiniWorldBatch(NavEnv, BatchedEnv):
    """num_envs miniworld envs behind the VectorEnv API of envs/base.py, in this process or in workers. Like the
    first-person grid worlds, they caption the current views (see view_caption; asked for, then cached)."""

    captions, caption_fields = VIEW_CAPTIONS, CAPTION_FIELDS

    def __init__(self, task, num_envs, seed, options):
        super().__init__(task, num_envs, seed, options)
        height, width, _ = self.single_observation_space.shape
        name = task.name.split("/")[1]
        parts = max(1, min(options["workers"], self.num_envs))
        self._bounds = np.linspace(0, self.num_envs, parts + 1).astype(int)  # env slices of the shares
        self._returns, self._lengths = np.zeros(self.num_envs), np.zeros(self.num_envs, np.int32)
        self._seeded, self._said = False, None
        self._local, self._conns, self._procs = None, [], []
        if options["workers"] == 0:
            self._local = _Share(name, self.num_envs, width, height, options["max_steps"], options["shaping"])
            return
        ctx = multiprocessing.get_context("fork")
        for count in np.diff(self._bounds):
            parent, child = ctx.Pipe()
            args = (name, int(count), width, height, options["max_steps"], options["shaping"])
            proc = ctx.Process(target=_serve, args=(child, args), daemon=True)
            proc.start()
            child.close()
            self._conns.append(parent)
            self._procs.append(proc)
        try:
            for conn in self._conns:
                self._answer(conn)
        except RuntimeError:
            self.close()
            raise

    def _answer(self, conn):
        status, value = conn.recv()
        if status != "ok":
            raise RuntimeError(f"miniworld worker failed: {value}")
        return value

    def _call(self, method, args):
        """Runs _Share.method on every share (args: one per share); returns their results in order."""
        if self._local is not None:
            return [getattr(self._local, method)(args[0])]
        for conn, arg in zip(self._conns, args):
            conn.send((method, arg))
        return [self._answer(conn) for conn in self._conns]

    def _split(self, values):
        return [values[a:b] for a, b in zip(self._bounds[:-1], self._bounds[1:])]

    def _reset(self, seed):
        if seed is None and not self._seeded:
            seed = self.base_seed
        self._seeded = True
        seeds = [None if seed is None else seed + i for i in range(self.num_envs)]
        self._returns[:], self._lengths[:], self._said = 0.0, 0, None
        return np.concatenate(self._call("reset", self._split(seeds)))

    def _step(self, actions):
        bad = np.flatnonzero((actions < 0) | (actions >= len(SYMBOLS)))
        if bad.size:
            raise IndexError(f"actions[{bad[0]}] = {actions[bad[0]]} is out of range [0, {len(SYMBOLS)})")
        parts, self._said = self._call("step", self._split(actions)), None
        obs, rewards, terminated, truncated = (np.concatenate([p[k] for p in parts]) for k in range(4))
        final_frames = [frame for p in parts for frame in p[4]]
        self._returns += rewards
        self._lengths += 1
        ended = terminated | truncated
        if not ended.any():
            return obs, rewards, terminated, truncated, None
        final_obs = np.zeros_like(obs)
        final_obs[ended] = [frame for frame in final_frames if frame is not None]
        ep_return = np.where(ended, self._returns, 0).astype(np.float32)
        ep_length = np.where(ended, self._lengths, 0).astype(np.int32)
        ep_success = terminated  # reaching the box (shaped returns can be positive without it)
        self._returns[ended], self._lengths[ended] = 0.0, 0
        return obs, rewards, terminated, truncated, (ended, final_obs, ep_return, ep_length, ep_success)

    def caption(self, i):
        if not 0 <= i < self.num_envs:
            raise IndexError(f"env index {i} is out of range [0, {self.num_envs})")
        if self._said is None:
            self._said = [k for part in self._call("captions", [None] * len(self._bounds[:-1])) for k in part]
        return VIEW_CAPTIONS[self._said[i]]

    def get_snapshot(self):
        raise NotImplementedError("miniworld envs have no snapshots: the miniworld package has no exact state API")

    def set_snapshot(self, snapshot):
        raise NotImplementedError("miniworld envs have no snapshots: the miniworld package has no exact state API")

    def close_extras(self, **kwargs):
        if self._local is not None:
            self._local.close()
        for conn, proc in zip(self._conns, self._procs):
            if proc.is_alive():
                conn.send(("close", None))
                conn.poll(10)
            proc.join(timeout=10)
            if proc.is_alive():
                proc.terminate()
            conn.close()
        self._conns, self._procs = [], []


@dataclass(frozen=True)
class MiniWorldTask(Task):
    def make(self, num_envs, seed=0, backend="cpp", **options):
        """MiniWorld has a single (Python + OpenGL) implementation, which either backend name gives."""
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        return MiniWorldBatch(self, num_envs, seed, self.resolve_options(options))


OPTIONS = {"image_size": (80, 32, 1024), "max_steps": (128, 1, 100_000), "workers": (0, 0, 64), "shaping": (0, 0, 1000)}
ONEROOM, HALLWAY, FOURROOMS, WALLGAP = (
    MiniWorldTask(f"miniworld/{name}", cpp="", twin=None, symbols=SYMBOLS, prompt=nav_prompt, options=OPTIONS)
    for name in ("OneRoom", "Hallway", "FourRooms", "WallGap")
)
