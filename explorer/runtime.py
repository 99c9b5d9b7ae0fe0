"""Process-wide settings, in one place, applied by :func:`explorer.app.main` (and by the test
fixtures): they belong to the application, not to any window or worker, so an embedder or a
test decides them.

* **GIL switch interval.** pyqtgraph paints in Python on the GUI thread, and the model
  thread needs the GIL back between every small torch op. With CPython's default 5 ms
  switch interval each handoff could wait 5 ms: measured, keystroke-to-repaint went from
  566 ms (p50) to 41 ms with 0.5 ms.
* **Torch threads**: all cores but one, which the GUI thread needs to paint (see
  :func:`model_thread_count`).
* **A helper thread** for the output matrix's second half (:func:`use_product_helper`).
* **NumPy's BLAS threads**: one (:func:`limit_numpy_threads`).
* **Garbage collection**: after a model is loaded, everything alive is frozen out of
  Python's collections (:func:`after_model_load`).
"""

from __future__ import annotations

import gc
import os
import sys
from dataclasses import dataclass

GIL_SWITCH_INTERVAL_S = 0.0005
THREADS_ENV = "ATTENTION_EXPLORER_TORCH_THREADS"


@dataclass
class _Policy:
    freeze_after_load: bool = False
    replaced_a_model: bool = False  # an unfrozen model is waiting to be collected
    configured: bool = False
    torch_configured: bool = False
    numpy_configured: bool = False


_policy = _Policy()


def threads_override() -> int | None:
    """The torch thread count set in ``ATTENTION_EXPLORER_TORCH_THREADS`` (a positive integer),
    else None. The test suite reads it too, to run every test with that many threads
    (tests/conftest.py)."""
    value = os.environ.get(THREADS_ENV, "").strip()
    return int(value) if value.isdigit() and int(value) > 0 else None


def model_thread_count(n_params: int | None = None, precision: str = "float32") -> int:
    """Torch threads for the model: all cores but one, which the GUI thread needs to paint, for
    every model and precision (``n_params`` and ``precision`` are kept for callers and for the
    record; neither changes the answer any more).

    On 2 cores torch's default (2) left painting competing with the forward pass: one thread
    brought the bundled model's typing p95 from 54-63 ms to 40-47 ms. Large models used to get
    every core (a GPT-2-small-sized model reads 0.5 GB per token, 13.8 GB/s on one thread and
    19.7 on two: typing p50 86 -> 70 ms on a quiet machine). But an OpenMP team of two waits at
    every barrier for a thread the GUI thread, or any other process, has taken the core from:
    typing on the GPT-2-small-shaped model beside a busy process went from forward p50 51 ms on
    one thread to 829 ms on two, Gemma 3 270M in the app was 2.5-20x slower on two, and fbgemm's
    8- and 16-bit kernels on two threads collapsed (int8 14.8 ms -> 350-390 ms;
    docs/benchmarks.md, "Weights at 8 and 16 bits"). A modest gain when the machine is idle is
    not worth a stall of seconds when it is not. ``ATTENTION_EXPLORER_TORCH_THREADS`` overrides.
    """
    override = threads_override()
    if override is not None:
        return override
    return max(1, (os.cpu_count() or 2) - 1)


def configure_process(freeze_after_load: bool = True) -> None:
    """Apply the process-wide settings above. Imports neither torch (over a second of a cold
    start, docs/benchmarks.md "Importing torch") nor NumPy (the window shows before either):
    the model thread calls :func:`configure_numpy` and :func:`configure_torch` before it
    loads a model."""
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
    _policy.freeze_after_load = freeze_after_load
    _policy.configured = True


def limit_numpy_threads(n: int = 1) -> bool:
    """Give NumPy's OpenBLAS ``n`` threads; True if it took. The first traces run in NumPy
    (:mod:`model.tracer.numpy_forward`) beside the GUI thread: with OpenBLAS's default (one thread
    per core) a 12-token forward pass took 190-260 ms on the 2-core machine while another
    process was busy (its threads spin for a core they do not get), with one thread 14-16 ms.
    The library is already loaded with NumPy; it is found in the process's memory map (Linux;
    elsewhere NumPy's BLAS is left as it is)."""
    import ctypes

    import numpy  # noqa: F401 (loads its BLAS)

    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if "openblas" in line.rsplit("/", 1)[-1].lower()}
    except OSError:
        return False
    for path in sorted(paths):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for symbol in ("scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads",
                       "openblas_set_num_threads64_", "openblas_set_num_threads"):
            setter = getattr(lib, symbol, None)
            if setter is not None:
                setter(ctypes.c_int(n))
                return True
    return False


def configure_numpy() -> None:
    """NumPy's BLAS threads (:func:`limit_numpy_threads`), once :func:`configure_process`
    has run. Imports NumPy: the model thread calls this."""
    if _policy.configured and not _policy.numpy_configured:
        limit_numpy_threads()
        _policy.numpy_configured = True


def configure_torch(n_params: int | None = None, precision: str = "float32") -> None:
    """Torch's thread count for a model of ``n_params`` at ``precision`` (:func:`model_thread_count`), once
    :func:`configure_process` has run (an embedder that never calls it keeps torch's
    defaults). Imports torch: the model thread calls this, before and after each load."""
    if _policy.configured:
        import torch

        from model.core import halves

        threads = model_thread_count(n_params, precision)
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
        halves.use_helper(use_product_helper(threads))
        _policy.torch_configured = True


def use_product_helper(torch_threads: int) -> bool:
    """A helper thread for the largest products (:mod:`model.core.halves`) when the model runs
    one torch thread on a machine with a second core: the output matrix's two halves then run
    on both cores, with one hand-off per product rather than an OpenMP barrier per loop.
    Gemma 3 270M at 16 bits: a typed token 71 → 57 ms; float32 97 → 74 ms. With more torch
    threads the products are already parallel."""
    return torch_threads == 1 and (os.cpu_count() or 1) >= 2


def before_model_load() -> None:
    """The model about to be replaced must be collectable once it is gone."""
    if _policy.freeze_after_load:
        if gc.get_freeze_count():
            _policy.replaced_a_model = True
        gc.unfreeze()


def after_model_load() -> None:
    """Leave what lives as long as the window (modules, Qt wrappers, the loaded model) out of
    Python's garbage collections from now on. A full collection of the ~220,000 objects a
    loaded window holds took 138 ms on the GUI thread of a 2-core machine: a visible stall
    whenever Python runs one mid-typing. Frozen, it takes well under a millisecond.
    Reference counting still frees frozen objects; :func:`before_model_load` unfreezes, so a
    replaced model that sits in reference cycles is collected too.

    The first time, only the young generations are collected before freezing (what start-up
    left behind, ~1 ms): a full collection here cost a 140-170 ms stall just as the first
    trace appeared, when people start typing. After a model switch the old model sits
    in the oldest generation, so that collection is a full one (a switch takes longer anyway)."""
    if _policy.freeze_after_load:
        if _policy.replaced_a_model:
            gc.collect()
            _policy.replaced_a_model = False
        else:
            gc.collect(1)
        gc.freeze()
