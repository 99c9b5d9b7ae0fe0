"""Building a :class:`~model.core.transformer.Transformer` from a checked config, and the
first forward pass that proves its weights give finite values."""

from __future__ import annotations

from pathlib import Path

import torch

from model.core.config import ModelConfig
from model.core.errors import ModelFileError
from model.core.transformer import Transformer, activation_names


def build_module(cfg: ModelConfig, path: Path) -> Transformer:
    """``Transformer(cfg)``, with running out of memory (the estimate is an estimate, and
    other programs allocate too) reported against the config file ``path``."""
    try:
        return Transformer(cfg)
    except (MemoryError, RuntimeError) as exc:
        raise ModelFileError(path, f"not enough memory to build this model ({exc})") from exc
    except (TypeError, ValueError, OverflowError) as exc:  # a size torch cannot even represent
        raise ModelFileError(path, f"this model's sizes cannot be built ({str(exc).splitlines()[0]})") from exc


def probe_forward(module: torch.nn.Module, path: Path, n_tokens: int = 4) -> None:
    """Run a few tokens through ``module`` and require every captured internal to be finite.

    Catches weights that are each within bounds but together overflow (or a LayerNorm
    whose eps leaves a zero variance undivided); names the first internal that is not.
    """
    with torch.inference_mode():
        _probe(module, path, n_tokens)


def _probe(module: torch.nn.Module, path: Path, n_tokens: int) -> None:
    cfg = module.cfg
    T = min(n_tokens, cfg.n_ctx)
    V = cfg.vocab_size
    idx = torch.tensor([[(i * (V - 1)) // max(T - 1, 1) for i in range(T)]], dtype=torch.long)
    if cfg.bos_token_id is not None:
        idx[0, 0] = cfg.bos_token_id
    device = next(module.parameters()).device
    cache: dict[str, torch.Tensor] = {}
    try:  # a safety net: the checks before it should leave nothing for this to catch
        module(idx.to(device), cache=cache, logit_positions=torch.tensor([T - 1], device=device))
    except (RuntimeError, ValueError, IndexError, MemoryError) as exc:
        raise ModelFileError(path, f"a forward pass on {T} tokens fails ({exc})") from exc
    for name in activation_names(cfg.n_layers):
        value = cache.get(name)
        if name.endswith("masked_scores") or value is None:
            continue  # −∞ above the diagonal by design
        if not torch.isfinite(value).all():
            raise ModelFileError(
                path,
                f"the weights give NaN or infinite values in a forward pass on {T} tokens, first in "
                f"{name}: they are too large or inconsistent",
                key=name,
            )
