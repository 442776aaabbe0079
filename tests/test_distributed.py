"""torchrun with 2 CPU processes (gloo): a 2-rank update is the 1-process update over the same global batch,
a 2-rank run logs once, checkpoints every rank's state and resumes exactly, and a failing rank ends the run."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
SMALL = ["--num-envs", "4", "--num-steps", "2", "--num-minibatches", "2", "--format-warmup-steps", "5",
         "--eval-every", "0", "--eval-episodes", "4", "--checkpoint-every", "1", "--transcripts-every", "1"]


def run(cmd, nproc=None, timeout=300):
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(nproc)]
    res = subprocess.run([*(launcher if nproc else [sys.executable]), *map(str, cmd)], capture_output=True,
                         text=True, timeout=timeout, env=ENV, cwd=ROOT)
    return res, res.stdout + res.stderr


@pytest.fixture(scope="module")
def hub_model(tmp_path_factory):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from make_tiny_checkpoint import make_tiny_checkpoint
    return str(make_tiny_checkpoint(tmp_path_factory.mktemp("hub") / "tiny-qwen2.5-vl"))


@pytest.mark.parametrize("config", ["vldac", "rl4vlm", "hub lora"])
def test_two_rank_update_equals_one_process_update_over_the_same_batch(config, hub_model, tmp_path):
    flags = ["--num-envs", "4", "--num-steps", "2", "--num-minibatches", "2", "--max-new-tokens", "12",
             "--format-warmup-steps", "20", "--learning-rate", "3e-3", "--norm-adv"]
    flags += {"vldac": [], "rl4vlm": ["--loss", "rl4vlm"],
              "hub lora": ["--model", hub_model, "--lora", "--lora-dropout", "0.1"]}[config]
    worker = ROOT / "tests" / "ddp_worker.py"
    one, out1 = run([worker, "parity", tmp_path / "one", *flags])
    two, out2 = run([worker, "parity", tmp_path / "two", *flags], nproc=2)
    assert one.returncode == 0, out1[-3000:]
    assert two.returncode == 0, out2[-3000:]
    w1, w2 = (torch.load(tmp_path / d / "weights.pt", weights_only=True) for d in ("one", "two"))
    start = torch.load(tmp_path / "one" / "start.pt", weights_only=True)
    assert torch.load(tmp_path / "two" / "start.pt", weights_only=True).keys() == start.keys() == w1.keys() == w2.keys()
    moved = {k for k in w1 if not torch.equal(w1[k], start[k])}  # else the test would pass with nothing trained
    assert any(k.startswith("value_head") for k in moved) and any(not k.startswith("value_head") for k in moved)
    for k in w1:  # fp32 summation-order noise, which Adam's g / sqrt(v) scales up where g ~ 0: << 1% of a step
        torch.testing.assert_close(w2[k], w1[k], atol=1e-4, rtol=0, msg=k)
    m1, m2 = (json.loads((tmp_path / d / "metrics.json").read_text()) for d in ("one", "two"))
    for a, b in zip(m1, m2):  # the logged losses are global: the same as one process's
        for k in ("losses/policy_loss", "losses/value_loss", "losses/ref_kl", "losses/explained_variance"):
            assert a[k] == pytest.approx(b[k], rel=1e-4, abs=1e-6), k
    assert m2[1]["losses/initial_ratio_dev"] <= 1e-5  # PPO-exact on every rank


@pytest.fixture(scope="module")
def two_rank_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("ddp") / "run"
    res, out = run([ROOT / "vldac.py", *SMALL, "--total-timesteps", "40", "--run-dir", run_dir], nproc=2)
    assert res.returncode == 0, out[-3000:]
    return run_dir, out


def test_two_rank_run_logs_once_and_checkpoints_every_rank(two_rank_run):
    run_dir, out = two_rank_run
    updates = [json.loads(line)["update"] for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert updates == [1, 2, 3, 4, 5]  # rank 0 logs, once per update
    assert out.count('"env": "gymcards"') == 1  # the args are printed once
    assert not list(run_dir.glob(".tmp-*")) and (run_dir / "latest").read_text() == "ckpt-000005"
    state = torch.load(run_dir / "ckpt-000005" / "state.pt", weights_only=True)
    assert len(state["ranks"]) == 2
    # each rank stepped its shard of the 4 global envs: env i keeps seed + i whatever the world size
    assert [r["env"]["seed"] for r in state["ranks"]] == [1, 3]
    assert state["ranks"][0]["rng"]["numpy"] != state["ranks"][1]["rng"]["numpy"]
    assert [len(r["env"]["rng"]) for r in state["ranks"]] == [2, 2]


def test_two_rank_checkpoint_resumes_exactly_on_two_ranks(two_rank_run, tmp_path):
    run_dir, _ = two_rank_run
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    shutil.rmtree(copy / "ckpt-000005")
    (copy / "latest").write_text("ckpt-000004")  # as if killed after the 4th checkpoint
    res, out = run([ROOT / "vldac.py", "--resume", copy], nproc=2)
    assert res.returncode == 0, out[-3000:]
    lines = [json.loads(line) for line in (copy / "metrics.jsonl").read_text().splitlines()]
    first = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [m["update"] for m in lines] == [1, 2, 3, 4, 5]
    drop = lambda m: {k: v for k, v in m.items() if not k.startswith("time/") and k != "charts/SPS"}  # noqa: E731
    assert drop(lines[4]) == drop(first[4])  # the redone update is the same, bit for bit
    sa, sb = (torch.load(d / "ckpt-000005" / "state.pt", weights_only=True) for d in (run_dir, copy))
    for name in sa["model"]:
        assert torch.equal(sa["model"][name], sb["model"][name]), name
    assert [r["env"] for r in sa["ranks"]] == [r["env"] for r in sb["ranks"]]


def test_resume_with_another_world_size_is_refused(two_rank_run):
    run_dir, _ = two_rank_run
    res, out = run([ROOT / "vldac.py", "--resume", run_dir])
    assert res.returncode != 0
    assert "holds the state of 2 processes; resume it with as many, not 1" in out


def test_num_envs_must_split_evenly_over_ranks(tmp_path):
    res, out = run([ROOT / "vldac.py", *SMALL, "--num-envs", "3", "--run-dir", tmp_path / "run"], nproc=2)
    assert res.returncode != 0 and "--num-envs must be divisible by the number of processes (2)" in out


def test_a_failing_rank_ends_the_whole_run_with_its_error(tmp_path):
    res, out = run([ROOT / "tests" / "ddp_worker.py", "fail", *SMALL, "--total-timesteps", "40",
                    "--run-dir", tmp_path / "run"], nproc=2, timeout=240)  # a hang would hit the timeout
    assert res.returncode != 0
    assert "rank 1 fails on purpose" in out
    assert not (tmp_path / "run" / "latest").exists()  # no update finished, so no checkpoint
