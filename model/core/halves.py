"""The largest products of a token, in two halves on two threads, without an OpenMP team.

On the 2-core machine the model runs one torch thread: a team of two OpenMP threads waits at
every barrier for whichever thread the GUI, or another process, has taken the core from
(explorer/runtime.py ``model_thread_count``: a forward pass went from 51 to 829 ms). But a
real model's biggest product is one matrix: Gemma 3's 262,144 × 640 output matrix is 60 % of
a token's weight bytes at 16 bits, 29 ms of 75 on one thread.

Here that product is cut in two by rows: the calling thread multiplies the first half while
one helper thread (a plain Python thread, which releases the GIL inside the torch call)
multiplies the second, each with one torch thread. There is one hand-off per product, not a
barrier per loop: if the helper's core is taken, the product takes as long as on one thread,
not ten times longer. Measured (one 262,144 × 640 float16 product, 2 rows, median / p95 of
30): one thread 31.5 / 31.9 ms; halves 17.3 / 20.0 ms; two OpenMP threads 18.8 / 19.7 ms.
Beside a process that keeps one core busy: one thread 31.0 / 32.5 ms, halves 30.9 / 36.5 ms,
two OpenMP threads 40.5 / **185** ms.

A product in row pieces (the 8- and 16-bit layers, :mod:`model.core.int8`) gives the same
result, bit for bit, with or without the helper: each piece is computed as it would be alone.
A plain float32 matrix cut in two may round its last bits differently (another kernel shape).

Off by default (an embedder or a test decides); the app turns it
on when the model has one torch thread and the machine has a second core
(:func:`explorer.runtime.configure_torch`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import torch
import torch.nn.functional as F

#: Products smaller than this many weights stay on the calling thread: handing one over costs
#: ~0.1 ms, a block's 1.3 M-weight product takes ~0.25 ms at 16 bits.
MIN_SPLIT_WEIGHTS = 8_000_000

_lock = threading.Lock()
_helper: ThreadPoolExecutor | None = None


def use_helper(on: bool) -> None:
    """Start (or stop) the one helper thread the halves run on."""
    global _helper
    with _lock:
        if on and _helper is None:
            _helper = ThreadPoolExecutor(1, thread_name_prefix="product-half")
        elif not on and _helper is not None:
            _helper.shutdown(wait=True)
            _helper = None


def helper_on() -> bool:
    return _helper is not None


def _on_helper(fn: Callable[[], list[torch.Tensor]]) -> Callable[[], list[torch.Tensor]]:
    """``fn`` to run on the helper under the caller's autograd state (thread-local in torch)."""
    inference, grad = torch.is_inference_mode_enabled(), torch.is_grad_enabled()

    def run() -> list[torch.Tensor]:
        with torch.inference_mode(inference), torch.set_grad_enabled(grad):
            return fn()

    return run


def side_by_side(products: Sequence[Callable[[torch.Tensor], torch.Tensor]], rows: torch.Tensor,
                 weights: int) -> torch.Tensor:
    """``cat([p(rows) for p in products], -1)``, the second half of ``products`` on the helper
    when it is on and the pieces hold ``weights`` ≥ :data:`MIN_SPLIT_WEIGHTS` in all."""
    helper = _helper
    if helper is None or len(products) < 2 or weights < MIN_SPLIT_WEIGHTS:
        return torch.cat([product(rows) for product in products], dim=-1)
    half = len(products) // 2
    second = helper.submit(_on_helper(lambda: [product(rows) for product in products[half:]]))
    first = [product(rows) for product in products[:half]]
    return torch.cat(first + second.result(), dim=-1)


def linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """``F.linear(x, weight, bias)``, in two row halves of ``weight`` when the helper is on and
    ``weight`` is large (a float32 output matrix)."""
    if _helper is None or weight.numel() < MIN_SPLIT_WEIGHTS or weight.shape[0] < 2:
        return F.linear(x, weight, bias)
    half = weight.shape[0] // 2
    b1, b2 = (None, None) if bias is None else (bias[:half], bias[half:])
    return side_by_side([lambda rows: F.linear(rows, weight[:half], b1),
                         lambda rows: F.linear(rows, weight[half:], b2)], x, weight.numel())
