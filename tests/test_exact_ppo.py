"""PPO is exact on the real-model path: the first minibatch's ratio is 1 at every update (LoRA with dropout,
top-p, bf16 with recomputed old log-probs), the sampler is the scored policy, generation keeps no per-step
logits, and merged-LoRA generation is the unmerged policy."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import vldac

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))


@pytest.fixture(scope="module")
def hub_model(tmp_path_factory):
    from make_tiny_checkpoint import make_tiny_checkpoint
    return str(make_tiny_checkpoint(tmp_path_factory.mktemp("hub") / "tiny-qwen2.5-vl"))


def build(argv, warmup_steps=20):
    args = vldac.resolve(vldac.parse_args(["--num-envs", "4", "--num-steps", "2", "--num-minibatches", "2",
                                           "--max-new-tokens", "12", "--format-warmup-steps", str(warmup_steps),
                                           "--value-warmup-updates", "0", "--learning-rate", "3e-3", *argv]))
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    env = vldac.make_env(args, args.num_envs, args.seed)
    env.reset(seed=args.seed)
    policy = vldac.build_policy(args, env, rng=rng)
    policy.freeze_reference()
    return args, policy, env, rng


def initial_ratio_devs(args, policy, env, rng, updates):
    """Runs `updates` policy updates as main() does; the first-minibatch max |ratio - 1| of each."""
    optimizer, devs = vldac.make_optimizer(args, policy), []
    for _ in range(updates):
        buf, next_value, data, _ = vldac.rollout(args, policy, env, rng)
        minibatches = vldac.plan_minibatches(args, len(data["samples"]), rng)
        vldac.score_rollout(args, policy, data, buf["values"], minibatches[0])
        adv, ret = vldac.compute_gae(buf["rewards"], buf["values"], buf["terminated"], buf["truncated"], next_value,
                                     args.gamma, args.gae_lambda, buf["final_values"])
        m = vldac.update(args, policy, optimizer, data, adv, ret, buf["values"], False, minibatches)
        assert m["losses/approx_kl"] > 0 or m["losses/clipfrac"] >= 0  # the update ran on real samples
        devs.append(m["losses/initial_ratio_dev"])
    return devs


def lora_dropout_argv(hub_model):
    return ["--model", hub_model, "--lora", "--lora-dropout", "0.1", "--dtype", "float32"]


def test_lora_with_dropout_keeps_the_ratio_at_one_every_update(hub_model):
    args, policy, env, rng = build(lora_dropout_argv(hub_model))
    assert args.old_logprobs == "generate" and any(isinstance(m, torch.nn.Dropout) for m in policy.modules())
    devs = initial_ratio_devs(args, policy, env, rng, updates=4)
    assert max(devs) <= 1e-5, devs


def test_the_metric_catches_dropout_in_the_update(hub_model, monkeypatch):
    """The same run with the update's dropout switched back on: the ratio leaves 1 once LoRA is nonzero."""
    monkeypatch.setattr(vldac.Policy, "train", torch.nn.Module.train)
    args, policy, env, rng = build(lora_dropout_argv(hub_model))
    devs = initial_ratio_devs(args, policy, env, rng, updates=3)
    assert max(devs[1:]) > 1e-3, devs


def test_top_p_scores_the_sampled_nucleus(hub_model):
    args, policy, env, rng = build(lora_dropout_argv(hub_model) + ["--top-p", "0.8"])
    devs = initial_ratio_devs(args, policy, env, rng, updates=3)
    assert max(devs) <= 1e-5, devs
    # the scored distribution is the nucleus: the fewest most likely tokens whose mass reaches 0.8, renormalised
    logits = torch.randn(3, 5, 50) * 3
    dist = policy.log_dist(logits).exp()
    full = policy.log_dist(logits, sampled=False).exp()
    torch.testing.assert_close(dist.sum(-1), torch.ones(3, 5))
    for row, p in zip(dist.reshape(-1, 50), full.reshape(-1, 50)):
        sorted_p = p.sort(descending=True).values
        k = int((sorted_p.cumsum(0) < 0.8).sum()) + 1  # the nucleus size
        assert int((row > 0).sum()) == k
        torch.testing.assert_close(row[row > 0], p[row > 0] / p[row > 0].sum())


@pytest.mark.parametrize("model", ["tiny", "hub", "hub, gradient checkpointing"])
def test_bfloat16_with_recomputed_old_logprobs_is_exact(model, hub_model):
    argv = ["--dtype", "bfloat16"] + (["--model", hub_model, "--lora", "--lora-dropout", "0.1"] if "hub" in model else [])
    args, policy, env, rng = build(argv)
    assert args.old_logprobs == "recompute"  # auto: recompute outside float32
    if "checkpointing" in model:  # as vldac does on CUDA: the train-mode passes run checkpointed
        policy.model.gradient_checkpointing_enable({"use_reentrant": False})
    devs = initial_ratio_devs(args, policy, env, rng, updates=3)
    assert max(devs) <= 1e-6, devs


def test_bfloat16_generate_logprobs_are_reported_off_one():
    """With --old-logprobs generate in bf16 the metric shows what recompute fixes: it can fail."""
    args, policy, env, rng = build(["--dtype", "bfloat16", "--old-logprobs", "generate"])
    devs = initial_ratio_devs(args, policy, env, rng, updates=1)
    assert devs[0] > 1e-3, devs


def test_values_agree_between_the_prefill_hook_and_the_teacher_forced_pass(hub_model):
    args, policy, env, rng = build(lora_dropout_argv(hub_model))
    buf, _, data, _ = vldac.rollout(args, policy, env, rng)
    generated = buf["values"].copy()
    minibatches = vldac.plan_minibatches(args, len(data["samples"]), rng)
    vldac.score_rollout(vldac.dataclasses.replace(args, old_logprobs="recompute"), policy, data, buf["values"],
                        minibatches[0])
    np.testing.assert_allclose(generated, buf["values"], atol=1e-5, rtol=0)


@pytest.mark.parametrize("dtype,atol", [("float32", 1e-5), ("bfloat16", 0.1)])
def test_merged_lora_generation_is_the_unmerged_policy(hub_model, dtype, atol):
    args, policy, env, _ = build(["--model", hub_model, "--lora", "--dtype", dtype, "--max-new-tokens", "8"])
    torch.manual_seed(3)
    for name, p in policy.model.named_parameters():
        if "lora_B" in name:  # a trained adapter (B starts at zero: merged would equal unmerged trivially)
            p.data.normal_(0, 0.05)
    base = {n: p.detach().clone() for n, p in policy.model.named_parameters() if "lora_" not in n}
    samples = policy.encode([env.prompt(i) for i in range(env.num_envs)])
    lora_calls = []
    lora_A = next(m for n, m in policy.model.named_modules() if n.endswith("lora_A.default"))
    lora_A.register_forward_hook(lambda *_: lora_calls.append(1))
    merged = policy.generate(samples, greedy=True)
    assert not lora_calls  # merged: the adapter's own matmuls never ran
    policy.args = vldac.dataclasses.replace(args, merge_lora=False)
    unmerged = policy.generate(samples, greedy=True)
    assert lora_calls
    if dtype == "float32":
        for a, b in zip(merged[0], unmerged[0]):
            assert torch.equal(a, b)
        for a, b in zip(merged[1], unmerged[1]):
            torch.testing.assert_close(a, b, atol=atol, rtol=0)
    # in bf16 a greedy near-tie may break either way, so compare the two policies on the same replies
    batch = vldac.collate(samples, unmerged[0], policy.pad_id)
    unmerged_lp = policy.forward(*batch)[0]
    policy.args, calls = args, len(lora_calls)
    with policy.merged_lora():
        merged_lp = policy.forward(*batch)[0]
    assert len(lora_calls) == calls  # merged: the adapter's own matmuls never ran
    torch.testing.assert_close(merged_lp, unmerged_lp, atol=atol, rtol=0)
    after = dict(policy.model.named_parameters())
    assert all(torch.equal(base[n], after[n]) for n in base)  # the base weights are restored bit for bit


def test_hub_generation_defaults_do_not_change_the_sampler():
    """A hub generation_config (here: no token may repeat one already in the prompt or reply) must not
    apply: the sampler is exactly the scored policy."""
    args, policy, env, rng = build([], warmup_steps=0)
    policy.model.generation_config.no_repeat_ngram_size = 1
    policy.model.generation_config.repetition_penalty = 3.0
    policy = vldac.Policy(policy.model, policy.processor, args)
    samples = policy.encode([env.prompt(i) for i in range(env.num_envs)])
    replies, logprobs, _ = policy.generate(samples)
    scored = policy.forward(*vldac.collate(samples, replies, policy.pad_id))[0]
    for i, reply in enumerate(replies):
        torch.testing.assert_close(logprobs[i], scored[i, : len(reply)], atol=1e-5, rtol=0)
    repeats = [len(set(r.tolist()) & set(s["input_ids"].tolist())) + len(r) - len(set(r.tolist()))
               for r, s in zip(replies, samples)]
    assert sum(repeats) > 0  # what no_repeat_ngram_size=1 forbids did happen


MEMORY_SCRIPT = """
import json, resource, sys, torch, vldac
from transformers import Qwen2VLConfig, Qwen2VLForConditionalGeneration
args = vldac.resolve(vldac.parse_args(["--max-new-tokens", sys.argv[1], "--num-envs", "8"]))
env = vldac.make_env(args, 8, 0)
env.reset(seed=0)
corpus = [env.prompt(i)[1] for i in range(8)]
model, processor = vldac.build_tiny_vlm(corpus)
config = model.config.to_dict()
config["text_config"]["vocab_size"] = 65536  # a real-size vocabulary: full logits are 8 x 65536 x 4 B a step
torch.manual_seed(0)
policy = vldac.Policy(Qwen2VLForConditionalGeneration(Qwen2VLConfig(**config)), processor, args)
samples = policy.encode([env.prompt(i) for i in range(8)])
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
replies, _, _ = policy.generate(samples)
print(json.dumps({"grew_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before,
                  "tokens": max(len(r) for r in replies)}))
"""


def test_rollout_memory_does_not_grow_with_vocab_times_reply_length():
    """Peak RSS of one generate at 8 vs 160 new tokens, vocab 65536, batch 8: keeping every step's fp32 logits
    would add ~160 x 8 x 65536 x 4 B = 335 MB per copy."""
    grew = {}
    for n in (8, 160):
        out = subprocess.run([sys.executable, "-c", MEMORY_SCRIPT, str(n)], capture_output=True, text=True,
                             cwd=ROOT, timeout=300)
        assert out.returncode == 0, out.stderr[-2000:]
        grew[n] = json.loads(out.stdout.strip().splitlines()[-1])
    assert grew[160]["tokens"] >= 100, grew  # the long run did generate long replies
    assert grew[160]["grew_kib"] - grew[8]["grew_kib"] < 64 * 1024, grew
