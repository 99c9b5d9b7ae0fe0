"""Every layer × head as one mosaic image: rows = queries, columns = keys.

Tiling all heads into a single ImageItem paints 6–8× faster than one item per head
(../shared/PLATFORM.md), which is what keeps typing live.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QFontMetricsF, QPen
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from explorer import theme
from explorer.views import TimedView, fixed_plot, settle
from explorer.views.base import Panel

GAP = 1  # empty pixels between tiles


def mosaic(patterns: np.ndarray, gap: int = GAP) -> np.ndarray:
    """(L, H, T, T) → one (L·(T+gap) − gap, H·(T+gap) − gap) image, NaN in the gaps."""
    L, H, T, _ = patterns.shape
    step = T + gap
    image = np.full((L * step - gap, H * step - gap), np.nan, dtype=np.float32)
    for layer in range(L):
        for head in range(H):
            image[layer * step : layer * step + T, head * step : head * step + T] = patterns[layer, head]
    return image


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
        # Grouped-query attention: lines between the groups of query heads that share one
        # key/value head.
        self.kv_groups = pg.PlotDataItem(connect="pairs")
        self.plot.addItem(self.kv_groups)
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
            L, H, T, _ = trace.pattern.shape
            self.image.setImage(mosaic(trace.pattern), levels=(0.0, 1.0), autoLevels=False)
            if trace.pattern.shape != self._drawn_shape:
                self._drawn_shape = trace.pattern.shape
                self._fit_to_top()
                self._draw_kv_groups(L, H, T)
        self._draw_outline()
        settle(self.view)

    def _fit_to_top(self, *_args) -> None:
        """Show the whole mosaic at the largest square-cell scale, anchored top-left, so a
        wide grid in a tall pane leaves its spare room below rather than above and below."""
        if self.trace is None:
            return
        L, H, T, _ = self.trace.pattern.shape
        step = T + GAP
        width, height = H * step - GAP, L * step - GAP
        pad = 0.02 * max(width, height)
        box = self.plot.vb.boundingRect()
        if box.width() <= 0 or box.height() <= 0:
            return
        pixel_aspect = box.height() / box.width()
        shown_width = max(width + 2 * pad, (height + 2 * pad) / pixel_aspect)
        self.plot.vb.setRange(QRectF(-pad, -pad, shown_width, shown_width * pixel_aspect), padding=0)
        self._label_tiles(L, H, step, box.width() / shown_width * step)

    def _label_tiles(self, L: int, H: int, step: int, tile_pixels: float) -> None:
        """H0 … and L0 … over the tiles; with many small tiles (30 × 9 heads) only every
        n-th, so the labels never run into each other."""
        metrics = QFontMetricsF(self.plot.getAxis("top").style["tickFont"] or self.font())
        T = step - GAP
        every_h = max(1, math.ceil((metrics.horizontalAdvance(f"H{H - 1}") + 6) / max(tile_pixels, 1)))
        every_l = max(1, math.ceil((metrics.height() + 2) / max(tile_pixels, 1)))
        ticks = ([(h * step + T / 2, f"H{h}") for h in range(0, H, every_h)],
                 [(layer * step + T / 2, f"L{layer}") for layer in range(0, L, every_l)])
        if ticks != getattr(self, "_tile_ticks", None):
            self._tile_ticks = ticks
            self.plot.getAxis("top").setTicks([ticks[0]])
            self.plot.getAxis("left").setTicks([ticks[1]])

    def _draw_kv_groups(self, L: int, H: int, T: int) -> None:
        n_kv = self.info.n_kv_heads if self.info is not None else None
        if not n_kv or n_kv >= H:
            self.kv_groups.setData([], [])
            return
        step, group = T + GAP, H // n_kv
        xs, ys = [], []
        for g in range(1, n_kv):
            x = g * group * step - (GAP + 1) / 2
            xs += [x, x]
            ys += [-0.5 * step, L * step]
        self.kv_groups.setData(xs, ys)
        self.kv_groups.setPen(pg.mkPen(self.theme.fg, width=2, style=Qt.DashLine))

    # ------------------------------------------------------------------ selection
    def _draw_outline(self) -> None:
        if self.trace is None:
            return
        T = self.trace.n_tokens
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
        return cell_at(p.x(), p.y(), self.trace.n_layers, self.trace.n_heads, self.trace.n_tokens)

    def _on_mouse_moved(self, scene_pos: QPointF) -> None:
        cell = self._cell_under(scene_pos)
        if cell is None:
            return
        layer, head, q, k = cell
        t = self.trace
        kv = ""
        if self.info is not None and self.info.n_kv_heads:
            kv = f" (kv {head // (self.info.n_heads // self.info.n_kv_heads)})"
        self.hover_label.setText(
            f"L{layer} H{head}{kv}   query {q} '{t.token_strings[q]}' → key {k} '{t.token_strings[k]}'   "
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
