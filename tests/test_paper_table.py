"""benchmarks/paper_table.py --quick: every config x seed trains, is evaluated on the shared held-out
episodes and lands in the table (markdown, CSV) with no NaN; a second call reuses the finished runs."""
import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))


@pytest.mark.slow
def test_quick_table_has_every_config_and_seed(tmp_path):
    from paper_table import CONFIGS
    cmd = [sys.executable, str(ROOT / "benchmarks" / "paper_table.py"), "--quick", "--jobs", "2", "--out", str(tmp_path / "runs"),
           "--results", str(tmp_path)]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert res.returncode == 0, res.stderr[-3000:]
    rows = list(csv.DictReader(open(tmp_path / "paper_table.csv")))
    assert [(r["config"], r["seed"]) for r in rows] == [(name, "1") for name in CONFIGS]
    for r in rows:
        success, low, high = float(r["success"]), float(r["ci_low"]), float(r["ci_high"])
        assert 0 <= low <= success <= high <= 1 and int(r["episodes"]) >= 16
        assert 0 <= float(r["invalid_action_rate"]) <= 1 and float(r["train_wall_s"]) > 0
    md = (tmp_path / "paper_table.md").read_text()
    assert all(f"| {name} |" in md for name in CONFIGS) and "nan" not in md.lower()
    assert all(f"| *{name}* |" in md for name in ("uniformly random actions", "always `-`", "always `+`"))
    assert (tmp_path / "paper_table.png").exists() or "no figure" in res.stdout
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert again.returncode == 0 and "trained in" not in again.stdout  # finished runs are not trained again
    assert list(csv.DictReader(open(tmp_path / "paper_table.csv"))) == rows


def test_train_wall_adds_up_the_processes_of_a_resumed_run():
    from paper_table import train_wall
    rows = [{"time/elapsed": t} for t in (0.5, 10, 20, 3, 13, 23, 4)]  # killed after 20 s, then after 23 s; then it ended
    assert train_wall(rows) == 20 + 23 + 4


def test_reference_levels_play_the_held_out_episodes():
    """Fixed policies beside the table: on Blackjack always hitting busts every hand; the others land in range."""
    from types import SimpleNamespace

    from paper_table import reference_levels
    levels = reference_levels(SimpleNamespace(task="blackjack", eval_episodes=64, eval_seed=777), 32)
    assert list(levels) == ["uniformly random actions", "always `stand`", "always `hit`", "basic strategy"]
    assert levels["always `hit`"] == (0.0, -1.0)
    assert all(0 < success < 1 and -1 < ret < 1 for name, (success, ret) in levels.items() if name != "always `hit`")


def test_reply_actions_counts_every_state(tmp_path):
    """benchmarks/reply_actions.py on a tiny Blackjack run: one reply per state, each state grouped by the
    basic strategy's choice and each reply by its action (or invalid)."""
    from reply_actions import reply_actions
    run_dir = tmp_path / "run"
    res = subprocess.run([sys.executable, str(ROOT / "vldac.py"), "--task", "blackjack", "--num-envs", "4", "--num-steps",
                          "2", "--total-timesteps", "8", "--format-warmup-steps", "5", "--eval-every", "0",
                          "--eval-episodes", "4", "--run-dir", str(run_dir)], capture_output=True, text=True, timeout=600,
                         env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert res.returncode == 0, res.stderr[-3000:]
    counts = reply_actions(run_dir, 12)
    assert sum(counts.values()) == 12
    assert {g for g, _ in counts} <= {"basic says hit", "basic says stand"}
    assert {a for _, a in counts} <= {"hit", "stand", "invalid"}
