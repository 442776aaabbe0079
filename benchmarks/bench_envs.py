"""Env steps per second: C++ batches (1 and 64 envs, 300x300 and 84x84), the Python twin, the frame-fill floor.

    python benchmarks/bench_envs.py
    python benchmarks/bench_envs.py --tasks gymcards/blackjack --repeats 9

Single thread, uniformly random actions. Each number is the median over --repeats timed chunks of about
--chunk seconds. The floor is what any env returning fresh frames must do at least: allocate the
(N, S, S, 3) uint8 batch and write every byte once (np.empty, then a copy of one cached frame), holding the
previous batch meanwhile as the envs hold their last observation; it is timed
in chunks alternating with the env's, and "x floor" is the median per-chunk ratio floor steps/s / env
steps/s (1.0 = as cheap as writing the pixels; lower is better).

Then the navigation worlds: MiniWorld (OpenGL on Mesa llvmpipe) against its C++ grid twin, first person at
80x60, 1 and --nav-envs envs (MiniWorld in process and in 2 forked workers); --worlds with no names skips it.
"""
import argparse
import platform
import time

import numpy as np

import envs

# add a task here to get its rows
TASKS = ["gymcards/numberline", "gymcards/blackjack", "gymcards/ezpoints", "gymcards/points24"]
SIZES = (300, 84)
NUM_ENVS = (1, 64)


def _calls_per_chunk(fn, chunk: float) -> int:
    calls, start = 0, time.perf_counter()
    while time.perf_counter() - start < chunk / 4:  # warm up and calibrate
        fn()
        calls += 1
    return max(1, int(calls / (time.perf_counter() - start) * chunk))


def _timed(fn, calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return time.perf_counter() - start


def measure(step, floor, num_envs: int, args) -> tuple[float, float, float]:
    """Median env-steps/s of step() and floor() (one call = num_envs env steps), timed in alternating chunks
    so both see the same machine load, and the median of the per-chunk ratios floor/env."""
    n_step, n_floor = _calls_per_chunk(step, args.chunk), _calls_per_chunk(floor, args.chunk)
    env_rates, floor_rates = [], []
    for _ in range(args.repeats):
        env_rates.append(n_step * num_envs / _timed(step, n_step))
        floor_rates.append(n_floor * num_envs / _timed(floor, n_floor))
    ratios = np.array(floor_rates) / np.array(env_rates)
    return float(np.median(env_rates)), float(np.median(floor_rates)), float(np.median(ratios))


def make_step(task: str, num_envs: int, size: int, backend: str):
    env = envs.make(task, num_envs, seed=0, backend=backend, image_size=size)
    env.reset()
    actions = np.random.default_rng(0).integers(0, env.single_action_space.n, (1024, num_envs))
    t = iter(range(1 << 62))
    return lambda: env.step(actions[next(t) % 1024])


def make_floor(num_envs: int, size: int):
    """Allocate and fill a fresh batch, holding the previous one meanwhile (as an env keeps its last obs)."""
    frame, last = np.full((size, size, 3), 200, np.uint8), [None]

    def floor():
        obs = np.empty((num_envs, size, size, 3), np.uint8)
        np.copyto(obs, frame)
        last[0] = obs

    return floor


# --- navigation: MiniWorld (OpenGL through Mesa llvmpipe) vs the C++ grid twin, first person, 80x60
NAV_WORLDS = {"OneRoom": "grid/oneroom", "Hallway": "grid/hallway", "FourRooms": "grid/fourrooms",
              "WallGap": "grid/wallgap"}


def nav_table(args):
    """Rows per world: 1 env and N envs (MiniWorld in process, then in 2 forked workers) against the grid
    twin with as many envs, timed in alternating chunks; "grid / MiniWorld" is the median per-chunk ratio."""
    rows = []
    for world in args.worlds:
        for num_envs, workers in [(1, 0), (args.nav_envs, 0), (args.nav_envs, 2)]:
            grid = make_step(NAV_WORLDS[world], num_envs, 80, "cpp")
            mw_env = envs.make(f"miniworld/{world}", num_envs, seed=0, workers=workers)
            mw_env.reset()
            actions = np.random.default_rng(0).integers(0, 4, (1024, num_envs))
            t = iter(range(1 << 62))
            grid_rate, mw_rate, inverse = measure(grid, lambda: mw_env.step(actions[next(t) % 1024]), num_envs, args)
            mw_env.close()
            rows.append([world, f"{num_envs}" + (f" ({workers} workers)" if workers else ""), f"{mw_rate:,.0f}",
                         f"{grid_rate:,.0f}", f"{1 / inverse:,.0f}x"])
    print_table(["world", "envs", "MiniWorld steps/s", "grid C++ steps/s", "grid / MiniWorld"], rows)


def print_table(header, rows):
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print("| " + " | ".join(str(x).rjust(w) if i > 1 else str(x).ljust(w) for i, (x, w) in
                                enumerate(zip(row, widths))) + " |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", nargs="*", default=TASKS)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--chunk", type=float, default=0.05, help="seconds per timed chunk")
    parser.add_argument("--worlds", nargs="*", default=list(NAV_WORLDS), help="MiniWorld vs grid rows (none: skip)")
    parser.add_argument("--nav-envs", type=int, default=16, help="N of the N-env navigation rows")
    args = parser.parse_args()

    print(f"# {platform.processor() or platform.machine()}, {platform.python_version()}, numpy {np.__version__}, "
          f"single thread, medians of {args.repeats} chunks")
    header = ["task", "size"] + [f"C++ {n} env{'s' * (n > 1)}" for n in NUM_ENVS] + ["Python 1 env"]
    header += [f"floor {n}" for n in NUM_ENVS] + [f"x floor {n}" for n in NUM_ENVS]
    rows = []
    for task in args.tasks:
        for size in SIZES:
            cpp = [measure(make_step(task, n, size, "cpp"), make_floor(n, size), n, args) for n in NUM_ENVS]
            python = measure(make_step(task, 1, size, "python"), make_floor(1, size), 1, args)[0]
            rows.append([task, f"{size}x{size}", *(f"{r[0]:,.0f}" for r in cpp), f"{python:,.0f}",
                         *(f"{r[1]:,.0f}" for r in cpp), *(f"{r[2]:.2f}" for r in cpp)])
    print_table(header, rows)
    print("steps/s = env steps per second (a batch step of N envs counts N)")
    if args.worlds:
        print()
        nav_table(args)


if __name__ == "__main__":
    main()
