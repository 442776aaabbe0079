"""1 vs K processes under torchrun, and what DDP all-reduces per update.

1. Throughput: `vldac.py` on the tiny model and NumberLine, the same global envs (--num-envs) and the same
   total threads, run as 1 process and as K processes (gloo on CPU, nccl on CUDA); the median env steps/s
   (charts/SPS) over each run's updates after the first, and its ratio to 1 process.
2. Payload: the trainable weights whose gradients DDP all-reduces at every optimizer step, counted on
   Qwen2-VL-2B's and -7B's configs (built on the meta device: no weights, no download) with vldac's LoRA
   (r 16 on the language model's 7 projections) plus the value head; fp32, as vldac keeps adapters and
   the value head. A ring all-reduce sends and receives 2 (K - 1) / K of it per rank.

    python benchmarks/bench_distributed.py [--procs 2] [--num-envs 16] [--updates 8] [--threads 2] [--repeats 3]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
import vldac  # noqa: E402
from gpu_check import QWEN2_VL  # noqa: E402


def sps(procs, threads, args, run_dir):
    steps = args.num_envs * args.num_steps
    flags = ["--env", "gymcards", "--task", "numberline", "--num-envs", args.num_envs, "--num-steps", args.num_steps,
             "--total-timesteps", steps * args.updates, "--eval-every", "0", "--eval-episodes", args.num_envs,
             "--checkpoint-every", "0", "--transcripts-every", "0", "--format-warmup-steps", "50",
             "--device", args.device, "--run-dir", run_dir]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": str(max(1, threads // procs))}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(procs),
           str(ROOT / "vldac.py"), *map(str, flags)]
    res = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if res.returncode:
        raise SystemExit(res.stdout[-2000:] + res.stderr[-4000:])
    rows = [json.loads(line) for line in (Path(run_dir) / "metrics.jsonl").read_text().splitlines() if
            json.loads(line)["update"] > 1]
    return statistics.median(m["charts/SPS"] for m in rows), statistics.median(m["charts/reply_tokens"] for m in rows)


def trainable_params(size):
    warnings.filterwarnings("ignore", category=FutureWarning)  # transformers' deprecation notes
    from peft import LoraConfig, get_peft_model
    from transformers import Qwen2VLConfig, Qwen2VLForConditionalGeneration
    spec = QWEN2_VL[size]
    config = Qwen2VLConfig(text_config=spec["text"], tie_word_embeddings=spec["tie"], vision_config=dict(
        depth=32, embed_dim=1280, hidden_size=spec["vision_hidden"], num_heads=16, mlp_ratio=4))
    with torch.device("meta"):
        model = Qwen2VLForConditionalGeneration(config)
    a = vldac.Args()
    model = get_peft_model(model, LoraConfig(r=a.lora_r, lora_alpha=a.lora_alpha, lora_dropout=a.lora_dropout,
                                             target_modules=r".*language_model.*\.(q_proj|k_proj|v_proj|o_proj|gate_proj|up_proj|down_proj)"))
    lora = sum(p.numel() for p in model.parameters() if p.requires_grad)
    hidden = spec["text"]["hidden_size"]
    return lora, hidden * 512 + 512 + 512 + 1  # value head: Linear(hidden, 512), GELU, Linear(512, 1)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--procs", type=int, default=2)
    p.add_argument("--threads", type=int, default=2, help="torch threads in all, split over the processes")
    p.add_argument("--num-envs", type=int, default=16)
    p.add_argument("--num-steps", type=int, default=4)
    p.add_argument("--updates", type=int, default=8)
    p.add_argument("--repeats", type=int, default=3, help="runs per configuration, alternating")
    p.add_argument("--device", default="cpu")
    args = p.parse_args()

    print(f"1. env steps/s, tiny model, NumberLine, {args.num_envs} envs x {args.num_steps} steps per update, "
          f"{args.updates} updates (median after the first), {args.threads} threads in all; median (min-max) of "
          f"{args.repeats} runs each")
    results = {1: [], args.procs: []}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.repeats):
            for procs in results:
                results[procs].append(sps(procs, args.threads, args, Path(tmp) / f"run{procs}-{r}"))
    print(f"{'processes':>9} {'threads each':>12} {'env steps/s':>20} {'reply tokens':>12} {'vs 1':>6}")
    base = statistics.median(v for v, _ in results[1])
    for procs, runs in results.items():
        values = [v for v, _ in runs]
        value = statistics.median(values)
        print(f"{procs:>9} {max(1, args.threads // procs):>12} {f'{value:.1f} ({min(values):.1f}-{max(values):.1f})':>20} "
              f"{statistics.median(t for _, t in runs):>12.1f} {value / base:>6.2f}")

    a = vldac.Args()
    steps = a.update_epochs * a.num_minibatches
    print(f"\n2. DDP all-reduce payload per optimizer step (fp32 gradients); {steps} steps per update at the defaults")
    print(f"{'config':>7} {'LoRA params':>12} {'value head':>11} {'MiB per step':>12} {'MiB per update':>14} "
          f"{'MiB sent per rank per step, K=8':>32}")
    for size in ("2B", "7B"):
        lora, head = trainable_params(size)
        mb = 4 * (lora + head) / 2**20
        print(f"{size:>7} {lora:>12,} {head:>11,} {mb:>12.1f} {mb * steps:>14.1f} {mb * 2 * 7 / 8:>32.1f}")


if __name__ == "__main__":
    main()
