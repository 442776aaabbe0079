"""ALFWorld env: speed against the engine alone, random-admissible and expert success per task type.

    python benchmarks/bench_alfworld.py                       # default difficulty: 50 random, 200 expert games per type
    python benchmarks/bench_alfworld.py --games 100 --receptacles 2 --distractors 0 --no-speed
    python benchmarks/bench_alfworld.py --no-success                  # the speed table only

Speed: env steps/s of envs.make("alfworld/all", N) under uniformly random admissible commands (resets
included), for N = 1 and 16, next to the engine itself (ALFWorld's AlfredDemangler over TextWorld's
PddlEnv, no caching, on the same games and commands). Success: per task type, over --games games each,
random admissible commands within the step limit (50) over --games games, and the games' expert plans over
--expert-games games.
"""
import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import envs  # noqa: E402
from envs.alfworld import TASK_TYPES, generate_game  # noqa: E402
from envs.textact import derive_seed  # noqa: E402


def env_speed(n, steps, opts, seed=0):
    env, rng = envs.make("alfworld/all", n, seed=seed, **opts), np.random.default_rng(0)
    env.reset()
    tic = time.perf_counter()
    for _ in range(steps):
        env.step([env.sample_action(i, rng) for i in range(n)])
    rate = n * steps / (time.perf_counter() - tic)
    env.close()
    return rate


def engine_speed(steps, opts):
    """The engine as ALFWorld builds it (domain and grammar parsed at every load), random commands."""
    from alfworld.agents.environment.alfred_tw_env import AlfredDemangler
    from textworld import EnvInfos
    from textworld.envs.pddl import PddlEnv
    rng, engine, done, k = np.random.default_rng(0), AlfredDemangler(PddlEnv(EnvInfos(admissible_commands=True, won=True))), 0, 0
    tic = time.perf_counter()
    while done < steps:
        game = generate_game(TASK_TYPES[k % 6], derive_seed(k, 7), **opts)
        engine.load(game)
        state, k = engine.reset(), k + 1
        for _ in range(50):
            commands = state["admissible_commands"]
            state, _, over = engine.step(commands[rng.integers(len(commands))])
            done += 1
            if over or done >= steps:
                break
    return steps / (time.perf_counter() - tic)


def success(task_type, games, opts, expert):
    env, rng, wins = envs.make(f"alfworld/{task_type}", 1, seed=12345, **opts), np.random.default_rng(1), []
    env.reset()
    while len(wins) < games:
        plan = env.expert_commands(0) if expert else None
        for t in range(env.max_steps):
            *_, infos = env.step([plan[t] if expert and t < len(plan) else env.sample_action(0, rng)])
            if infos:
                wins.append(bool(infos["episode"]["success"][0]))
                break
    env.close()
    return float(np.mean(wins))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--games", type=int, default=50, help="games per task type for the random policy")
    p.add_argument("--expert-games", type=int, default=200, help="games per task type for the expert")
    p.add_argument("--no-speed", action="store_true", help="only the success table")
    p.add_argument("--no-success", action="store_true", help="only the speed table")
    p.add_argument("--receptacles", type=int, default=12)
    p.add_argument("--distractors", type=int, default=6)
    p.add_argument("--steps", type=int, default=300, help="env steps per speed measurement")
    p.add_argument("--repeats", type=int, default=3)
    a = p.parse_args()
    opts = dict(receptacles=a.receptacles, distractors=a.distractors)
    print(f"difficulty: {opts}")
    rows = {"engine alone (ALFWorld's wrappers, 1 game)": lambda: engine_speed(a.steps, opts),
            "vldac env, 1 env": lambda: env_speed(1, a.steps, opts),
            "vldac env, 16 envs": lambda: env_speed(16, max(1, a.steps // 16), opts)}
    if not a.no_speed:
        print(f"\n| what | env steps/s, median of {a.repeats} (min–max) |\n|---|---:|")
        for name, fn in rows.items():
            r = [fn() for _ in range(a.repeats)]
            print(f"| {name} | {statistics.median(r):.1f} ({min(r):.1f}–{max(r):.1f}) |", flush=True)
    if a.no_success:
        return
    print(f"\n| task type | random admissible success ({a.games} games) | expert success ({a.expert_games} games) |\n"
          "|---|---:|---:|")
    for tt in TASK_TYPES:
        print(f"| {tt} | {success(tt, a.games, opts, False):.2f} | {success(tt, a.expert_games, opts, True):.3f} |", flush=True)


if __name__ == "__main__":
    main()
