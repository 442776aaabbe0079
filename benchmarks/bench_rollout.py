"""Rollout throughput, before and after the lean generate, measured in the same run.

For the tiny model and a mid-size random-weight config (hidden 1024, 8 layers, 8 heads), both with LoRA,
on NumberLine (8 envs, 2 env steps per rollout):
  before    generate keeps every decode step's fp32 logits and every layer's hidden states (vldac up to
            commit 862c700), LoRA unmerged
  unmerged  per-step sampled log-probs only, the value from the prefill (a hook), LoRA unmerged
  merged    the same with LoRA merged into the base weights while generating (the default)
Prints generate tokens/s, env steps/s and their ratio to `before`; then the cost of --old-logprobs
recompute (one teacher-forced pass per rollout minibatch) as a share of the rollout's time. Medians of
--repeats rollouts after one warm-up.

    python benchmarks/bench_rollout.py [--device cuda] [--sizes tiny,mid]
"""
import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import vldac  # noqa: E402

SIZES = {"tiny": {}, "mid": dict(hidden=1024, layers=8, heads=8)}


@torch.no_grad()
def legacy_generate(policy, samples, greedy=False):
    """The generate vldac used before: output_logits and output_hidden_states on every decode step, scored
    afterwards from the stacked logits; LoRA unmerged. Kept here only as the benchmark's baseline."""
    a = policy.args
    batch, P = vldac.collate(samples, pad_id=policy.pad_id)
    sampling = dict(do_sample=False) if greedy else dict(do_sample=True, temperature=a.temperature, top_p=a.top_p)
    out = policy.model.generate(**policy.to_device(batch), max_new_tokens=a.max_new_tokens, top_k=0,
                                eos_token_id=policy.eos_ids, pad_token_id=policy.pad_id, repetition_penalty=1.0,
                                suppress_tokens=policy.suppress_ids, output_logits=True, output_hidden_states=True,
                                return_dict_in_generate=True, **sampling)
    tokens = out.sequences[:, P:]
    logits = torch.stack(out.logits, 1).float() / a.temperature
    logits[..., policy.suppress_ids] = -float("inf")
    logprobs = logits.log_softmax(-1).gather(-1, tokens[..., None]).squeeze(-1).cpu()
    is_eos = torch.isin(tokens, torch.tensor(policy.eos_ids, device=tokens.device)).cpu()
    replies = [row[: int(e.int().argmax()) + 1] if e.any() else row for row, e in zip(tokens.cpu(), is_eos)]
    values = policy.value(out.hidden_states[0][-1][:, -1]).cpu().numpy()
    return replies, [lp[: len(r)] for lp, r in zip(logprobs, replies)], values


def make_policy(size, args, env):
    if not SIZES[size]:
        return vldac.build_policy(args, env, rng=np.random.default_rng(0))
    real_load = vldac.load_vlm
    vldac.load_vlm = lambda args_, corpus, ckpt=None: vldac.build_tiny_vlm(corpus, **SIZES[size])
    try:
        return vldac.build_policy(vldac.dataclasses.replace(args, format_warmup_steps=0), env,
                                  rng=np.random.default_rng(0))
    finally:
        vldac.load_vlm = real_load


def sync(device):
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cpu")
    p.add_argument("--sizes", default="tiny,mid")
    p.add_argument("--num-envs", type=int, default=8)
    p.add_argument("--repeats", type=int, default=3)
    a = p.parse_args()
    print(f"device: {a.device}, torch threads: {torch.get_num_threads()}, {a.num_envs} envs, LoRA r16, fp32")
    print("| model | generate | tokens/s | env steps/s | vs before | reply tokens | recompute / rollout |\n"
          "|---|---|---:|---:|---:|---:|---:|")
    for size in a.sizes.split(","):
        args = vldac.resolve(vldac.parse_args(["--num-envs", str(a.num_envs), "--num-steps", "2", "--lora",
                                               "--format-warmup-steps", "100", "--max-new-tokens", "32",
                                               "--num-minibatches", "2", "--device", a.device]))
        env = vldac.make_env(args, a.num_envs, args.seed)
        env.reset(seed=args.seed)
        torch.manual_seed(0)
        policy = make_policy(size, args, env)
        policy.freeze_reference()
        for name, p_ in policy.model.named_parameters():  # a trained adapter: merging has something to fold in
            if "lora_B" in name:
                p_.data.normal_(0, 0.01)
        rng, base = np.random.default_rng(0), None
        for variant in ("before", "unmerged", "merged"):
            policy.args = vldac.dataclasses.replace(args, merge_lora=variant == "merged")
            policy.generate = (lambda s, greedy=False: legacy_generate(policy, s, greedy)) if variant == "before" \
                else vldac.Policy.generate.__get__(policy)
            rows = []
            for r in range(a.repeats + 1):  # the first warms up
                sync(a.device)
                tic = time.perf_counter()
                buf, _, data, times = vldac.rollout(policy.args, policy, env, rng)
                sync(a.device)
                wall = time.perf_counter() - tic
                tokens = sum(len(x) for x in data["replies"])
                tic = time.perf_counter()
                for mb in vldac.plan_minibatches(args, len(data["samples"]), rng)[0]:
                    with torch.no_grad():
                        policy.forward(*vldac.collate([data["samples"][i] for i in mb],
                                                      [data["replies"][i] for i in mb], policy.pad_id))
                sync(a.device)
                recompute = time.perf_counter() - tic
                if r:
                    rows.append((tokens / times["generate"], len(data["samples"]) / wall, tokens / len(data["samples"]),
                                 recompute / wall))
            med = np.median(np.array(rows), axis=0)
            base = base or med[0]
            print(f"| {size} | {variant} | {med[0]:.0f} | {med[1]:.1f} | {med[0] / base:.2f}x | {med[2]:.1f} "
                  f"| {100 * med[3]:.0f}% |", flush=True)


if __name__ == "__main__":
    main()
