"""Labels beside scatter points that stay inside the plot and off each other (the embedding
map's words, the drift's "after block n"): a range that leaves room for them, then each label
put on the first side of its point where it is free, the important ones first. A label with no
free side is left out (its point stays, and hovering names it): never one on top of another.

Pure arithmetic in pixels (Qt-free but for the rectangles), so it is tested on its own.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QRectF

#: where a label may sit around its point: (anchor x, anchor y) of the label's box at the point,
#: in the order tried (above right first: how the maps always drew them)
SIDES = ((0.0, 1.0), (0.0, 0.0), (1.0, 1.0), (1.0, 0.0), (0.5, 1.0), (0.5, 0.0))
GAP = 6.0  # pixels between a point and its label


@dataclass(frozen=True)
class Placed:
    index: int
    anchor: tuple[float, float]  # for pg.TextItem(anchor=…)
    box: QRectF  # pixels, y down


def fit_range(xy: np.ndarray, sizes: np.ndarray, width: float, height: float,
              pad: float = 0.08) -> tuple[float, float, float, float]:
    """(x0, x1, y0, y1) holding every point with room right of and above each for its label
    (``sizes``: (N, 2) label width and height in pixels) in a ``width`` × ``height`` view."""
    x, y = xy[:, 0], xy[:, 1]
    span_x = float(x.max() - x.min()) or 1.0
    span_y = float(y.max() - y.min()) or 1.0
    lo_x, lo_y = float(x.min()) - pad * span_x, float(y.min()) - pad * span_y
    hi_x, hi_y = float(x.max()) + pad * span_x, float(y.max()) + pad * span_y
    w, h = max(width, 1.0), max(height, 1.0)
    for _ in range(3):  # the room a label needs in data units depends on the range: settle it
        per_px_x, per_px_y = (hi_x - lo_x) / w, (hi_y - lo_y) / h
        hi_x = max(float(x.max()) + pad * span_x, float(np.max(x + (sizes[:, 0] + GAP) * per_px_x)))
        hi_y = max(float(y.max()) + pad * span_y, float(np.max(y + (sizes[:, 1] + GAP) * per_px_y)))
        # never more than a third of the plot for labels: the points keep the rest (a label
        # that finds no room right of its point goes left of it, or is left out)
        hi_x = min(hi_x, float(x.max()) + 0.5 * span_x)
        hi_y = min(hi_y, float(y.max()) + 0.5 * span_y)
    return lo_x, hi_x, lo_y, hi_y


def place(points_px: np.ndarray, sizes: np.ndarray, bounds: QRectF, order: list[int],
          taken: list[QRectF] | None = None) -> list[Placed]:
    """Each label (in ``order``: the important first) on the first side of its point where its
    box is inside ``bounds`` and clear of every box placed before (and of ``taken``); pixels,
    y down. Labels with no such side are not in the result."""
    placed: list[Placed] = []
    boxes = list(taken or [])
    for i in order:
        px, py = points_px[i]
        w, h = sizes[i]
        for ax, ay in SIDES:
            left = px + GAP - ax * (w + 2 * GAP)
            top = py - ay * h + (GAP * 0.3 if ay == 0 else -GAP * 0.3)
            box = QRectF(left, top, w, h)
            if not bounds.contains(box) or any(box.intersects(b) for b in boxes):
                continue
            boxes.append(box)
            placed.append(Placed(i, (ax, ay), box))
            break
    return placed
