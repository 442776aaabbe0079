"""Fuzz the envs and the reply parser; print what was tried and what broke (every "broke" count must be 0).

Envs: every C++ task (Gym-Cards, grid; MiniWorld has no C++ core and is not fuzzed here) with random
num_envs, seeds (0, the 64-bit mask, anything between) and options at their limits. Each batch step uses
random legal actions, and with some probability first tries an illegal one (out-of-range index, float or
bool dtype, wrong shape, a 0-d array): it must raise ValueError or IndexError and change nothing (the
snapshot before equals the snapshot after). At every step: observation shape, dtype uint8; finite
rewards; bool flags; `_episode` marks exactly the envs that ended, with their final observations. At
sampled steps: the Python twin, restored from the C++ env's snapshot, takes the same step and must agree
(observation, reward, flags, next snapshot); a fresh C++ env restored from the snapshot must as well; the
prompt of every env is (images, text).

Replies: a seeded corpus of malformed and hostile replies (code fences, nested / truncated / huge JSON,
confusable unicode, NUL bytes, 1 MB replies, code injection that would create a marker file) through
every task's parser: it must return (index, ok) with ok <=> a legal index, never raise, never run code.

    python benchmarks/fuzz.py                       # >= 1M env steps, >= 10k replies per task
    python benchmarks/fuzz.py --env-steps 20000 --replies 500
"""
import argparse
import builtins
import json
import pickle
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import envs  # noqa: E402
from envs.rng import MASK  # noqa: E402
from envs.text import parse_action  # noqa: E402

CPP_TASKS = [name for name in envs.TASKS if not name.startswith(("miniworld/", "alfworld/"))]
BROKE = ["BROKE: illegal action accepted", "BROKE: a refused action changed the env",
         "BROKE: python restored from the snapshot disagrees", "BROKE: cpp restored from the snapshot disagrees",
         "BROKE: the parser raised", "BROKE: ok but not a legal index",
         "BROKE: code was run (eval/exec/compile/__import__ called)", "BROKE: the injected code's marker file exists"]


def random_options(task, rng):
    """Each option at its low limit, its default, or (rarely, images are costly) its high limit."""
    out = {}
    for key, (default, lo, hi) in task.options.items():
        if key == "image_size":
            out[key] = int(rng.choice([lo, default, min(hi, 128)]))
        elif isinstance(default, bool):
            out[key] = bool(rng.integers(2))
        else:
            out[key] = int(rng.choice([lo, default, hi, rng.integers(lo, hi + 1)]))
    return out


def illegal_actions(n, k, rng):
    kind = rng.integers(6)
    if kind == 0:
        a = rng.integers(k, size=n)
        a[rng.integers(n)] = rng.choice([k, k + 1, -1, 2**40, -(2**62)])
        return a
    return [rng.random(n), np.ones(n, bool), rng.integers(k, size=n + 1), np.int64(0),
            rng.integers(k, size=(n, 1))][kind - 1]


def check_step(env, out, n, count):
    obs, rewards, terminated, truncated, infos = out
    assert obs.dtype == np.uint8 and obs.ndim == 4 and obs.shape[0] == n and obs.shape[3] == 3, obs.shape
    assert rewards.shape == (n,) and np.isfinite(rewards).all(), rewards
    assert terminated.dtype == bool and truncated.dtype == bool
    ended = terminated | truncated
    if ended.any():
        assert (infos["_episode"] == ended).all() and infos["final_obs"].shape == obs.shape
        count["episodes"] += int(ended.sum())
    else:
        assert "_episode" not in infos


def same(a, b):
    """Two step results (obs, rewards, terminated, truncated, infos) are equal, episode stats included."""
    if not (all(np.array_equal(x, y) for x, y in zip(a[:4], b[:4])) and a[4].keys() == b[4].keys()):
        return False
    return "episode" not in a[4] or (np.array_equal(a[4]["final_obs"], b[4]["final_obs"]) and all(
        np.array_equal(a[4]["episode"][k], b[4]["episode"][k]) for k in ("r", "l", "success")))


def fuzz_envs(total_steps, seed, count):
    rng = np.random.default_rng(seed)
    while count["env steps"] < total_steps:
        name = CPP_TASKS[rng.integers(len(CPP_TASKS))]
        task = envs.make(name, 1).task
        n, options = int(rng.integers(1, 9)), random_options(task, rng)
        env_seed = int(rng.choice([0, MASK, rng.integers(2**62)]))
        env = envs.make(name, n, seed=env_seed, **options)
        env.reset(seed=env_seed)
        k = len(env.action_symbols)
        for step in range(int(rng.integers(50, 400))):
            if rng.random() < 0.05:
                before = env.get_snapshot()
                try:
                    env.step(illegal_actions(n, k, rng))
                    count["BROKE: illegal action accepted"] += 1
                except (ValueError, IndexError):
                    count["illegal actions refused"] += 1
                if env.get_snapshot() != before:
                    count["BROKE: a refused action changed the env"] += 1
            actions = rng.integers(k, size=n).astype(rng.choice([np.int64, np.int32, np.uint8]))
            twin_check = rng.random() < 0.02
            if twin_check:
                snap = env.get_snapshot()
            out = env.step(actions)
            check_step(env, out, n, count)
            count["env steps"] += n
            if twin_check:
                for backend in ("python", "cpp"):
                    other = envs.make(name, n, seed=env_seed, backend=backend, **options)
                    other.reset()
                    other.set_snapshot(pickle.loads(pickle.dumps(snap)))  # a copy, as a checkpoint file gives
                    agree = same(other.step(actions), out) and other.get_snapshot() == env.get_snapshot()
                    count[f"{backend} restored from the snapshot: steps compared"] += 1
                    count[f"BROKE: {backend} restored from the snapshot disagrees"] += not agree
                for i in range(n):
                    images, text = env.prompt(i)
                    assert images and all(im.dtype == np.uint8 and im.shape[2:] == (3,) for im in images)
                    assert isinstance(text, str) and text
                count["prompts checked"] += n
        env.close()


def reply_corpus(total, seed, marker):
    """Malformed and hostile replies; `marker` is a file that injected code would create."""
    rng = np.random.default_rng(seed)
    injections = [f"__import__('os').system('touch {marker}')", f"open('{marker}', 'w')",
                  f"exec(\"open('{marker}','w')\")", f"eval('__import__(\"os\").system(\"touch {marker}\")')"]
    confusables = ["\u0430ction", "acti\u043en", "ACTION\u200b", "a\u0441tion", "action\u00a0"]
    words = ["thoughts", "action", "+", "-", "hit", "stand", "1", "move forward", "{", "}", "[", "]", ":", ",", '"']
    out = []
    for _ in range(total):
        kind = rng.integers(10)
        if kind == 0:
            body = injections[rng.integers(len(injections))]
            r = [f'{{"action": {body}}}', f'{{"thoughts": "x", "action": "{body}"}}', body][rng.integers(3)]
        elif kind == 1:
            r = "```json\n" + '{"thoughts": "' + "x" * int(rng.integers(0, 50)) + '", "action": ' + "```" * int(rng.integers(1, 3))
        elif kind == 2:
            depth = int(rng.integers(1, 3000))
            r = '{"action": ' * depth + '"+"' + "}" * int(rng.integers(0, depth + 1))
        elif kind == 3:
            r = '{"' + confusables[rng.integers(len(confusables))] + '": "+"}'
        elif kind == 4:
            r = '{"action": "+\x00"}' if rng.random() < 0.5 else "\x00" * int(rng.integers(1, 100))
        elif kind == 5:
            r = '{"thoughts": "' + "y" * 2**20 + '", "action": "+"}'  # 1 MB: beyond the parsed prefix
        elif kind == 6:
            r = "".join(words[i] for i in rng.integers(len(words), size=int(rng.integers(1, 60))))
        elif kind == 7:
            r = bytes(rng.integers(0, 256, size=int(rng.integers(1, 200)), dtype=np.uint8)).decode("latin-1")
        elif kind == 8:
            values = ["null", "true", "1.5", "[1]", '{"a": 1}', "-1", "1" + "0" * 30, '"+" "-"', '"' + "+" * 40 + '"']
            r = '{"action": ' + values[rng.integers(len(values))] + "}"
        else:
            r = '{"thoughts": "' + "\\" * int(rng.integers(1, 5000)) + '", "action": "' + "+" * int(rng.integers(0, 3))
        out.append(r)
    return out


def fuzz_replies(total, seed, count):
    names = ("eval", "exec", "compile", "__import__")
    called = []
    with tempfile.TemporaryDirectory() as tmp:
        marker = Path(tmp) / "pwned"
        corpus = reply_corpus(total, seed, marker)
        symbols = {name: tuple(envs.make(name, 1).action_symbols) for name in CPP_TASKS}
        originals = {n: getattr(builtins, n) for n in names}
        for n in names:  # count calls made while parsing (imports of the parser's own modules happen before)
            setattr(builtins, n, lambda *a, _o=originals[n], _n=n, **k: called.append(_n) or _o(*a, **k))
        try:
            for name in CPP_TASKS:
                for reply in corpus:
                    try:
                        index, ok = parse_action(reply, symbols[name])
                    except Exception:  # noqa: BLE001 -- any exception is what this looks for
                        count["BROKE: the parser raised"] += 1
                        continue
                    count["replies parsed"] += 1
                    count["replies counted invalid"] += not ok
                    count["BROKE: ok but not a legal index"] += ok != (0 <= index < len(symbols[name]))
        finally:
            for n in names:
                setattr(builtins, n, originals[n])
        count["BROKE: code was run (eval/exec/compile/__import__ called)"] += len(called)
        count["BROKE: the injected code's marker file exists"] += marker.exists()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--env-steps", type=int, default=1_000_000)
    p.add_argument("--replies", type=int, default=10_000, help="replies in the corpus (each goes through every task)")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    count = Counter({k: 0 for k in BROKE})
    tic = time.perf_counter()
    fuzz_envs(a.env_steps, a.seed, count)
    t_env = time.perf_counter() - tic
    fuzz_replies(a.replies, a.seed, count)
    print(f"fuzz, seed {a.seed}: envs {t_env:.0f} s, replies {time.perf_counter() - tic - t_env:.0f} s")
    for key in sorted(count, key=lambda k: (k.startswith("BROKE"), k)):
        print(f"  {key:<60} {count[key]:>12,}")
    broke = sum(v for k, v in count.items() if k.startswith("BROKE"))
    print(f"  {'BROKE in all':<60} {broke:>12,}")
    return broke


if __name__ == "__main__":
    sys.exit(1 if main() else 0)
