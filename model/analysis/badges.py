"""Head badges: every head of a freshly loaded model scored on probe sequences, in steps a
worker thread can interleave with typing and abandon when another model loads.

The scores are :mod:`model.analysis.heads`' (the ones the bundled model's card prints, there measured
on validation text): previous-token and first-token on :data:`PROBE_TEXTS`, induction and
duplicate-token on random token sequences repeated once.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from model.analysis.heads import (
    INDUCTION_THRESHOLD,
    PREVIOUS_TOKEN_THRESHOLD,
    attention_patterns,
    duplicate_token_scores,
    first_token_scores,
    induction_probe,
    induction_scores,
    previous_token_scores,
)

if TYPE_CHECKING:  # the app's Head roles tab imports this module before torch is loaded
    from model.core.transformer import Transformer

#: Ordinary prose for the previous-token and first-token scores.
PROBE_TEXTS = (
    "the cat sat on the mat and looked out of the window at the birds in the garden",
    "when the rain stopped, the children ran outside to play in the puddles by the road",
    "she opened the old book and read the first page aloud to her brother before dinner",
    "the city council met on tuesday to discuss the new bridge across the river",
    "a small boat carried three fishermen out to sea early in the morning",
    "after the concert the musicians packed their instruments and drove back to the hotel",
    "the scientist measured the temperature of the water every hour for a week",
    "he wrote a long letter to his friend about the journey through the mountains",
)
FIRST_TOKEN_THRESHOLD = 0.5
DUPLICATE_TOKEN_THRESHOLD = 0.3
BADGES = ("previous_token", "first_token", "induction", "duplicate_token")
#: badge → (short mark drawn on the grid, threshold)
BADGE_MARKS = {
    "previous_token": ("P", PREVIOUS_TOKEN_THRESHOLD),
    "first_token": ("S", FIRST_TOKEN_THRESHOLD),
    "induction": ("I", INDUCTION_THRESHOLD),
    "duplicate_token": ("D", DUPLICATE_TOKEN_THRESHOLD),
}


@dataclass(frozen=True, eq=False)
class HeadBadges:
    """Scores (L, H) per badge; ``marks(layer, head)`` is the badge letters a head earns."""

    previous_token: np.ndarray
    first_token: np.ndarray
    induction: np.ndarray
    duplicate_token: np.ndarray
    model_name: str = ""

    def score(self, badge: str) -> np.ndarray:
        return getattr(self, badge)

    def marks(self, layer: int, head: int) -> str:
        return "".join(mark for badge, (mark, threshold) in BADGE_MARKS.items()
                       if self.score(badge)[layer, head] >= threshold)


def candidate_ids(module: Transformer) -> np.ndarray:
    """Frequent ordinary tokens to build random probe sequences from: the model's output
    list from rank 100 on (the bundled model lists its outputs by training frequency, as the
    card's measurement does), or else a band of ids past the special and byte tokens."""
    cfg = module.cfg
    if cfg.output_token_ids is not None and len(cfg.output_token_ids) > 200:
        return np.asarray(cfg.output_token_ids[100:3000], dtype=np.int64)
    low = min(1000, cfg.vocab_size // 4)
    return np.arange(low, min(cfg.vocab_size, low + 2900), dtype=np.int64)


def random_repeats(module: Transformer, candidates: np.ndarray, repeat_length: int, n_random: int,
                   seed: int = 0) -> tuple[np.ndarray, int]:
    """``n_random`` rows of [BOS] + R + R (:func:`model.analysis.heads.induction_probe`, as the model
    card draws them), and the prefix length."""
    bos = module.cfg.bos_token_id
    return induction_probe(candidates, repeat_length, n_random, seed, bos), 0 if bos is None else 1


#: token × block-parameter products one step of the badge job may run: a keystroke waits for
#: the step in progress, so a step stays near a tenth of a second of float32 work (Gemma 3
#: 270M ran 8 sequences of 51 tokens a step: 0.5 s alone, up to 11 s beside the window)
STEP_BUDGET = 3e9
#: block parameters from which a model gets half the random sequences (its scores are means
#: over them; 16 of 51 tokens still separate induction heads clearly, at half the wait)
LARGE_BLOCKS = 50_000_000


def badge_steps(
    module: Transformer, text_ids: Sequence[np.ndarray], candidates: np.ndarray, repeat_length: int = 25,
    n_random: int | None = None, seed: int = 0, chunk: int | None = None,
) -> Iterator[tuple[int, int, HeadBadges | None]]:
    """Score every head; yields ``(done, total, None)`` after each forward pass and finally
    ``(total, total, badges)``. ``n_random``: random repeated sequences (default 32, 16 for a
    model with :data:`LARGE_BLOCKS` block parameters); ``chunk``: sequences a step (default:
    as many as :data:`STEP_BUDGET` allows, 1 to 8)."""
    block_params = sum(p.numel() for p in module.blocks.parameters())
    if n_random is None:
        n_random = 16 if block_params >= LARGE_BLOCKS else 32
    bos = 1 if module.cfg.bos_token_id is not None else 0
    repeat_length = max(2, min(repeat_length, (module.cfg.n_ctx - bos) // 2))
    if len(candidates) < 2:
        raise ValueError(f"{module.cfg.name}'s vocabulary is too small ({len(candidates)} ordinary tokens) to build "
                         "the repeated random sequences that find induction heads")
    repeat_length = min(repeat_length, len(candidates))  # a lesson model may know only a few words
    repeated, prefix = random_repeats(module, candidates, repeat_length, n_random, seed)
    if chunk is None:
        chunk = int(min(8, max(1, STEP_BUDGET // max(1, repeated.shape[1] * block_params))))
    chunks = [repeated[i : i + chunk] for i in range(0, len(repeated), chunk)]
    total = len(text_ids) + len(chunks)
    prev, first = [], []
    for i, ids in enumerate(text_ids):
        patterns = attention_patterns(module, np.asarray(ids)[None])
        prev.append(previous_token_scores(patterns))
        first.append(first_token_scores(patterns))
        yield i + 1, total, None
    induction, duplicate, weights = [], [], []
    for j, rows in enumerate(chunks):
        patterns = attention_patterns(module, np.asarray(rows))
        induction.append(induction_scores(patterns, prefix, repeat_length))
        duplicate.append(duplicate_token_scores(patterns, prefix, repeat_length))
        weights.append(len(rows))
        yield len(text_ids) + j + 1, total, None
    w = np.asarray(weights, dtype=np.float64)[:, None, None] / sum(weights)
    yield total, total, HeadBadges(
        previous_token=np.mean(prev, axis=0), first_token=np.mean(first, axis=0),
        induction=(np.asarray(induction) * w).sum(0), duplicate_token=(np.asarray(duplicate) * w).sum(0),
        model_name=module.cfg.name,
    )


def probe_ids(encode, n_ctx: int) -> list[np.ndarray]:
    """Token ids of :data:`PROBE_TEXTS` (``encode(text)`` → ids, BOS included), cut to n_ctx."""
    out = []
    for text in PROBE_TEXTS:
        ids = np.asarray(encode(text), dtype=np.int64)[:n_ctx]
        if len(ids) >= 3:
            out.append(ids)
    return out
