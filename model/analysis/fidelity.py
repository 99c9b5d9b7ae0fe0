"""How far 8-bit weights move what the app shows: measured on text, never assumed.

For a model converted by :func:`model.core.int8.to_int8`, each text runs twice through the
same module — once on the int8 path, once with :class:`~model.core.int8.exact_float32` — and
three figures summarise the difference over every position of every text:

* **top-1 agreement**: the share of positions whose most likely next token is the same;
* **largest attention-pattern difference**: max |A_int8 − A_float32| over every head, query
  and key (weights are in 0..1);
* **KL divergence** of the next-token distribution, KL(p_float32 ‖ p_int8) in nats, mean and
  largest over positions.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch

from model.core.int8 import exact_float32


@dataclass(frozen=True)
class Fidelity:
    texts: int
    positions: int
    top1_agreement: float  # 0..1
    max_pattern_diff: float
    mean_kl: float  # nats
    max_kl: float

    def summary(self) -> str:
        return (f"top-1 agreement {100 * self.top1_agreement:.1f}% over {self.positions} positions, "
                f"largest pattern difference {self.max_pattern_diff:.4f}, "
                f"KL {self.mean_kl:.4f} nats (max {self.max_kl:.3f})")


def _run(module: torch.nn.Module, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(log-probabilities at every position (T, V), patterns (L, H, T, T))."""
    cache: dict[str, torch.Tensor] = {}
    T = ids.shape[1]
    logits = module(ids, cache=cache, logit_positions=torch.arange(T, device=ids.device))[0]
    patterns = torch.stack([cache[f"blocks.{i}.attn.pattern"][0] for i in range(module.cfg.n_layers)])
    return torch.log_softmax(logits.float(), dim=-1), patterns.float()


def measure(module: torch.nn.Module, texts: Iterable[Sequence[int]]) -> Fidelity:
    """Compare ``module``'s int8 path with its float32 path on token-id sequences ``texts``."""
    n_texts = positions = agree = 0
    max_pattern = max_kl = kl_sum = 0.0
    device = next(module.parameters()).device
    with torch.inference_mode():
        for ids in texts:
            if len(ids) == 0:
                continue
            idx = torch.as_tensor(list(ids), dtype=torch.long, device=device).unsqueeze(0)
            logp8, pat8 = _run(module, idx)
            with exact_float32(module):
                logp32, pat32 = _run(module, idx)
            kl = (logp32.exp() * (logp32 - logp8)).sum(-1).clamp_min(0)  # (T,)
            agree += int((logp8.argmax(-1) == logp32.argmax(-1)).sum())
            positions += idx.shape[1]
            n_texts += 1
            kl_sum += float(kl.sum())
            max_kl = max(max_kl, float(kl.max()))
            max_pattern = max(max_pattern, float((pat8 - pat32).abs().max()))
    if positions == 0:
        raise ValueError("no tokens to measure fidelity on")
    return Fidelity(n_texts, positions, agree / positions, max_pattern, kl_sum / positions, max_kl)
