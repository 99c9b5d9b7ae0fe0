"""Memory-bandwidth floor of a one-token forward pass: ``python -m model.bench.memory``.

A causal model traced incrementally computes one new token per key: a matrix–vector
product with every weight, so the time is bound by reading the weights from memory, not
by arithmetic. This times exactly that (a (1, d) row times 40 float32 matrices of
768 × 3072, 377 MB, the size class of GPT-2 small's blocks) with 1 and 2 threads and
prints the bandwidth and what it means for GPT-2 small's ~500 MB of float32 weights.
Medians of 7 runs after one warm-up.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

GPT2_SMALL_BYTES = 124_439_808 * 4  # every parameter read once per new token, float32


def bandwidth(threads: int, matrices: list[torch.Tensor], repeats: int = 7) -> tuple[float, float]:
    """(median seconds, GB/s) for one pass over ``matrices``."""
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        x = torch.randn(1, matrices[0].shape[0])
        for m in matrices:
            x @ m  # warm-up
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            for m in matrices:
                x @ m
            times.append(time.perf_counter() - start)
    finally:
        torch.set_num_threads(previous)
    seconds = float(np.median(times))
    return seconds, sum(m.numel() * m.element_size() for m in matrices) / seconds / 1e9


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--matrices", type=int, default=40)
    args = p.parse_args(argv)
    matrices = [torch.randn(768, 3072) for _ in range(args.matrices)]
    size = sum(m.numel() * 4 for m in matrices) / 1e6
    print(f"{size:.0f} MB of float32 weights, one (1, 768) row; load average {os.getloadavg()[0]:.2f}, "
          f"{os.cpu_count()} CPUs, torch {torch.__version__}")
    for threads in (1, 2):
        seconds, gbs = bandwidth(threads, matrices)
        floor = GPT2_SMALL_BYTES / (gbs * 1e9) * 1000
        print(f"  {threads} thread(s): {seconds * 1000:6.1f} ms  {gbs:5.1f} GB/s  -> GPT-2 small reads its "
              f"{GPT2_SMALL_BYTES / 1e6:.0f} MB in at least {floor:.0f} ms per new token")


if __name__ == "__main__":
    main()
