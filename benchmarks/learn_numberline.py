"""Does `python vldac.py --env gymcards` learn NumberLine from pixels? Runs it (defaults, tiny model,
CPU) for several seeds one after another and prints held-out eval success vs wall time and env steps,
next to the uniformly-random-action level. Writes docs/learn_numberline.png when matplotlib is there.

    python benchmarks/learn_numberline.py                 # 3 seeds, ~7 min each on a 2-core CPU
    python benchmarks/learn_numberline.py --seeds 1 --extra --total-timesteps 8192
"""
import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import envs  # noqa: E402


def random_success(episodes=20_000, seed=12345):
    env = envs.make("gymcards/numberline", 64, seed=seed)
    env.reset()
    rng, successes = np.random.default_rng(seed), []
    while len(successes) < episodes:
        *_, infos = env.step(rng.integers(2, size=64))
        if "_episode" in infos:
            successes += list(infos["episode"]["success"][infos["_episode"]])
    return float(np.mean(successes))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    p.add_argument("--out", default="runs/learn_numberline")
    p.add_argument("--extra", nargs=argparse.REMAINDER, default=[], help="more vldac.py flags")
    a = p.parse_args()
    curves = {}
    for seed in a.seeds:
        run_dir = Path(a.out) / f"seed{seed}"
        if run_dir.exists():
            raise SystemExit(f"{run_dir} exists; pick another --out")
        cmd = [sys.executable, str(ROOT / "vldac.py"), "--env", "gymcards", "--seed", str(seed),
               "--run-dir", str(run_dir), *a.extra]
        print("$", " ".join(cmd), flush=True)
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
        curves[seed] = [(m["time/elapsed"], m["global_step"], m["eval/success_rate"]) for m in rows
                        if "eval/success_rate" in m]
    level = random_success()
    print(f"\nheld-out eval success (NumberLine, tiny model); uniformly random actions: {level:.3f}")
    print(f"{'seed':>4} {'first >= 0.9 at (s, env steps)':>32} {'final success':>14} {'wall s':>8}")
    for seed, curve in curves.items():
        hit = next(((t, s) for t, s, v in curve if v >= 0.9), None)
        reach = f"{hit[0]:.0f} s, {hit[1]}" if hit else "never"
        print(f"{seed:>4} {reach:>32} {curve[-1][2]:>14.3f} {curve[-1][0]:>8.0f}")
    print("\nper-eval curve (seed: wall s / env steps / success)")
    for seed, curve in curves.items():
        print(f"{seed}: " + "  ".join(f"{t:.0f}/{s}/{v:.2f}" for t, s, v in curve))
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return print("matplotlib not installed: no plot")
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for seed, curve in curves.items():
        ax.plot([t / 60 for t, _, _ in curve], [v for *_, v in curve], marker=".", label=f"seed {seed}")
    ax.axhline(level, color="gray", ls="--", label="random actions")
    ax.axhline(0.9, color="green", ls=":", lw=1)
    ax.set(xlabel="wall-clock minutes (2-core CPU, incl. model build + format warm-up)",
           ylabel="held-out success", ylim=(0, 1.02), title="VL-DAC, tiny VLM, NumberLine from pixels")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(ROOT / "docs" / "learn_numberline.png", dpi=100)
    print("wrote docs/learn_numberline.png")


if __name__ == "__main__":
    main()
