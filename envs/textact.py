"""Text-action envs: worlds whose legal actions change every step (ALFWorld's admissible commands, a web
page's buttons), with text-only prompts.

The contract vldac.py relies on is the one of envs/base.py's BatchedEnv (gymnasium VectorEnv, same-step
autoreset, episode statistics in infos, prompt / actions / parse_action / sample_action, snapshots); what
differs:
    actions(i)            what a reply names to take each command env i can take now (a tuple of strings, never
                          empty): the commands, or with options["numbered"] their numbers "1", "2", ... in the
                          order the prompt lists them (numbered=1: the engine's order; 2: a fresh random order
                          at every step, drawn from the episode's seed, so that a number alone says nothing)
    step(actions)         one action per env: an index into actions(i), or a command string (a command that
                          is not legal now costs the step and changes nothing, as in ALFWorld)
    parse_action(t, i)    reply text -> (index into actions(i), True) or (-1, False); envs.text.parse_command
    prompt(i, final)      ([], text): the task, the last `history` steps, the observation, the commands
                          (numbered: "1: <command>; 2: ...", so that a choice is a number, not a copied command)
    observations          the observation texts (a tuple of N strings)

A subclass supplies the games: new_game() -> a TextGame, and episode_seed(i, k) picks what env i plays in
its k-th episode. Snapshots hold, per env, the episode index and the commands played in it so far;
set_snapshot replays them on a fresh game (the engines are deterministic), so a restored batch continues
exactly, prompts and histories included.
"""
import hashlib
import struct

import gymnasium
import numpy as np
from gymnasium.vector import AutoresetMode

from .base import _check_seed, snapshot_int, snapshot_list
from .rng import MASK
from .text import command_format, parse_command

TEXT_SNAPSHOT_FORMAT = "vldac.text_env_snapshot.v1"


class TextGame:
    """One episode at a time of a text world: reset(seed), then step(command) until done."""

    task: str = ""  # the goal, in words
    start: str = ""  # what the episode's first observation showed (kept in the prompt; "" = nothing)
    observation: str = ""  # the last feedback text
    commands: tuple = ()  # legal commands now
    done: bool = False  # the episode ended by itself (won, or lost)
    success: bool = False

    def reset(self, seed: int) -> None:
        raise NotImplementedError

    def step(self, command: str) -> float:  # -> reward
        raise NotImplementedError

    def close(self) -> None:
        pass


def int_options(name: str, options: dict, spec: dict, other=()) -> dict:
    """A text world's int options (spec: key -> (default, lo, hi)) with defaults filled in and checked;
    `other` names more options the caller checks; vldac's image_size is ignored (the prompts are text)."""
    known = set(spec) | set(other)
    unknown = sorted(set(options) - known - {"image_size"})
    if unknown:
        raise ValueError(f"{name}: unknown option(s) {unknown}; known: {sorted(known)}")
    out = {}
    for key, (default, lo, hi) in spec.items():
        v = options.get(key, default)
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not lo <= v <= hi:
            raise ValueError(f"{name}: option {key} must be an int in [{lo}, {hi}], got {v!r}")
        out[key] = int(v)
    return out


def derive_seed(*words: int) -> int:
    """A 64-bit seed from integers (blake2b of their bytes): independent streams per (env, episode)."""
    data = b"".join(struct.pack("<Q", int(w) & MASK) for w in words)
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little")


class TextActionEnv(gymnasium.vector.VectorEnv):
    """N text games stepped together (in this process, one after the other)."""

    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP, "render_modes": []}
    rules = ""  # the prompt's first paragraph

    def __init__(self, name: str, num_envs: int, seed: int, options: dict):
        if isinstance(num_envs, bool) or not isinstance(num_envs, (int, np.integer)) or num_envs < 1:
            raise ValueError(f"num_envs must be an int >= 1, got {num_envs!r}")
        self.name, self.options, self.num_envs = name, options, int(num_envs)
        self.base_seed = _check_seed(seed)
        self.max_steps, self.history = options["max_steps"], options["history"]
        self.numbered = options.get("numbered", 0)
        self.single_observation_space = gymnasium.spaces.Text(max_length=1 << 16)
        self.single_action_space = gymnasium.spaces.Text(max_length=256)
        self.observation_space = gymnasium.spaces.Tuple([self.single_observation_space] * self.num_envs)
        self.action_space = gymnasium.spaces.Tuple([self.single_action_space] * self.num_envs)
        self.render_mode = None
        self.games = [self.new_game() for _ in range(self.num_envs)]
        self._episode = [0] * self.num_envs
        self._played = [[] for _ in range(self.num_envs)]  # (command, feedback) of the running episodes
        self._returns, self._lengths = [0.0] * self.num_envs, [0] * self.num_envs
        self._final = [None] * self.num_envs  # prompt text of the episode that ended at the last step
        self._ready = False

    # -- what a subclass supplies
    def new_game(self) -> TextGame:
        raise NotImplementedError

    def episode_seed(self, i: int, k: int) -> int:
        """The seed of env i's k-th episode."""
        return derive_seed(self.base_seed + i, k)

    # -- gymnasium API
    def reset(self, *, seed=None, options=None):
        """seed: episodes start again from episode 0 of that seed; None: every env starts its next episode."""
        if options:
            raise ValueError(f"reset options are not supported, got {options!r}")
        if seed is not None:
            self.base_seed, self._episode = _check_seed(seed), [-1] * self.num_envs
        for i in range(self.num_envs):
            self._start(i, self._episode[i] + 1 if self._ready or seed is not None else 0)
        self._ready, self._final = True, [None] * self.num_envs
        return self.observations, {}

    def _start(self, i, k):
        self._episode[i], self._played[i], self._returns[i], self._lengths[i] = k, [], 0.0, 0
        self.games[i].reset(self.episode_seed(i, k))

    def step(self, actions):
        if not self._ready:
            raise RuntimeError("call reset() before step()")
        if isinstance(actions, (str, bytes)) or len(actions) != self.num_envs:
            raise ValueError(f"actions must be a sequence of {self.num_envs} commands or command indices")
        commands = [self._command(i, a) for i, a in enumerate(actions)]
        n = self.num_envs
        rewards, terminated, truncated, ended = np.zeros(n, np.float32), np.zeros(n, bool), np.zeros(n, bool), np.zeros(n, bool)
        ep_return, ep_length, ep_success = np.zeros(n, np.float32), np.zeros(n, np.int32), np.zeros(n, bool)
        final_obs = [""] * n
        for i, (game, command) in enumerate(zip(self.games, commands)):
            rewards[i] = game.step(command)
            self._played[i].append((command, game.observation))
            self._returns[i] += float(rewards[i])
            self._lengths[i] += 1
            terminated[i], truncated[i] = game.done, not game.done and self._lengths[i] >= self.max_steps
            self._final[i] = None
            if terminated[i] or truncated[i]:
                ended[i], final_obs[i] = True, game.observation
                ep_return[i], ep_length[i], ep_success[i] = self._returns[i], self._lengths[i], game.success
                self._final[i] = self._prompt_text(i)
                self._start(i, self._episode[i] + 1)
        infos = {}
        if ended.any():
            infos = {"final_obs": tuple(final_obs), "_final_obs": ended,
                     "episode": {"r": ep_return, "l": ep_length, "success": ep_success}, "_episode": ended.copy()}
        return self.observations, rewards, terminated, truncated, infos

    def _command(self, i, action) -> str:
        if isinstance(action, str):
            return action
        if isinstance(action, (bool, np.bool_)) or not isinstance(action, (int, np.integer)):
            raise ValueError(f"actions[{i}] must be a command string or an int index, got {action!r}")
        commands = self._listed(i)
        if not 0 <= action < len(commands):
            raise IndexError(f"actions[{i}] = {action} is out of range [0, {len(commands)}) of env {i}'s commands")
        return commands[action]

    @property
    def observations(self) -> tuple:
        return tuple(game.observation for game in self.games)

    def close_extras(self, **kwargs):
        for game in self.games:
            game.close()

    # -- text side
    def actions(self, i: int) -> tuple:
        commands = self._listed(i)
        return tuple(str(k) for k in range(1, len(commands) + 1)) if self.numbered else commands

    def sample_action(self, i: int, rng: np.random.Generator) -> int:
        return int(rng.integers(len(self.games[i].commands)))

    def parse_action(self, text, i: int = 0) -> tuple[int, bool]:
        return parse_command(text, self._listed(i), bool(self.numbered))

    def _listed(self, i) -> tuple:
        """Env i's commands in the order its prompt lists them (actions(i) and step's indices follow it)."""
        commands = tuple(self.games[i].commands)
        if self.numbered != 2:
            return commands
        rng = np.random.default_rng(derive_seed(self.episode_seed(i, self._episode[i]), len(self._played[i])))
        return tuple(commands[j] for j in rng.permutation(len(commands)))

    def prompt(self, i: int, final: bool = False) -> tuple[list, str]:
        """([], text) of env i now, or of the episode it ended at the last step (final=True)."""
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)) or not 0 <= i < self.num_envs:
            raise IndexError(f"env index {i!r} is out of range [0, {self.num_envs})")
        if not self._ready:
            raise RuntimeError("call reset() before prompt()")
        if final and self._final[i] is None:
            raise ValueError(f"env {i} did not end an episode at the last step")
        return [], self._final[i] if final else self._prompt_text(i)

    def _prompt_text(self, i):
        game, played = self.games[i], self._played[i][-self.history:] if self.history else []
        lines = [self.rules, f"Your task is to: {game.task}."]
        if played and game.start:
            lines.append(f"At the start: {game.start}")
        if played:  # the last command's feedback is the observation below
            lines += ["Your last actions:"] + [f"> {c}\n{o}" for c, o in played[:-1]] + [f"> {played[-1][0]}"]
        return "\n".join(lines + [f"Now: {game.observation}", command_format(self._listed(i), bool(self.numbered))])

    # -- snapshots
    def get_snapshot(self) -> dict:
        if not self._ready:
            raise RuntimeError("call reset() before get_snapshot()")
        return {"format": TEXT_SNAPSHOT_FORMAT, "task": self.name, "num_envs": self.num_envs,
                "options": dict(self.options), "seed": self.base_seed, "episode": list(self._episode),
                "commands": [[c for c, _ in p] for p in self._played],
                "return_bits": [struct.unpack("<Q", struct.pack("<d", r))[0] for r in self._returns]}

    def set_snapshot(self, snapshot: dict) -> None:
        """Restores a get_snapshot() of a batch with the same task, num_envs and options by replaying each
        env's episode so far. ValueError, changing nothing observable, on a mismatch or a malformed one."""
        if not isinstance(snapshot, dict) or snapshot.get("format") != TEXT_SNAPSHOT_FORMAT:
            raise ValueError(f"not a text-env snapshot of format {TEXT_SNAPSHOT_FORMAT!r}")
        keys = {"format", "task", "num_envs", "options", "seed", "episode", "commands", "return_bits"}
        if set(snapshot) != keys:
            raise ValueError(f"malformed snapshot: keys {sorted(snapshot)}, expected {sorted(keys)}")
        if snapshot["task"] != self.name or snapshot["num_envs"] != self.num_envs or snapshot["options"] != self.options:
            raise ValueError(f"snapshot of {snapshot['task']} x {snapshot['num_envs']} {snapshot['options']} cannot "
                             f"restore {self.name} x {self.num_envs} {self.options}")
        n, seed = self.num_envs, snapshot_int(snapshot["seed"], "snapshot seed", 0, MASK)
        episodes = [snapshot_int(k, f"episode[{i}]", 0, MASK) for i, k in enumerate(snapshot_list(snapshot["episode"], "episode", n))]
        played = [snapshot_list(c, f"commands[{i}]") for i, c in enumerate(snapshot_list(snapshot["commands"], "commands", n))]
        bits = [snapshot_int(b, f"return_bits[{i}]", 0, MASK) for i, b in enumerate(snapshot_list(snapshot["return_bits"], "return_bits", n))]
        if any(not isinstance(c, str) for p in played for c in p) or any(len(p) >= self.max_steps for p in played):
            raise ValueError("malformed snapshot: commands must be strings, fewer than max_steps per env")
        games, records = [self.new_game() for _ in range(n)], []
        old_seed, self.base_seed = self.base_seed, seed
        try:
            for i, (game, k, commands) in enumerate(zip(games, episodes, played)):
                game.reset(self.episode_seed(i, k))
                record = []
                for c in commands:
                    if game.done:
                        raise ValueError(f"snapshot env {i}: its episode ended before the last command")
                    game.step(c)
                    record.append((c, game.observation))
                records.append(record)
        except BaseException:
            self.base_seed = old_seed
            for game in games:
                game.close()
            raise
        for game in self.games:
            game.close()
        self.games, self._episode, self._played = games, episodes, records
        self._returns = [struct.unpack("<d", struct.pack("<Q", b))[0] for b in bits]
        self._lengths, self._final, self._ready = [len(p) for p in played], [None] * n, True

    def __repr__(self):
        return f"{type(self).__name__}({self.name}, num_envs={self.num_envs}, {self.options})"
