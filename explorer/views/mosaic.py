"""The heads grid's image arithmetic, Qt-free: every head's pattern pooled to the pixels it
gets on screen and tiled into one mosaic (one painted item for all heads)."""

from __future__ import annotations

from dataclasses import dataclass

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


@dataclass(frozen=True)
class Arrangement:
    """Where each head's tile sits: layers in rows, heads in columns, and for a tall model the
    layers cut into ``bands`` side by side (SmolLM2's 30 × 9 heads as L0–14 | L15–29), with
    one empty tile column between bands. A tall, narrow grid in a wide pane otherwise used a
    strip of it (5–10 px tiles; issue #27 and #32)."""

    n_layers: int
    n_heads: int
    bands: int = 1

    @property
    def rows(self) -> int:
        return -(-self.n_layers // self.bands)

    @property
    def cols(self) -> int:
        return self.bands * self.n_heads + (self.bands - 1)

    def band_layers(self, band: int) -> range:
        """The layers of one band, top to bottom."""
        return range(band * self.rows, min(self.n_layers, (band + 1) * self.rows))

    def place(self, layer: int, head: int) -> tuple[int, int]:
        """(row, column) of a head's tile."""
        band, row = divmod(layer, self.rows)
        return row, band * (self.n_heads + 1) + head

    def head_at(self, row: int, col: int) -> tuple[int, int] | None:
        """(layer, head) of the tile at (row, column), or None between bands or past the last layer."""
        if row < 0 or col < 0 or row >= self.rows:
            return None
        band, head = divmod(col, self.n_heads + 1)
        layer = band * self.rows + row
        if head >= self.n_heads or band >= self.bands or layer >= self.n_layers:
            return None
        return layer, head


#: how much larger the tiles must get before the layers are cut into two bands: a grid that
#: would gain little keeps its one reading order (layers top to bottom)
BAND_GAIN = 1.25


def arrangement_for(n_layers: int, n_heads: int, width: float, height: float,
                    second_labels: float = 0.0) -> Arrangement:
    """One band, or two when the tiles of two are :data:`BAND_GAIN` times larger in a
    ``width`` × ``height`` pane (a tall, narrow grid: SmolLM2 30 × 9, Gemma 3 18 × 4).

    ``width`` is the pane's width with one band; two bands give up ``second_labels`` of it
    to the second band's layer labels. Both are the pane's, not the view's of the moment: a
    choice made from the view's width flipped for ever between one band (the view then
    wider) and two (narrower), a relayout every few milliseconds."""
    def tile_side(a: Arrangement, w: float) -> float:
        return min(w / a.cols, height / a.rows)

    one, two = Arrangement(n_layers, n_heads, 1), Arrangement(n_layers, n_heads, 2)
    if n_layers < 4 or width - second_labels <= 0 or height <= 0:
        return one
    return two if tile_side(two, width - second_labels) > BAND_GAIN * tile_side(one, width) else one


def tile(pooled_patterns: np.ndarray, gap: int = GAP, arrangement: Arrangement | None = None) -> np.ndarray:
    """(L, H, t, t) → one (rows·(t+gap) − gap, cols·(t+gap) − gap) image, NaN in the gaps, each
    head where ``arrangement`` places it (default: layers in rows, heads in columns)."""
    L, H, T, _ = pooled_patterns.shape
    a = arrangement or Arrangement(L, H)
    step = T + gap
    image = np.full((a.rows * step - gap, a.cols * step - gap), np.nan, dtype=np.float32)
    for layer in range(L):
        for head in range(H):
            row, col = a.place(layer, head)
            image[row * step : row * step + T, col * step : col * step + T] = pooled_patterns[layer, head]
    return image


def mosaic(patterns: np.ndarray, gap: int = GAP, factor: int = 1, arrangement: Arrangement | None = None) -> np.ndarray:
    """(L, H, T, T) → one image of every head's tile, NaN in the gaps (:func:`tile`), with
    t = T (``factor`` 1) or ⌈T / factor⌉ (blocks of ``factor`` tokens pooled, :func:`pooled`)."""
    return tile(pooled(patterns, factor), gap, arrangement)


def cell_at(x: float, y: float, n_layers: int, n_heads: int, n_tokens: int, gap: int = GAP,
            arrangement: Arrangement | None = None):
    """(layer, head, query, key) under image coordinates (x, y), or None over a gap or outside."""
    step = n_tokens + gap
    if x < 0 or y < 0:
        return None
    col, key = divmod(int(x), step)
    row, query = divmod(int(y), step)
    if key >= n_tokens or query >= n_tokens:
        return None
    head = (arrangement or Arrangement(n_layers, n_heads)).head_at(row, col)
    return None if head is None else (*head, query, key)
