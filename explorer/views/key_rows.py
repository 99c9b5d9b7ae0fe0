"""Which keys the step-through lists when they do not all fit, and where each row goes.

Every key stays reachable: when the rows do not fit the canvas, the query and the keys it
weighs most are always listed; the rest is a window of neighbouring keys that the mouse
wheel scrolls; each run of keys left out is one thin marker row saying how many and how
much attention they carry ("⋮ 4 keys · Σ w = 0.0021"). (It listed only the last 7–9 keys: a
[CLS] key with 0.99 of the weight was hidden, and a lesson's "six words" showed four rows.)
Pure arithmetic, tested on its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Gap:
    top: float
    height: float
    first: int  # the first key left out
    count: int
    weight: float  # the attention the left-out keys carry together


@dataclass(frozen=True)
class KeyRows:
    rows: tuple[tuple[int, float, float], ...]  # (key, top, height)
    gaps: tuple[Gap, ...] = ()
    offset: int = 0  # the scrolled window's first key
    window: int = 0  # how many keys the window holds (0: every key is listed)
    pinned: tuple[int, ...] = field(default=())  # the keys always listed (query, heaviest)

    @property
    def keys(self) -> list[int]:
        return [j for j, _, _ in self.rows]

    @property
    def bottom(self) -> float:
        ends = [top + h for _, top, h in self.rows] + [g.top + g.height for g in self.gaps]
        return max(ends, default=0.0)

    @property
    def complete(self) -> bool:
        return not self.gaps


def choose_keys(n: int, query: int, causal: bool, weights: np.ndarray, fit: float,
                offset: int | None = None, gap: float = 0.5) -> tuple[list[int], list[int], int, int]:
    """(keys listed, keys pinned, window start, window length) for ``n`` keys when ``fit``
    rows fit, a gap marker counting as ``gap`` of a row."""
    if n <= fit:
        return list(range(n)), [], 0, 0
    order = [int(j) for j in np.argsort(-np.asarray(weights, dtype=np.float64), kind="stable") if weights[j] > 0]
    most = max(1, int(fit) // 3)
    pinned = [query] + [j for j in order if j != query][: most - 1] if fit >= 2 else [query]
    for length in range(int(fit), -1, -1):
        if offset is None:  # the keys up to the query (and as many after it, without a mask)
            end = min(n, max(length, query + 1 + (0 if causal else length // 2)))
            start = max(0, end - length)
        else:
            start = max(0, min(offset, n - length))
        keys = sorted(set(pinned) | set(range(start, start + length)))
        if len(keys) + gap * _breaks(keys, n) <= fit:
            return keys, sorted(pinned), start, length
    while len(pinned) > 1 and len(pinned) + gap * _breaks(sorted(pinned), n) > fit:
        pinned.pop()
    return sorted(pinned), sorted(pinned), 0, 0


def _breaks(keys: list[int], n: int) -> int:
    """Runs of keys left out: before the first listed, between listed ones, after the last."""
    breaks = int(keys[0] > 0) + int(keys[-1] < n - 1)
    return breaks + sum(1 for a, b in zip(keys, keys[1:], strict=False) if b > a + 1)


def lay_out(n: int, query: int, causal: bool, weights: np.ndarray, top: float, height: float,
            row_h: float, max_row_h: float, offset: int | None = None, gap_h: float = 0.0) -> KeyRows:
    """The rows of the listed keys and the markers of those left out, from ``top`` down in
    ``height`` pixels; rows at least ``row_h`` tall (taller, up to ``max_row_h``, when
    there is room), markers ``gap_h`` tall (at least half a row)."""
    fit = max(1.0, height / row_h)
    gap = max(0.5, gap_h / row_h)
    keys, pinned, start, length = choose_keys(n, query, causal, weights, fit, offset, gap)
    units = len(keys) + gap * _breaks(keys, n)
    h = min(max_row_h, height / units) if units else row_h
    rows, gaps = [], []
    y = top
    previous = -1
    weights = np.asarray(weights, dtype=np.float64)
    for j in keys + [n]:
        if j > previous + 1:  # keys previous+1 … j−1 are not listed
            first, count = previous + 1, j - previous - 1
            gaps.append(Gap(y, h * gap, first, count, float(weights[first:j].sum())))
            y += h * gap
        if j < n:
            rows.append((j, y, h))
            y += h
        previous = j
    return KeyRows(tuple(rows), tuple(gaps), start, length if gaps else 0, tuple(pinned))
