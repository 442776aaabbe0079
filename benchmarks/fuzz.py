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
confusable unicode, NUL bytes, 1 MB replies, code injection that would create a marker file, empty / huge /
nested search[...] and click[...]) through every C++ task's parser and every text env's parse_action: it
must return (index, ok) with ok <=> a legal index, never raise, never run code; a text env's parsed action
must then be accepted by step().

    python benchmarks/fuzz.py                       # >= 1M env steps, >= 10k replies per task
    python benchmarks/fuzz.py --env-steps 20000 --replies 500
"""
import argparse
import builtins
import contextlib
import importlib.util
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

CPP_TASKS = [name for name in envs.TASKS if name.startswith(("gymcards/", "grid/"))]  # the families with a C++ core
# text-action envs whose parse_action(reply, i) the replies go through (ALFWorld only where it is installed)
TEXT_TASKS = {"webshop/train": dict(products=200), **({"alfworld/pick_and_place_simple": dict(receptacles=2, distractors=0)}
                                                       if importlib.util.find_spec("alfworld") else {})}
BROKE = ["BROKE: illegal action accepted", "BROKE: a refused action changed the env",
         "BROKE: python restored from the snapshot disagrees", "BROKE: cpp restored from the snapshot disagrees",
         "BROKE: the parser raised", "BROKE: ok but not a legal index",
         "BROKE: code was run (eval/exec/compile/__import__ called)", "BROKE: the injected code's marker file exists",
         "BROKE: step() refused a parsed action"]
CODE_RUNNERS = ("eval", "exec", "compile", "__import__")


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
    words = ["thoughts", "action", "+", "-", "hit", "stand", "1", "move forward", "{", "}", "[", "]", ":", ",", '"',
             "search[", "click[", "buy now", "go to", "take", " ", "\n"]
    texts = ["search[]", "search[" + " " * 50 + "]", "click[]", "click[[buy now]]", "search[" + "q" * 2**20 + "]",
             "search[a]]]", "SEARCH [ shoes ]", "search[running shoes]", "click[buy now]", "click[back to search]", "look",
             "inventory", "Look.", "click[" + "\u0432uy now]", "search[\x00]", "search[{injection}]"]
    out = []
    for _ in range(total):
        kind = rng.integers(11)
        if kind == 10:  # text-action shapes: empty, huge, nested, confusable, injected commands
            body = texts[rng.integers(len(texts))].replace("{injection}", injections[rng.integers(len(injections))])
            r = [f'{{"thoughts": "", "action": {json.dumps(body)}}}', body][rng.integers(2)]
        elif kind == 0:
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


@contextlib.contextmanager
def watching(called):
    """eval / exec / compile / __import__ calls made inside the block are appended to `called` (the parser
    must make none; the engines behind the text envs may, so steps run outside the block)."""
    originals = {n: getattr(builtins, n) for n in CODE_RUNNERS}
    for n in CODE_RUNNERS:
        setattr(builtins, n, lambda *a, _o=originals[n], _n=n, **k: called.append(_n) or _o(*a, **k))
    try:
        yield
    finally:
        for n in CODE_RUNNERS:
            setattr(builtins, n, originals[n])


def parsed(parse, count, called):
    """parse() under watch: (index, ok), or None when it raised (counted)."""
    try:
        with watching(called):
            return parse()
    except Exception:  # noqa: BLE001 -- any exception is what this looks for
        count["BROKE: the parser raised"] += 1
        return None


def fuzz_replies(total, seed, count):
    called = []
    with tempfile.TemporaryDirectory() as tmp:
        marker = Path(tmp) / "pwned"
        corpus = reply_corpus(total, seed, marker)
        for name in CPP_TASKS:
            symbols = tuple(envs.make(name, 1).action_symbols)
            for reply in corpus:
                if (out := parsed(lambda: parse_action(reply, symbols), count, called)) is not None:
                    count["replies parsed"] += 1
                    count["replies counted invalid"] += not out[1]
                    count["BROKE: ok but not a legal index"] += out[1] != (0 <= out[0] < len(symbols))
        fuzz_text_replies(corpus, seed, count, called)
        count["BROKE: code was run (eval/exec/compile/__import__ called)"] += len(called)
        count["BROKE: the injected code's marker file exists"] += marker.exists()


def fuzz_text_replies(corpus, seed, count, called):
    """Every reply through each text env's parse_action on the page it is on; a parsed action must then be
    played by step() (WebShop's free queries are the index len(actions(i))); every 4th reply a random legal
    command moves the env on, so the replies meet varied pages."""
    rng = np.random.default_rng(seed)
    for name, options in TEXT_TASKS.items():
        env = envs.make(name, 1, seed=seed, **options)
        env.reset()
        for k, reply in enumerate(corpus):
            if (out := parsed(lambda: env.parse_action(reply, 0), count, called)) is None:
                continue
            (index, ok), listed = out, len(env.actions(0))
            count["replies parsed"] += 1
            count["replies counted invalid"] += not ok
            count["BROKE: ok but not a legal index"] += ok != (0 <= index < listed or index == listed and
                                                             name.startswith("webshop/"))  # or a free query
            try:
                if ok:
                    env.step([index])
                    count["parsed actions played"] += 1
                if k % 4 == 3:
                    env.step([env.sample_action(0, rng)])
            except (ValueError, IndexError):
                count["BROKE: step() refused a parsed action"] += 1
        env.close()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--env-steps", type=int, default=1_000_000)
    p.add_argument("--replies", type=int, default=10_000, help="replies in the corpus (each goes through every task and text env)")
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
