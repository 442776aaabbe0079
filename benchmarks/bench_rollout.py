"""Rollout throughput of the tiny model on NumberLine: env steps/s, reply tokens/s, per-phase seconds,
and model passes per env step, for N = 1, 8, 32 envs (one batched generate serves all N).

    python benchmarks/bench_rollout.py [--device cuda]
"""
import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import vldac  # noqa: E402


def main(device="cpu", rollouts=5, num_steps=4):
    print(f"device: {device}, torch threads: {torch.get_num_threads()}")
    print(f"{'N':>4} {'env steps/s':>12} {'tokens/s':>10} {'vs N=1':>8} {'generate s':>11} {'value s':>9} "
          f"{'env s':>7} {'update s':>9} {'passes/step':>12}")
    base = None
    for n in (1, 8, 32):
        args = vldac.resolve(vldac.parse_args(["--num-envs", str(n), "--num-steps", str(num_steps),
                                               "--format-warmup-steps", "100", "--device", device]))
        torch.manual_seed(0)
        rng = np.random.default_rng(0)
        env = vldac.make_env(args, n, args.seed)
        env.reset(seed=args.seed)
        policy = vldac.build_policy(args, env, rng=rng)
        policy.freeze_reference()
        optimizer = vldac.make_optimizer(args, policy)
        calls = {"generate": 0, "forward": 0}
        for name in calls:  # count model passes: each generate is one, each forward (the value pass) one
            fn = getattr(policy, name)
            setattr(policy, name, lambda *a, _fn=fn, _name=name, **k: (calls.__setitem__(_name, calls[_name] + 1), _fn(*a, **k))[1])
        rows, passes = [], []
        for r in range(rollouts + 1):  # the first rollout warms up
            calls.update(generate=0, forward=0)
            tic = time.perf_counter()
            buf, next_value, data, times = vldac.rollout(args, policy, env, rng)
            wall = time.perf_counter() - tic
            # passes per env step during the rollout: generate, plus the one V(s_T) + truncation-bootstrap pass
            passes.append((calls["generate"] + calls["forward"]) / num_steps)
            minibatches = vldac.plan_minibatches(args, n * num_steps, rng)
            vldac.score_rollout(args, policy, data, buf["values"], minibatches[0])
            adv, ret = vldac.compute_gae(buf["rewards"], buf["values"], buf["terminated"], buf["truncated"],
                                         next_value, args.gamma, args.gae_lambda, buf["final_values"])
            t_upd = time.perf_counter()
            vldac.update(args, policy, optimizer, data, adv, ret, buf["values"], False, minibatches)
            times["update"] = time.perf_counter() - t_upd
            tokens = sum(len(x) for x in data["replies"])
            if r:
                rows.append((n * num_steps / wall, tokens / wall, times["generate"], times["value"], times["env"],
                             times["update"]))
        med = np.median(np.array(rows), axis=0)
        base = base or med[0]
        print(f"{n:>4} {med[0]:>12.1f} {med[1]:>10.0f} {med[0] / base:>7.1f}x {med[2]:>11.3f} {med[3]:>9.3f} "
              f"{med[4]:>7.4f} {med[5]:>9.3f} {np.mean(passes):>12.2f}")


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--device", default="cpu")
    main(p.parse_args().device)
