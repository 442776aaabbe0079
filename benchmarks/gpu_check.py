"""GPU checks, in one script (CUDA needed; nothing in tests/ or CI depends on it):

1. the tiny model (bf16, LoRA) and a tiny local Qwen2.5-VL checkpoint (`--model <path>`, bf16 and LoRA
   by default on CUDA) train for a few updates through `vldac.py`: parameter dtypes,
   losses/initial_ratio_dev (bf16: old log-probs recomputed by default), checkpoint + eval-only;
2. real-size throughput: Qwen2-VL-2B's and -7B's configs with random weights in bf16 with LoRA on
   NumberLine at the env's default 300 px: one rollout step (batched generate), the scoring pass and
   one update, per phase, with peak GPU memory (random weights never stop early: every reply is
   --max-new-tokens long), for the old generate (every step's logits and hidden states, LoRA unmerged,
   generate's log-probs) and the new one with --old-logprobs generate and recompute;
3. `benchmarks/bench_rollout.py --device cuda` (tiny model);
4. the default run `python vldac.py --env gymcards --device cuda` (tiny model, fp32): time to >= 0.9;
5. torchrun on one GPU (`--nproc_per_node 1`: nccl, DDP over LoRA + value head, rank-0 I/O) against the
   plain run with the same args (the tiny Qwen2.5-VL checkpoint, bf16, LoRA), then a resume under torchrun.

    python benchmarks/gpu_check.py --out gpu_check
"""
import argparse
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import time
import traceback
from collections import Counter
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
import tiny_vlm  # noqa: E402
import vldac  # noqa: E402
from bench_rollout import legacy_generate  # noqa: E402
from make_tiny_checkpoint import make_tiny_checkpoint  # noqa: E402

QWEN2_VL = {  # text / vision sizes of the released checkpoints' configs
    "2B": dict(text=dict(hidden_size=1536, intermediate_size=8960, num_hidden_layers=28, num_attention_heads=12,
                         num_key_value_heads=2, vocab_size=151936), vision_hidden=1536, tie=True),
    "7B": dict(text=dict(hidden_size=3584, intermediate_size=18944, num_hidden_layers=28, num_attention_heads=28,
                         num_key_value_heads=4, vocab_size=152064), vision_hidden=3584, tie=False),
    "dry-run": dict(text=dict(hidden_size=256, intermediate_size=512, num_hidden_layers=2, num_attention_heads=2,
                              num_key_value_heads=1, vocab_size=151936), vision_hidden=256, vision_depth=2, tie=True),  # to try the script on a CPU
}
DEVICE = "cuda"


def sync():
    if DEVICE.startswith("cuda"):
        torch.cuda.synchronize()


def section(title):
    print(f"\n## {title}", flush=True)


def param_summary(policy):
    c = Counter((str(p.dtype).replace("torch.", ""), "trainable" if p.requires_grad else "frozen", p.device.type)
                for p in policy.parameters())
    return ", ".join(f"{n} {d} {t} on {dev}" for (d, t, dev), n in sorted(c.items()))


def run_vldac(argv, run_dir, timeout, launcher=()):
    tic = time.perf_counter()
    res = subprocess.run([sys.executable, *launcher, str(ROOT / "vldac.py"), *argv, "--run-dir", str(run_dir)],
                         capture_output=True, text=True, timeout=timeout)
    wall = time.perf_counter() - tic
    if res.returncode:
        print(res.stderr[-3000:])
        raise SystemExit(f"vldac.py {' '.join(argv)} failed")
    metrics = [json.loads(line) for line in (Path(run_dir) / "metrics.jsonl").read_text().splitlines()]
    return metrics, wall


def part1(a, out):
    section("1. bf16 + LoRA through vldac.py on CUDA")
    ckpt_dir = make_tiny_checkpoint(out / "tiny-qwen2.5-vl")
    common = ["--num-envs", "16", "--num-steps", "4", "--total-timesteps", "256", "--eval-every", "0",
              "--eval-episodes", "32", "--device", DEVICE, "--max-new-tokens", "32"]
    for name, argv in [("tiny model, --dtype bfloat16 --lora", ["--dtype", "bfloat16", "--lora"]),
                       ("tiny Qwen2.5-VL checkpoint, defaults (bf16, LoRA)", ["--model", str(ckpt_dir)])]:
        args = vldac.resolve(vldac.parse_args([*common, *argv]))
        env = vldac.make_env(args, 4, 0)
        env.reset(seed=0)
        policy = vldac.build_policy(dataclasses.replace(args, format_warmup_steps=1), env,
                                    rng=np.random.default_rng(0))
        print(f"{name}: dtype={args.dtype} lora={args.lora}; parameters: {param_summary(policy)}")
        del policy
        run_dir = out / name.split(",")[0].replace(" ", "_")
        metrics, wall = run_vldac([*common, *argv], run_dir, timeout=240)
        for m in metrics:
            print(f"  update {m['update']}: initial_ratio_dev "
                  f"{m['losses/initial_ratio_dev']:.2e}, approx_kl {m['losses/approx_kl']:.2e}, "
                  f"ref_kl {m['losses/ref_kl']:.2e}, invalid {m['charts/invalid_action_rate']:.2f}, "
                  f"SPS {m['charts/SPS']:.1f}, generate {m['time/generate']:.2f} s, update {m['time/update']:.2f} s")
        res = subprocess.run([sys.executable, str(ROOT / "vldac.py"), "--eval-only", "--checkpoint", str(run_dir),
                              "--eval-episodes", "16"], capture_output=True, text=True, timeout=120)
        ok = res.returncode == 0 and (sorted(run_dir.glob("ckpt-*"))[-1] / "eval.json").is_file()
        print(f"  wall {wall:.1f} s; eval-only from its checkpoint: {'ok' if ok else 'FAILED'}")
        if not ok:
            print(res.stderr[-2000:])


def real_size(size, num_envs, max_new_tokens, variant):
    """A Qwen2-VL-sized model with random weights (bf16, LoRA, gradient checkpointing) through the
    real rollout / reference / update code; only loading is replaced."""
    from transformers import Qwen2VLConfig, Qwen2VLForConditionalGeneration
    from transformers.models.qwen2_vl import Qwen2VLImageProcessorPil

    argv = ["--model", f"random-qwen2-vl-{size}", "--device", DEVICE, "--num-envs", str(num_envs),
            "--num-steps", "1", "--max-new-tokens", str(max_new_tokens), "--num-minibatches", "4",
            "--total-timesteps", str(num_envs), "--old-logprobs", "recompute" if variant == "recompute" else "generate"]
    args = vldac.resolve(vldac.parse_args(argv))
    env = vldac.make_env(args, num_envs, 0)
    env.reset(seed=0)
    spec = QWEN2_VL[size]

    def load(args_, corpus, ckpt=None):
        _, tiny_processor = vldac.build_tiny_vlm(corpus)
        tok = tiny_processor.tokenizer
        ids = tok.convert_tokens_to_ids
        processor = vldac.image_only_processor(Qwen2VLImageProcessorPil(), tok, tiny_vlm.TINY_CHAT_TEMPLATE)
        config = Qwen2VLConfig(
            text_config=dict(bos_token_id=ids("<|endoftext|>"), eos_token_id=ids("<|im_end|>"),
                             pad_token_id=ids("<|endoftext|>"), rope_parameters={
                                 "rope_type": "default", "rope_theta": 1e6, "mrope_section": [16, 24, 24]},
                             **spec["text"]),
            vision_config=dict(depth=spec.get("vision_depth", 32), embed_dim=1280, hidden_size=spec["vision_hidden"], num_heads=16, mlp_ratio=4),
            image_token_id=ids("<|image_pad|>"), video_token_id=ids("<|video_pad|>"),
            vision_start_token_id=ids("<|vision_start|>"), vision_end_token_id=ids("<|vision_end|>"), tie_word_embeddings=spec["tie"])
        torch.set_default_dtype(torch.bfloat16)  # initialise in bf16 directly: no fp32 copy of 8B weights
        try:
            with torch.device(DEVICE):
                model = Qwen2VLForConditionalGeneration(config)
        finally:
            torch.set_default_dtype(torch.float32)
        return model, processor

    if DEVICE.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    real_load, vldac.load_vlm = vldac.load_vlm, load
    try:
        policy = vldac.build_policy(args, env, rng=np.random.default_rng(0))
    finally:
        vldac.load_vlm = real_load
    policy.freeze_reference()
    if variant == "before":
        policy.generate = lambda samples, greedy=False: legacy_generate(policy, samples, greedy)
    n_params = sum(p.numel() for p in policy.model.parameters())
    optimizer = vldac.make_optimizer(args, policy)
    rng = np.random.default_rng(0)
    rows = []
    for rep in range(3):  # the first warms up
        sync()
        buf, next_value, data, times = vldac.rollout(args, policy, env, rng)
        sync()
        tic = time.perf_counter()
        minibatches = vldac.plan_minibatches(args, num_envs, rng)
        vldac.score_rollout(args, policy, data, buf["values"], minibatches[0])
        sync()
        t_ref = time.perf_counter() - tic
        adv, ret = vldac.compute_gae(buf["rewards"], buf["values"], buf["terminated"], buf["truncated"],
                                     next_value, args.gamma, args.gae_lambda, buf["final_values"])
        tic = time.perf_counter()
        m = vldac.update(args, policy, optimizer, data, adv, ret, buf["values"], False, minibatches)
        sync()
        t_upd = time.perf_counter() - tic
        tokens = sum(len(r) for r in data["replies"])
        if rep:
            rows.append((times["generate"], tokens / times["generate"], times["value"], t_ref, t_upd,
                         m["losses/initial_ratio_dev"]))
    prompt_len = len(data["samples"][0]["input_ids"])
    med = np.median(np.array(rows), axis=0)
    print(f"| Qwen2-VL-{size} config ({n_params / 1e9:.2f}B, random) | {variant} | {num_envs} | {prompt_len} | {max_new_tokens} "
          f"| {med[0]:.2f} | {med[1]:.0f} | {med[2]:.2f} | {med[3]:.2f} | {med[4]:.2f} | {med[5]:.2e} "
          f"| {torch.cuda.max_memory_allocated() / 2**30 if DEVICE.startswith('cuda') else float('nan'):.1f} |", flush=True)
    del policy, optimizer
    if DEVICE.startswith("cuda"):
        torch.cuda.empty_cache()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="gpu_check")
    p.add_argument("--parts", default="12345", help="which of the numbered checks to run")
    p.add_argument("--sizes", default="2B,7B", help="real-size configs for check 2 (dry-run: a small one)")
    p.add_argument("--device", default="cuda", help="cpu only to try the script")
    p.add_argument("--timeout", type=int, default=240, help="seconds for check 4")
    a = p.parse_args()
    global DEVICE
    DEVICE = a.device
    out = Path(a.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    import transformers
    import peft
    print(f"torch {torch.__version__}, transformers {transformers.__version__}, peft {peft.__version__}, "
          f"GPU {torch.cuda.get_device_name() if torch.cuda.is_available() else None}, CPU threads {torch.get_num_threads()}", flush=True)
    for part in a.parts:
        try:
            PARTS[part](a, out)
        except Exception:  # report and go on with the other checks
            traceback.print_exc()


def part2(a, out):
    section("2. real-size throughput: one env step for all envs, its scoring pass, one update (2 epochs x 4 minibatches)")
    print("before: every step's logits + hidden states, LoRA unmerged, generate's log-probs; generate / recompute: "
          "the lean generate, LoRA merged, --old-logprobs generate / recompute")
    print("| model | generate | envs | prompt tokens | reply tokens | generate s | reply tokens/s | V(s_T) pass s "
          "| scoring s | update s | initial_ratio_dev | peak GiB |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for size in a.sizes.split(","):
        for variant in ("before", "generate", "recompute"):
            real_size(size, num_envs=32, max_new_tokens=64, variant=variant)


def part3(a, out):
    section("3. python benchmarks/bench_rollout.py --device cuda")
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_rollout.py"), "--device", DEVICE], timeout=240)


def part4(a, out):
    section("4. python vldac.py --env gymcards --device cuda (defaults)")
    try:
        metrics, _ = run_vldac(["--env", "gymcards", "--device", DEVICE], out / "default_run", timeout=a.timeout)
    except subprocess.TimeoutExpired:
        print(f"stopped after {a.timeout} s")
        metrics = [json.loads(line) for line in (out / "default_run" / "metrics.jsonl").read_text().splitlines()]
    for m in metrics:
        if "eval/success_rate" in m:
            print(f"  update {m['update']:>3}  env steps {m['global_step']:>6}  {m['time/elapsed']:>6.1f} s  "
                  f"held-out success {m['eval/success_rate']:.3f}")
    reached = [m["time/elapsed"] for m in metrics if m.get("eval/success_rate", 0) >= 0.9]
    print(f"  first held-out success >= 0.9 at {reached[0]:.0f} s" if reached else "  held-out success not >= 0.9")
    print(f"  median SPS {np.median([m['charts/SPS'] for m in metrics if 'charts/SPS' in m]):.0f}")


def part5(a, out):
    section("5. torchrun --nproc_per_node 1 (nccl on CUDA, DDP) vs the plain run, then a resume under torchrun")
    ckpt_dir = make_tiny_checkpoint(out / "tiny-qwen2.5-vl")
    argv = ["--model", str(ckpt_dir), "--num-envs", "16", "--num-steps", "4", "--total-timesteps", "256",
            "--eval-every", "0", "--eval-episodes", "16", "--device", DEVICE, "--max-new-tokens", "32"]
    torchrun = ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "1"]
    runs = {}
    for name, launcher in [("plain", ()), ("torchrun", torchrun)]:
        runs[name], wall = run_vldac([*argv, "--checkpoint-every", "2"], out / f"ddp_{name}", 300, launcher)
        print(f"  {name}: wall {wall:.1f} s; per update (initial_ratio_dev, SPS): "
              + ", ".join(f"({m['losses/initial_ratio_dev']:.1e}, {m['charts/SPS']:.0f})" for m in runs[name]))
    resumed = out / "ddp_resumed"
    shutil.rmtree(resumed, ignore_errors=True)
    shutil.copytree(out / "ddp_torchrun", resumed)
    shutil.rmtree(resumed / "ckpt-000004")
    (resumed / "latest").write_text("ckpt-000002")
    res = subprocess.run([sys.executable, *torchrun, str(ROOT / "vldac.py"), "--resume", str(resumed)],
                         capture_output=True, text=True, timeout=300)
    if res.returncode:
        print(res.stderr[-3000:])
        return
    again = [json.loads(line) for line in (resumed / "metrics.jsonl").read_text().splitlines()]
    keys = ("losses/policy_loss", "losses/value_loss", "losses/approx_kl", "charts/episodic_return")
    diff = max(abs(x[k] - y[k]) for x, y in zip(runs["torchrun"][2:], again[2:]) for k in keys if x[k] == x[k])
    print(f"  resumed from ckpt-000002 under torchrun: updates {[m['update'] for m in again]}; "
          f"max |difference| of updates 3-4's losses and return from the uninterrupted run: {diff:.2e}")


PARTS = {"1": part1, "2": part2, "3": part3, "4": part4, "5": part5}

if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    main()
