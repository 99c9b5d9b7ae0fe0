"""Every layer × head as one mosaic image: rows = queries, columns = keys.

Tiling all heads into a single ImageItem paints 6–8× faster than one item per head
(../shared/PLATFORM.md), which is what keeps typing live.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFontMetricsF, QGuiApplication, QPen
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from explorer import theme
from explorer.views import TimedView, fixed_plot, settle
from explorer.views.base import Panel
from explorer.views.fast_items import FastImageItem
from explorer.views.flow import ControlsArea
from explorer.views.grid_overlays import GridControls, GridMarks, badge_marks, sweep_image
from explorer.views.labels import token_label
from explorer.views.legend import ColourLegend
from explorer.views.mosaic import (  # noqa: F401 (re-exported)
    GAP,
    MAX_TILE,
    Arrangement,
    arrangement_for,
    block_factor,
    cell_at,
    halved,
    mosaic,
    pooled,
    tile,
)
from explorer.views.room import keep_readable, waiting_note, waiting_text
from model.analysis.rollout import CAVEAT, attention_rollout
from model.work import requests as rq


class HeadsGridPanel(Panel):
    """All heads at once. Click (or arrow keys) selects a head; a click also emits
    ``head_clicked`` so the window can bring the enlarged head view forward. Ctrl+click (or
    Shift+click) knocks a head out (``Selection.ablated``); the controls below run a sweep,
    switch to attention rollout (one tile per layer) and show head badges."""

    selection_fields = frozenset({"layer", "head", "ablated", "ablation_mode"})
    head_clicked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFocusPolicy(Qt.StrongFocus)
        self.view = TimedView()
        self.plot = fixed_plot(self.view)
        self.plot.invertY(True)
        self.plot.setAspectLocked(True)
        for axis in ("left", "top", "right"):  # right: the second band's layers (Arrangement)
            self.plot.showAxis(axis)
            self.plot.getAxis(axis).setStyle(tickLength=0)
            self.plot.getAxis(axis).enableAutoSIPrefix(False)
        self.plot.hideAxis("bottom")
        self.plot.hideAxis("right")
        self.arrangement = Arrangement(0, 0)  # where each head's tile sits (one band, or two side by side)
        self.image = FastImageItem(axisOrder="row-major")
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
        self.sweep_overlay = FastImageItem(axisOrder="row-major")
        self.sweep_overlay.setOpacity(0.85)
        self.sweep_overlay.setVisible(False)
        self.plot.addItem(self.sweep_overlay)
        self.marks = GridMarks()
        self.plot.addItem(self.marks)
        self.badges = None  # model.analysis.badges.HeadBadges, once scored
        self.sweep = None  # model.work.probes.SweepOutcome of the text on screen
        self.dla = None  # model.work.probes.DlaResult for the "who wrote it" colours
        self._dla_asked: tuple | None = None
        self.rollout: np.ndarray | None = None
        self.controls = GridControls()
        self.controls.mode.currentIndexChanged.connect(self._on_mode_changed)
        self.controls.clear.clicked.connect(lambda: self.request_selection(ablated=frozenset()))
        self.controls.sweep.clicked.connect(self.start_sweep)
        self.controls.cancel.clicked.connect(self._on_cancel_clicked)
        self.controls.show_sweep.toggled.connect(self._on_overlay_changed)
        self.controls.rollout.toggled.connect(self._on_overlay_changed)
        self.controls.badges.toggled.connect(self._on_overlay_changed)
        self.controls.dla.toggled.connect(self._on_overlay_changed)
        self.hover_label = QLabel()
        self.hover_label.setWordWrap(True)  # a long hover line must not set the grid pane's width
        self.hover_label.setObjectName("hoverLabel")
        self.sweep_legend = ColourLegend()  # what a sweep's colours mean, in numbers, while they show
        self.sweep_legend.hide()
        below = QWidget()  # what scrolls when the pane is short: the grid keeps its height
        below_layout = QVBoxLayout(below)
        below_layout.setContentsMargins(0, 0, 0, 0)
        below_layout.addWidget(self.controls)
        below_layout.addWidget(self.sweep_legend)
        below_layout.addWidget(self.hover_label)
        self.below = ControlsArea(below)
        self.waiting = waiting_note()  # in the grid's place until the first trace
        self.view.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.waiting, 100)
        layout.addWidget(self.view, 100)
        layout.addWidget(self.below)
        layout.addStretch(1)  # what the mosaic does not need goes below the controls
        self._max_tile = MAX_TILE
        self.plot.vb.sigResized.connect(self._on_view_resized)
        self.view.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self.view.scene().sigMouseClicked.connect(self._on_mouse_clicked)
        self._drawn_trace: object = None  # the trace the mosaic shows: a selection change alone keeps it
        self._drawn_shape: tuple[int, ...] = ()
        self._pooled: tuple[int, np.ndarray, np.ndarray] | None = None  # factor, image, token ids
        self._hover_tokens: tuple[str, ...] | None = None  # the tokens up to the hovered cell's
        self.retranslate()

    def retranslate(self) -> None:
        self.reset_hover()
        self.controls.retranslate()
        self.waiting.setText(waiting_text(self.info))
        super().retranslate()

    def reset_hover(self) -> None:
        """The hint, in place of a hovered cell's text: that text names tokens of a trace, and
        must not outlive it (a new text, a lesson scene, another model)."""
        hint = self.tr("Hover a cell: layer, head, query → key, weight")
        windows = self.info.layer_windows if self.info is not None else ()
        if windows:
            hint += "\n" + self.tr("● a global layer: it sees every earlier token; the others are local, "
                                    "each query sees the last {window} tokens").format(
                window=min(w for w in windows if w is not None))
        self.hover_label.setText(hint)

    # ------------------------------------------------------------------ drawing
    def on_theme(self, theme) -> None:
        self.image.setLookupTable(theme.attention_cmap.getLookupTable(nPts=256))
        self.outline.setPen(QPen(theme.colour("selected"), 0.6))
        tick_font = theme.font(1, bold=True)
        metrics = QFontMetricsF(tick_font)
        for side in ("left", "top", "right"):
            self.plot.getAxis(side).setTickFont(tick_font)
        # Room for the labels at this text size, set now: an axis left to grow by itself does so
        # only after a paint that cut its labels off (F11 lost the L/H labels; issue #32).
        self.plot.getAxis("top").setHeight(int(metrics.height() + 4))
        self._size_layer_axes()
        self._tile_ticks = None
        keep_readable(self.view, theme)
        self.waiting.setFont(theme.font(3))
        self._fit_to_top()
        self.sweep_overlay.setLookupTable(theme.score_cmap.getLookupTable(nPts=256))
        back = QColor(theme.bg)
        back.setAlpha(200)
        self.marks.set_style(theme.colour("selected"), theme.fg, back, theme.font(-2, bold=True))

    @property
    def showing_rollout(self) -> bool:
        return self.controls.rollout.isChecked()

    def _tiles(self) -> np.ndarray:
        """What the mosaic shows: every head's pattern (L, H, T, T), or the rollout (L, 1, T, T)."""
        if self.showing_rollout:
            if self.rollout is None or self.rollout.shape[-1] != self.trace.n_tokens:
                self.rollout = attention_rollout(self.trace.pattern)
            return self.rollout[:, None]
        return self.trace.pattern

    def redraw(self) -> None:
        trace = self.trace
        if trace is None:
            self.waiting.setText(waiting_text(self.info))
            return
        if self.waiting.isVisible() or self.view.isHidden():
            self.waiting.hide()
            self.view.show()
        key = (trace, self.showing_rollout)
        if key != self._drawn_trace:
            self._drawn_trace = key
            arrangement = self._arrange()
            self._max_tile = self._screen_tile()
            factor = self._factor()
            # Past the tile's screen pixels a head is drawn as pooled blocks; a causal trace that shares
            # its first tokens with the last one re-pools only the rows that changed.
            tiles = pooled(self._tiles(), factor) if self.showing_rollout else self._pool(trace, factor)
            L, H, T, _ = tiles.shape
            self.image.setImage(tile(tiles, GAP, arrangement), levels=(0.0, 1.0), autoLevels=False)
            if (tiles.shape, arrangement) != self._drawn_shape:
                self._drawn_shape = (tiles.shape, arrangement)
                self.plot.showAxis("right", arrangement.bands > 1)
                self._fit_to_top()
                self._draw_kv_groups(L, H, T) if not self.showing_rollout else self.kv_groups.setData([], [])
            self.marks.set_grid(L, H, T, GAP, arrangement)
        self._draw_sweep()
        self.marks.set_marks(() if self.showing_rollout else self.selection.ablated, self.badges,
                             self.controls.badges.isChecked() and not self.showing_rollout)
        self._draw_outline()
        settle(self.view)

    # ------------------------------------------------------------------ knock-out, sweep, badges
    def set_selection(self, selection) -> None:
        """The query and target matter only while the "who wrote it" colours show."""
        old = self.selection
        super().set_selection(selection)
        if self.controls.dla.isChecked() and (old.query, old.target) != (selection.query, selection.target):
            self.mark_dirty()

    def dla_values(self) -> np.ndarray | None:
        """(L, H) each head's direct contribution to the target at the selected token, while
        the "who wrote it" colours are on and the model thread has answered (asked otherwise)."""
        t = self.trace
        if t is None or self.showing_rollout or not self.controls.dla.isChecked():
            return None
        if self.info is not None and not self.info.has_lm_head:
            return None
        wanted = (t.text, self.selection.query_index(t.n_tokens), self.selection.target)
        r = self.dla
        if r is not None and (r.text, r.position) == wanted[:2] and wanted[2] in (None, r.target):
            return r.attribution.heads
        if wanted != self._dla_asked:
            self._dla_asked = wanted
            self.ask(rq.HeadDla(wanted[0], position=wanted[1], target=wanted[2]))
        return None

    def _draw_sweep(self) -> None:
        t, sweep = self.trace, self.sweep
        dla = self.dla_values()
        valid = sweep is not None and sweep.text == t.text and not self.showing_rollout
        self.controls.show_sweep.setEnabled(valid)
        show = valid and self.controls.show_sweep.isChecked() and dla is None
        self.sweep_overlay.setVisible(show or dla is not None)
        self.sweep_legend.setVisible(show or dla is not None)
        if dla is not None:  # the "who wrote it" colours take the overlay's place
            limit = float(np.abs(dla).max()) or 1.0
            self.sweep_overlay.setImage(sweep_image(dla, self._tile(), GAP, self.arrangement), levels=(-limit, limit),
                                        autoLevels=False)
            name = self.info.vocabulary[self.dla.target] if self.info is not None else str(self.dla.target)
            self.sweep_legend.set_scale(self.tr("each head's direct contribution to the logit of '{t}'").format(
                t=token_label(name)), self.theme.score_cmap, -limit, limit)
        elif show:
            limit = float(np.abs(sweep.delta).max()) or 1.0
            self.sweep_overlay.setImage(sweep_image(sweep.delta, self._tile(), GAP, self.arrangement), levels=(-limit, limit),
                                        autoLevels=False)
            name = self.info.vocabulary[sweep.token] if self.info is not None else str(sweep.token)
            self.sweep_legend.set_scale(self.tr("Δ log p('{t}') with the head knocked out").format(t=token_label(name)),
                                        self.theme.score_cmap, -limit, limit)

    def toggle_knockout(self, layer: int, head: int) -> None:
        self.request_selection(ablated=self.selection.ablated ^ {(layer, head)})

    def start_sweep(self) -> None:
        """Knock out each head in turn (on the model thread) for the chosen token at the query
        (``Selection.target``, clicked in the Next token tab), or the top token."""
        t = self.trace
        if t is None:
            return
        position = self.selection.query_index(t.n_tokens)
        token = self.selection.target
        if token is None and t.has_logits_at(position):
            token = int(np.argmax(t.logits_at(position)))
        self.ask(rq.Sweep(t.text, position=position, token=token, mode=self.selection.ablation_mode))
        self.controls.cancel.setEnabled(True)
        self.controls.progress.setValue(0)
        self.controls.progress.show()

    def _on_cancel_clicked(self) -> None:
        self.work_cancelled.emit(rq.Sweep)
        self._sweep_finished()

    def _sweep_finished(self) -> None:
        self.controls.cancel.setEnabled(False)
        self.controls.progress.hide()

    def _on_mode_changed(self, _index: int) -> None:
        self.request_selection(ablation_mode=self.controls.mode.currentData())

    def _on_overlay_changed(self, *_args) -> None:
        if not self.controls.show_sweep.isChecked():
            self.reset_hover()  # the sweep's hint goes with its colours
        self.mark_dirty()
        self.refresh()

    def set_work_progress(self, request, done: int, total: int) -> None:
        if isinstance(request, rq.Sweep):
            self.controls.progress.setRange(0, total)
            self.controls.progress.setValue(done)

    def set_work_result(self, request, result) -> None:
        if isinstance(request, rq.Badges):
            self.badges = result
            L, H = result.previous_token.shape
            self.controls.set_common_badges(badge_marks(result)[1], L * H)
            self.mark_dirty()
        elif isinstance(request, rq.HeadDla):
            self.dla = result
            self.mark_dirty()
        elif isinstance(request, rq.Sweep):
            self.sweep = result
            self._sweep_finished()
            name = self.info.vocabulary[result.token] if self.info is not None else str(result.token)
            self.hover_label.setText(self.tr(
                "Sweep: Δ log p('{t}') per head knocked out (red ↑ blue ↓)").format(t=name))
            self.controls.show_sweep.setChecked(True)
            self.mark_dirty()

    def set_work_error(self, request, message: str) -> None:
        if isinstance(request, rq.Sweep):
            self._sweep_finished()
            self.hover_label.setText(message)

    def _size_layer_axes(self) -> None:
        """Room for the widest layer label at this text size ("L00", or "L00●" when global
        layers are marked)."""
        metrics = QFontMetricsF(self.plot.getAxis("left").style["tickFont"] or self.font())
        widest = "L00●" if self.info is not None and self.info.layer_windows else "L00"
        for side in ("left", "right"):
            self.plot.getAxis(side).setWidth(int(metrics.horizontalAdvance(widest) + 8))

    def on_model_info(self, info) -> None:
        self._size_layer_axes()
        self._tile_ticks = None
        self.badges, self.sweep, self.dla, self._dla_asked = None, None, None, None
        self.controls.set_common_badges({}, 0)
        self.reset_hover()
        self._hover_tokens = None

    def on_trace(self, trace) -> None:
        self.rollout = None
        if self.trace_changed_tokens(trace):
            self.reset_hover()

    def _pool(self, trace, factor: int) -> np.ndarray:
        """The pooled patterns, reusing the rows of the last ones that cannot have changed
        (a causal trace that shares its first tokens with the one drawn before)."""
        last = self._pooled
        reuse, first_row = None, 0
        if (last is not None and trace.causal and last[0] in (factor, factor // 2)
                and last[1].shape[:2] == trace.pattern.shape[:2]):
            ids = trace.token_ids
            n = min(len(ids), len(last[2]))
            differ = np.flatnonzero(ids[:n] != last[2][:n])
            same = int(differ[0]) if len(differ) else n
            # the factor doubled (the text grew past a power of two): the last mosaic pooled
            # 2 × 2 is this one's, for every block whose tokens are all unchanged
            reuse = last[1] if last[0] == factor else halved(last[1])
            first_row = same // factor
        image = pooled(trace.pattern, factor, reuse, first_row)
        self._pooled = (factor, image, trace.token_ids)
        return image

    def _factor(self) -> int:
        """Tokens per pooled pixel side for the trace shown: a head's tile has at most as
        many pixels as it covers on screen (and never more than MAX_TILE)."""
        return block_factor(self.trace.n_tokens, self._max_tile)

    def _tile(self) -> int:
        """Pixels per head side for the trace shown."""
        return -(-self.trace.n_tokens // self._factor())

    def _arrange(self) -> Arrangement:
        """One band of layers, or two side by side when that makes the tiles larger in this
        pane (:func:`explorer.views.mosaic.arrangement_for`); from the layers, heads and the
        pane only, so typing never re-arranges the grid."""
        n_heads = 1 if self.showing_rollout else self.trace.n_heads
        box = self.plot.vb.boundingRect()
        height = max(box.height(), self.height() - self.below.sizeHint().height() - 40)  # the pane, not the capped view
        # the width one band gets: the view's, plus the second band's labels while they show
        labels = self.plot.getAxis("right")
        label_width = float(labels.fixedWidth or 0)
        width = box.width() + (label_width if labels.isVisible() else 0.0)
        self.arrangement = arrangement_for(self.trace.n_layers, n_heads, width, height, label_width)
        return self.arrangement

    def _screen_tile(self) -> int:
        """MAX_TILE, or fewer: the screen pixels a head's tile gets in this pane, in steps of 8
        (so a drag of the splitter does not re-pool on every pixel). Pooled to what the screen
        shows, a sharp line stays visible (a block's largest weight) where Qt's own scaling
        would drop rows, and a GPT-2 mosaic at 256 tokens is a third of the pixels."""
        box = self.plot.vb.boundingRect()
        if self.trace is None or box.width() <= 0 or box.height() <= 0:
            return MAX_TILE
        a = self.arrangement
        pixels = min(box.width() / max(a.cols, 1), box.height() / max(a.rows, 1))
        return int(min(MAX_TILE, max(16, 8 * math.ceil(pixels / 8))))

    def _on_view_resized(self, *_args) -> None:
        if self.trace is None:
            return
        before = self.arrangement
        wanted = self._screen_tile() if self._arrange() == before else -1
        if wanted != self._max_tile:
            self._max_tile = wanted
            if self.trace is not None and self._drawn_shape:
                self._drawn_trace = None  # pool again at the new size
                self.mark_dirty()
                self.refresh()
        self._fit_to_top()  # the new size, whether or not the pooling changed

    def _fit_to_top(self, *_args) -> None:
        """Show the whole mosaic at the largest square-cell scale, anchored top-left, so a
        wide grid in a tall pane leaves its spare room below rather than above and below."""
        if self.trace is None:
            return
        L, H, T, _ = self._drawn_shape[0] if self._drawn_shape else self.trace.pattern.shape
        a = self.arrangement if (self.arrangement.n_layers, self.arrangement.n_heads) == (L, H) else Arrangement(L, H)
        step = T + GAP
        width, height = a.cols * step - GAP, a.rows * step - GAP
        pad = 0.02 * max(width, height)
        box = self.plot.vb.boundingRect()
        if box.width() <= 0 or box.height() <= 0:
            return
        pixel_aspect = box.height() / box.width()
        shown_width = max(width + 2 * pad, (height + 2 * pad) / pixel_aspect)
        self.plot.vb.setRange(QRectF(-pad, -pad, shown_width, shown_width * pixel_aspect), padding=0)
        # no taller than the mosaic needs at this width: the controls follow right under it.
        # From the layers and heads only (not the tokens, which change with every key: a new
        # height each time was a relayout and two more paints a keystroke)
        margin = 0.04 * max(a.rows, a.cols)
        needed = box.width() * (a.rows + margin) / (a.cols + margin) + (self.view.height() - box.height()) + 6
        cap = max(int(math.ceil(needed)), self.view.minimumHeight())
        if abs(cap - self.view.maximumHeight()) > 8:
            self.view.setMaximumHeight(cap)
        self._label_tiles(a, step, box.width() / shown_width * step)

    def _label_tiles(self, a: Arrangement, step: int, tile_pixels: float) -> None:
        """H0 … and L0 … over the tiles; with many small tiles (30 × 9 heads) only every
        n-th, so the labels never run into each other. In two bands, the second band's layers
        are labelled on the right."""
        H = a.n_heads
        metrics = QFontMetricsF(self.plot.getAxis("top").style["tickFont"] or self.font())
        T = step - GAP

        def every(text: str) -> int:
            return max(1, math.ceil((metrics.horizontalAdvance(text) + 6) / max(tile_pixels, 1)))

        # Narrow tiles (SmolLM2's 30 × 9 heads at 1280 px): "H4 H8" with H0 cut off read
        # badly; bare head numbers fit every tile, or every other one, from 0.
        bare = every(f"H{H - 1}") > 1
        every_h = every(f"{H - 1}") if bare else 1
        # a layer label needs its letters' height (capitals and digits), not the line's spacing
        every_l = max(1, math.ceil((metrics.capHeight() + metrics.descent() + 2) / max(tile_pixels, 1)))
        names = ([self.tr("rollout")] if self.showing_rollout
                 else [f"{h}" if bare else f"H{h}" for h in range(H)])
        bands = [a.band_layers(b) for b in range(a.bands)]
        windows = self.info.layer_windows if self.info is not None and not self.showing_rollout else ()

        def layer_name(layer: int) -> str:  # a global layer among local ones is marked
            return f"L{layer}●" if windows and windows[layer] is None else f"L{layer}"

        ticks = ([(a.place(0, h)[1] * step + b * (H + 1) * step + T / 2, names[h])
                  for b in range(a.bands) for h in range(0, H, every_h)],
                 [(i * step + T / 2, layer_name(layer)) for i, layer in enumerate(bands[0]) if i % every_l == 0],
                 [(i * step + T / 2, layer_name(layer)) for i, layer in enumerate(bands[-1]) if i % every_l == 0]
                 if a.bands > 1 else [])
        if ticks != getattr(self, "_tile_ticks", None):
            self._tile_ticks = ticks
            self.plot.getAxis("top").setTicks([ticks[0]])
            self.plot.getAxis("left").setTicks([ticks[1]])
            self.plot.getAxis("right").setTicks([ticks[2]])

    def _draw_kv_groups(self, L: int, H: int, T: int) -> None:
        n_kv = self.info.n_kv_heads if self.info is not None else None
        if not n_kv or n_kv >= H:
            self.kv_groups.setData([], [])
            return
        step, group, a = T + GAP, H // n_kv, self.arrangement
        xs, ys = [], []
        for band in range(a.bands):
            for g in range(1, n_kv):
                x = (band * (H + 1) + g * group) * step - (GAP + 1) / 2
                xs += [x, x]
                ys += [-0.5 * step, len(a.band_layers(band)) * step]
        self.kv_groups.setData(xs, ys)
        self.kv_groups.setPen(pg.mkPen(self.theme.fg, width=2, style=Qt.DashLine))

    # ------------------------------------------------------------------ selection
    def _draw_outline(self) -> None:
        if self.trace is None:
            return
        T = self.trace.n_tokens
        layer, head = self.selection.layer, 0 if self.showing_rollout else self.selection.head
        step = T + GAP
        row, col = self.arrangement.place(layer, head) if self.arrangement.n_layers else (layer, head)
        self.outline.setRect(QRectF(col * step - 0.5, row * step - 0.5, T + 1, T + 1))

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
        n_heads = 1 if self.showing_rollout else self.trace.n_heads
        cell = cell_at(p.x(), p.y(), self.trace.n_layers, n_heads, self._tile(), GAP, self.arrangement)
        if cell is None:
            return None
        factor = self._factor()  # a pooled pixel: its block's first token
        layer, head, q, k = cell
        q, k = q * factor, k * factor
        return None if max(q, k) >= self.trace.n_tokens else (layer, head, q, k)

    def trace_changed_tokens(self, trace) -> bool:
        """Whether the hovered text (if any) names tokens this trace no longer has there."""
        hovered = self._hover_tokens
        return hovered is not None and hovered != tuple(trace.token_strings[:len(hovered)])

    def _on_mouse_moved(self, scene_pos: QPointF) -> None:
        cell = self._cell_under(scene_pos)
        if cell is None:
            return
        layer, head, q, k = cell
        t = self.trace
        self._hover_tokens = tuple(t.token_strings[:max(q, k) + 1])
        if self.showing_rollout:
            self.hover_label.setText(
                self.tr("rollout through L{l}   query {q} '{a}' ← key {k} '{b}'   {w:.3f}   ").format(
                    l=layer, q=q, a=t.token_strings[q], k=k, b=t.token_strings[k], w=self._tiles()[layer, 0, q, k])
                + self.tr(CAVEAT))
            return
        extra = ""
        if self.badges is not None and self.badges.previous_token.shape == t.pattern.shape[:2]:
            b = self.badges
            extra += self.tr("   prev {p:.2f} sink {s:.2f} ind {i:.2f} dup {d:.2f}").format(
                p=b.previous_token[layer, head], s=b.first_token[layer, head], i=b.induction[layer, head],
                d=b.duplicate_token[layer, head])
        dla = self.dla_values()
        if dla is not None:
            extra += self.tr("   direct contribution {d:+.3f}").format(d=dla[layer, head])
        elif self.sweep is not None and self.sweep.text == t.text and self.controls.show_sweep.isChecked():
            extra += self.tr("   knock-out Δ log p {d:+.3f}").format(d=self.sweep.delta[layer, head])
        kv = ""
        windows = self.info.layer_windows if self.info is not None else ()
        if windows:
            kv += (self.tr(" (global layer)") if windows[layer] is None else
                   self.tr(" (local layer, window {window})").format(window=windows[layer]))
        if self.info is not None and self.info.n_kv_heads:
            kv += self.tr(" (kv {kv})").format(kv=head // (self.info.n_heads // self.info.n_kv_heads))
        self.hover_label.setText(
            self.tr("L{layer} H{head}{kv}   query {q} '{query}' → key {k} '{key}'   weight {weight:.3f}").format(
                layer=layer, head=head, kv=kv, q=q, query=t.token_strings[q], k=k, key=t.token_strings[k],
                weight=t.pattern[layer, head, q, k]) + extra)

    def _on_mouse_clicked(self, event) -> None:
        cell = self._cell_under(event.scenePos())
        modifiers = event.modifiers() if hasattr(event, "modifiers") else QGuiApplication.keyboardModifiers()
        if cell is not None and not self.showing_rollout and modifiers & (
                Qt.ControlModifier | Qt.ShiftModifier | Qt.MetaModifier):
            self.toggle_knockout(cell[0], cell[1])
            return
        if cell is not None:
            if self.showing_rollout:
                cell = (cell[0], self.selection.head)
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
