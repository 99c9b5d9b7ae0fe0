"""Geometry behind the embedding views: PCA axes, the analogy plane, and context drift.

Numpy only. The views fit axes once on a fixed word set, so points added later (the
current sentence's tokens) move while the axes stay put.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from model.core.trace import Trace


@dataclass(frozen=True)
class Projection:
    """x ↦ (x − origin) · axesᵀ: a 2-D (or k-D) view of d-dimensional vectors."""

    origin: np.ndarray  # (d,)
    axes: np.ndarray  # (k, d), orthonormal rows

    def __call__(self, points: np.ndarray) -> np.ndarray:
        return (np.atleast_2d(points) - self.origin) @ self.axes.T


def fit_pca(points: np.ndarray, k: int = 2) -> Projection:
    """Principal axes of ``points`` (n, d), with a deterministic sign: each axis points
    towards the point with the largest |coordinate| on it."""
    points = np.asarray(points, dtype=np.float64)
    mean = points.mean(axis=0)
    _, _, vt = np.linalg.svd(points - mean, full_matrices=False)
    axes = vt[:k].copy()
    coords = (points - mean) @ axes.T
    for i in range(axes.shape[0]):
        j = int(np.argmax(np.abs(coords[:, i])))
        if coords[j, i] < 0:
            axes[i] = -axes[i]
    return Projection(mean, axes)


def analogy_plane(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> Projection:
    """The plane through ``a`` spanned by b − a and c − a (Gram–Schmidt), so the analogy's
    parallelogram a, b, c, b − a + c is drawn without distortion."""
    u = np.asarray(b, dtype=np.float64) - a
    v = np.asarray(c, dtype=np.float64) - a
    e1 = u / np.linalg.norm(u)
    v_perp = v - (v @ e1) * e1
    norm = np.linalg.norm(v_perp)
    if norm < 1e-12:
        raise ValueError("b − a and c − a are parallel: they do not span a plane")
    return Projection(np.asarray(a, dtype=np.float64), np.stack([e1, v_perp / norm]))


def find_word(trace: Trace, word: str) -> tuple[int, bool]:
    """Position of the first token of the first whole-word match of ``word`` (case-insensitive)
    in the trace's text, and whether the word is split into several tokens."""
    target = word.strip().lower()
    text = trace.text.lower()
    start = 0
    while True:
        at = text.find(target, start)
        if at < 0:
            raise ValueError(f"'{word}' does not occur in '{trace.text}'")
        end = at + len(target)
        whole = (at == 0 or not text[at - 1].isalnum()) and (end == len(text) or not text[end].isalnum())
        if whole:
            covering = [i for i, (s, e) in enumerate(trace.offsets) if not trace.special[i] and s < end and e > at]
            if covering:
                return covering[0], len(covering) > 1
        start = at + 1


def trajectory(trace: Trace, position: int) -> np.ndarray:
    """A token's vector through the model: its token embedding (before positions, the same
    in every context), then the residual stream after each block: (1 + n_layers, d)."""
    return np.vstack([trace.embed_token[position][None], trace.resid_post[:, position]])


def pairwise_cosines(vectors: np.ndarray) -> np.ndarray:
    """Cosine between every pair of rows of (n, d): (n, n)."""
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    return unit @ unit.T
