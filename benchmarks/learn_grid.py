"""Does the tiny model learn navigation by sight? vldac.py on grid/<task> or miniworld/<Task> (its perception warm-up, then
VL-DAC) for a wall-time budget per seed, evaluated on held-out episodes as it goes, with the levels of
uniformly random actions and of a vision-free policy (never move back) on the same episodes beside it.

    python benchmarks/learn_grid.py [--task oneroom | miniworld/OneRoom] [--seeds 1 2 3] [--minutes 30] [more vldac.py flags]

Each seed's run lives in --out/<task>-seed<seed> (checkpoints at every evaluation): a run stopped by the
budget or killed is continued with --resume by the next call until its budget (the wall time of all its
processes) is spent. Its result (held-out success vs wall time, the perception warm-up's caption accuracy
and its share of the time) goes to --results/<task>-seed<seed>.json; then a table of all seeds is printed
and drawn (--results/<task>.png, with matplotlib); --table-only does just that.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from grid_policies import POLICIES, success_rate  # noqa: E402
from paper_table import cumulative, pyplot, train_wall  # noqa: E402

FLAGS = ["--num-envs", "32", "--num-steps", "16", "--total-timesteps", "10000000", "--learning-rate", "3e-4",
         "--lr-warmup-updates", "10", "--kl-coef", "0.01", "--no-norm-adv", "--invalid-action", "penalty",
         "--invalid-penalty", "-0.1", "--max-new-tokens", "32", "--transcripts-every", "10"]


def result_file(a, seed):
    return Path(a.results) / f"{a.task.replace('/', '-')}-seed{seed}.json"


def metrics(run_dir):
    path = run_dir / "metrics.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def train(task, seed, a, extra):
    """Run (or continue, after a kill) one seed for what is left of its wall-time budget; its metrics rows."""
    run_dir = Path(a.out) / result_file(a, seed).stem
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": str(a.threads)}
    if (run_dir / "latest").exists():
        cmd = ["--resume", str(run_dir)]
    else:
        world, _, name = task.rpartition("/")
        cmd = ["--env", world or "grid", "--task", name, "--seed", str(seed), "--eval-every", str(a.eval_every),
               "--checkpoint-every", str(a.eval_every), "--eval-episodes", str(a.eval_episodes),
               *FLAGS, *extra, "--run-dir", str(run_dir)]
        shutil.rmtree(run_dir, ignore_errors=True)  # killed before its first checkpoint
    if (left := a.minutes * 60 - train_wall(metrics(run_dir))) > 0:
        try:  # SIGKILL at the budget's end: what ran after the last checkpoint is lost
            res = subprocess.run([sys.executable, str(ROOT / "vldac.py"), *cmd], env=env, timeout=left,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            if res.returncode:
                raise SystemExit(f"seed {seed} failed:\n{res.stderr[-3000:]}")
        except subprocess.TimeoutExpired:
            pass
    return [m for m in cumulative(metrics(run_dir)) if m["update"] == 0 or m["time/elapsed"] <= a.minutes * 60]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--task", default="oneroom")
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    p.add_argument("--minutes", type=float, default=30)
    p.add_argument("--eval-every", type=int, default=10)
    p.add_argument("--eval-episodes", type=int, default=128)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", default="runs/learn_grid")
    p.add_argument("--results", default=str(ROOT / "docs" / "learn_grid"))
    p.add_argument("--table-only", action="store_true", help="print and draw the seeds' results, run nothing")
    a, extra = p.parse_known_args()
    Path(a.results).mkdir(parents=True, exist_ok=True)
    for seed in [] if a.table_only else a.seeds:
        rows = train(a.task, seed, a, extra)
        start = next((m for m in rows if m["update"] == 0), {})
        base = {name: success_rate(a.task, POLICIES[name], a.eval_episodes, 32, seed + 1_000_000)[0]
                for name in ("uniform random", "never back")}
        out = {"task": a.task, "seed": seed, "minutes": a.minutes, "flags": FLAGS + extra, "threads": a.threads,
               "perception": {k[len("perception/"):]: v for k, v in start.items() if k.startswith("perception/")},
               "perception_s": start.get("perception/seconds"), "baselines": base, "eval_episodes": a.eval_episodes,
               "curve": [(round(m["time/elapsed"]), m["global_step"], m["eval/success_rate"]) for m in rows
                         if "eval/success_rate" in m]}
        result_file(a, seed).write_text(json.dumps(out))
    results = {seed: json.loads(result_file(a, seed).read_text()) for seed in a.seeds}
    first = results[a.seeds[0]]
    more = " ".join([*first["flags"][len(FLAGS):], *(["--threads", str(first["threads"])] if "threads" in first else [])])
    print(f"`python benchmarks/learn_grid.py --task {a.task} --minutes {first['minutes']:g} {more}` — held-out success "
          f"({first['eval_episodes']} episodes) vs wall time, this machine\n")
    print("| seed | perception: steps, held-out caption accuracy, wall time | held-out success: (s, env steps, success) | "
          "uniform random | never back |\n|---|---|---|---:|---:|")
    for seed, r in results.items():
        per = r["perception"]
        fields = ", ".join(f"{k} {v:.2f}" for k, v in per.items() if k in ("all", "box in view", "where"))
        perception = f"{per['steps']} steps, {fields}, {r['perception_s']:.0f} s" if per else "off"
        curve = ", ".join(f"({t}, {n}, {s:.2f})" for t, n, s in r["curve"])
        print(f"| {seed} | {perception} | {curve} | {r['baselines']['uniform random']:.3f} | {r['baselines']['never back']:.3f} |")
    plot(a.task, results, Path(a.results) / f"{a.task.replace('/', '-')}.png")


def plot(task, results, path):
    if (plt := pyplot()) is None:
        return
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for seed, r in results.items():
        t, _, s = zip(*r["curve"])
        line, = ax.plot([x / 60 for x in t], s, marker="o", label=f"seed {seed}")
        ax.axhline(r["baselines"]["uniform random"], color=line.get_color(), ls=":", lw=1)
    ax.set(xlabel="wall time, minutes (the first point ends the perception stage)",
           ylabel=f"held-out success ({r['eval_episodes']} episodes)", ylim=(0, 1.02), xlim=(0, r["minutes"]),
           title=f"{task}, tiny model (dotted: uniformly random actions)")
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
