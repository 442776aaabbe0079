"""Can the built-in model represent a good ALFWorld choice at all? Behaviour cloning of the expert, as a probe.

After vldac's format warm-up, supervised steps whose target reply names the expert's next command, on the
states the expert's own episodes pass through (16 envs, each following its game's expert plan). After each
step count in --steps: greedy replies on 64 held-out states (other seeds, the first 4 steps of their expert
episodes) are scored against the expert's command there, and the policy plays --episodes
held-out episodes greedily (vldac.evaluate: success, invalid replies). This is not how vldac trains (that is
RL); it separates "the model cannot express the choice" from "RL does not find it".

    python benchmarks/alfworld_bc.py --env-options receptacles=2,distractors=0,numbered=2 --steps 300,1000
"""
import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import vldac  # noqa: E402


def expert_label(env, i, step):
    """The index into env.actions(i) of env i's expert command at `step` of its episode."""
    index, ok = env.parse_action(vldac.reply_text("", env.expert_commands(i)[step]), i)
    assert ok, (env.expert_commands(i)[step], env.actions(i))
    return index


@torch.no_grad()
def heldout_choices(args, policy, rounds=4):
    """Greedy replies on the states of 16 held-out envs (seed 99,000) walked along their expert plans for
    `rounds` steps (64 states, the same every call): the share naming the expert's command, and an admissible one."""
    env, rng, right, valid = vldac.make_env(args, 16, 99_000), np.random.default_rng(5), [], []
    env.reset()
    policy.eval()
    for _ in range(rounds):
        labels = [expert_label(env, i, len(env._played[i])) for i in range(16)]
        replies = policy.generate(policy.encode([env.prompt(i) for i in range(16)]), greedy=True)[0]
        chosen, ok = vldac.act(policy, env, replies, rng)
        right += list(np.equal(chosen, labels) & ok)
        valid += list(ok)
        env.step(labels)
    env.close()
    return float(np.mean(right)), float(np.mean(valid))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", default="300,1000", help="comma-separated supervised step counts, increasing")
    p.add_argument("--env-options", default="receptacles=2,distractors=0,numbered=2")
    p.add_argument("--task", default="pick_and_place_simple")
    p.add_argument("--episodes", type=int, default=64, help="held-out episodes played greedily after each count")
    a = p.parse_args()
    steps = [int(s) for s in a.steps.split(",")]
    if steps != sorted(steps) or steps[0] < 1:
        raise SystemExit("--steps must be positive and increasing")
    args = vldac.resolve(vldac.parse_args(["--env", "alfworld", "--task", a.task, "--env-options", a.env_options,
                                           "--num-envs", "16", "--max-new-tokens", "32", "--device", "cpu"]))
    torch.manual_seed(1)
    rng, tic = np.random.default_rng(1), time.perf_counter()
    env = vldac.make_env(args, 16, 1)
    env.reset(seed=1)
    policy = vldac.build_policy(args, env, None, rng)  # includes the format warm-up on random commands
    env.reset(seed=2)  # the warm-up left the episodes off their expert paths
    optimizer = torch.optim.AdamW(policy.model.parameters(), lr=1e-3)
    tok, eos, done = policy.processor.tokenizer, torch.tensor([policy.eos_ids[0]]), 0
    print(f"| supervised steps | greedy replies = expert's command (64 states) | admissible | greedy success "
          f"({a.episodes} episodes) | seconds |\n|---:|---:|---:|---:|---:|")
    for n in steps:
        for _ in range(n - done):
            policy.train()
            samples = policy.encode([env.prompt(i) for i in range(16)])
            actions = [expert_label(env, i, len(env._played[i])) for i in range(16)]
            replies = [torch.cat([torch.tensor(tok.encode(vldac.reply_text("", env.actions(i)[k]))), eos])
                       for i, k in enumerate(actions)]
            batch, P = vldac.collate(samples, replies, policy.pad_id)
            loss = -vldac.masked_mean(policy.forward(batch, P)[1], batch["attention_mask"][:, P:])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            env.step(actions)
        done = n
        right, valid = heldout_choices(args, policy)
        played = vldac.evaluate(args, policy, a.episodes, greedy=True)
        print(f"| {n} | {right:.2f} | {valid:.2f} | "
              f"{played['success_rate']:.2f} [{played['success_ci95_low']:.2f}, {played['success_ci95_high']:.2f}] | "
              f"{time.perf_counter() - tic:.0f} |", flush=True)


if __name__ == "__main__":
    main()
