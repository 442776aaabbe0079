"""WebShop env: random-button and rule policies on the held-out goals, and env speed.

    python benchmarks/bench_webshop.py                          # 500 held-out goals of the 10k-product catalog
    python benchmarks/bench_webshop.py --data-dir /data/webshop # the same on WebShop's own data files, too

Policies, over every goal of webshop/test (500 with the default catalog), one episode each, 15 steps:
- random: a uniformly random admissible command each step (on the search page: one of the listed queries);
- random, buy on an item page: random commands until an item page opens, then buy (what the built-in model
  learned first, docs/results.md);
- rule: WebShop's rule baseline - search the instruction (without its price clause), click the first
  result, buy;
- rule + options: the same, also clicking, per option, the value the instruction names ("size: large", else
  the longest value found in it).
The original WebShop paper's rule baseline (score 45.6, success 9.6%, on its real data and human
instructions) is printed beside as the reference point; score = 100 x mean reward.

Speed: env steps/s of envs.make("webshop", N) under random admissible commands, each step with the N
prompts a rollout builds (resets included), for N = 1 and 16; the shop's build time (catalog + BM25 index).
"""
import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import envs  # noqa: E402
from envs import webshop_catalog  # noqa: E402

PAPER_RULE = (45.6, 9.6)  # WebShop (Yao et al., 2022), Table 2: rule baseline score and success %


def rule_command(game, options: bool) -> str:
    """The rule policy's next command for one shop session."""
    if game.view == "search":
        return game.commands[0]  # the instruction without its price clause
    if game.view == "results":
        return f"click[{game.shop.products[game.results[0]].asin}]" if game.results else "click[back to search]"
    if game.view != "item":
        return "click[< prev]"
    if options:
        wanted = game.task.lower()
        for name, values in game.option_values.items():  # "name: value" as the generated goals say it, else the
            named = [v for v in values if f"{name}: {v}".lower() in wanted]  # longest value the instruction holds
            value = max(named or [v for v in values if v.lower() in wanted], key=len, default=None)
            if value is not None and game.chosen.get(name) != value:
                return f"click[{value}]"
    return "click[buy now]"


def command(policy, env, i, rng):
    game = env.games[i]
    if policy.startswith("rule"):
        return rule_command(game, options=policy == "rule + options")
    return "click[buy now]" if policy == "random, buy on an item page" and game.view == "item" else env.sample_action(i, rng)


def evaluate(policy, opts, num_envs=50, seed=0):
    """Mean reward and success over every held-out goal, one episode each (env i's k-th episode plays goal
    i + k * num_envs)."""
    goals = len(envs.make("webshop/test", 1, **opts).shop.test_goals)  # the shop is built once per process
    num_envs = max(n for n in range(1, min(num_envs, goals) + 1) if goals % n == 0)
    env, rng = envs.make("webshop/test", num_envs, seed=seed, **opts), np.random.default_rng(0)
    env.reset()
    episodes, rewards, wins = np.zeros(num_envs, int), [], []
    target = goals // num_envs
    while (episodes < target).any():
        actions = [command(policy, env, i, rng) for i in range(num_envs)]
        _, reward, term, trunc, infos = env.step(actions)
        for i in np.flatnonzero(term | trunc):
            if episodes[i] < target:
                rewards.append(float(reward[i]))
                wins.append(bool(infos["episode"]["success"][i]))
            episodes[i] += 1
    return float(np.mean(rewards)), float(np.mean(wins)), len(rewards)


def env_speed(n, steps, opts):
    env, rng = envs.make("webshop", n, seed=0, **opts), np.random.default_rng(0)
    env.reset()
    tic = time.perf_counter()
    for _ in range(steps):
        env.step([env.sample_action(i, rng) for i in range(n)])
        [env.prompt(i) for i in range(n)]
    return n * steps / (time.perf_counter() - tic)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--products", type=int, default=10_000, help="generated catalog size")
    p.add_argument("--data-dir", default="", help="WebShop's data files: also measure the policies on them")
    p.add_argument("--data-products", type=int, default=1_000_000, help="products to load from --data-dir")
    p.add_argument("--no-speed", action="store_true", help="only the policy table")
    p.add_argument("--steps", type=int, default=2000, help="env steps per speed measurement")
    p.add_argument("--repeats", type=int, default=3)
    a = p.parse_args()
    catalogs = {f"generated, {a.products} products": dict(products=a.products)}
    if a.data_dir:
        catalogs[f"WebShop data ({a.data_dir})"] = dict(products=a.data_products, data_dir=a.data_dir)
    print("| catalog | policy | goals | mean reward | score | success |\n|---|---|---:|---:|---:|---:|")
    for catalog, opts in catalogs.items():
        for policy in ("random", "random, buy on an item page", "rule", "rule + options"):
            mean, success, n = evaluate(policy, opts)
            print(f"| {catalog} | {policy} | {n} | {mean:.3f} | {100 * mean:.1f} | {100 * success:.1f}% |", flush=True)
    print(f"| WebShop paper (real data, human goals) | rule | 500 | {PAPER_RULE[0] / 100:.3f} | {PAPER_RULE[0]} | "
          f"{PAPER_RULE[1]}% |")
    if a.no_speed:
        return
    builds = []
    for k in range(a.repeats):
        tic = time.perf_counter()
        webshop_catalog.get_shop(a.products, 1000 + k)
        builds.append(time.perf_counter() - tic)
    print(f"\nshop build ({a.products} products: catalog + BM25 index): median {statistics.median(builds):.2f} s "
          f"of {a.repeats}")
    opts = dict(products=a.products)
    print(f"\n| envs | env steps/s with prompts, median of {a.repeats} (min–max) |\n|---:|---:|")
    for n in (1, 16):
        r = [env_speed(n, max(1, a.steps // n), opts) for _ in range(a.repeats)]
        print(f"| {n} | {statistics.median(r):.0f} ({min(r):.0f}–{max(r):.0f}) |", flush=True)


if __name__ == "__main__":
    main()
