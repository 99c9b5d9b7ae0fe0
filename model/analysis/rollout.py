"""Attention rollout (Abnar & Zuidema 2020, "Quantifying Attention Flow in Transformers").

Each layer's attention is averaged over heads and mixed half-and-half with the identity (the
residual connection carries a token's own vector forward), rows renormalised, and the layers
multiplied: rollout[l] = Â_l · Â_(l−1) · … · Â_0. Row i of rollout[l] says how much of what
position i holds after block l "came from" each input token — if information flowed only
along attention weights, which it does not: attention weights are not explanations.
"""

from __future__ import annotations

import numpy as np

CAVEAT = "Rollout follows attention weights only; attention weights are not explanations."


def attention_rollout(pattern: np.ndarray, residual_weight: float = 0.5) -> np.ndarray:
    """(L, H, T, T) patterns → (L, T, T) rollout through each layer; every row sums to 1."""
    L, _H, T, _ = pattern.shape
    eye = np.eye(T)
    out = np.empty((L, T, T), dtype=np.float64)
    joint = eye
    for layer in range(L):
        a = (1 - residual_weight) * pattern[layer].astype(np.float64).mean(axis=0) + residual_weight * eye
        a /= a.sum(axis=-1, keepdims=True)
        joint = a @ joint  # (T, T)
        out[layer] = joint
    return out.astype(np.float32)
