"""Run by tests/test_distributed.py, in one process or under torchrun.

    python tests/ddp_worker.py parity OUT [vldac flags]   # 1 process: the update over the union minibatches
    torchrun --nproc_per_node 2 tests/ddp_worker.py parity OUT [vldac flags]   # each rank: its shard, DDP
    torchrun --nproc_per_node 2 tests/ddp_worker.py fail [vldac flags]   # vldac.main; rank 1 raises in update

parity: every rank builds the same policy and the same global rollout (same seeds, all envs), then runs one
value warm-up update and one policy update. With 2 ranks each takes its env shard and its own minibatch plan;
alone, the process takes everything and, as minibatch k, the union of the 2 ranks' k-th minibatches. Rank 0
saves the trainable weights before and after, and the metrics, to OUT.
"""
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import vldac  # noqa: E402

SHARDS = 2  # the world size of the parity run


def parity(out, argv):
    args = vldac.init_distributed(vldac.resolve(vldac.parse_args(argv)))
    rank, world = vldac.rank_world()
    T, N = args.num_steps, args.num_envs
    n = N // SHARDS
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    env = vldac.make_env(args, N, args.seed)
    env.reset(seed=args.seed)
    policy = vldac.build_policy(args, env, rng=rng)
    policy.freeze_reference()
    buf, next_value, data, _ = vldac.rollout(args, policy, env, rng)  # the same on every rank
    adv, ret = vldac.compute_gae(buf["rewards"], buf["values"], buf["terminated"], buf["truncated"], next_value,
                                 args.gamma, args.gae_lambda, buf["final_values"])
    plans = [vldac.plan_minibatches(args, T * n, np.random.default_rng(100 + r)) for r in range(SHARDS)]

    def to_global(r, j):  # rank r's local sample j = (step t, env i of its shard) -> index into (T, N)
        t, i = divmod(int(j), n)
        return t * N + r * n + i

    if world == 1:
        keep, cols = np.arange(T * N), slice(None)
        minibatches = [[np.array([to_global(r, j) for r in range(SHARDS) for j in plans[r][e][k]])
                        for k in range(args.num_minibatches)] for e in range(args.update_epochs)]
    else:
        keep, cols = [to_global(rank, j) for j in range(T * n)], slice(rank * n, (rank + 1) * n)
        minibatches = plans[rank]
    mine = {k: [data[k][g] for g in keep] for k in ("samples", "replies", "logprobs")}
    values, adv, ret = (np.ascontiguousarray(x[:, cols]) for x in (buf["values"], adv, ret))
    vldac.score_rollout(args, policy, mine, values, minibatches[0])
    if args.loss == "rl4vlm":
        mine["thought_mask"] = [policy.thought_mask(r) for r in mine["replies"]]
    ddp = torch.nn.parallel.DistributedDataParallel(policy, find_unused_parameters=True) if world > 1 else None
    optimizer = vldac.make_optimizer(args, policy)
    start = {k: p.detach().clone() for k, p in policy.named_parameters() if p.requires_grad}
    metrics = [vldac.update(args, policy, optimizer, mine, adv, ret, values, warmup, minibatches, ddp)
               for warmup in (True, False)]
    if rank == 0:
        Path(out).mkdir(parents=True, exist_ok=True)
        torch.save(start, Path(out) / "start.pt")
        torch.save({k: p.detach().clone() for k, p in policy.named_parameters() if p.requires_grad},
                   Path(out) / "weights.pt")
        (Path(out) / "metrics.json").write_text(json.dumps(metrics))


def fail(argv):
    def update(*a, **kw):
        if vldac.rank_world()[0] == 1:
            raise RuntimeError("rank 1 fails on purpose")
        return real_update(*a, **kw)
    real_update, vldac.update = vldac.update, update
    vldac.main(argv)


if __name__ == "__main__":
    if sys.argv[1] == "parity":
        parity(sys.argv[2], sys.argv[3:])
    else:
        fail(sys.argv[2:])
