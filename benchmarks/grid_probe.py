"""Why the tiny model does not learn grid navigation: two probes keyed on where the red box is in the
current frame (left / centre / right fifth-wise split 2:1:2, or not in view), read off the frame's
pixels.

    python benchmarks/grid_probe.py --checkpoint runs/<grid run>   # does the policy look at the box?
    python benchmarks/grid_probe.py --linear                       # is the reward signal enough?

--checkpoint: the trained policy's action distribution per box position, on states visited by random
actions (env seed 777, disjoint from training and evaluation): the probability of each canonical reply
`{"thoughts": "", "action": <a>}` (the replies the format warm-up teaches), renormalised over the actions,
and V(s). A policy that uses its eyes turns toward the box and walks at it once it is centred.

--linear: the same reward, GAE (vldac.compute_gae) and clipped PPO loss (vldac.vldac_policy_loss), with a
linear softmax policy and a linear value over the box-position one-hot instead of a VLM: how fast a learner
that is handed the one visual feature that matters improves on uniformly random actions.
"""
import argparse
import dataclasses
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import envs  # noqa: E402
import vldac  # noqa: E402
from envs.grid import BOX_SIDE, BOX_TOP  # noqa: E402

POSITIONS = ("left", "centre", "right", "not in view")


def features(frames):
    return torch.eye(len(POSITIONS))[box_position(frames)]


def box_position(frames):
    """(N, H, W, 3) frames -> (N,) index into POSITIONS: the part of the view holding most box pixels."""
    box = np.zeros(frames.shape[:3], bool)
    for colour in (*BOX_SIDE, BOX_TOP):
        box |= (frames == np.array(colour, np.uint8)).all(-1)
    columns = box.sum(1)  # (N, W)
    W = frames.shape[2]
    parts = np.stack([columns[:, : 2 * W // 5].sum(1), columns[:, 2 * W // 5: 3 * W // 5].sum(1),
                      columns[:, 3 * W // 5:].sum(1)], 1)
    return np.where(parts.sum(1) > 0, parts.argmax(1), 3)


@torch.no_grad()
def probe_checkpoint(path, states, seed=777):
    ckpt, state = vldac.load_checkpoint(path)
    args = dataclasses.replace(vldac.Args(**state["args"]), num_envs=32, device="cpu", dtype="float32")
    env = vldac.make_env(args, args.num_envs, seed)
    env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    policy = vldac.build_policy(args, env, ckpt, rng)
    if state["model"] is not None:
        policy.model.load_state_dict(state["model"])
    policy.value_head.load_state_dict(state["value_head"])
    policy.eval()
    tok, eos = policy.processor.tokenizer, torch.tensor([policy.eos_ids[0]])
    replies = [torch.cat([torch.tensor(tok.encode(vldac.reply_text("", s))), eos]) for s in env.action_symbols]
    probs, values, where = [], [], []
    while len(where) * args.num_envs < states:
        for _ in range(7):  # decorrelate the sampled states
            obs, *_ = env.step(rng.integers(len(env.action_symbols), size=args.num_envs))
        samples = policy.encode([env.prompt(i) for i in range(args.num_envs)])
        scores = []
        for reply in replies:
            batch, P = vldac.collate(samples, [reply] * len(samples), policy.pad_id)
            logprobs, hidden = policy.forward(batch, P)
            scores.append(logprobs.sum(1))
        probs.append(torch.stack(scores, 1).softmax(1).numpy())
        values.append(policy.value(hidden).numpy())
        where.append(box_position(obs))
    probs, values, where = np.concatenate(probs), np.concatenate(values), np.concatenate(where)
    print(f"| box in view | states | {' | '.join(f'p({s})' for s in env.action_symbols)} | V(s) |")
    print("|---|---:|" + "---:|" * (len(env.action_symbols) + 1))
    for k, name in enumerate(POSITIONS):
        m = where == k
        if m.any():
            print(f"| {name} | {m.sum()} | " + " | ".join(f"{p:.3f}" for p in probs[m].mean(0)) +
                  f" | {values[m].mean():.3f} |")


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


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", help="a grid run dir or ckpt-* dir")
    p.add_argument("--states", type=int, default=384, help="states probed (--checkpoint)")
    p.add_argument("--linear", action="store_true")
    p.add_argument("--task", default="oneroom")
    p.add_argument("--steps", type=int, default=65536, help="env steps (--linear)")
    p.add_argument("--lr", type=float, default=3e-2, help="Adam LR (--linear)")
    a = p.parse_args()
    if not (a.checkpoint or a.linear):
        p.error("give --checkpoint DIR or --linear")
    if a.checkpoint:
        probe_checkpoint(a.checkpoint, a.states)
    if a.linear:
        linear_ppo(a.task, a.steps, a.lr)
