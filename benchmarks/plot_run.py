"""Learning curves of a run: success, return, KL to the reference and value loss vs env steps.

    pip install -e ".[plot]" && python benchmarks/plot_run.py runs/<run> [--out curves.png]
"""
import argparse
import json
import math
from pathlib import Path


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run_dir", type=Path)
    p.add_argument("--out", type=Path, help="PNG path (default: <run_dir>/curves.png)")
    a = p.parse_args()
    metrics = a.run_dir / "metrics.jsonl"
    if not metrics.is_file():
        raise SystemExit(f"error: no metrics.jsonl in {a.run_dir}")
    rows = [json.loads(line) for line in metrics.read_text().splitlines() if line.strip()]
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [("success rate", ["charts/success_rate", "eval/success_rate"]),
              ("episodic return", ["charts/episodic_return", "eval/episodic_return"]),
              ("KL to reference (k3)", ["losses/ref_kl"]), ("value loss", ["losses/value_loss"])]
    fig, axes = plt.subplots(1, 4, figsize=(16, 3.4))
    for ax, (title, keys) in zip(axes, panels):
        for key in keys:
            pts = [(m["global_step"], m[key]) for m in rows if key in m and not math.isnan(m[key])]
            if pts:
                ax.plot(*zip(*pts), marker="." if key.startswith("eval") else None, label=key)
        ax.set(title=title, xlabel="env steps")
        ax.legend(fontsize=7)
    fig.suptitle(str(a.run_dir))
    fig.tight_layout()
    out = a.out or a.run_dir / "curves.png"
    fig.savefig(out, dpi=90)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
