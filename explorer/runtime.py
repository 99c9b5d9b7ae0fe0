"""Process-wide settings, in one place, applied by :func:`explorer.app.main` (and by the test
fixtures): they belong to the application, not to any window or worker, so an embedder or a
test decides them.

* **GIL switch interval.** pyqtgraph paints in Python on the GUI thread, and the model
  thread needs the GIL back between every small torch op. With CPython's default 5 ms
  switch interval each handoff could wait 5 ms: measured, keystroke-to-repaint went from
  566 ms (p50) to 41 ms with 0.5 ms.
* **Torch threads**: all cores but one, which the GUI thread needs to paint (see
  :func:`model_thread_count`).
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


#: From this many parameters a model's forward pass is bound by memory bandwidth (reading
#: its weights once per new token), and a second thread reads them faster.
LARGE_MODEL_PARAMS = 50_000_000


def threads_override() -> int | None:
    """The torch thread count set in ``ATTENTION_EXPLORER_TORCH_THREADS`` (a positive integer),
    else None. The test suite reads it too, to run every test with that many threads
    (tests/conftest.py)."""
    value = os.environ.get(THREADS_ENV, "").strip()
    return int(value) if value.isdigit() and int(value) > 0 else None


def model_thread_count(n_params: int | None = None, precision: str = "float32") -> int:
    """Torch threads for the model: all cores but one, which the GUI thread needs to paint;
    all of them for a large model (``n_params`` ≥ :data:`LARGE_MODEL_PARAMS`).

    On 2 cores torch's default (2) left painting competing with the forward pass: measured
    with ``python -m explorer.bench``, one thread brought typing p95 from 54-63 ms to 40-47
    ms and the longest stall from 61-68 ms to 41-42 ms, and the forward pass itself got
    faster (p95 21-25 -> 12-14 ms); the bundled model is too small to gain from a second
    thread. A GPT-2-small-sized one is not: its 0.5 GB of weights are read once per new token
    (13.8 GB/s on one thread, 19.7 on two, ``python -m model.bench.memory``), and with two
    threads typing to 200 tokens went from keystroke-to-repaint p50 86 / p95 164 ms to
    70 / 88 ms, forward 60 / 66 to 45 / 54 ms, with no GUI stall over 50 ms.
    8- and 16-bit weights (``precision`` "int8", "float16") keep all cores but one at any size:
    fbgemm's kernels on two threads collapsed whenever another thread wanted a core (one token
    through GPT-2 small's linears: int8 14.8 ms on one thread, 350-390 ms on two beside a busy
    process; docs/benchmarks.md), and in the app the GUI thread always does.
    ``ATTENTION_EXPLORER_TORCH_THREADS`` overrides all of it.
    """
    override = threads_override()
    if override is not None:
        return override
    cores = os.cpu_count() or 2
    if n_params is not None and n_params >= LARGE_MODEL_PARAMS and precision not in ("float16", "int8"):
        return cores
    return max(1, cores - 1)


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

        threads = model_thread_count(n_params, precision)
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
        _policy.torch_configured = True


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
