"""How well the tiny model names an admissible ALFWorld command after N format warm-up steps.

The warm-up (vldac.format_warmup: supervised replies with uniformly random admissible commands) is continued
to each N in turn; after each, greedy and sampled replies on 64 held-out prompts (other env seeds, a few random
steps into their games) are parsed with vldac.act, and the share that names an admissible command is printed.

    python benchmarks/alfworld_warmup.py --steps 300,600,1000
"""
import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import vldac  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", default="300,600,1000", help="comma-separated warm-up step counts, increasing")
    p.add_argument("--env-options", default="receptacles=2,distractors=0")
    p.add_argument("--task", default="pick_and_place_simple")
    a = p.parse_args()
    steps = [int(s) for s in a.steps.split(",")]
    if steps != sorted(steps) or steps[0] < 1:
        raise SystemExit("--steps must be positive and increasing")
    args = vldac.resolve(vldac.parse_args(["--env", "alfworld", "--task", a.task, "--env-options", a.env_options,
                                           "--num-envs", "16", "--max-new-tokens", "32", "--device", "cpu",
                                           "--format-warmup-steps", str(steps[0])]))
    torch.manual_seed(1)
    rng, tic = np.random.default_rng(1), time.perf_counter()
    env = vldac.make_env(args, 16, 1)
    env.reset(seed=1)
    policy = vldac.build_policy(args, env, None, rng)
    heldout, hrng = vldac.make_env(args, 64, 99_000), np.random.default_rng(5)
    heldout.reset()
    for _ in range(3):
        heldout.step([heldout.sample_action(i, hrng) for i in range(64)])
    prompts = [heldout.prompt(i) for i in range(64)]
    print("| warm-up steps | greedy replies admissible | sampled replies admissible | seconds |\n|---:|---:|---:|---:|")
    for k, n in enumerate(steps):
        if k:
            vldac.format_warmup(dataclasses.replace(args, format_warmup_steps=n - steps[k - 1]), policy, env, rng)
        valid = [vldac.act(policy, heldout, policy.generate(policy.encode(prompts), greedy=g)[0], hrng)[1].mean()
                 for g in (True, False)]
        print(f"| {n} | {valid[0]:.2f} | {valid[1]:.2f} | {time.perf_counter() - tic:.0f} |", flush=True)


if __name__ == "__main__":
    main()
