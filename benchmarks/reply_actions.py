"""What a trained policy does: the actions of its sampled replies (temperature as trained) on the first
decision of held-out episodes (env seed 4242, disjoint from training and evaluation), per run. On Blackjack
the states are also split by the basic strategy's choice, so a policy that reads the cards hits where
the basic strategy hits.

    python benchmarks/reply_actions.py runs/paper_table_blackjack/vl-dac-seed1 [more run or ckpt-* dirs]
"""
import argparse
import collections
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import vldac  # noqa: E402
from envs.gymcards import blackjack_basic_action  # noqa: E402


def reply_actions(run, states, seed=4242):
    """{(state group, action symbol or 'invalid'): count} over `states` first decisions."""
    ckpt, state = vldac.load_checkpoint(run)
    args = vldac.Args(**state["args"])
    env = vldac.make_env(args, states, seed=seed)
    env.reset(seed=seed)
    policy = vldac.build_policy(args, env, ckpt, np.random.default_rng(0), state)
    torch.manual_seed(seed)
    replies = policy.generate(policy.encode([env.prompt(i) for i in range(states)]))[0]
    counts = collections.Counter()
    for i, text in enumerate(policy.decode(replies)):
        action, ok = env.parse_action(text, i)
        group = ""
        if args.task == "blackjack":
            group = "basic says " + env.actions(i)[blackjack_basic_action(env.get_state(i))]
        counts[group, env.actions(i)[action] if ok else "invalid"] += 1
    env.close()
    return counts


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+", help="run dirs (their latest checkpoint) or ckpt-* dirs")
    p.add_argument("--states", type=int, default=128)
    a = p.parse_args()
    torch.set_num_threads(1)
    results = {run: reply_actions(run, a.states) for run in a.runs}
    columns = sorted({key for counts in results.values() for key in counts})
    print(f"`python benchmarks/reply_actions.py {' '.join(sys.argv[1:])}`: the sampled replies' actions on the first decision")
    print("| run | " + " | ".join(f"{g}: {s}".lstrip(": ") for g, s in columns) + " |")
    print("|---|" + "---:|" * len(columns))
    for run, counts in results.items():
        print(f"| {Path(run).name} | " + " | ".join(str(counts[c]) for c in columns) + " |")


if __name__ == "__main__":
    main()
