"""Why the tiny model does not learn grid navigation: two probes keyed on where the red box is in the
current frame (left / centre / right fifth-wise split 2:1:2, or not in view), read off the frame's
pixels.

    python benchmarks/grid_probe.py --checkpoint runs/<grid run>   # does the policy look at the box?
    python benchmarks/grid_probe.py --linear                       # is the reward signal enough?
    python benchmarks/grid_probe.py --bandit [vldac.py flags]      # can RL tie the action to the view?

--checkpoint: the actions the trained policy samples (4 replies per state, temperature as trained) and V(s),
by box position, on states visited by random actions (env seed 777, disjoint from training and
evaluation), and how often the reply's thoughts are the view's caption (what --perception-steps teaches);
then the same replies' actions by what their thoughts say (does the action follow the caption?).
A policy that uses its eyes turns toward the box and walks at it once it is centred.

--linear: the same reward, GAE (vldac.compute_gae) and clipped PPO loss (vldac.vldac_policy_loss), with a
linear softmax policy and a linear value over the box-position one-hot instead of a VLM: how fast a learner
that is handed the one visual feature that matters improves on uniformly random actions.

--bandit: vldac.py's own rollout, GAE and update (any vldac.py flags pass through) on grid states, but with
gamma 0 and every step rewarded: 1 for what "box in view: forward, else turn right" would do (a scripted
policy of benchmarks/grid_policies.py, worth 0.86 success), else 0. A policy can only earn more than the
share of its majority case by looking, so the two accuracies show whether the VLM conditions its action
on the view once the reward is dense.
"""
import argparse
import dataclasses
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import envs  # noqa: E402
import vldac  # noqa: E402
from envs.grid import VIEW_CAPTIONS, box_in_view  # noqa: E402
from grid_policies import POLICIES  # noqa: E402

POSITIONS = ("left", "centre", "right", "not in view")  # the order of envs.grid.VIEW_CAPTIONS
SCRIPTED = "box in view: forward, else turn right"  # --bandit rewards this policy's action (a one-hot per row)


def thoughts(reply):
    try:
        return json.loads(reply).get("thoughts")
    except (ValueError, AttributeError):
        return None


def features(frames):
    return torch.eye(len(POSITIONS))[box_in_view(frames)]


@torch.no_grad()
def probe_checkpoint(path, states, samples_per_state=4, seed=777):
    ckpt, state = vldac.load_checkpoint(path)
    args = dataclasses.replace(vldac.Args(**state["args"]), num_envs=32, device="cpu", dtype="float32")
    env = vldac.make_env(args, args.num_envs, seed)
    env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    policy = vldac.build_policy(args, env, ckpt, rng, state)
    policy.eval()
    K = len(env.action_symbols)
    counts, values = np.zeros((len(POSITIONS), K + 1)), [[] for _ in POSITIONS]  # last column: invalid replies
    captioned = np.zeros(len(POSITIONS))  # replies whose thoughts are the view's caption (--perception-steps)
    by_thought = np.zeros((len(VIEW_CAPTIONS) + 1, K + 1))  # the same replies keyed on what their thoughts say
    for _ in range(-(-states // args.num_envs)):
        for _ in range(7):  # decorrelate the sampled states
            obs, *_ = env.step(rng.integers(K, size=args.num_envs))
        where, samples = box_in_view(obs), policy.encode([env.prompt(i) for i in range(args.num_envs)])
        for _ in range(samples_per_state):
            replies, _, v = policy.generate(samples)
            for w, text, value in zip(where, policy.decode(replies), v):
                action, valid = env.parse_action(text)
                counts[w, action if valid else K] += 1
                said = thoughts(text)
                said = VIEW_CAPTIONS.index(said) if said in VIEW_CAPTIONS else len(VIEW_CAPTIONS)
                captioned[w] += said == w
                by_thought[said, action if valid else K] += 1
                values[w].append(value)
    print(f"| box in view | replies | {' | '.join(env.action_symbols)} | invalid | V(s) | thoughts = caption |")
    print("|---|---:|" + "---:|" * (K + 3))
    for k, name in enumerate(POSITIONS):
        if counts[k].sum():
            share = counts[k] / counts[k].sum()
            print(f"| {name} | {int(counts[k].sum())} | " + " | ".join(f"{p:.2f}" for p in share) +
                  f" | {np.mean(values[k]):.3f} | {captioned[k] / counts[k].sum():.2f} |")
    print(f"\n| thoughts say | replies | {' | '.join(env.action_symbols)} | invalid |\n|---|---:|" + "---:|" * (K + 1))
    for k, name in enumerate((*VIEW_CAPTIONS, "anything else")):
        if by_thought[k].sum():
            print(f"| {name} | {int(by_thought[k].sum())} | " +
                  " | ".join(f"{p:.2f}" for p in by_thought[k] / by_thought[k].sum()) + " |")


def linear_ppo(task, steps, lr, num_envs=32, num_steps=16, gamma=0.9, gae_lambda=0.95, clip=0.1, report=8192,
               seed=0):
    torch.manual_seed(seed)
    env = envs.make(f"grid/{task}", num_envs, seed=seed)
    obs, _ = env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    actor, critic = torch.nn.Linear(len(POSITIONS), 4, bias=False), torch.nn.Linear(len(POSITIONS), 1, bias=False)
    torch.nn.init.zeros_(actor.weight)  # starts uniformly random
    optimizer = torch.optim.Adam([*actor.parameters(), *critic.parameters()], lr=lr)
    done, episodes, successes = 0, 0, 0
    print(f"| env steps | episodes | success | p(left, right, forward, back) with the box centred |\n|---:|---:|---:|---|")
    while done < steps:
        buf = {k: np.zeros((num_steps, num_envs), np.float32) for k in ("rewards", "values")}
        buf.update({k: np.zeros((num_steps, num_envs), bool) for k in ("terminated", "truncated")})
        final_values = np.zeros_like(buf["values"])  # V(final observation) of truncated episodes, as vldac.py
        feats, actions, logprobs = [], [], []
        with torch.no_grad():
            for t in range(num_steps):
                f = features(obs)
                dist = torch.distributions.Categorical(logits=actor(f))
                a = dist.sample()
                feats.append(f), actions.append(a), logprobs.append(dist.log_prob(a))
                buf["values"][t] = critic(f).squeeze(-1).numpy()
                obs, buf["rewards"][t], buf["terminated"][t], buf["truncated"][t], infos = env.step(a.numpy())
                cut = np.flatnonzero(buf["truncated"][t] & ~buf["terminated"][t])
                if len(cut):
                    final_values[t, cut] = critic(features(infos["final_obs"][cut])).squeeze(-1).numpy()
                for i in np.flatnonzero(infos.get("_episode", [])):
                    episodes += 1
                    successes += bool(infos["episode"]["success"][i])
            next_value = critic(features(obs)).squeeze(-1).numpy()
        adv, ret = vldac.compute_gae(buf["rewards"], buf["values"], buf["terminated"], buf["truncated"],
                                     next_value, gamma, gae_lambda, final_values)
        F, A, LP = torch.cat(feats), torch.cat(actions), torch.cat(logprobs)
        adv, ret = torch.as_tensor(adv.reshape(-1)), torch.as_tensor(ret.reshape(-1))
        for mb in torch.randperm(len(A)).chunk(4):
            lp = torch.distributions.Categorical(logits=actor(F[mb])).log_prob(A[mb])
            pg, _ = vldac.vldac_policy_loss(lp[:, None], LP[mb][:, None], adv[mb], torch.ones(len(mb), 1), clip)
            loss = pg + 0.15 * vldac.value_loss(critic(F[mb]).squeeze(-1), None, ret[mb])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        done += num_envs * num_steps
        if done % report < num_envs * num_steps:
            centred = actor.weight[:, 1].softmax(0).detach().numpy()
            print(f"| {done:,} | {episodes} | {successes / max(episodes, 1):.3f} | "
                  f"{', '.join(f'{p:.2f}' for p in centred)} |")
            episodes = successes = 0


def bandit_reward(where, actions):
    """(N,) box positions (index into POSITIONS) and actions -> 1.0 where the action is the scripted one."""
    return (np.argmax(POLICIES[SCRIPTED], 1)[where] == actions).astype(np.float32)


def bandit(updates, vldac_argv, report=5):
    report = min(report, updates)
    args = vldac.resolve(vldac.parse_args(["--env", "grid", "--gamma", "0", "--num-steps", "8", *vldac_argv]))
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    env = vldac.make_env(args, args.num_envs, args.seed)
    env.reset(seed=args.seed)
    policy = vldac.build_policy(args, env, rng=rng)
    env.reset(seed=args.seed)
    policy.freeze_reference()
    optimizer = vldac.make_optimizer(args, policy)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, list(vldac.lr_schedule(args, updates)))
    hits = np.zeros((2, 2))  # rows: box in view / not; columns: rewarded replies, replies
    env_step = env.step

    def step(actions):  # the env moves on as usual; the reward is agreeing with the scripted policy
        where = box_in_view(np.stack([env.prompt(i)[0][-1] for i in range(env.num_envs)]))
        reward = bandit_reward(where, actions)
        obs, _, terminated, truncated, infos = env_step(actions)
        np.add.at(hits, (where == 3).astype(int), np.stack([reward, np.ones_like(reward)], 1))
        return obs, reward, terminated, truncated, infos

    env.step = step
    print("| updates | env steps | box in view: forward | no box: turn right | invalid | KL to ref (max) |\n"
          "|---|---:|---:|---:|---:|---:|")
    invalid, kl = [], []
    for u in range(1, updates + 1):
        buf, next_value, data, _ = vldac.rollout(args, policy, env, rng)
        minibatches = vldac.plan_minibatches(args, len(data["samples"]), rng)
        vldac.score_rollout(args, policy, data, buf["values"], minibatches[0])
        advantages, returns = vldac.compute_gae(buf["rewards"], buf["values"], buf["terminated"], buf["truncated"],
                                                next_value, args.gamma, args.gae_lambda, buf["final_values"])
        m = vldac.update(args, policy, optimizer, data, advantages, returns, buf["values"],
                         warmup=u <= args.value_warmup_updates, minibatches=minibatches)
        scheduler.step()
        invalid.append(1 - buf["valid"].mean())
        kl.append(m["losses/ref_kl"])
        if u % report == 0:
            seen, unseen = hits[:, 0] / hits[:, 1].clip(1)
            print(f"| {u - report + 1}–{u} | {u * args.num_envs * args.num_steps:,} | {seen:.2f} | {unseen:.2f} | "
                  f"{np.mean(invalid):.3f} | {max(kl):.3f} |", flush=True)
            hits[:], invalid, kl = 0, [], []


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                allow_abbrev=False)
    p.add_argument("--checkpoint", help="a grid run dir or ckpt-* dir")
    p.add_argument("--states", type=int, default=384, help="states probed, 4 replies each (--checkpoint)")
    p.add_argument("--linear", action="store_true")
    p.add_argument("--task", default="oneroom")
    p.add_argument("--steps", type=int, default=65536, help="env steps (--linear)")
    p.add_argument("--lr", type=float, default=3e-2, help="Adam LR (--linear)")
    p.add_argument("--bandit", action="store_true")
    p.add_argument("--updates", type=int, default=40, help="updates (--bandit; 32 envs x 8 steps each by default)")
    a, rest = p.parse_known_args()
    if not (a.checkpoint or a.linear or a.bandit) or (rest and not a.bandit):
        p.error("give --checkpoint DIR, --linear or --bandit [vldac.py flags]")
    if a.checkpoint:
        probe_checkpoint(a.checkpoint, a.states)
    if a.linear:
        linear_ppo(a.task, a.steps, a.lr)
    if a.bandit:
        bandit(a.updates, ["--task", a.task, *rest])
