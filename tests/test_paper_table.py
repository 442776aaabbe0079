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
    assert (tmp_path / "paper_table.png").exists() or "no figure" in res.stdout
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert again.returncode == 0 and "trained in" not in again.stdout  # finished runs are not trained again
    assert list(csv.DictReader(open(tmp_path / "paper_table.csv"))) == rows


def test_train_wall_adds_up_the_processes_of_a_resumed_run():
    from paper_table import train_wall
    rows = [{"time/elapsed": t} for t in (0.5, 10, 20, 3, 13, 23, 4)]  # killed after 20 s, then after 23 s; then it ended
    assert train_wall(rows) == 20 + 23 + 4
