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

from model.core.transformer import Transformer

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
    """The lens of a Trace's ``resid_post`` (L, T, d) (or of some of its positions).

    Works in the model's output vocabulary (no scatter onto the full one: for the bundled
    model that is a quarter fewer columns, and the costliest step), then names the ids.
    """
    if module.unembed is None:
        lens_logprobs(module, resid_post[:0])  # raises LensUnavailable with the sentence
    h = torch.from_numpy(np.array(resid_post, dtype=np.float32))
    logp = torch.log_softmax(module.unembed_logits(final_norm(module, h)).float(), dim=-1)  # (L, T, n_out)
    out_ids = module.output_token_ids if module.cfg.output_token_ids is not None else None
    top = torch.topk(logp, k=min(top_k, logp.shape[-1]), dim=-1)
    top_ids = out_ids[top.indices] if out_ids is not None else top.indices
    L, T = logp.shape[:2]
    probs = torch.zeros(L, T, len(track))
    ranks = torch.full((L, T, len(track)), logp.shape[-1] + 1, dtype=torch.long)  # not predictable: last
    for i, token in enumerate(track):
        column = int(token)
        if out_ids is not None:
            where = torch.nonzero(out_ids == int(token)).flatten()
            if not len(where):
                continue
            column = int(where[0])
        value = logp[..., column : column + 1]  # (L, T, 1)
        probs[..., i] = value[..., 0].exp()
        ranks[..., i] = (logp > value).sum(-1) + 1
    return LensResult(
        text=text,
        top_ids=top_ids.numpy(),
        top_probs=top.values.exp().numpy(),
        tracked_ids=np.asarray(list(track), dtype=np.int64),
        tracked_probs=probs.numpy(),
        tracked_ranks=ranks.numpy(),
    )


def extend(previous: LensResult, new: LensResult, keep: int) -> LensResult:
    """``previous``'s first ``keep`` positions followed by ``new`` (the lens of the positions
    after them): in a causal model the residual stream at a position depends only on the
    tokens up to it, so while typing only the changed tail needs the lens again."""
    def cat(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.concatenate([a[:, :keep], b], axis=1)

    return LensResult(new.text, cat(previous.top_ids, new.top_ids), cat(previous.top_probs, new.top_probs),
                      new.tracked_ids, cat(previous.tracked_probs, new.tracked_probs),
                      cat(previous.tracked_ranks, new.tracked_ranks), new.ablated, new.ablation_mode)
