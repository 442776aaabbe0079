"""Runs users can trust: atomic checkpoints, exact resume after SIGKILL, eval with CIs, clear errors."""
import importlib.machinery
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
import types
from pathlib import Path

import pytest
import torch

import vldac

ROOT = Path(__file__).resolve().parents[1]
SMALL = ["--num-envs", "4", "--num-steps", "2", "--format-warmup-steps", "5", "--eval-every", "0",
         "--eval-episodes", "4", "--checkpoint-every", "1", "--transcripts-every", "1"]
ENV = {**os.environ, "HF_HUB_OFFLINE": "1"}


def run(args, env=ENV, **kw):
    return subprocess.run([sys.executable, str(ROOT / "vldac.py"), *args], capture_output=True, text=True,
                          timeout=600, env=env, **kw)


def last_metrics(run_dir):
    by_update = {}
    for line in (run_dir / "metrics.jsonl").read_text().splitlines():
        m = json.loads(line)
        by_update[m["update"]] = {k: v for k, v in m.items() if not k.startswith("time/") and k != "charts/SPS"}
    return by_update


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("a") / "run"
    res = run([*SMALL, "--total-timesteps", "40", "--run-dir", str(run_dir)])
    assert res.returncode == 0, res.stderr[-3000:]
    (run_dir.parent / "stderr.txt").write_text(res.stderr)
    return run_dir


def test_sigkill_then_resume_is_bitwise_identical(uninterrupted, tmp_path):
    run_dir = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, str(ROOT / "vldac.py"), *SMALL, "--total-timesteps", "40",
                             "--run-dir", str(run_dir)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=ENV)
    deadline = time.time() + 300
    while not (run_dir / "latest").exists() or (run_dir / "latest").read_text() < "ckpt-000002":
        assert proc.poll() is None and time.time() < deadline, "run ended before its second checkpoint"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = (run_dir / "latest").read_text()
    assert killed_at < "ckpt-000005", "the run finished before it was killed"
    res = run(["--resume", str(run_dir)])
    assert res.returncode == 0, res.stderr[-3000:]
    a, b = last_metrics(uninterrupted), last_metrics(run_dir)
    assert sorted(a) == sorted(b) == [1, 2, 3, 4, 5]
    for update in range(int(killed_at[-6:]) + 1, 6):  # the updates redone after the resume
        assert a[update] == b[update], update
    sa = torch.load(uninterrupted / "ckpt-000005" / "state.pt", weights_only=True)
    sb = torch.load(run_dir / "ckpt-000005" / "state.pt", weights_only=True)
    for key in ("model", "reference", "value_head"):
        assert sa[key].keys() == sb[key].keys()
        for name in sa[key]:
            assert torch.equal(sa[key][name], sb[key][name]), (key, name)
    (ra,), (rb,) = sa["ranks"], sb["ranks"]
    assert ra["env"] == rb["env"] and ra["rng"]["numpy"] == rb["rng"]["numpy"]
    assert torch.equal(ra["rng"]["torch"], rb["rng"]["torch"])


def test_resuming_a_run_that_ended_changes_nothing(uninterrupted, tmp_path):
    """A run killed after its last checkpoint, before it exited, is resumed as ended: same logs, same weights."""
    run_dir = tmp_path / "run"
    shutil.copytree(uninterrupted, run_dir)
    before = (run_dir / "metrics.jsonl").read_text(), (run_dir / "ckpt-000005" / "state.pt").read_bytes()
    res = run(["--resume", str(run_dir)])
    assert res.returncode == 0, res.stderr[-3000:]
    assert "ended at update 5: nothing to resume" in res.stdout
    assert before == ((run_dir / "metrics.jsonl").read_text(), (run_dir / "ckpt-000005" / "state.pt").read_bytes())


def test_checkpoint_files_and_transcripts(uninterrupted):
    assert (uninterrupted / "latest").read_text() == "ckpt-000005"
    assert sorted(p.name for p in uninterrupted.glob("ckpt-*")) == ["ckpt-000004", "ckpt-000005"]  # keeps 2
    assert not list(uninterrupted.glob(".tmp-*"))
    # the saved model folder loads with plain transformers
    from transformers import PreTrainedTokenizerFast, Qwen2VLForConditionalGeneration
    model = Qwen2VLForConditionalGeneration.from_pretrained(uninterrupted / "ckpt-000005" / "model")
    state = torch.load(uninterrupted / "ckpt-000005" / "state.pt", weights_only=True)
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, state["model"][name]), name
    assert PreTrainedTokenizerFast.from_pretrained(uninterrupted / "ckpt-000005" / "model").eos_token == "<|im_end|>"
    rows = [json.loads(line) for line in (uninterrupted / "transcripts.jsonl").read_text().splitlines()]
    assert len(rows) == 5 * 4 and {"prompt", "reply", "action", "valid", "reward"} <= rows[0].keys()
    assert "NumberLine" in rows[0]["prompt"]


def test_progress_bars_are_off_when_stderr_is_not_a_terminal(uninterrupted):
    stderr = (uninterrupted.parent / "stderr.txt").read_text()
    assert "\r" not in stderr and "format warm-up" not in stderr and "updates:" not in stderr and "eval episodes" not in stderr


def test_tensorboard_events_hold_the_logged_metrics(uninterrupted):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    events = EventAccumulator(str(uninterrupted))
    events.Reload()
    lines = [json.loads(line) for line in (uninterrupted / "metrics.jsonl").read_text().splitlines()]
    assert {k for m in lines for k in m} - {"global_step", "update"} <= set(events.Tags()["scalars"])
    for tag in ("losses/value_loss", "charts/invalid_action_rate", "losses/initial_ratio_dev"):
        logged = {m["global_step"]: m[tag] for m in lines}
        scalars = {e.step: e.value for e in events.Scalars(tag)}
        assert scalars.keys() == logged.keys()
        assert all(scalars[k] == pytest.approx(v, rel=1e-6, abs=1e-12) for k, v in logged.items())


def test_track_sends_every_metrics_line_to_wandb(tmp_path, monkeypatch):
    """--track: each metrics.jsonl line goes to wandb.log at its global step (a stand-in module records the
    calls), and the real wandb, offline, takes the same run."""
    calls = []

    class Run:
        def log(self, m, step):
            calls.append((json.dumps(m), step))

        def finish(self):
            calls.append("finish")
    fake = types.ModuleType("wandb")
    fake.__spec__ = importlib.machinery.ModuleSpec("wandb", None)
    fake.init = lambda **kw: calls.append(kw) or Run()
    monkeypatch.setitem(sys.modules, "wandb", fake)
    run_dir = tmp_path / "run"
    vldac.main([*SMALL, "--total-timesteps", "16", "--eval-every", "1", "--track", "proj", "--run-dir", str(run_dir)])
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    assert calls[0]["project"] == "proj" and calls[0]["config"]["track"] == "proj" and calls[-1] == "finish"
    assert calls[1:-1] == [(line, json.loads(line)["global_step"]) for line in lines] and len(lines) == 3
    monkeypatch.undo()
    pytest.importorskip("wandb")
    real = tmp_path / "real"
    res = run([*SMALL, "--total-timesteps", "8", "--track", "proj", "--run-dir", str(real)],
              env={**ENV, "WANDB_MODE": "offline", "WANDB_SILENT": "true"})
    assert res.returncode == 0, res.stderr[-3000:]
    (log,) = real.glob("wandb/offline-run-*/run-*.wandb")
    assert b"losses/value_loss" in log.read_bytes()


def test_track_without_wandb_is_a_clear_error(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "wandb", None)  # import wandb (and find_spec) fail as if not installed
    with pytest.raises(SystemExit):
        vldac.parse_args(["--track", "proj"])
    assert "--track needs wandb" in capsys.readouterr().err


def test_plot_command_writes_png(uninterrupted, tmp_path):
    out = tmp_path / "curves.png"
    res = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "plot_run.py"), str(uninterrupted), "--out", str(out)],
                         capture_output=True, text=True, timeout=120, env=ENV)
    assert res.returncode == 0, res.stderr[-2000:]
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 10_000


def test_kill_during_checkpoint_write_keeps_previous(uninterrupted, tmp_path, monkeypatch):
    import shutil
    run_dir = tmp_path / "run"
    shutil.copytree(uninterrupted, run_dir)
    args = vldac.resolve(vldac.parse_args([*SMALL, "--run-dir", str(run_dir)]))
    env = vldac.make_env(args, args.num_envs, args.seed)
    env.reset(seed=args.seed)
    ckpt, state = vldac.load_checkpoint(run_dir)
    policy = vldac.build_policy(args, env, ckpt)
    optimizer = torch.optim.AdamW(policy.parameters())
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda u: 1.0)

    def killed(*a, **k):  # the process dies in the middle of writing state.pt
        raise KeyboardInterrupt

    monkeypatch.setattr(vldac.torch, "save", killed)
    with pytest.raises(KeyboardInterrupt):
        vldac.save_checkpoint(run_dir, policy, optimizer, scheduler, env, vldac.np.random.default_rng(0), 6, 48)
    assert (run_dir / ".tmp-ckpt-000006").exists() and not (run_dir / "ckpt-000006").exists()
    path, loaded = vldac.load_checkpoint(run_dir)
    assert path.name == "ckpt-000005" and loaded["update"] == 5


def test_eval_only_reports_confidence_intervals(uninterrupted):
    res = run(["--eval-only", "--checkpoint", str(uninterrupted), "--eval-episodes", "8"])
    assert res.returncode == 0, res.stderr[-3000:]
    result = json.loads((uninterrupted / "ckpt-000005" / "eval.json").read_text())
    for mode in ("sampled", "greedy"):
        r = result[mode]
        assert r["episodes"] == 8
        assert 0 <= r["success_ci95_low"] <= r["success_rate"] <= r["success_ci95_high"] <= 1
        assert r["success_ci95_high"] - r["success_ci95_low"] > 0.1  # 8 episodes: a wide interval


def test_eval_only_runs_on_this_machine_whatever_device_trained(uninterrupted, tmp_path):
    """A checkpoint trained on a GPU (its args say cuda) evaluates on a CPU-only machine: --device counts."""
    ckpt = tmp_path / "ckpt"
    shutil.copytree(uninterrupted / "ckpt-000005", ckpt)
    state = torch.load(ckpt / "state.pt", weights_only=True)
    state["args"]["device"] = "cuda:0"
    torch.save(state, ckpt / "state.pt")
    res = run(["--eval-only", "--checkpoint", str(ckpt), "--eval-episodes", "4", "--device", "cpu"])
    assert res.returncode == 0, res.stderr[-3000:]
    assert json.loads((ckpt / "eval.json").read_text())["sampled"]["episodes"] == 4


def test_bad_inputs_give_clear_errors(uninterrupted, tmp_path):
    res = run(["--resume", str(tmp_path / "nothing")])
    assert res.returncode != 0 and "no checkpoint" in res.stderr and "Traceback" not in res.stderr
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "state.pt").write_bytes(b"not a checkpoint")
    res = run(["--eval-only", "--checkpoint", str(corrupt)])
    assert res.returncode != 0 and "unreadable" in res.stderr and "Traceback" not in res.stderr
    res = run(["--resume", str(uninterrupted), "--num-envs", "8"])
    assert res.returncode != 0 and "--num-envs" in res.stderr and "Traceback" not in res.stderr
    blocker = tmp_path / "file"
    blocker.write_text("x")
    res = run([*SMALL, "--total-timesteps", "8", "--run-dir", str(blocker / "run")])
    assert res.returncode != 0 and "cannot write the run dir" in res.stderr and "Traceback" not in res.stderr
    res = run([*SMALL, "--model", str(tmp_path / "no-such-model"), "--run-dir", str(tmp_path / "r")])
    assert res.returncode != 0 and "cannot load --model" in res.stderr and "Traceback" not in res.stderr
    before = sorted(p.name for p in uninterrupted.iterdir())  # a fresh run into a used run dir changes nothing
    res = run([*SMALL, "--total-timesteps", "8", "--run-dir", str(uninterrupted)])
    assert res.returncode != 0 and "already holds a run" in res.stderr and f"--resume {uninterrupted}" in res.stderr
    assert sorted(p.name for p in uninterrupted.iterdir()) == before


def test_lora_run_saves_a_peft_adapter(tmp_path):
    """The hub-model path (LoRA via peft, reference = adapter disabled) on the tiny model, on CPU."""
    from peft import PeftModel
    run_dir = tmp_path / "run"
    res = run([*SMALL, "--lora", "--total-timesteps", "16", "--run-dir", str(run_dir)])
    assert res.returncode == 0, res.stderr[-3000:]
    ckpt = run_dir / "ckpt-000002"
    assert (ckpt / "model" / "adapter_config.json").is_file()
    state = torch.load(ckpt / "state.pt", weights_only=True)
    assert state["reference"] is None  # the reference is the adapter-disabled model, nothing to store
    base, _ = vldac.build_tiny_vlm(None, tokenizer_dir=ckpt / "model")
    loaded = PeftModel.from_pretrained(base, ckpt / "model")
    lora = {k: v for k, v in loaded.state_dict().items() if "lora_" in k}
    assert lora and all(torch.equal(v, state["model"][k]) for k, v in lora.items())
    metrics = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert metrics[0]["losses/ref_kl"] == 0.0  # value warm-up: the adapter has not moved yet


@pytest.mark.parametrize("arch", ["qwen2_5_vl", "qwen2_vl"])
def test_local_hub_layout_checkpoint_trains_with_lora_and_evaluates(arch, tmp_path):
    """`--model <path>` on a tiny checkpoint folder laid out like a hub download (from_pretrained, the
    processor built from its parts when transformers cannot build the video processor, LoRA on by default),
    then --eval-only from the run's checkpoint (the base reloaded from --model, the adapter from the run)."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from make_tiny_checkpoint import make_tiny_checkpoint
    model_dir = make_tiny_checkpoint(tmp_path / arch, arch)
    run_dir = tmp_path / "run"
    res = run(["--model", str(model_dir), *SMALL, "--total-timesteps", "16", "--max-new-tokens", "8",
               "--run-dir", str(run_dir)])
    assert res.returncode == 0, res.stderr[-3000:]
    args = json.loads((run_dir / "args.json").read_text())
    assert (args["lora"], args["dtype"], args["image_size"]) == (True, "float32", 0)
    metrics = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [m["update"] for m in metrics] == [1, 2] and metrics[0]["losses/ref_kl"] == 0.0
    assert (run_dir / "ckpt-000002" / "model" / "adapter_config.json").is_file()
    res = run(["--eval-only", "--checkpoint", str(run_dir), "--eval-episodes", "4"])
    assert res.returncode == 0, res.stderr[-3000:]
    result = json.loads((run_dir / "ckpt-000002" / "eval.json").read_text())
    assert set(result) == {"sampled", "greedy"} and result["greedy"]["episodes"] == 4


@pytest.mark.slow
def test_twenty_sigkills_at_random_moments_always_resume_to_the_same_end(tmp_path):
    """SIGKILL 20 times at random moments: a random delay after the start (startup, rollout, update), or
    just as the process's first or second checkpoint write begins. After each kill the run continues with
    --resume (before its first checkpoint: starts again). Every run that reaches its end ends bitwise
    where the uninterrupted run ended (a run that ends before the 20th kill is checked and begun anew)."""
    flags = [*SMALL, "--total-timesteps", "96"]  # 12 updates, a checkpoint after each
    assert run([*flags, "--run-dir", str(tmp_path / "straight")]).returncode == 0
    want = torch.load(tmp_path / "straight" / "ckpt-000012" / "state.pt", weights_only=True)
    run_dir, log, rng, kills, mid_write, resumes = tmp_path / "run", tmp_path / "stderr.txt", random.Random(0), 0, 0, 0

    def start():
        nonlocal resumes
        resumes += (run_dir / "latest").exists()
        if not (run_dir / "latest").exists():
            shutil.rmtree(run_dir, ignore_errors=True)
        args = ["--resume", str(run_dir)] if (run_dir / "latest").exists() else [*flags, "--run-dir", str(run_dir)]
        with open(log, "w") as err:
            return subprocess.Popen([sys.executable, str(ROOT / "vldac.py"), *args], stdout=subprocess.DEVNULL,
                                    stderr=err, env=ENV)

    def check_end():
        got = torch.load(run_dir / "ckpt-000012" / "state.pt", weights_only=True)
        for key in ("model", "reference", "value_head"):
            assert all(torch.equal(got[key][n], want[key][n]) for n in want[key]), key
        assert got["ranks"][0]["env"] == want["ranks"][0]["env"] and got["ranks"][0]["rng"]["numpy"] == want["ranks"][0]["rng"]["numpy"]

    while kills < 20:
        proc, writes, deadline, seen = start(), rng.choice([0, 0, 1, 2]), time.time() + rng.uniform(0.5, 10), set()
        while proc.poll() is None:
            seen.update(p.name for p in run_dir.glob(".tmp-ckpt-*"))
            if len(seen) >= writes > 0 or not writes and time.time() > deadline:
                proc.kill()
                proc.wait()
                kills, mid_write = kills + 1, mid_write + (writes > 0)
                break
            time.sleep(0.002)
        else:  # it ended before the kill
            assert proc.returncode == 0, log.read_text()[-3000:]
            check_end()
            shutil.rmtree(run_dir)
    assert start().wait() == 0, log.read_text()[-3000:]
    check_end()
    assert mid_write >= 5 and resumes >= 5, (mid_write, resumes)  # kills inside checkpoint writes; real resumes
