"""C++ GAE kernel vs the numpy reference in vldac.py: median wall time, ratio, ns per element.

    python benchmarks/bench_gae.py
"""
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from vldac import compute_gae, compute_gae_reference  # noqa: E402


def median_seconds(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main():
    print(f"{'T x N':>12} {'C++ ms':>10} {'numpy ms':>10} {'ratio':>8} {'C++ ns/elem':>12}")
    for T, N, repeats in [(256, 64, 200), (1024, 256, 50), (4096, 4096, 7)]:
        rng = np.random.default_rng(0)
        args = (
            rng.normal(size=(T, N)).astype(np.float32),
            rng.normal(size=(T, N)).astype(np.float32),
            rng.random((T, N)) < 0.05,
            rng.random((T, N)) < 0.02,
            rng.normal(size=N).astype(np.float32),
            0.99,
            0.95,
            rng.normal(size=(T, N)).astype(np.float32),
        )
        cpp = median_seconds(lambda: compute_gae(*args), repeats)
        ref = median_seconds(lambda: compute_gae_reference(*args), max(3, repeats // 10))
        print(f"{f'{T} x {N}':>12} {cpp * 1e3:10.3f} {ref * 1e3:10.3f} {ref / cpp:7.1f}x {cpp / (T * N) * 1e9:12.2f}")


if __name__ == "__main__":
    main()
