"""What each attention head does, measured: previous-token, first-token, induction and
duplicate-token scores.

Scores are mean attention weights, so they read directly: a previous-token score of 0.8
means the head puts 80% of each query's attention on the token just before it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # torch is imported where a model runs: the app shows its window first
    import torch

    from model.core.transformer import Transformer

PREVIOUS_TOKEN_THRESHOLD = 0.4
INDUCTION_THRESHOLD = 0.3


def previous_token_scores(patterns: np.ndarray) -> np.ndarray:
    """Mean attention from each query i ≥ 2 to key i − 1; patterns (..., L, H, T, T) → (L, H).

    Query 1 is skipped: its previous token is position 0, which is also the first token,
    and that would blur the two scores.
    """
    T = patterns.shape[-1]
    if T < 3:
        raise ValueError("previous-token scores need at least 3 tokens")
    rows = np.arange(2, T)
    weights = patterns[..., rows, rows - 1]  # (..., L, H, T-2)
    return weights.reshape(-1, *patterns.shape[-4:-2], T - 2).mean(axis=(0, -1))


def first_token_scores(patterns: np.ndarray) -> np.ndarray:
    """Mean attention from each query i ≥ 1 to key 0 (the attention sink); → (L, H)."""
    T = patterns.shape[-1]
    weights = patterns[..., 1:, 0]  # (..., L, H, T-1)
    return weights.reshape(-1, *patterns.shape[-4:-2], T - 1).mean(axis=(0, -1))


def induction_scores(patterns: np.ndarray, prefix: int, repeat_length: int) -> np.ndarray:
    """On [prefix tokens] + R + R, mean attention from each token of the second copy of R
    to the token that followed the same token in the first copy; → (L, H).

    An induction head completes "… A B … A" with "B" by looking from the second A at the
    B after the first A.
    """
    n = repeat_length
    second = prefix + n + np.arange(n - 1)  # queries: second copy, but not its last token
    target = prefix + 1 + np.arange(n - 1)  # keys: the token after the same token in copy one
    weights = patterns[..., second, target]  # (..., L, H, n-1)
    return weights.reshape(-1, *patterns.shape[-4:-2], n - 1).mean(axis=(0, -1))


def duplicate_token_scores(patterns: np.ndarray, prefix: int, repeat_length: int) -> np.ndarray:
    """On [prefix tokens] + R + R, mean attention from each token of the second copy of R to
    the same token in the first copy; → (L, H).

    A duplicate-token head notices "this token appeared before" (the same key as its query's
    token), where an induction head looks one further, at what came after it.
    """
    n = repeat_length
    second = prefix + n + np.arange(n)
    target = prefix + np.arange(n)
    weights = patterns[..., second, target]  # (..., L, H, n)
    return weights.reshape(-1, *patterns.shape[-4:-2], n).mean(axis=(0, -1))


def induction_probe(candidates: np.ndarray, repeat_length: int, count: int, seed: int = 0,
                    bos_token_id: int | None = None) -> np.ndarray:
    """``count`` rows of [BOS] + R + R, R ``repeat_length`` distinct tokens drawn from
    ``candidates``: the sequences on which an induction head looks from the second copy of a
    token to the token after its first copy. (count, [1] + 2·repeat_length) int64. The one
    builder the model card, the head badges and training use."""
    rng = np.random.default_rng(seed)
    bos = [bos_token_id] if bos_token_id is not None else []
    rows = []
    for _ in range(count):
        r = rng.choice(candidates, size=repeat_length, replace=False)
        rows.append(np.concatenate([bos, r, r]))
    return np.stack(rows).astype(np.int64)


def attention_patterns(model: Transformer, idx: np.ndarray | torch.Tensor) -> np.ndarray:
    """Patterns of every head for a batch of token ids (B, T) → (B, L, H, T, T)."""
    import torch

    cache: dict[str, torch.Tensor] = {}
    model.eval()
    with torch.inference_mode():
        model.hidden(torch.as_tensor(idx, dtype=torch.long), cache)
        return torch.stack(
            [cache[f"blocks.{i}.attn.pattern"] for i in range(model.cfg.n_layers)], dim=1
        ).numpy()


@dataclass(frozen=True)
class HeadRoles:
    previous_token: np.ndarray  # (L, H)
    first_token: np.ndarray  # (L, H)
    induction: np.ndarray  # (L, H)

    def heads_where(self, scores: np.ndarray, threshold: float) -> list[tuple[int, int]]:
        return [tuple(int(i) for i in lh) for lh in np.argwhere(scores >= threshold)]

    @property
    def previous_token_heads(self) -> list[tuple[int, int]]:
        return self.heads_where(self.previous_token, PREVIOUS_TOKEN_THRESHOLD)

    @property
    def induction_heads(self) -> list[tuple[int, int]]:
        return self.heads_where(self.induction, INDUCTION_THRESHOLD)


def measure_head_roles(
    model: Transformer,
    text_ids: list[np.ndarray],
    candidate_ids: np.ndarray,
    repeat_length: int = 25,
    n_random: int = 32,
    seed: int = 0,
) -> HeadRoles:
    """Score every head of ``model``.

    Previous-token and first-token scores come from real text (``text_ids``: token-id
    sequences that already start with the BOS token if the model uses one). Induction
    scores come from ``n_random`` sequences of ``repeat_length`` tokens drawn from
    ``candidate_ids`` and repeated once.
    """
    prev, first = [], []
    for ids in text_ids:
        patterns = attention_patterns(model, np.asarray(ids)[None])
        prev.append(previous_token_scores(patterns))
        first.append(first_token_scores(patterns))
    bos = model.cfg.bos_token_id
    repeated = induction_probe(candidate_ids, repeat_length, n_random, seed, bos)
    prefix = 0 if bos is None else 1
    patterns = attention_patterns(model, repeated)
    induction = induction_scores(patterns, prefix=prefix, repeat_length=repeat_length)
    return HeadRoles(np.mean(prev, axis=0), np.mean(first, axis=0), induction)
