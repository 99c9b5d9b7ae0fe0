"""Suite-wide settings (tests/README.md).

Torch threads: ``ATTENTION_EXPLORER_TORCH_THREADS=N python -m pytest`` runs every test with N
torch threads: the model tests here, the app's model thread through
:func:`explorer.runtime.model_thread_count` (which reads the same variable). Unset, the model
tests keep torch's default (one per core) and the app uses its own policy (all cores but one).
A float comparison must pass with any N (tests/numerics.py): summation order, and so the last
bits, change with the thread count.
"""

from __future__ import annotations

import pytest

from explorer.runtime import THREADS_ENV, threads_override  # imports neither Qt nor torch


def pytest_configure(config: pytest.Config) -> None:
    threads = threads_override()
    if threads is not None:
        import torch

        torch.set_num_threads(threads)


def pytest_report_header(config: pytest.Config) -> str:
    import torch

    threads = threads_override()
    source = f"{THREADS_ENV}={threads}" if threads is not None else f"torch's default; set {THREADS_ENV} to choose"
    return f"torch threads: {torch.get_num_threads()} ({source}), CPU capability {torch.backends.cpu.get_cpu_capability()}"

