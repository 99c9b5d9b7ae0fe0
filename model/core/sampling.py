"""From logits already computed to a next-token distribution: temperature, top-k, top-p, sampling.

Everything here works on a 1-D logits vector, so moving a slider never re-runs the model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def softmax_with_temperature(logits: np.ndarray, temperature: float) -> np.ndarray:
    """softmax(logits / T). T = 0 is exact greedy: all mass on the argmax (first one on ties).

    ``-inf`` logits (tokens the model cannot produce) always get probability 0.
    """
    logits = np.asarray(logits, dtype=np.float64)
    if logits.ndim != 1 or logits.size == 0:
        raise ValueError("logits must be a non-empty 1-D array")
    if not np.isfinite(temperature) or temperature < 0:
        raise ValueError(f"temperature must be a finite number ≥ 0, got {temperature}")
    if not np.isfinite(logits).any():
        raise ValueError("every logit is -inf or NaN: there is no token to predict")
    if temperature == 0:
        probs = np.zeros_like(logits)
        probs[int(np.nanargmax(np.where(np.isnan(logits), -np.inf, logits)))] = 1.0
        return probs
    # Shift before dividing: at tiny T, logits / T alone overflows to inf − inf.
    with np.errstate(over="ignore"):
        scaled = (logits - np.max(logits[np.isfinite(logits)])) / temperature
    weights = np.exp(scaled)  # exp(-inf) = 0; the argmax gets exp(0) = 1
    return weights / weights.sum()


def entropy_bits(probs: np.ndarray) -> float:
    p = np.asarray(probs, dtype=np.float64)
    p = p[p > 0]
    # + 0.0: one token with probability 1 gives -0.0, which prints as "−0.00 bits"
    return max(float(-(p * np.log2(p)).sum()), 0.0) + 0.0


def _descending_order(probs: np.ndarray) -> np.ndarray:
    # Stable sort on -p: equal probabilities keep id order, so cuts are deterministic.
    return np.argsort(-probs, kind="stable")


def top_k_mask(probs: np.ndarray, k: int | None) -> np.ndarray:
    """Boolean mask keeping the ``k`` most probable tokens (all when ``k`` is None or ≤ 0)."""
    keep = np.ones(probs.shape, dtype=bool)
    if k is None or k <= 0 or k >= probs.size:
        return keep
    keep[:] = False
    keep[_descending_order(probs)[:k]] = True
    return keep


def top_p_mask(probs: np.ndarray, p: float | None) -> np.ndarray:
    """Keep the smallest set of most probable tokens whose total probability reaches ``p``.

    The most probable token is always kept; ``p`` None or ≥ 1 keeps everything.
    """
    if p is None or p >= 1.0:
        return np.ones(probs.shape, dtype=bool)
    if p <= 0:
        raise ValueError(f"top-p must be in (0, 1], got {p}")
    order = _descending_order(probs)
    cumulative = np.cumsum(probs[order])
    # number of tokens needed: first index where the running total reaches p, plus one
    n_keep = int(np.searchsorted(cumulative, p - 1e-12, side="left")) + 1
    keep = np.zeros(probs.shape, dtype=bool)
    keep[order[: min(n_keep, probs.size)]] = True
    return keep


@dataclass(frozen=True)
class NextTokenDistribution:
    """The distribution a sampler draws from after temperature, top-k and top-p.

    ``tempered`` is softmax(logits/T) before any cut; ``kept`` marks the tokens that
    survive the cuts; ``probs`` is ``tempered`` restricted to ``kept`` and renormalised;
    ``kept_mass`` is how much of ``tempered`` the kept tokens held.
    """

    temperature: float
    tempered: np.ndarray
    kept: np.ndarray
    probs: np.ndarray
    kept_mass: float

    def sample(self, rng: np.random.Generator) -> int:
        return sample_token(self.probs, rng)


def next_token_distribution(
    logits: np.ndarray,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
) -> NextTokenDistribution:
    tempered = softmax_with_temperature(logits, temperature)
    kept = top_k_mask(tempered, top_k) & top_p_mask(tempered, top_p) & (tempered > 0)
    if not kept.any():  # T = 0 leaves one token; cuts always keep the top one
        kept[int(np.argmax(tempered))] = True
    kept_mass = float(tempered[kept].sum())
    probs = np.where(kept, tempered, 0.0)
    probs = probs / probs.sum()
    return NextTokenDistribution(temperature, tempered, kept, probs, kept_mass)


def sample_token(probs: np.ndarray, rng: np.random.Generator) -> int:
    """Draw one token id from ``probs`` with a seeded generator (inverse-CDF, one uniform)."""
    cumulative = np.cumsum(np.asarray(probs, dtype=np.float64))
    u = rng.random() * cumulative[-1]
    index = int(np.searchsorted(cumulative, u, side="right"))
    index = min(index, probs.size - 1)
    while probs[index] == 0 and index > 0:  # never land on a zero-probability token at the edge
        index -= 1
    return index
