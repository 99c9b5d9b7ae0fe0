"""Every layer × head as one mosaic image: rows = queries, columns = keys.

Tiling all heads into a single ImageItem paints 6–8× faster than one item per head
(../shared/PLATFORM.md), which is what keeps typing live. Past :data:`MAX_TILE` tokens a
head is drawn at most that many pixels wide, each pixel the largest weight of a block of
queries × keys: 144 heads at 256 tokens would be a 9.5-megapixel image (tens of ms to
convert and paint on every key) on a pane a few hundred pixels wide.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QPen
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from explorer import theme
from explorer.views import TimedView, fixed_plot, settle
from explorer.views.base import Panel

GAP = 1  # empty pixels between tiles
MAX_TILE = 64  # the most pixels per head side; beyond it blocks of tokens share a pixel


def block_factor(n_tokens: int, max_tile: int = MAX_TILE) -> int:
    """Tokens per pixel side so that a head's tile is at most ``max_tile`` pixels wide."""
    return max(1, -(-n_tokens // max_tile))


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


class HeadsGridPanel(Panel):
    """All heads at once. Click (or arrow keys) selects a head; a click also emits
    ``head_clicked`` so the window can bring the enlarged head view forward."""

    selection_fields = frozenset({"layer", "head"})
    head_clicked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFocusPolicy(Qt.StrongFocus)
        self.view = TimedView()
        self.plot = fixed_plot(self.view)
        self.plot.invertY(True)
        self.plot.setAspectLocked(True)
        for axis in ("left", "top"):
            self.plot.showAxis(axis)
            self.plot.getAxis(axis).setStyle(tickLength=0)
            self.plot.getAxis(axis).enableAutoSIPrefix(False)
        self.plot.hideAxis("bottom")
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setLookupTable(theme.ATTENTION_CMAP.getLookupTable(nPts=256))
        self.image.setLevels((0.0, 1.0))
        self.plot.addItem(self.image)
        self.outline = pg.QtWidgets.QGraphicsRectItem()
        self.outline.setPen(QPen(theme.SELECTED, 0.6))
        self.plot.addItem(self.outline)
        self.hover_label = QLabel("Hover a cell: layer, head, query → key, weight")
        self.hover_label.setObjectName("hoverLabel")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.hover_label)
        self.plot.vb.sigResized.connect(self._fit_to_top)
        self.view.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self.view.scene().sigMouseClicked.connect(self._on_mouse_clicked)
        self._drawn_trace: object = None  # the trace the mosaic shows: a selection change alone keeps it
        self._drawn_shape: tuple[int, ...] = ()
        self._pooled: tuple[int, np.ndarray, np.ndarray] | None = None  # factor, image, token ids

    # ------------------------------------------------------------------ drawing
    def on_theme(self, theme) -> None:
        self.image.setLookupTable(theme.attention_cmap.getLookupTable(nPts=256))
        self.outline.setPen(QPen(theme.colour("selected"), 0.6))
        for side in ("left", "top"):
            self.plot.getAxis(side).setTickFont(theme.font(1, bold=True))

    def redraw(self) -> None:
        trace = self.trace
        if trace is None:
            return
        if trace is not self._drawn_trace:
            self._drawn_trace = trace
            L, H, _, _ = trace.pattern.shape
            factor = block_factor(trace.n_tokens)
            T = self._tile()
            self.image.setImage(tile(self._pool(trace, factor)), levels=(0.0, 1.0), autoLevels=False)
            if (L, H, T) != self._drawn_shape:
                self._drawn_shape = (L, H, T)
                step = T + GAP
                self.plot.getAxis("top").setTicks([[(h * step + T / 2, f"H{h}") for h in range(H)]])
                self.plot.getAxis("left").setTicks([[(layer * step + T / 2, f"L{layer}") for layer in range(L)]])
                self._fit_to_top()
        self._draw_outline()
        settle(self.view)

    def _pool(self, trace, factor: int) -> np.ndarray:
        """The pooled patterns, reusing the rows of the last ones that cannot have changed
        (a causal trace that shares its first tokens with the one drawn before)."""
        last = self._pooled
        reuse, first_row = None, 0
        if (last is not None and trace.causal and last[0] == factor and last[1].shape[:2] == trace.pattern.shape[:2]):
            ids = trace.token_ids
            n = min(len(ids), len(last[2]))
            differ = np.flatnonzero(ids[:n] != last[2][:n])
            same = int(differ[0]) if len(differ) else n
            reuse, first_row = last[1], same // factor
        image = pooled(trace.pattern, factor, reuse, first_row)
        self._pooled = (factor, image, trace.token_ids)
        return image

    def _tile(self) -> int:
        """Pixels per head side for the trace shown."""
        T = self.trace.n_tokens
        return -(-T // block_factor(T))

    def _fit_to_top(self, *_args) -> None:
        """Show the whole mosaic at the largest square-cell scale, anchored top-left, so a
        wide grid in a tall pane leaves its spare room below rather than above and below."""
        if self.trace is None:
            return
        L, H, _, _ = self.trace.pattern.shape
        step = self._tile() + GAP
        width, height = H * step - GAP, L * step - GAP
        pad = 0.02 * max(width, height)
        box = self.plot.vb.boundingRect()
        if box.width() <= 0 or box.height() <= 0:
            return
        pixel_aspect = box.height() / box.width()
        shown_width = max(width + 2 * pad, (height + 2 * pad) / pixel_aspect)
        self.plot.vb.setRange(QRectF(-pad, -pad, shown_width, shown_width * pixel_aspect), padding=0)

    # ------------------------------------------------------------------ selection
    def _draw_outline(self) -> None:
        if self.trace is None:
            return
        T = self._tile()
        layer, head = self.selection.layer, self.selection.head
        step = T + GAP
        self.outline.setRect(QRectF(head * step - 0.5, layer * step - 0.5, T + 1, T + 1))

    def _request_head(self, layer: int, head: int) -> None:
        if self.info is not None:
            layer = int(np.clip(layer, 0, self.info.n_layers - 1))
            head = int(np.clip(head, 0, self.info.n_heads - 1))
        self.request_selection(layer=layer, head=head)

    def keyPressEvent(self, event) -> None:  # noqa: N802 (Qt API)
        moves = {Qt.Key_Left: (0, -1), Qt.Key_Right: (0, 1), Qt.Key_Up: (-1, 0), Qt.Key_Down: (1, 0)}
        if event.key() in moves:
            dl, dh = moves[event.key()]
            self._request_head(self.selection.layer + dl, self.selection.head + dh)
            event.accept()
            return
        super().keyPressEvent(event)

    # ------------------------------------------------------------------ mouse
    def _cell_under(self, scene_pos: QPointF):
        if self.trace is None:
            return None
        p = self.plot.vb.mapSceneToView(scene_pos)
        cell = cell_at(p.x(), p.y(), self.trace.n_layers, self.trace.n_heads, self._tile())
        if cell is None:
            return None
        factor = block_factor(self.trace.n_tokens)  # a pooled pixel: its block's first token
        layer, head, q, k = cell
        q, k = q * factor, k * factor
        return None if max(q, k) >= self.trace.n_tokens else (layer, head, q, k)

    def _on_mouse_moved(self, scene_pos: QPointF) -> None:
        cell = self._cell_under(scene_pos)
        if cell is None:
            return
        layer, head, q, k = cell
        t = self.trace
        self.hover_label.setText(
            f"L{layer} H{head}   query {q} '{t.token_strings[q]}' → key {k} '{t.token_strings[k]}'   "
            f"weight {t.pattern[layer, head, q, k]:.3f}"
        )

    def _on_mouse_clicked(self, event) -> None:
        cell = self._cell_under(event.scenePos())
        if cell is not None:
            self.setFocus()
            self._request_head(cell[0], cell[1])
            self.head_clicked.emit()

    # ------------------------------------------------------------------ export
    def export_table(self) -> tuple[list[str], list[list]] | None:
        """One row per (layer, head, query, key): the weight, masked keys (0) included."""
        t = self.trace
        if t is None:
            return None
        L, H, T, _ = t.pattern.shape
        rows = [[layer, head, q, t.token_strings[q], k, t.token_strings[k], t.pattern[layer, head, q, k]]
                for layer in range(L) for head in range(H) for q in range(T) for k in range(T)]
        return ["layer", "head", "query", "query_token", "key", "key_token", "weight"], rows
