"""The heads grid's image arithmetic, Qt-free: every head's pattern pooled to the pixels it
gets on screen and tiled into one mosaic (one painted item for all heads)."""

from __future__ import annotations

import numpy as np

GAP = 1  # empty pixels between tiles
MAX_TILE = 64  # the most pixels per head side; beyond it blocks of tokens share a pixel


def block_factor(n_tokens: int, max_tile: int = MAX_TILE) -> int:
    """Tokens per pixel side so that a head's tile is at most ``max_tile`` pixels wide: a power
    of two, so that while typing it changes rarely (twice up to 256 tokens) and each change is
    the last mosaic pooled once more, 2 × 2 (a full pooling of 144 heads at 241 tokens was a
    73 ms stall)."""
    needed = max(1, -(-n_tokens // max_tile))
    return 1 << (needed - 1).bit_length()


def halved(image: np.ndarray) -> np.ndarray:
    """(L, H, t, t) pooled at factor f → (L, H, ⌈t/2⌉, ⌈t/2⌉) pooled at 2f: each block's
    largest weight over its four half-size blocks (exactly what pooling at 2f gives)."""
    L, H, t, _ = image.shape
    even = t + (t % 2)
    padded = np.zeros((L, H, even, even), dtype=image.dtype)
    padded[:, :, :t, :t] = image
    return padded.reshape(L, H, even // 2, 2, even // 2, 2).max(axis=(3, 5))


def pooled(patterns: np.ndarray, factor: int, reuse: np.ndarray | None = None, first_row: int = 0) -> np.ndarray:
    """(L, H, T, T) → (L, H, t, t), t = ⌈T / factor⌉: the largest weight in each block, so a
    sharp line (a previous-token head, a sink) stays visible.

    ``reuse``, ``first_row``: the pooled image of an earlier causal trace whose first
    ``first_row`` block rows hold the same queries: those rows are copied, not pooled again
    (their weights on keys that are new are 0, so every block they add is 0).
    """
    if factor == 1:
        return patterns
    L, H, T, _ = patterns.shape
    t = -(-T // factor)
    out = np.zeros((L, H, t, t), dtype=patterns.dtype)
    b0 = 0 if reuse is None else min(first_row, t, reuse.shape[2])
    if b0:
        out[:, :, :b0, :b0] = reuse[:, :, :b0, :b0]
    rows = np.zeros((L, H, (t - b0) * factor, t * factor), dtype=patterns.dtype)
    rows[:, :, : T - b0 * factor, :T] = patterns[:, :, b0 * factor:]
    blocks = rows.reshape(L, H, t - b0, factor, t * factor)
    by_row = blocks[:, :, :, 0].copy()  # (L, H, t − b0, t·f): max over each block's queries
    for j in range(1, factor):
        np.maximum(by_row, blocks[:, :, :, j], out=by_row)
    result = by_row[..., 0::factor].copy()  # then over each block's keys
    for j in range(1, factor):
        np.maximum(result, by_row[..., j::factor], out=result)
    out[:, :, b0:] = result
    return out


def tile(pooled_patterns: np.ndarray, gap: int = GAP) -> np.ndarray:
    """(L, H, t, t) → one (L·(t+gap) − gap, H·(t+gap) − gap) image, NaN in the gaps."""
    L, H, T, _ = pooled_patterns.shape
    step = T + gap
    image = np.full((L * step - gap, H * step - gap), np.nan, dtype=np.float32)
    for layer in range(L):
        for head in range(H):
            image[layer * step : layer * step + T, head * step : head * step + T] = pooled_patterns[layer, head]
    return image


def mosaic(patterns: np.ndarray, gap: int = GAP, factor: int = 1) -> np.ndarray:
    """(L, H, T, T) → one (L·(t+gap) − gap, H·(t+gap) − gap) image, NaN in the gaps, with
    t = T (``factor`` 1) or ⌈T / factor⌉ (blocks of ``factor`` tokens pooled, :func:`pooled`)."""
    return tile(pooled(patterns, factor), gap)


def cell_at(x: float, y: float, n_layers: int, n_heads: int, n_tokens: int, gap: int = GAP):
    """(layer, head, query, key) under image coordinates (x, y), or None over a gap or outside."""
    step = n_tokens + gap
    if x < 0 or y < 0:
        return None
    head, key = divmod(int(x), step)
    layer, query = divmod(int(y), step)
    if head >= n_heads or layer >= n_layers or key >= n_tokens or query >= n_tokens:
        return None
    return layer, head, query, key
