"""Input saliency: how much each input token's embedding moves the target's logit.

``f(E)`` is the target's logit (or the contrast A − B, as in :mod:`model.analysis.dla`) at a
position, as a function of the token embeddings ``E`` (T, d) that enter the residual stream
(positions are added to them and kept fixed). Two scores per token:

* **gradient × input**: ``Σ_d ∂f/∂E[i, d] · E[i, d]`` — a first-order estimate of what
  removing token i's embedding would change;
* **integrated gradients** (Sundararajan et al. 2017): ``Σ_d (E − E')[i, d] · ∫₀¹ ∂f/∂E[i, d]
  at E' + α(E − E') dα``, with a baseline ``E'`` (zero embeddings, or every token replaced by
  a pad token), the integral as a midpoint Riemann sum over ``steps`` points. Completeness:
  the scores sum to ``f(E) − f(E')``, up to the Riemann error (tested within 5 % at 64 steps).
  A RoPE model adds no position vector, so zero embeddings reach its first RMSNorm as 0 and f
  jumps at α = 0 (RMSNorm(αE) is the same for every α > 0): use the pad baseline there
  (:func:`default_baseline`).

Both run the model's own blocks on the embeddings (batched over integration points, in
chunks, with a progress callback and a cancel check between chunks). Captum 0.9's
``IntegratedGradients`` (``method="riemann_middle"``, the same points) and ``InputXGradient``
give the same scores (tests/model/test_saliency_captum.py); the app keeps its own loop because
Captum's batching offers no progress report and no way to stop between chunks.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from model.analysis.dla import unembedding_direction
from model.core.transformer import Transformer


class Cancelled(Exception):
    """The caller's cancel check said stop."""


@dataclass(frozen=True, eq=False)
class Saliency:
    """Per-token scores (T,) for ``target`` (minus ``contrast``) at ``position``."""

    position: int
    target: int
    contrast: int | None
    grad_x_input: np.ndarray
    integrated_gradients: np.ndarray
    f_input: float  # f(E)
    f_baseline: float  # f(E')
    steps: int
    baseline: str  # "zero" or "pad"

    def __post_init__(self) -> None:
        self.grad_x_input.setflags(write=False)
        self.integrated_gradients.setflags(write=False)

    @property
    def completeness_gap(self) -> float:
        """|Σ IG − (f(E) − f(E'))| relative to |f(E) − f(E')|."""
        want = self.f_input - self.f_baseline
        return abs(float(self.integrated_gradients.sum()) - want) / max(abs(want), 1e-12)


def default_baseline(module: Transformer) -> str:
    """"pad" for a model without position vectors (RoPE), else "zero" (see the module docstring)."""
    return "pad" if module.cfg.positional == "rope" else "zero"


def _objective(module: Transformer, position: int, target: int, contrast: int | None):
    w, b = unembedding_direction(module, target)
    if contrast is not None:
        w_b, b_b = unembedding_direction(module, contrast)
        w, b = w - w_b, b - b_b
    device = next(module.parameters()).device
    return torch.tensor(w, dtype=torch.float32, device=device), float(b)


def _logit_from_embeddings(module: Transformer, embeds: torch.Tensor, position: int, w: torch.Tensor,
                           b: float) -> torch.Tensor:
    """f for a batch of embedding matrices (B, T, d) → (B,)."""
    if module.ln_f is None:
        raise ValueError("saliency of a logit needs a model with a language-model head")
    B, T, _ = embeds.shape
    x = embeds + module.positions(T).unsqueeze(0)
    if module.embed_ln is not None:
        x = module.embed_ln(x)
    h = module.run_blocks(x)[:, position]  # the model's own blocks and final norm (any family)
    return h @ w + b


def saliency(module: Transformer, ids: Sequence[int], position: int, target: int, contrast: int | None = None,
             steps: int = 32, baseline: str = "zero", pad_id: int | None = None, chunk: int = 8,
             progress: Callable[[int, int], None] | None = None,
             cancelled: Callable[[], bool] | None = None) -> Saliency:
    """Gradient × input and integrated gradients of the target's logit (or the contrast)
    at ``position`` of ``ids`` with respect to the token embeddings. ``baseline``: "zero" or
    "pad" (every token's embedding replaced by ``pad_id``'s). Raises :class:`Cancelled`."""
    for done, total, result in saliency_steps(module, ids, position, target, contrast, steps, baseline, pad_id,
                                              chunk):
        if result is not None:
            return result
        if progress is not None:
            progress(done, total)
        if cancelled is not None and cancelled():
            raise Cancelled()
    raise AssertionError("saliency_steps ended without a result")


def saliency_steps(module: Transformer, ids: Sequence[int], position: int, target: int, contrast: int | None = None,
                   steps: int = 32, baseline: str = "zero", pad_id: int | None = None, chunk: int = 8):
    """:func:`saliency` one chunk of integration points at a time: yields (done, total, None)
    after each chunk, then (total, total, Saliency). The model thread runs it between other
    requests; dropping the generator cancels it."""
    if steps < 1:
        raise ValueError("integrated gradients need at least one step")
    if module.unembed is None:
        raise ValueError(f"{module.cfg.name} has no language-model head: no logit to explain")
    device = next(module.parameters()).device
    idx = torch.as_tensor(list(ids), dtype=torch.long, device=device).unsqueeze(0)  # (1, T)
    T = idx.shape[1]
    p = position % T
    w, b = _objective(module, p, target, contrast)
    with torch.no_grad():
        embeds = module.embed(idx).float()  # (1, T, d)
        if baseline == "pad":
            if pad_id is None:
                raise ValueError("a pad baseline needs the pad token's id")
            base = module.embed(torch.full_like(idx, int(pad_id))).float()
        elif baseline == "zero":
            base = torch.zeros_like(embeds)
        else:
            raise ValueError(f"baseline must be 'zero' or 'pad', not {baseline!r}")
    with _input_gradients_only(module):
        x = embeds.clone().requires_grad_(True)
        f = _logit_from_embeddings(module, x, p, w, b)
        (grad,) = torch.autograd.grad(f.sum(), x)
        gxi = (grad * embeds).sum(-1)[0]
        f_input = float(f[0].detach())
        with torch.no_grad():
            f_base = float(_logit_from_embeddings(module, base, p, w, b)[0])
    alphas = (torch.arange(steps, dtype=torch.float32, device=device) + 0.5) / steps
    total = torch.zeros_like(embeds)
    for start in range(0, steps, chunk):
        with _input_gradients_only(module):
            a = alphas[start : start + chunk].view(-1, 1, 1)
            path = (base + a * (embeds - base)).requires_grad_(True)  # (k, T, d)
            out = _logit_from_embeddings(module, path, p, w, b)
            (g,) = torch.autograd.grad(out.sum(), path)
            total += g.detach().sum(0, keepdim=True)
        if start + chunk < steps:
            yield start + chunk, steps, None
    ig = ((embeds - base) * total / steps).sum(-1)[0]
    yield steps, steps, Saliency(p, int(target), None if contrast is None else int(contrast),
                                 gxi.detach().double().cpu().numpy(), ig.detach().double().cpu().numpy(),
                                 f_input, f_base, steps, baseline)


class _input_gradients_only:  # noqa: N801 (a context manager)
    """Gradients on, for the input only: the weights' requires_grad switched off and back, the
    module in eval mode (dropout off) and back."""

    def __init__(self, module: Transformer) -> None:
        self.module = module

    def __enter__(self):
        self.params = [q for q in self.module.parameters() if q.requires_grad]
        self.training = self.module.training
        for q in self.params:
            q.requires_grad_(False)
        self.module.eval()
        self.grad = torch.enable_grad()
        self.grad.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.grad.__exit__(*exc)
        for q in self.params:
            q.requires_grad_(True)
        self.module.train(self.training)
