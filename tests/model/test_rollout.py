from __future__ import annotations

import numpy as np

from model.analysis.rollout import attention_rollout
from tests.numerics import assert_close


def reference_rollout(pattern: np.ndarray) -> np.ndarray:
    """Abnar & Zuidema's recipe written out step by step, one layer at a time."""
    L, H, T, _ = pattern.shape
    result = []
    joint = np.eye(T)
    for layer in range(L):
        mean = sum(pattern[layer, h] for h in range(H)) / H
        a = 0.5 * mean + 0.5 * np.eye(T)
        for i in range(T):
            a[i] = a[i] / a[i].sum()
        joint = a @ joint
        result.append(joint.copy())
    return np.array(result)


def test_rollout_matches_a_numpy_reference():
    rng = np.random.default_rng(0)
    L, H, T = 3, 4, 6
    scores = rng.normal(size=(L, H, T, T))
    scores[..., np.triu_indices(T, 1)[0], np.triu_indices(T, 1)[1]] = -np.inf
    pattern = np.exp(scores - scores.max(-1, keepdims=True))
    pattern /= pattern.sum(-1, keepdims=True)
    got = attention_rollout(pattern)
    assert_close(got, reference_rollout(pattern), what="rollout")  # float64, returned as float32
    assert_close(got.sum(-1), 1.0, what="row sums")
    assert_close(np.triu(got[-1], 1), 0.0, scale=1.0, what="future weights")  # causal stays causal


def test_rollout_of_identity_attention_is_the_identity():
    T = 5
    pattern = np.broadcast_to(np.eye(T), (2, 3, T, T))
    assert_close(attention_rollout(pattern), np.broadcast_to(np.eye(T), (2, T, T)), what="rollout")
