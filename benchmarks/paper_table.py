"""The paper's comparison in miniature: VL-DAC vs RL4VLM over its thought weight lambda, and VL-DAC's
ablations, on one Gym-Cards task with the tiny model, at a fixed env-step budget, several seeds each.

Every run is `python vldac.py` with the flags below in its own run dir under --out (checkpoints; a run
cut short is continued with --resume). Each final policy is then evaluated, sampled, on the same held-out
episodes for every config and seed (seeds from --eval-seed, disjoint from training), with a Wilson 95%
interval. A finished run leaves a small result file (its periodic evaluations, final evaluation, wall
time) in --results; the script skips the runs that have one, so a sweep can be spread over several
invocations, and the result files (not the run dirs) are what is kept in git. Writes
<results>/paper_table.md, .csv and .png (success vs env steps, mean and min-max over seeds).

    python benchmarks/paper_table.py --jobs 2                        # NumberLine, 3 seeds, 10 configs
    python benchmarks/paper_table.py --task ezpoints --out runs/paper_table_ezpoints
    python benchmarks/paper_table.py --quick --out /tmp/pt          # 1 seed, a few updates: a smoke test
"""
import argparse
import csv
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CONFIGS = {
    "VL-DAC": [],
    **{f"RL4VLM λ={lam}": ["--loss", "rl4vlm", "--thought-coef", str(lam)] for lam in (0.1, 0.3, 0.5, 0.7, 0.9)},
    "VL-DAC, no value warm-up": ["--value-warmup-updates", "0"],
    "VL-DAC, no stop-gradient": ["--no-stop-grad"],
    "VL-DAC, no KL (β = 0)": ["--kl-coef", "0"],
    "VL-DAC, official truncation (no bootstrap)": ["--no-truncation-bootstrap"],
}


def slug(name):  # "RL4VLM λ=0.1" -> "rl4vlm-lambda-0-1"
    name = name.replace("λ", "lambda").replace("β", "beta")
    return "-".join("".join(c if c.isascii() and c.isalnum() else " " for c in name).split()).lower()


def run(name, seed, a):
    """One config x seed: train through vldac.py (resuming a run cut short), evaluate; its result file."""
    result = Path(a.results) / f"{slug(name)}-seed{seed}.json"
    if result.exists():
        return json.loads(result.read_text())
    run_dir = Path(a.out) / f"{slug(name)}-seed{seed}"
    if not (run_dir / "latest").exists():  # killed before its first checkpoint: nothing to resume
        shutil.rmtree(run_dir, ignore_errors=True)
    flags = ["--env", "gymcards", "--task", a.task, "--seed", str(seed), "--total-timesteps", str(a.total_timesteps),
             "--eval-every", str(a.eval_every), "--eval-episodes", str(a.curve_episodes),
             "--checkpoint-every", "8", "--transcripts-every", "0", "--device", "cpu", *a.vldac_flags, *CONFIGS[name]]
    cmd = [sys.executable, str(ROOT / "vldac.py"),
           *(["--resume", str(run_dir)] if (run_dir / "latest").exists() else [*flags, "--run-dir", str(run_dir)])]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": str(a.threads)}
    res = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if res.returncode:
        raise RuntimeError(f"{name} seed {seed} failed:\n{res.stderr[-3000:]}")
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    wall = train_wall(rows)
    out = {"config": name, "seed": seed, "flags": CONFIGS[name] + a.vldac_flags, "task": a.task,
           "total_timesteps": a.total_timesteps, "train_wall_s": round(wall, 1),
           "curve": [(m["global_step"], m["eval/success_rate"]) for m in rows if "eval/success_rate" in m],
           "num_envs": json.loads((run_dir / "args.json").read_text())["num_envs"],
           "final_eval": final_eval(run_dir, a), "eval_seed": a.eval_seed, "eval_episodes": a.eval_episodes}
    result.write_text(json.dumps(out))
    print(f"{name}, seed {seed}: trained in {wall:.0f} s, success {out['final_eval']['success_rate']:.2f}", flush=True)
    return out


def cumulative(rows):
    """metrics.jsonl rows with time/elapsed counted from the run's start over all its processes (killed and
    resumed, or resumed after it ended): time/elapsed restarts with each process."""
    out, offset = [], 0.0
    for prev, m in zip([None] + rows, rows):
        offset += prev["time/elapsed"] if prev and m["time/elapsed"] < prev["time/elapsed"] else 0.0
        out.append({**m, "time/elapsed": offset + m["time/elapsed"]})
    return out


def train_wall(rows):
    """Training wall time over all the processes of a run."""
    return cumulative(rows)[-1]["time/elapsed"] if rows else 0.0


def final_eval(run_dir, a):
    """The run's last checkpoint, sampled, on the shared held-out episodes: in a subprocess (cached)."""
    out = run_dir / "eval_shared.json"
    if not out.exists() or json.loads(out.read_text())["episodes"] < a.eval_episodes:
        subprocess.run([sys.executable, __file__, "--eval-run", str(run_dir), "--eval-seed", str(a.eval_seed),
                        "--eval-episodes", str(a.eval_episodes)], check=True, capture_output=True,
                       env={**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": str(a.threads)})
    return json.loads(out.read_text())


def eval_run(run_dir, a):
    import torch

    import vldac
    ckpt, state = vldac.load_checkpoint(run_dir)
    args = vldac.Args(**state["args"])
    env = vldac.make_env(args, args.num_envs, args.seed)
    env.reset(seed=args.seed)
    policy = vldac.build_policy(args, env, ckpt, np.random.default_rng(0), state)
    env.close()
    torch.manual_seed(a.eval_seed)
    result = vldac.evaluate(dataclasses.replace(args, seed=a.eval_seed), policy, a.eval_episodes)
    (run_dir / "eval_shared.json").write_text(json.dumps(result))


def reference_levels(a, num_envs):
    """{policy: (success, mean return)} of fixed policies on the same held-out episodes (vldac.evaluate's envs
    and quotas): uniformly random actions, one action always (on a task with at most 4 actions), and on
    Blackjack the basic strategy (the highest expected return)."""
    import envs
    from envs.gymcards import blackjack_basic_action
    symbols = envs.make(f"gymcards/{a.task}", 1, seed=0).action_symbols
    policies = {"uniformly random actions": lambda env, rng: rng.integers(len(symbols), size=env.num_envs)}
    policies |= {f"always `{s}`": lambda env, rng, k=k: [k] * env.num_envs for k, s in enumerate(symbols) if len(symbols) <= 4}
    if a.task == "blackjack":
        policies["basic strategy"] = lambda env, rng: [blackjack_basic_action(env.get_state(i)) for i in range(env.num_envs)]
    levels, n = {}, min(num_envs, a.eval_episodes)
    for name, choose in policies.items():
        env = envs.make(f"gymcards/{a.task}", n, seed=a.eval_seed + 1_000_000)
        env.reset()
        rng, ends, quota, done = np.random.default_rng(0), [], -(-a.eval_episodes // n), np.zeros(n, int)
        while (done < quota).any():
            *_, infos = env.step(choose(env, rng))
            for i in np.flatnonzero(infos.get("_episode", np.zeros(n, bool))):
                if done[i] < quota:
                    ends.append((bool(infos["episode"]["success"][i]), float(infos["episode"]["r"][i])))
                    done[i] += 1
        levels[name] = tuple(np.mean(ends, 0).tolist())
    return levels


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--task", default="numberline")
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    p.add_argument("--configs", default="", help="comma-separated subset of the config names ('' = all)")
    p.add_argument("--total-timesteps", type=int, default=16_384)
    p.add_argument("--eval-every", type=int, default=16, help="updates between the curve's evaluations")
    p.add_argument("--curve-episodes", type=int, default=64, help="episodes per curve evaluation")
    p.add_argument("--eval-episodes", type=int, default=512, help="shared held-out episodes for the final evaluation")
    p.add_argument("--eval-seed", type=int, default=777)
    p.add_argument("--jobs", type=int, default=1, help="runs in parallel (each with --threads torch threads)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--quick", action="store_true", help="1 seed and a few tiny updates: checks the pipeline only")
    p.add_argument("--out", default="runs/paper_table", help="run dirs (checkpoints)")
    p.add_argument("--results", default="", help="result files and the table ('' = docs/paper_table/<task>)")
    p.add_argument("--table-only", action="store_true", help="train nothing: the table of the result files there are")
    p.add_argument("--eval-run", default="", help=argparse.SUPPRESS)  # internal: evaluate one run dir
    p.add_argument("vldac_flags", nargs=argparse.REMAINDER, help="after --: more vldac.py flags for every run")
    a = p.parse_args()
    a.vldac_flags = [f for f in a.vldac_flags if f != "--"]
    if a.eval_run:
        return eval_run(Path(a.eval_run), a)
    if a.quick:
        a.seeds, a.total_timesteps, a.eval_every, a.curve_episodes, a.eval_episodes = [1], 32, 2, 8, 16
        a.vldac_flags = ["--num-envs", "8", "--num-steps", "2", "--format-warmup-steps", "5",
                         "--max-new-tokens", "32", *a.vldac_flags]
    names = [n.strip() for n in a.configs.split(",")] if a.configs else list(CONFIGS)
    unknown = [n for n in names if n not in CONFIGS]
    if unknown:
        raise SystemExit(f"unknown configs {unknown}; known: {list(CONFIGS)}")
    a.results = Path(a.results or ROOT / "docs" / "paper_table" / a.task)
    a.results.mkdir(parents=True, exist_ok=True)
    tic = time.perf_counter()
    jobs = [(name, seed) for seed in a.seeds for name in names]  # every config of a seed, then the next seed
    if a.table_only:
        files = {job: a.results / f"{slug(job[0])}-seed{job[1]}.json" for job in jobs}
        results = {job: json.loads(f.read_text()) for job, f in files.items() if f.exists()}
    else:
        with ThreadPoolExecutor(a.jobs) as pool:
            results = dict(zip(jobs, pool.map(lambda job: run(*job, a), jobs)))
    if not results:
        raise SystemExit(f"no result files in {a.results}")
    wall = time.perf_counter() - tic
    missing = [f"{name} seed {s}" for name, s in jobs if (name, s) not in results]
    names = [n for n in names if any((n, s) in results for s in a.seeds)]
    levels = reference_levels(a, next(iter(results.values()))["num_envs"])

    rows, table = [], []
    for name in names:
        seeds = [s for s in a.seeds if (name, s) in results]
        res = [results[(name, s)]["final_eval"] for s in seeds]
        per_seed = [r["success_rate"] for r in res]
        for s, r in zip(seeds, res):
            rows.append({"config": name, "seed": s, "success": r["success_rate"], "ci_low": r["success_ci95_low"],
                         "ci_high": r["success_ci95_high"], "return": r["episodic_return"],
                         "invalid_action_rate": r["invalid_action_rate"],
                         "episodes": r["episodes"], "train_wall_s": results[(name, s)]["train_wall_s"]})
        seeds_text = ", ".join(f"{r['success_rate']:.2f} [{r['success_ci95_low']:.2f}, {r['success_ci95_high']:.2f}]"
                               for r in res)
        table.append(f"| {name} | {np.mean(per_seed):.2f} | {min(per_seed):.2f}–{max(per_seed):.2f} | {seeds_text} | "
                     f"{np.mean([r['episodic_return'] for r in res]):.2f} | {np.mean([r['invalid_action_rate'] for r in res]):.3f} |")
    table += [f"| *{name}* | {success:.2f} | | | {ret:.2f} | |" for name, (success, ret) in levels.items()]
    with open(a.results / "paper_table.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    cmd = "python benchmarks/paper_table.py " + " ".join(sys.argv[1:])
    md = [f"`{cmd}` — {a.task}, tiny model, {a.total_timesteps:,} env steps per run, seeds {a.seeds}; final "
          f"policies sampled on the same {a.eval_episodes} held-out episodes (eval seed {a.eval_seed}); "
          f"fixed policies (in italics) on the same episodes for reference. Training wall time per run "
          f"{min(r['train_wall_s'] for r in rows):.0f}–{max(r['train_wall_s'] for r in rows):.0f} s, "
          f"{sum(r['train_wall_s'] for r in rows) / 3600:.1f} h in all, {a.jobs} runs at a time with {a.threads} "
          f"torch thread(s) each; this invocation {wall / 60:.0f} min."
          + (f" **Incomplete: {len(missing)} runs missing** ({', '.join(missing)})." if missing else ""), "",
          "| config | success, mean over seeds | min–max | per seed [Wilson 95%] | return | invalid-action rate |",
          "|---|---:|---:|---|---:|---:|", *table]
    (a.results / "paper_table.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    plot(names, a, results, levels, a.results / "paper_table.png")


def pyplot():
    """matplotlib.pyplot drawing to files, or None (and a note) where matplotlib is not installed."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        return plt
    except ImportError:
        print("matplotlib not installed: no figure")


def plot(names, a, results, levels, path):
    if (plt := pyplot()) is None:
        return
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for name in names:
        curves = [results[(name, s)]["curve"] for s in a.seeds if (name, s) in results]
        n = min(len(c) for c in curves)
        steps = [step for step, _ in curves[0][:n]]
        values = np.array([[v for _, v in c[:n]] for c in curves])
        line, = ax.plot(steps, values.mean(0), label=name, ls="-" if name.startswith("VL-DAC") else "--")
        ax.fill_between(steps, values.min(0), values.max(0), color=line.get_color(), alpha=0.12)
    constant = max((v for k, v in levels.items() if k.startswith("always")), default=None)
    shown = {k: v for k, v in levels.items() if not k.startswith("always") or v == constant}
    for (name, (level, _)), ls in zip(shown.items(), (":", "--", "-.")):
        ax.axhline(level, color="gray", ls=ls, lw=1, label=name.replace("`", "'"))
    ax.set(xlabel="env steps", ylabel="held-out success (periodic evals)", ylim=(0, 1.02),
           title=f"{a.task}, tiny model: mean and min-max over {len(a.seeds)} seeds")
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
