"""The algorithm in vldac.py: losses against hand-computed numbers, and the invariants of a real
rollout/update with the built-in tiny VLM on NumberLine (CPU, offline)."""
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import vldac

ROOT = Path(__file__).resolve().parents[1]


# --- losses vs hand-computed numbers ---------------------------------------------------------------
def test_masked_mean():
    x = torch.tensor([[1.0, 2.0, 30.0], [4.0, 5.0, 6.0]])
    m = torch.tensor([[1, 1, 0], [1, 1, 1]], dtype=torch.bool)
    assert torch.allclose(vldac.masked_mean(x, m, 1), torch.tensor([1.5, 5.0]))
    assert torch.isclose(vldac.masked_mean(x, m), torch.tensor(18 / 5))


def test_vldac_policy_loss_by_hand():
    # step 0: A=+1, tokens with ratios 1.2 (clipped to 1.1) and 0.5 -> per token -min(r, clip(r)) = -1.1, -0.5
    # step 1: A=-2, one token with ratio 0.8 (clipped to 0.9): -min(-1.6, -1.8) = 1.8; pad token ignored
    old = torch.zeros(2, 2)
    new = torch.log(torch.tensor([[1.2, 0.5], [0.8, 7.0]]))
    adv = torch.tensor([1.0, -2.0])
    mask = torch.tensor([[True, True], [True, False]])
    loss, ratio = vldac.vldac_policy_loss(new, old, adv, mask, clip_coef=0.1)
    expected = ((-1.1 - 0.5) / 2 + 1.8) / 2
    assert math.isclose(loss.item(), expected, rel_tol=1e-6)
    assert torch.allclose(ratio[0], torch.tensor([1.2, 0.5]))


def test_rl4vlm_policy_loss_by_hand():
    # one step, thought token log-ratio 0.6 (weight 0.5), action token log-ratio -0.2:
    # log r = 0.5 * 0.6 - 0.2 = 0.1, r = e^0.1 = 1.105 -> clipped at 1.1 for A = +1: loss = -1.1
    old = torch.zeros(1, 3)
    new = torch.tensor([[0.6, -0.2, 5.0]])
    mask = torch.tensor([[True, True, False]])
    thoughts = torch.tensor([[True, False, False]])
    loss, ratio = vldac.rl4vlm_policy_loss(new, old, torch.tensor([1.0]), mask, thoughts, 0.1, 0.5)
    assert math.isclose(ratio.item(), math.exp(0.1), rel_tol=1e-6)
    assert math.isclose(loss.item(), -1.1, rel_tol=1e-6)
    # with lambda = 0 only the action token counts: r = e^-0.2 = 0.819 -> -min(0.819, clip 0.9) = -0.819
    loss, _ = vldac.rl4vlm_policy_loss(new, old, torch.tensor([1.0]), mask, thoughts, 0.1, 0.0)
    assert math.isclose(loss.item(), -math.exp(-0.2), rel_tol=1e-6)


def test_kl_k3_by_hand():
    logp = torch.tensor([[-1.0, -2.0], [-0.5, 0.0]])
    ref = torch.tensor([[-1.5, -2.0], [-0.5, 3.0]])
    mask = torch.tensor([[True, True], [True, False]])
    # d = ref - logp: -0.5, 0, 0 -> k3 = e^-0.5 + 0.5 - 1 = 0.10653, 0, 0; means per step 0.053265, 0
    assert math.isclose(vldac.kl_k3(logp, ref, mask).item(), (math.exp(-0.5) - 0.5) / 4, rel_tol=1e-5)
    assert vldac.kl_k3(logp, logp, mask).item() == 0.0


def test_value_loss_by_hand():
    # the paper's 1/2 (V - R)^2: errors -1 and +1 -> 1/2 * mean(1, 1) = 0.5
    v, old, ret = torch.tensor([1.0, 3.0]), torch.tensor([0.0, 2.0]), torch.tensor([2.0, 2.0])
    assert math.isclose(vldac.value_loss(v, old, ret).item(), 0.5)
    # clipped at 0.5: first value 0.5 -> (1.5)^2 = 2.25 > 1; second clipped 2.5 -> 0.25 < 1
    assert math.isclose(vldac.value_loss(v, old, ret, 0.5).item(), 0.5 * (2.25 + 1.0) / 2)


def test_lr_schedule_ramps_linearly_then_follows_the_cosine():
    args = vldac.resolve(vldac.parse_args(["--learning-rate", "1e-3", "--end-learning-rate", "1e-5",
                                           "--lr-warmup-updates", "4", "--value-warmup-updates", "0"]))
    factor = vldac.lr_schedule(args, 100)[0]
    plain = vldac.lr_schedule(vldac.dataclasses.replace(args, lr_warmup_updates=0), 100)[0]
    cosine = [(0.01 + 0.99 * (1 + math.cos(math.pi * u / 100)) / 2) for u in range(101)]
    assert [plain(u) for u in range(101)] == pytest.approx(cosine)  # no ramp: the cosine from the peak down to the end LR
    assert [factor(u) for u in range(4)] == pytest.approx([cosine[u] * (u + 1) / 4 for u in range(4)])
    assert [factor(u) for u in range(3, 101)] == pytest.approx(cosine[3:])  # the 4th update runs at the full cosine
    assert factor(100) == pytest.approx(0.01)


def test_lr_schedule_of_the_policy_starts_at_its_first_update():
    """Value warm-up updates do not spend the policy's ramp and cosine; the value head's runs from update 0."""
    args = vldac.resolve(vldac.parse_args(["--learning-rate", "1e-3", "--end-learning-rate", "1e-5",
                                           "--lr-warmup-updates", "4", "--value-warmup-updates", "3"]))
    actor, value = vldac.lr_schedule(args, 103)
    no_warmup = vldac.lr_schedule(vldac.dataclasses.replace(args, value_warmup_updates=0), 100)[0]
    assert [actor(u) for u in range(3)] == [0.0] * 3  # warm-up: the policy is not trained
    assert [actor(u) for u in range(3, 104)] == pytest.approx([no_warmup(u) for u in range(101)])
    assert actor(3) == pytest.approx(0.25)  # the first policy update is the ramp's first step
    assert [value(u) for u in range(104)] == pytest.approx(
        [vldac.lr_schedule(vldac.dataclasses.replace(args, value_warmup_updates=0), 103)[0](u) for u in range(104)])


def test_loss_rl4vlm_means_rl4vlm_unless_a_setting_is_given():
    keys = ("stop_grad", "kl_coef", "value_warmup_updates", "clip_vloss", "vf_coef", "joint_grad_clip")
    settings = lambda *argv: tuple(getattr(vldac.resolve(vldac.parse_args(list(argv))), k) for k in keys)
    assert settings() == (True, 0.05, 2, False, 0.15, False)  # VL-DAC: the paper's Table 6
    # RL4VLM: value gradients into the backbone, no KL, no warm-up, clipped value loss 0.5 * 1/2 (V - R)^2, joint clip
    assert settings("--loss", "rl4vlm") == (False, 0.0, 0, True, 0.5, True)
    assert settings("--loss", "rl4vlm", "--kl-coef", "0.05", "--stop-grad") == (True, 0.05, 0, True, 0.5, True)
    assert settings("--no-clip-vloss", "--vf-coef", "0.3") == (True, 0.05, 2, False, 0.3, False)


def test_help_lists_the_defaults_of_both_losses_and_each_family(capsys):
    with pytest.raises(SystemExit):
        vldac.parse_args(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "(default: vldac 0.05, rl4vlm 0.0)" in text and "(default: vldac True, rl4vlm False)" in text
    assert "gymcards 0.9" in text and "grid 0.99" in text


def test_discount_defaults_per_env_family():
    discount = lambda *argv: (lambda a: (a.gamma, a.gae_lambda))(vldac.resolve(vldac.parse_args(list(argv))))
    assert discount("--env", "gymcards") == vldac.FAMILY_DISCOUNT["gymcards"]
    assert discount("--env", "grid") == vldac.FAMILY_DISCOUNT["grid"] != vldac.FAMILY_DISCOUNT["gymcards"]
    assert discount("--env", "grid", "--gamma", "0.5") == (0.5, vldac.FAMILY_DISCOUNT["grid"][1])


def test_gradients_of_policy_and_value_head_are_clipped_separately():
    actor, value = torch.nn.Parameter(torch.zeros(4)), torch.nn.Parameter(torch.zeros(2))
    optimizer = torch.optim.AdamW([{"params": [actor]}, {"params": [value]}])
    args = vldac.resolve(vldac.parse_args(["--max-grad-norm", "1.0"]))
    for joint, actor_norm in ((False, 0.5), (True, 0.5 / math.hypot(0.5, 100.0))):
        actor.grad, value.grad = torch.full((4,), 0.25), torch.tensor([60.0, 80.0])  # norms 0.5 and 100
        vldac.clip_gradients(vldac.dataclasses.replace(args, joint_grad_clip=joint), optimizer)
        assert actor.grad.norm().item() == pytest.approx(actor_norm, rel=1e-5)  # a huge value grad leaves it alone
        assert value.grad.norm().item() == pytest.approx(1.0 if not joint else 100.0 / math.hypot(0.5, 100.0), rel=1e-5)


def test_optimizer_has_no_weight_decay_by_default(setup):
    """AdamW's default decay (0.01) would pull the trained weights toward zero even with zero gradient."""
    args, policy, _, _ = setup
    optimizer = vldac.make_optimizer(args, policy)
    before = [p.detach().clone() for g in optimizer.param_groups for p in g["params"]]
    for g in optimizer.param_groups:
        for p in g["params"]:
            p.grad = torch.zeros_like(p)
    optimizer.step()
    after = [p.detach() for g in optimizer.param_groups for p in g["params"]]
    assert all(torch.equal(a, b) for a, b in zip(before, after))
    assert sum(map(len, (g["params"] for g in optimizer.param_groups))) == len(
        [p for p in policy.parameters() if p.requires_grad])  # every trainable weight, once
    policy.zero_grad(set_to_none=True)


# --- command line --------------------------------------------------------------------------------
@pytest.mark.parametrize("argv", [["--num-envs", "0"], ["--temperature", "0"], ["--loss", "ppo"],
                                  ["--top-p", "1.5"], ["--num-envs", "x"], ["--invalid-action", "skip"],
                                  ["--dtype", "float16"], ["--lr-warmup-updates", "-1"], ["--env-options", "top_down"]])
def test_bad_cli_values_exit_with_a_message(argv, capsys):
    with pytest.raises(SystemExit) as e:
        vldac.parse_args(argv)
    assert e.value.code == 2 and "error" in capsys.readouterr().err


def test_cli_booleans_and_defaults():
    args = vldac.parse_args(["--no-stop-grad", "--lora", "--no-norm-adv"])
    assert args.stop_grad is False and args.lora is True and args.norm_adv is False
    resolved = vldac.resolve(vldac.parse_args([]))
    assert (resolved.task, resolved.lora, resolved.image_size, resolved.device) == ("numberline", False, 84, "cpu")
    # bf16 is the default only for hub models on CUDA (the tiny model trains all its weights: fp32)
    dtypes = {(model, device): vldac.resolve(vldac.parse_args(["--model", model, "--device", device])).dtype
              for model in ("tiny", "org/vlm") for device in ("cpu", "cuda")}
    assert dtypes == {("tiny", "cpu"): "float32", ("tiny", "cuda"): "float32",
                      ("org/vlm", "cpu"): "float32", ("org/vlm", "cuda"): "bfloat16"}


# --- a real tiny policy on NumberLine --------------------------------------------------------------
def make_setup(**overrides):
    argv = ["--num-envs", "4", "--num-steps", "3", "--num-minibatches", "2", "--format-warmup-steps", "40"]
    args = vldac.resolve(vldac.parse_args(argv))
    args = vldac.dataclasses.replace(args, **overrides)
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    env = vldac.make_env(args, args.num_envs, args.seed)
    env.reset(seed=args.seed)
    corpus = [env.prompt(i)[1] for i in range(env.num_envs)] + [vldac.reply_text("", s) for s in env.action_symbols]
    model, processor = vldac.load_vlm(args, corpus)
    policy = vldac.Policy(model, processor, args)
    vldac.format_warmup(args, policy, env, rng)
    policy.freeze_reference()
    return args, policy, env, rng


@pytest.fixture(scope="module")
def setup():
    return make_setup()


def test_generation_logprobs_and_values_equal_the_teacher_forced_pass(setup):
    """The rollout keeps generate's own log-probs and values; the update recomputes them teacher-forced."""
    args, policy, env, _ = setup
    policy.eval()
    samples = policy.encode([env.prompt(i) for i in range(env.num_envs)])
    batch, P = vldac.collate(samples, pad_id=policy.pad_id)
    torch.manual_seed(1)
    out = policy.model.generate(**batch, max_new_tokens=args.max_new_tokens, do_sample=True, top_k=0,
                                temperature=args.temperature, top_p=1.0, eos_token_id=policy.eos_ids,
                                pad_token_id=policy.pad_id, suppress_tokens=policy.suppress_ids,
                                return_dict_in_generate=True)
    torch.manual_seed(1)
    replies, logprobs, values = policy.generate(samples)
    scored, _, scored_values = policy.forward(*vldac.collate(samples, replies, policy.pad_id))
    for i, reply in enumerate(replies):
        assert torch.equal(reply, out.sequences[i, P:P + len(reply)])  # the same sampler as a plain generate
        assert len(logprobs[i]) == len(reply) and (logprobs[i] < 0).all()
        # every reply token, the first included
        torch.testing.assert_close(logprobs[i], scored[i, : len(reply)], atol=1e-5, rtol=0)
    np.testing.assert_allclose(values, scored_values.detach().numpy(), atol=1e-5, rtol=0)


def test_bfloat16_lora_policy_keeps_adapters_value_head_and_logprobs_in_float32():
    """--dtype bfloat16 --lora: frozen bf16 base, fp32 LoRA weights and value head, fp32 log-probs."""
    args = vldac.resolve(vldac.parse_args(["--num-envs", "2", "--format-warmup-steps", "2", "--dtype", "bfloat16",
                                           "--lora", "--max-new-tokens", "8"]))
    env = vldac.make_env(args, 2, args.seed)
    env.reset(seed=args.seed)
    policy = vldac.build_policy(args, env, rng=np.random.default_rng(0))
    frozen = {p.dtype for p in policy.parameters() if not p.requires_grad}
    trainable = {n: p.dtype for n, p in policy.named_parameters() if p.requires_grad}
    assert frozen == {torch.bfloat16} and set(trainable.values()) == {torch.float32}
    assert any("lora_" in n for n in trainable) and any(n.startswith("value_head") for n in trainable)
    replies, logprobs, values = policy.generate(policy.encode([env.prompt(i) for i in range(2)]))
    assert all(lp.dtype == torch.float32 and len(lp) == len(r) for lp, r in zip(logprobs, replies))
    assert values.dtype == np.float32 and values.shape == (2,)


def test_rollout_parses_replies_into_actions(setup):
    args, policy, env, rng = setup
    buf, next_value, data, times = vldac.rollout(args, policy, env, rng)
    T, N = args.num_steps, args.num_envs
    assert len(data["replies"]) == T * N and next_value.shape == (N,)
    texts = policy.decode(data["replies"])
    parsed = np.array([env.parse_action(t)[1] for t in texts]).reshape(T, N)
    np.testing.assert_array_equal(parsed, buf["valid"])
    assert buf["valid"].any(), "format warm-up should make some replies parse"
    assert all(len(lp) == len(r) for lp, r in zip(data["logprobs"], data["replies"]))
    assert set(times) == {"generate", "env", "value"}


def rollout_and_update(args, policy, env, rng, warmup, optimizer=None):
    buf, next_value, data, _ = vldac.rollout(args, policy, env, rng)
    minibatches = vldac.plan_minibatches(args, len(data["samples"]), rng)
    vldac.score_rollout(args, policy, data, buf["values"], minibatches[0])
    adv, ret = vldac.compute_gae(buf["rewards"], buf["values"], buf["terminated"], buf["truncated"], next_value,
                                 args.gamma, args.gae_lambda, buf["final_values"])
    optimizer = optimizer or vldac.make_optimizer(vldac.dataclasses.replace(args, learning_rate=1e-3), policy)
    return data, vldac.update(args, policy, optimizer, data, adv, ret, buf["values"], warmup, minibatches)


def test_first_minibatch_ratio_is_one_and_kl_starts_at_zero():
    args, policy, env, rng = make_setup()
    data, metrics = rollout_and_update(args, policy, env, rng, warmup=False)
    assert metrics["losses/initial_ratio_dev"] <= 1e-5
    for lp, ref in zip(data["logprobs"], data["ref_logprobs"]):  # reference == policy before any update
        torch.testing.assert_close(lp, ref, atol=1e-5, rtol=0)
    assert all(np.isfinite(v) for v in metrics.values())


def test_warmup_update_changes_only_the_value_head():
    args, policy, env, rng = make_setup()
    before = {k: v.clone() for k, v in policy.state_dict().items()}
    rollout_and_update(args, policy, env, rng, warmup=True)
    after = policy.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all(k.startswith("value_head.") for k in changed), sorted(changed)[:5]


@pytest.mark.parametrize("stop_grad", [True, False])
def test_value_loss_gradient_reaches_backbone_only_without_stop_grad(setup, stop_grad):
    args, policy, env, _ = setup
    samples = policy.encode([env.prompt(i) for i in range(env.num_envs)])
    policy.zero_grad(set_to_none=True)
    *_, values = policy.forward(*vldac.collate(samples, pad_id=policy.pad_id), detach=stop_grad)
    vldac.value_loss(values, torch.zeros(4), torch.ones(4)).backward()
    backbone = [p.grad for p in policy.model.parameters() if p.grad is not None and p.grad.abs().sum() > 0]
    assert (len(backbone) == 0) == stop_grad
    assert policy.value_head[0].weight.grad.abs().sum() > 0
    policy.zero_grad(set_to_none=True)


def test_rl4vlm_thought_mask_marks_tokens_before_action(setup):
    _, policy, _, _ = setup
    tok = policy.processor.tokenizer
    reply = torch.tensor(tok.encode('{"thoughts": "go up", "action": "+"}'))
    mask = policy.thought_mask(reply)
    first_action = int((~mask).nonzero()[0])
    assert '"action"' not in tok.decode(reply[:first_action]) and '"action"' in tok.decode(reply[: first_action + 3])
    assert not policy.thought_mask(torch.tensor(tok.encode("no json here"))).any()  # no key: all action tokens


def test_rl4vlm_thought_mask_splits_at_the_last_action_key(setup):
    """RL4VLM takes the last `"action":` occurrence: an earlier one inside the thoughts stays a thought token."""
    _, policy, _, _ = setup
    tok = policy.processor.tokenizer
    text = '{"thoughts": "\\"action\\" -", "action": "x", "action": "+"}'
    reply = torch.tensor(tok.encode(text))
    mask = policy.thought_mask(reply)
    first_action = int((~mask).nonzero()[0])
    assert tok.decode(reply[:first_action]).count('"action":') == 1  # the second key is in the action part
    assert tok.decode(reply[first_action:]).count('"action"') == 1 and mask[: first_action].all()


def test_a_batch_of_one_sample_keeps_the_weights_finite():
    """--num-envs 1 --num-steps 1: the advantage std of one sample must not be NaN."""
    args, policy, env, rng = make_setup(num_envs=1, num_steps=1, num_minibatches=1)
    rollout_and_update(args, policy, env, rng, warmup=False)
    assert all(torch.isfinite(p).all() for p in policy.parameters())


def test_a_processor_without_mm_token_type_ids_is_an_error_with_images(setup, monkeypatch):
    """Zeros would silently give image tokens text positions (M-RoPE)."""
    args, policy, env, _ = setup
    call = type(policy.processor).__call__

    def dropping(self, *a, **kw):
        enc = call(self, *a, **kw)
        del enc["mm_token_type_ids"]
        return enc

    monkeypatch.setattr(type(policy.processor), "__call__", dropping)
    with pytest.raises(ValueError, match="mm_token_type_ids"):
        policy.encode([env.prompt(0)])
    assert policy.encode([([], "text only")])[0]["mm_token_type_ids"].eq(0).all()  # no image: zeros are right


def test_smoke_run_writes_metrics(tmp_path):
    run_dir = tmp_path / "run"
    cmd = [sys.executable, str(ROOT / "vldac.py"), "--num-envs", "4", "--num-steps", "2", "--total-timesteps", "24",
           "--format-warmup-steps", "5", "--eval-episodes", "4", "--eval-every", "2", "--run-dir", str(run_dir)]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert res.returncode == 0, res.stderr[-2000:]
    lines = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [m["update"] for m in lines] == [0, 1, 2, 3]  # update 0: the policy before any update, evaluated
    for key in ("charts/SPS", "charts/invalid_action_rate", "losses/policy_loss", "losses/value_loss",
                "losses/approx_kl", "losses/ref_kl", "losses/clipfrac", "losses/explained_variance", "time/generate"):
        assert key in lines[-1]
    assert all("eval/success_rate" in lines[i] for i in (0, 2, 3)) and "eval/success_rate" not in lines[1]
    assert json.loads((run_dir / "args.json").read_text())["num_envs"] == 4


def test_perception_targets_say_where_the_box_is(monkeypatch):
    """--perception-steps: every warm-up target's thoughts are the env's caption of that env's current view
    (and the action a uniformly random legal one); with 0 the thoughts are empty."""
    from envs.grid import VIEW_CAPTIONS
    for steps in (6, 0):
        args = vldac.resolve(vldac.parse_args(["--env", "grid", "--num-envs", "8", "--format-warmup-steps", "6",
                                               "--perception-steps", str(steps)]))
        env = vldac.make_env(args, args.num_envs, args.seed)
        env.reset(seed=args.seed)
        policy = vldac.build_policy(vldac.dataclasses.replace(args, format_warmup_steps=0, perception_steps=0), env,
                                    rng=np.random.default_rng(0))
        seen, collate = [], vldac.collate

        def recording_collate(samples, replies=None, pad_id=0):
            captions = [env.caption(i) for i in range(env.num_envs)]
            for reply, caption in zip(policy.decode(replies), captions):
                seen.append((json.loads(reply), caption))
            return collate(samples, replies, pad_id)

        monkeypatch.setattr(vldac, "collate", recording_collate)
        monkeypatch.setattr(vldac, "caption_accuracy", lambda *a: {"all": 0.5})
        got = vldac.format_warmup(args, policy, env, np.random.default_rng(0), steps)
        assert (got.pop("seconds") > 0 and got == {"all": 0.5, "steps": 6}) if steps else got == {}
        monkeypatch.undo()
        assert len(seen) == 6 * 8
        for reply, caption in seen:
            assert reply["thoughts"] == (caption if steps else "") and reply["action"] in env.action_symbols
        if steps:  # the views vary: more than one caption was taught
            assert len({caption for _, caption in seen}) > 1 and {c for _, c in seen} <= set(VIEW_CAPTIONS)


def test_perception_stops_at_95_percent_after_the_format_steps(monkeypatch):
    """Checked every 100 steps: it stops at the first check at or past --format-warmup-steps that reaches 95%."""
    args = vldac.resolve(vldac.parse_args(["--env", "grid", "--num-envs", "2", "--format-warmup-steps", "150"]))
    env = vldac.make_env(args, args.num_envs, args.seed)
    env.reset(seed=args.seed)
    policy = vldac.build_policy(vldac.dataclasses.replace(args, format_warmup_steps=0, perception_steps=0), env)
    checks = iter([0.99, 0.96, 0.2])  # 0.99 at step 100 is before the format steps are done
    monkeypatch.setattr(vldac, "caption_accuracy", lambda *a: {"all": next(checks)})
    got = vldac.format_warmup(args, policy, env, np.random.default_rng(0), 1000)
    assert got.pop("seconds") > 0 and got == {"all": 0.96, "steps": 200}


def test_caption_accuracy_counts_the_replies_that_say_the_caption(monkeypatch):
    """Greedy replies on held-out views: right when the thoughts are the view's caption, in all and by caption."""
    from envs.grid import VIEW_CAPTIONS, box_in_view
    args = vldac.resolve(vldac.parse_args(["--env", "grid", "--num-envs", "2"]))
    truth = []

    class Stub:  # says the caption of every other view, and "no box in view" for the rest
        def encode(self, prompts):
            return prompts

        def generate(self, prompts, greedy):
            assert greedy
            truth.extend(VIEW_CAPTIONS[k] for k in box_in_view(np.stack([frames[-1] for frames, _ in prompts])))
            return [VIEW_CAPTIONS[-1] if i % 2 else c for i, c in enumerate(truth)], None

        def decode(self, captions):
            return [vldac.reply_text(c, "move forward") for c in captions]

        def eval(self):
            pass

    got = vldac.caption_accuracy(args, Stub(), num_views=64)
    right = [i % 2 == 0 or c == VIEW_CAPTIONS[-1] for i, c in enumerate(truth)]
    assert len(set(truth)) > 1 and got["all"] == np.mean(right) < 1
    for c in set(truth):
        assert got[c] == np.mean([r for r, t in zip(right, truth) if t == c])
    assert got[VIEW_CAPTIONS[-1]] == 1.0 and got["box in view"] == np.mean([c == VIEW_CAPTIONS[-1] for c in truth[1::2]] + [True] * len(truth[::2])) \
        and got["where"] == np.mean([i % 2 == 0 for i, c in enumerate(truth) if c != VIEW_CAPTIONS[-1]])


@pytest.mark.parametrize("argv", [["--env", "gymcards"], ["--env", "grid", "--model", "org/vlm"]])
def test_perception_without_captions_is_a_clear_error(argv, capsys):
    args = vldac.resolve(vldac.parse_args(argv + ["--perception-steps", "10", "--num-envs", "2"]))
    env = vldac.make_env(args, 2, 0)
    env.reset(seed=0)
    with pytest.raises(SystemExit) as e:
        vldac.build_policy(args, env)
    assert "--perception-steps needs" in str(e.value)


def test_a_non_finite_gradient_skips_the_step_and_is_counted():
    args, policy, env, rng = make_setup()
    buf, next_value, data, _ = vldac.rollout(args, policy, env, rng)
    minibatches = vldac.plan_minibatches(args, len(data["samples"]), rng)
    vldac.score_rollout(args, policy, data, buf["values"], minibatches[0])
    adv = np.full_like(buf["values"], np.nan)  # e.g. a reward that overflowed
    before = {n: p.detach().clone() for n, p in policy.named_parameters() if p.requires_grad}
    optimizer = vldac.make_optimizer(args, policy)
    m = vldac.update(args, policy, optimizer, data, adv, adv + buf["values"], buf["values"], False, minibatches)
    assert m["losses/nonfinite_skips"] == args.update_epochs * args.num_minibatches
    for n, p in policy.named_parameters():
        if p.requires_grad:
            assert torch.equal(p, before[n]), n  # no NaN reached the weights
    assert not optimizer.state  # and Adam's moments were never touched


def test_two_updates_of_non_finite_gradients_stop_the_run_with_a_checkpoint(tmp_path, monkeypatch, capsys):
    real = vldac.compute_gae
    monkeypatch.setattr(vldac, "compute_gae", lambda *a, **k: tuple(np.full_like(x, np.nan) for x in real(*a, **k)))
    run_dir = tmp_path / "run"
    with pytest.raises(SystemExit, match="updates 1-2 had only non-finite gradients"):
        vldac.main(["--num-envs", "4", "--num-steps", "2", "--num-minibatches", "2", "--format-warmup-steps", "5",
                    "--eval-every", "0", "--checkpoint-every", "0", "--total-timesteps", "80", "--run-dir", str(run_dir)])
    assert (run_dir / "latest").read_text() == "ckpt-000002"
    lines = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [m["losses/nonfinite_skips"] for m in lines] == [4, 4]
    state = torch.load(run_dir / "ckpt-000002" / "state.pt", weights_only=True)
    assert all(torch.isfinite(t).all() for t in state["model"].values())


def test_env_options_reach_the_env_and_bad_ones_are_clear():
    args = vldac.resolve(vldac.parse_args(["--env", "grid", "--env-options", "top_down=true, max_steps=7"]))
    env = vldac.make_env(args, 1, 0)
    assert env.options["top_down"] is True and env.options["max_steps"] == 7
    with pytest.raises(ValueError, match="max_steps"):
        vldac.make_env(vldac.resolve(vldac.parse_args(["--env", "grid", "--env-options", "max_steps=0"])), 1, 0)
