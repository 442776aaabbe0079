"""Exact env snapshots (checkpoint/resume): for every C++ task and both backends, a fresh env restored from a
snapshot replays the original's future bit for bit (observations, rewards, flags, episode statistics,
prompts with their frame history, the next reset), across backends too; snapshots are plain data that
survive pickle and torch.save/torch.load(weights_only=True); mismatched or malformed snapshots raise
ValueError and change nothing."""
import copy
import io
import pickle
import struct

import numpy as np
import pytest

import envs
from envs.base import BACKENDS, SNAPSHOT_FORMAT

CPP_TASKS = [name for name in envs.TASKS if name.startswith(("gymcards/", "grid/"))]  # every task with a C++ batch
FAMILY_OPTIONS = {"gymcards": {"image_size": 40}, "grid": {"image_size": 32, "max_steps": 12}}
EXTRA_OPTIONS = {"gymcards/points24": {"solvable_only": True}, "grid/hallway": {"top_down": True}}
NUM_ENVS, WARMUP, STEPS = 3, 25, 35


def make(task, backend, seed=7, num_envs=NUM_ENVS, **overrides):
    options = {**FAMILY_OPTIONS[task.split("/")[0]], **EXTRA_OPTIONS.get(task, {}), **overrides}
    return envs.make(task, num_envs, seed=seed, backend=backend, **options)


def actions_for(env, steps, seed):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, env.single_action_space.n, env.num_envs) for _ in range(steps)]


def key(a):
    a = np.asarray(a)
    return a.dtype.str, a.shape, a.tobytes()


def prompt_key(prompt):
    images, text = prompt
    return tuple(key(image) for image in images), text


def record(env, actions):
    """Everything the env shows from now on: prompts, then per step all outputs and prompts; then a reset."""
    out = [[prompt_key(env.prompt(i)) for i in range(env.num_envs)]]
    for a in actions:
        obs, rewards, terminated, truncated, infos = env.step(a)
        step = [key(obs), key(rewards), key(terminated), key(truncated), sorted(infos)]
        if infos:
            step += [key(infos[k]) for k in ("final_obs", "_final_obs", "_episode")]
            step += [key(infos["episode"][k]) for k in ("r", "l", "success")]
            step += [prompt_key(env.prompt(int(i), final=True)) for i in np.flatnonzero(infos["_final_obs"])]
        step += [prompt_key(env.prompt(i)) for i in range(env.num_envs)]
        out.append(step)
    out.append(key(env.reset()[0]))  # reset(seed=None) keeps the RNG streams
    return out


def assert_same_record(a, b):
    assert len(a) == len(b)
    for t, (x, y) in enumerate(zip(a, b)):
        assert x == y, f"record differs at entry {t}"


def warmed_up(task, backend):
    env = make(task, backend)
    env.reset()
    for a in actions_for(env, WARMUP, seed=1):
        env.step(a)
    return env


def assert_plain(value, where="snapshot"):
    """Only str, int, bool, bytes, lists and dicts with str keys (no NumPy scalars or arrays)."""
    if type(value) is dict:
        for k, v in value.items():
            assert type(k) is str, where
            assert_plain(v, f"{where}[{k!r}]")
    elif type(value) is list:
        for i, v in enumerate(value):
            assert_plain(v, f"{where}[{i}]")
    else:
        assert type(value) in (str, int, bool, bytes), f"{where}: {type(value).__name__}"


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("task", CPP_TASKS)
def test_restore_replays_exactly_in_both_backends(task, backend):
    env = warmed_up(task, backend)
    snapshot = env.get_snapshot()
    assert_plain(snapshot)
    assert snapshot["format"] == SNAPSHOT_FORMAT and snapshot["task"] == task and snapshot["num_envs"] == NUM_ENVS
    actions = actions_for(env, STEPS, seed=2)
    expected = record(env, actions)
    ends = sum(1 for step in expected[1:-1] if step[4])
    assert ends > 0, "no episode ended in the recorded steps: the test would miss the episode statistics"
    for target in BACKENDS:  # the twins are bit-identical, so a snapshot restores into either backend
        fresh = make(task, target, seed=12345)  # another seed: the snapshot's RNG words must win
        fresh.set_snapshot(snapshot)
        assert fresh.get_snapshot() == snapshot
        assert_same_record(record(fresh, actions), expected)


def test_every_cpp_task_is_covered():
    assert {"gymcards/numberline", "gymcards/blackjack", "gymcards/ezpoints", "gymcards/points24",
            "grid/oneroom", "grid/hallway", "grid/fourrooms", "grid/wallgap"} <= set(CPP_TASKS)
    assert all(envs.TASKS[name].startswith(("envs.gymcards:", "envs.formula:", "envs.grid:")) for name in CPP_TASKS)


@pytest.mark.parametrize("task", ["gymcards/points24", "grid/wallgap"])
def test_pickle_and_torch_weights_only_round_trip(task):
    torch = pytest.importorskip("torch")
    env = warmed_up(task, "cpp")
    snapshot = env.get_snapshot()
    buffer = io.BytesIO()
    torch.save({"env": snapshot}, buffer)
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=True)["env"]
    assert loaded == snapshot
    assert pickle.loads(pickle.dumps(snapshot)) == snapshot
    actions = actions_for(env, 15, seed=3)
    expected = record(env, actions)
    fresh = make(task, "cpp", seed=0)
    fresh.set_snapshot(loaded)
    assert_same_record(record(fresh, actions), expected)


@pytest.mark.parametrize("backend", BACKENDS)
def test_episode_return_accumulator_is_bitwise(backend):
    """A return that is no float32 (0.1) must come back bit for bit: it decides ep_return and success."""
    env = make("gymcards/numberline", backend, num_envs=2)
    env.reset()
    snapshot = env.get_snapshot()
    snapshot["return_bits"] = [struct.unpack("<Q", struct.pack("<d", x))[0] for x in (0.1, -0.1)]
    env.set_snapshot(snapshot)
    assert env.get_snapshot()["return_bits"] == snapshot["return_bits"]
    returns, seen = [0.1, -0.1], [False, False]
    for _ in range(10):  # NumberLine ends within 10 steps
        _, rewards, _, _, infos = env.step(np.ones(2, np.int64))
        for i in range(2):
            if seen[i]:
                continue
            returns[i] += float(rewards[i])
            if infos and infos["_episode"][i]:
                seen[i] = True
                assert infos["episode"]["r"][i] == np.float32(returns[i])
                assert infos["episode"]["success"][i] == (returns[i] > 0)
    assert all(seen)


@pytest.mark.parametrize("backend", BACKENDS)
def test_snapshot_lifecycle(backend):
    env = make("grid/oneroom", backend)
    with pytest.raises(RuntimeError, match="reset"):
        env.get_snapshot()
    env.reset()
    snapshot = env.get_snapshot()
    assert snapshot["prev_frames"] == [[]] * NUM_ENVS  # just reset: the history is the current frame
    out = None
    while not out or not out[4]:
        out = env.step(np.full(NUM_ENVS, 2))
    i = int(np.flatnonzero(out[4]["_final_obs"])[0])
    env.prompt(i, final=True)
    fresh = make("grid/oneroom", backend)
    fresh.set_snapshot(env.get_snapshot())  # restores into an env that was never reset
    with pytest.raises(ValueError, match="did not end"):  # the ended episodes are not in a snapshot
        fresh.prompt(i, final=True)
    env.set_snapshot(env.get_snapshot())  # and into itself
    with pytest.raises(ValueError, match="did not end"):
        env.prompt(i, final=True)
    assert len(fresh.prompt(0)[0]) == len(env.prompt(0)[0])


def _bits(x):
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def _edit(path, value):
    def apply(s):
        *head, last = path
        for k in head:
            s = s[k]
        if value is KeyError:
            del s[last]
        else:
            s[last] = value
    return apply


BAD = [  # (edit, message)
    (_edit(["format"], "something else"), "not an env snapshot"),
    (_edit(["task"], "grid/hallway"), "task"),
    (_edit(["num_envs"], NUM_ENVS + 1), "envs"),
    (_edit(["num_envs"], float(NUM_ENVS)), "envs"),
    (_edit(["options", "image_size"], 40), "options"),
    (_edit(["options", "top_down"], True), "options"),
    (_edit(["options", "top_down"], 0), "options"),
    (_edit(["options", "workers"], 0), "options"),
    (_edit(["length"], KeyError), "missing"),
    (_edit(["extra"], 1), "unknown"),
    (_edit(["seed"], -1), "seed"),
    (_edit(["rng"], [[1, 2, 3, 4]] * (NUM_ENVS - 1)), "rng"),
    (_edit(["state"], "not a list"), "state"),
    (_edit(["rng", 1], [1, 2, 3]), "rng"),
    (_edit(["rng", 1, 2], 1.0), "rng"),
    (_edit(["rng", 1, 2], True), "rng"),
    (_edit(["rng", 1, 2], -1), "rng"),
    (_edit(["rng", 1, 2], 2**64), "rng"),
    (_edit(["rng", 2], [0, 0, 0, 0]), "zero"),
    (_edit(["state", 1], [0, 0, 0, 0, 0, 0]), "out of range"),
    (_edit(["state", 1], [2000, 2000, 0, 4000, 4000]), "expected"),
    (_edit(["state", 1, 5], "1"), "state"),
    (_edit(["state", 1, 5], 1.5), "state"),
    (_edit(["state", 1, 5], 2**63), "state"),
    (_edit(["state", 2, 5], 12), "step count"),  # t == max_steps: the episode would have ended
    (_edit(["return_bits", 1], _bits(float("nan"))), "finite"),
    (_edit(["return_bits", 1], _bits(float("inf"))), "finite"),
    (_edit(["return_bits", 1], -1), "return_bits"),
    (_edit(["return_bits", 1], 0.5), "return_bits"),
    (_edit(["length", 1], -1), "length"),
    (_edit(["length", 1], 2**31), "length"),
    (_edit(["length", 1], "3"), "length"),
    (_edit(["prev_frames"], [[]] * (NUM_ENVS + 1)), "prev_frames"),
    (_edit(["prev_frames", 1], [b"\0" * 32 * 24 * 3] * 4), "prev_frames"),
    (_edit(["prev_frames", 1], [b"\0" * 10]), "prev_frames"),
    (_edit(["prev_frames", 1], [[0] * (32 * 24 * 3)]), "prev_frames"),
]


@pytest.mark.parametrize("backend", BACKENDS)
def test_mismatched_or_malformed_snapshots_raise_and_change_nothing(backend):
    source = warmed_up("grid/oneroom", backend)
    good = source.get_snapshot()
    target = make("grid/oneroom", backend, seed=3)
    target.reset()
    for a in actions_for(target, 5, seed=4):
        target.step(a)
    before = target.get_snapshot()
    prompts_before = [prompt_key(target.prompt(i)) for i in range(NUM_ENVS)]
    for edit, message in BAD:
        snapshot = copy.deepcopy(good)
        edit(snapshot)
        with pytest.raises(ValueError, match=message):
            target.set_snapshot(snapshot)
        assert target.get_snapshot() == before, message
        assert [prompt_key(target.prompt(i)) for i in range(NUM_ENVS)] == prompts_before
    for not_a_snapshot in (None, [], "snapshot", {"format": SNAPSHOT_FORMAT}):
        with pytest.raises(ValueError):
            target.set_snapshot(not_a_snapshot)
    # other tasks and batch sizes
    with pytest.raises(ValueError, match="task"):
        make("gymcards/numberline", backend).set_snapshot(good)
    other = make("grid/oneroom", backend, num_envs=NUM_ENVS + 1)
    with pytest.raises(ValueError, match="envs"):
        other.set_snapshot(good)
    # a state the task cannot be in, and a key the card games do not have
    cards = make("gymcards/numberline", backend)
    cards.reset()
    snapshot = cards.get_snapshot()
    bad = copy.deepcopy(snapshot)
    bad["state"][0] = [7, 1, 0]
    with pytest.raises(ValueError, match="position"):
        cards.set_snapshot(bad)
    bad = copy.deepcopy(snapshot)
    bad["prev_frames"] = [[]] * NUM_ENVS
    with pytest.raises(ValueError, match="unknown"):
        cards.set_snapshot(bad)
    assert cards.get_snapshot() == snapshot
    # the snapshot still works afterwards
    target.set_snapshot(good)
    assert target.get_snapshot() == good


def test_cpp_binding_validates_on_its_own():
    """The C++ methods check what they are given without the Python layer's checks."""
    env = warmed_up("gymcards/blackjack", "cpp")
    cols = env.batch.get_snapshot()
    assert sorted(cols) == ["length", "return_bits", "rng", "state"]
    args = [cols[k] for k in ("rng", "state", "return_bits", "length")]
    for k, bad in [(0, cols["rng"][:1]), (1, {}), (2, None), (3, cols["length"] + [0]), (1, [[2]] * NUM_ENVS),
                   (1, [[2, 1, 0, 1, 0, 30, 1, 0, 1, 0]] * NUM_ENVS), (0, [[1, 2, 3, 2**64]] * NUM_ENVS)]:
        with pytest.raises(ValueError):
            env.batch.set_snapshot(*(bad if j == k else a for j, a in enumerate(args)))
    assert env.batch.get_snapshot() == cols
    env.batch.set_snapshot(*args)
    assert env.batch.get_snapshot() == cols


def test_miniworld_has_no_snapshots():
    from envs.miniworld import MiniWorldBatch

    for method, args in ((MiniWorldBatch.get_snapshot, ()), (MiniWorldBatch.set_snapshot, ({},))):
        with pytest.raises(NotImplementedError, match="miniworld"):
            method(None, *args)  # no env needed (making one loads OpenGL)
