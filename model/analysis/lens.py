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

from model.analysis.dla import unembedding_direction
from model.core.transformer import Transformer

TOP_K = 5
#: logits held at once while the lens scans its cells (8M floats, 32 MB): a few cells of a
#: 262,144-token vocabulary, hundreds of the bundled model's
LENS_CHUNK_VALUES = 1 << 23


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
    L, T = h.shape[:2]
    cells = h.reshape(L * T, -1)
    out_ids = module.output_token_ids if module.cfg.output_token_ids is not None else None
    columns = []  # each tracked token's column in the output vocabulary (None: never predicted)
    for token in track:
        column = int(token)
        if out_ids is not None:
            where = torch.nonzero(out_ids == int(token)).flatten()
            column = int(where[0]) if len(where) else None
        columns.append(column)
    n_out = module.cfg.n_outputs
    k = min(top_k, n_out)
    top_values = torch.empty(L * T, k)
    top_index = torch.empty(L * T, k, dtype=torch.long)
    probs = torch.zeros(L * T, len(track))
    ranks = torch.full((L * T, len(track)), n_out + 1, dtype=torch.long)  # not predictable: last
    # A few cells at a time: their logits, log-sum-exp, top k and tracked tokens, without a
    # softmax over the whole vocabulary for every cell at once (Gemma 3: 262,144 tokens ×
    # 18 layers × 64 positions would be 1.2 GB of float32 logits, twice).
    chunk = max(1, LENS_CHUNK_VALUES // n_out)
    for start in range(0, L * T, chunk):
        rows = slice(start, start + chunk)
        logits = module.unembed_logits(final_norm(module, cells[rows])).float()  # (n, n_out)
        total = torch.logsumexp(logits, dim=-1, keepdim=True)
        top = torch.topk(logits, k=k, dim=-1)
        top_values[rows], top_index[rows] = top.values - total, top.indices
        for i, column in enumerate(columns):
            if column is None:
                continue
            value = logits[:, column : column + 1]
            probs[rows, i] = (value - total)[:, 0].exp()
            ranks[rows, i] = (logits > value).sum(-1) + 1
    top_ids = out_ids[top_index] if out_ids is not None else top_index
    top_ids, top_values = top_ids.view(L, T, k), top_values.view(L, T, k)
    probs, ranks = probs.view(L, T, len(track)), ranks.view(L, T, len(track))
    return LensResult(
        text=text,
        top_ids=top_ids.numpy(),
        top_probs=top_values.exp().numpy(),
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


@dataclass(frozen=True, eq=False)
class TokenLens:
    """Chosen tokens followed up the layers at one position: "when does the model settle on
    ' are' rather than ' is'?". Row l is the lens after block l (the last row: the model's own
    prediction). n tokens; every array is (L, n).

    ``logits``: w_t · norm(x_l) + b_t, the token's logit read from the residual after block l
    (for the bundled model's tied adaptive softmax, the linear score its softmaxes start from,
    as in :mod:`model.analysis.dla`); ``log_probs``/``probs`` over the whole vocabulary;
    ``ranks``: 1 = the most likely token at that layer. With two tokens,
    :attr:`logit_difference` and :attr:`log_prob_difference` compare them layer by layer (for a
    linear unembedding the two differences are equal: softmax shifts every logit alike).
    """

    position: int
    tokens: np.ndarray
    logits: np.ndarray
    log_probs: np.ndarray
    ranks: np.ndarray

    def __post_init__(self) -> None:
        for array in (self.tokens, self.logits, self.log_probs, self.ranks):
            array.setflags(write=False)

    @property
    def probs(self) -> np.ndarray:
        return np.exp(self.log_probs)

    @property
    def n_layers(self) -> int:
        return self.logits.shape[0]

    def _pair(self, values: np.ndarray) -> np.ndarray:
        if len(self.tokens) != 2:
            raise ValueError(f"a difference needs two tokens, not {len(self.tokens)}")
        return values[:, 0] - values[:, 1]

    @property
    def logit_difference(self) -> np.ndarray:
        """(L,) logit of the first token minus the second's."""
        return self._pair(self.logits)

    @property
    def log_prob_difference(self) -> np.ndarray:
        """(L,) log p(first) − log p(second): the log of how many times likelier the first is."""
        return self._pair(self.log_probs)

    def first_layer_on_top(self, token_index: int = 0) -> int | None:
        """The first layer from which on the token stays the top prediction (None: it never settles)."""
        top = self.ranks[:, token_index] == 1
        if not top[-1]:
            return None
        settled = len(top)
        while settled > 0 and top[settled - 1]:
            settled -= 1
        return settled


@torch.inference_mode()
def token_lens(module: Transformer, resid_post: np.ndarray, position: int, tokens: Sequence[int]) -> TokenLens:
    """The lens of ``tokens`` (ids; one for "its rank across layers", two to compare them) at
    ``position`` (negative counts from the end) of a trace's ``resid_post`` (L, T, d). Raises
    :class:`LensUnavailable` without an LM head, ValueError for a token the model never predicts."""
    if not len(tokens):
        raise ValueError("name at least one token to follow")
    T = resid_post.shape[1]
    p = position % T
    logp = lens_logprobs(module, resid_post[:, p])  # (L, V), also refuses a model without a head
    rows = [unembedding_direction(module, int(t)) for t in tokens]
    w = torch.tensor(np.stack([r[0] for r in rows]), dtype=torch.float64)  # (n, d)
    b = torch.tensor([r[1] for r in rows], dtype=torch.float64)
    h = final_norm(module, torch.from_numpy(np.array(resid_post[:, p], dtype=np.float32))).double()  # (L, d)
    ids = torch.tensor([int(t) for t in tokens])
    chosen = logp[:, ids]  # (L, n)
    ranks = (logp[:, None, :] > chosen[:, :, None]).sum(-1) + 1  # (L, n)
    return TokenLens(p, ids.numpy().astype(np.int64), (h @ w.T + b).numpy(), chosen.double().numpy(),
                     ranks.numpy().astype(np.int64))
