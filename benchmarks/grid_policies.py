"""Success rates of fixed action distributions on a grid world: the level an RL run has to beat (uniform
random), the headroom that needs no vision at all (never move back, prefer forward), and two scripted
policies that look: one that only knows whether the box is in view, one that knows where (both read the
box off the frame's pixels, `envs.grid.box_in_view`).

    python benchmarks/grid_policies.py [--task oneroom] [--episodes 2000] [--seed 0]

`--seed 1000001 --num-envs 32` replays the episodes `vldac.py`'s evaluation of a --seed 1 run with
32 envs plays (env i seeded seed + i, the same number of episodes from each env).
"""
import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import envs  # noqa: E402
from envs.grid import box_in_view  # noqa: E402

LEFT, RIGHT, FORWARD = np.eye(4)[:3]
POLICIES = {  # rows: the box on the left / ahead / on the right / not in view; columns: p(turn left),
    # p(turn right), p(move forward), p(move back)
    "uniform random": [(0.25, 0.25, 0.25, 0.25)] * 4,
    "never back": [(1 / 3, 1 / 3, 1 / 3, 0.0)] * 4,
    "never back, forward 0.6": [(0.2, 0.2, 0.6, 0.0)] * 4,
    "never back, forward 0.8": [(0.1, 0.1, 0.8, 0.0)] * 4,
    "box in view: forward, else turn right": [FORWARD, FORWARD, FORWARD, RIGHT],
    "turn toward the box, forward when ahead": [LEFT, FORWARD, RIGHT, RIGHT],
}


def success_rate(task, probs, episodes, num_envs, seed):
    """Each env contributes the same number of episodes (first-finished episodes are the short ones,
    and successes are short)."""
    env = envs.make(task if "/" in task else f"grid/{task}", num_envs, seed=seed)  # or miniworld/..., for the rows that do not look
    obs, _ = env.reset(seed=seed)
    cumulative = np.cumsum(probs, 1)
    rng = np.random.default_rng(seed)
    per_env = -(-episodes // num_envs)
    successes = [[] for _ in range(num_envs)]
    while min(map(len, successes)) < per_env:
        u = rng.random(num_envs)[:, None]  # inverse-CDF sampling from each env's row
        obs, _, _, _, infos = env.step(np.minimum((u >= cumulative[box_in_view(obs)]).sum(1), 3))
        for i in np.flatnonzero(infos.get("_episode", [])):
            successes[i].append(bool(infos["episode"]["success"][i]))
    counted = [s for env_successes in successes for s in env_successes[:per_env]]
    return float(np.mean(counted)), len(counted)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--task", default="oneroom")
    p.add_argument("--episodes", type=int, default=2000)
    p.add_argument("--num-envs", type=int, default=50)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    print(f"| grid/{a.task}, seed {a.seed}, {a.num_envs} envs | episodes | success |\n|---|---:|---:|")
    for name, probs in POLICIES.items():
        rate, n = success_rate(a.task, probs, a.episodes, a.num_envs, a.seed)
        print(f"| {name} | {n} | {rate:.3f} |")
