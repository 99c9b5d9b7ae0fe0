from __future__ import annotations

import numpy as np

from model.analysis.rollout import attention_rollout


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
    np.testing.assert_allclose(got, reference_rollout(pattern), atol=1e-6)
    np.testing.assert_allclose(got.sum(-1), 1.0, atol=1e-5)
    assert np.allclose(np.triu(got[-1], 1), 0)  # causal stays causal


def test_rollout_of_identity_attention_is_the_identity():
    T = 5
    pattern = np.broadcast_to(np.eye(T), (2, 3, T, T))
    np.testing.assert_allclose(attention_rollout(pattern), np.broadcast_to(np.eye(T), (2, T, T)))
