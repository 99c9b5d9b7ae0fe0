"""The logit lens (nostalgebraist 2020): read the residual stream after every block as if it
were the last, through the model's own final norm and unembedding.

Each residual vector is normalised with its *own* mean and variance (RMS for RMSNorm), as
the model's final norm does at the last layer. Reusing the last layer's statistics for
earlier layers is the mistake TransformerLens fixed in its #1076; applying ``ln_f`` to each
row does it right by construction. At the last layer the lens therefore equals the model's
own prediction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from model.transformer import Transformer

TOP_K = 5


class LensUnavailable(ValueError):
    """The model has nothing to read the residual stream with (no LM head)."""


@dataclass(frozen=True, eq=False)
class LensResult:
    """The lens for one text: rows = layers (after block l), columns = positions.

    ``top_ids`` / ``top_probs`` (L, T, k): the k most likely next tokens per cell, best first.
    ``tracked_ids`` (n,): tokens whose probability ``tracked_probs`` (L, T, n) and rank
    ``tracked_ranks`` (L, T, n; 1 = top) are followed across layers.
    """

    text: str
    top_ids: np.ndarray
    top_probs: np.ndarray
    tracked_ids: np.ndarray
    tracked_probs: np.ndarray
    tracked_ranks: np.ndarray
    ablated: tuple[tuple[int, int], ...] = ()
    ablation_mode: str = "zero"
    request_id: int = 0

    @property
    def n_layers(self) -> int:
        return self.top_ids.shape[0]

    @property
    def n_tokens(self) -> int:
        return self.top_ids.shape[1]


def final_norm(module: Transformer, resid: torch.Tensor) -> torch.Tensor:
    """The model's final norm applied row by row (identity for a model without one)."""
    return module.ln_f(resid) if module.ln_f is not None else resid


@torch.inference_mode()
def lens_logprobs(module: Transformer, resid: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Full-vocabulary log-probabilities (..., V) for residual vectors ``resid`` (..., d)."""
    if module.unembed is None:
        raise LensUnavailable(
            f"{module.cfg.name} has no language-model head: there is no unembedding to read "
            "its residual stream with, so there is no logit lens.")
    if isinstance(resid, np.ndarray):
        resid = torch.from_numpy(np.array(resid, dtype=np.float32))  # a Trace's arrays are read-only
    h = resid.float()
    logits = module.unembed_logits(final_norm(module, h))
    return torch.log_softmax(module.full_vocab_logits(logits).float(), dim=-1)


@torch.inference_mode()
def logit_lens(
    module: Transformer, resid_post: np.ndarray, text: str = "", track: Sequence[int] = (), top_k: int = TOP_K,
) -> LensResult:
    """The lens of a Trace's ``resid_post`` (L, T, d)."""
    logp = lens_logprobs(module, resid_post)  # (L, T, V)
    top = torch.topk(logp, k=min(top_k, logp.shape[-1]), dim=-1)
    track_ids = torch.as_tensor(list(track), dtype=torch.long)
    tracked = logp[..., track_ids]  # (L, T, n)
    ranks = torch.stack([(logp > tracked[..., i : i + 1]).sum(-1) + 1 for i in range(len(track_ids))], dim=-1) \
        if len(track_ids) else tracked.long()  # (L, T, n)
    return LensResult(
        text=text,
        top_ids=top.indices.numpy(),
        top_probs=top.values.exp().numpy(),
        tracked_ids=track_ids.numpy(),
        tracked_probs=tracked.exp().numpy(),
        tracked_ranks=ranks.numpy(),
    )
