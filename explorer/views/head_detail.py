"""One head, enlarged: token labels on both axes, values in the cells, and the selected
query's row as bars ("where does this token look?")."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QT_TRANSLATE_NOOP, QCoreApplication, QRectF, Qt
from PySide6.QtGui import QBrush, QFontMetrics, QFontMetricsF, QPen
from PySide6.QtWidgets import QCheckBox, QComboBox, QLabel, QVBoxLayout, QWidget

from explorer import theme
from explorer.elided_label import ElidedLabel
from explorer.names import HEAD_MODES, PROBABILITY_MODES, HeadMode
from explorer.views import TimedView, fixed_plot, settle
from explorer.views.base import Panel
from explorer.views.fast_items import FastImageItem
from explorer.views.flow import FlowLayout
from explorer.views.labels import token_label
from explorer.views.map_labels import SLANT, LabelPlan, SteadyTitle, label_plan, thinned  # noqa: F401 (re-exported)
from explorer.views.matrix_labels import MatrixLabels, light_text_wanted
from explorer.views.room import keep_readable, waiting_note, waiting_text
from model.core.trace import Trace

MODES = dict(zip(HEAD_MODES, (  # the modes are explorer.names.HeadMode; these are their labels
    QT_TRANSLATE_NOOP("HeadDetailPanel", "Pattern (softmax)"),
    QT_TRANSLATE_NOOP("HeadDetailPanel", "Raw scores QKᵀ/√dₖ"),
    QT_TRANSLATE_NOOP("HeadDetailPanel", "Masked scores (−∞)"),
    QT_TRANSLATE_NOOP("HeadDetailPanel", "Rollout (all heads)"),
), strict=True))
PLURAL = {"query": QT_TRANSLATE_NOOP("HeadDetailPanel", "queries"), "key": QT_TRANSLATE_NOOP("HeadDetailPanel", "keys")}


def _tr(text: str) -> str:
    return QCoreApplication.translate("HeadDetailPanel", text)
MAX_CELL_TEXT = 16  # write values into cells up to this many tokens
MAX_LABEL_CHARS = 10


@dataclass(frozen=True)
class HeadMatrix:
    """What the enlarged view draws: rows × columns with their labels.

    ``masked`` marks cells shown as −∞; ``levels`` are the colour-bar limits.
    """

    values: np.ndarray
    row_labels: tuple[str, ...]
    column_labels: tuple[str, ...]
    masked: np.ndarray
    levels: tuple[float, float]
    row_axis: str
    column_axis: str
    note: str


def hidden_keys(trace: Trace, layer: int, head: int) -> np.ndarray:
    """T × T, true where a query may not look (the −∞ cells of ``trace.masked_scores``), for
    one head: the property masks every head of every layer, 35-50 ms on the GUI thread per
    keystroke for GPT-2 small at 256 tokens (12 × 12 heads) to read one of them."""
    if not trace.causal:
        return np.isneginf(trace.scores[layer, head])
    return trace.hidden_keys(layer)  # later keys; in a local layer (Gemma, Mistral), those beyond its window


def head_matrix(
    trace: Trace, layer: int, head: int, mode: str = HeadMode.PATTERN, transpose: bool = False, hide_first: bool = False
) -> HeadMatrix:
    """Compute the matrix for one head in the chosen mode (pure; the widget only draws it)."""
    T = trace.n_tokens
    tokens = tuple(_short(t) for t in trace.token_strings)
    notes = []
    if mode == HeadMode.PATTERN:
        values = trace.pattern[layer, head].astype(np.float64)
        masked = np.zeros((T, T), dtype=bool)
        levels = (0.0, 1.0)
    elif mode in (HeadMode.SCORES, HeadMode.MASKED):
        values = trace.scores[layer, head].astype(np.float64)
        # later keys; a sliding window's old ones too (a T × T mask: only when it is shown)
        masked = hidden_keys(trace, layer, head) if mode == HeadMode.MASKED else np.zeros((T, T), dtype=bool)
        finite = values[~masked]
        # symmetric about 0, so the diverging map's white is a score of 0: a positive score
        # never reads as a negative one (the colours are centred on 0, not on the middle value)
        reach = float(np.abs(finite).max()) if finite.size else 1.0
        levels = (-reach, reach) if reach > 0 else (-1e-6, 1e-6)
        if mode == HeadMode.MASKED:
            values = np.where(masked, -np.inf, values)
            window = trace.window(layer)
            notes.append(QCoreApplication.translate("HeadDetailPanel", "no mask: this model attends both ways") if not trace.causal else
                         QCoreApplication.translate("HeadDetailPanel", "grey cells are −∞: a query may not look at later keys")
                         if window is None else
                         QCoreApplication.translate("HeadDetailPanel", "grey cells are −∞: a query may not look at later keys, "
                                                    "nor, in this local layer, at keys {window} or more back").format(window=window))
    elif mode == HeadMode.ROLLOUT:
        from model.analysis.rollout import CAVEAT, attention_rollout

        values = attention_rollout(trace.pattern)[layer].astype(np.float64)
        masked = np.zeros((T, T), dtype=bool)
        levels = (0.0, 1.0)
        notes.append(QCoreApplication.translate(
            "HeadDetailPanel", "rollout: heads averaged, residual added, layers 0–{layer} multiplied.").format(layer=layer)
            + " " + QCoreApplication.translate("HeadDetailPanel", CAVEAT))
    else:
        raise ValueError(f"unknown mode {mode!r}")
    columns = np.arange(T)
    if hide_first and T > 1:
        columns = columns[1:]
        values = values[:, 1:]
        masked = masked[:, 1:]
        if mode in PROBABILITY_MODES:
            totals = values.sum(axis=1, keepdims=True)
            values = np.divide(values, totals, out=np.zeros_like(values), where=totals > 0)
            notes.append(QCoreApplication.translate("HeadDetailPanel", "first token '{token}' hidden; each row renormalised to sum to 1").format(token=tokens[0]))
        else:
            notes.append(QCoreApplication.translate("HeadDetailPanel", "first token '{token}' hidden").format(token=tokens[0]))
    row_labels, column_labels = tokens, tuple(tokens[i] for i in columns)
    row_axis, column_axis = "query", "key"
    if transpose:
        values, masked = values.T, masked.T
        row_labels, column_labels = column_labels, row_labels
        row_axis, column_axis = "key", "query"
        notes.append(QCoreApplication.translate("HeadDetailPanel", "3Blue1Brown layout: keys down the side, one column per query (columns sum to 1)")
                     if mode == HeadMode.PATTERN else QCoreApplication.translate("HeadDetailPanel", "3Blue1Brown layout: keys as rows, queries as columns"))
    return HeadMatrix(values, row_labels, column_labels, masked, levels, row_axis, column_axis, QCoreApplication.translate("HeadDetailPanel", "; ").join(notes))


@functools.lru_cache(maxsize=65536)
def _short(token: str) -> str:
    """A token as a tick label (cached: every label is asked for on every keystroke)."""
    return token_label(token, MAX_LABEL_CHARS)


class HeadDetailPanel(Panel):
    """The enlarged view of one head, with a bar chart of the selected query's row.
    Clicking a row (a column in the 3Blue1Brown layout) selects that query."""

    title = QT_TRANSLATE_NOOP("Panel", "Head")
    key = "head"
    selection_fields = frozenset({"layer", "head", "query"})

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.current: HeadMatrix | None = None
        self.plan: LabelPlan | None = None
        self.column_texts: list[str] = []  # the column labels as drawn (shortened when long)
        self.bar_keys: np.ndarray = np.zeros(0, dtype=int)
        self._bars_min = 0.0  # the bars' column's least width at this text size
        self._drawn_trace: Trace | None = None  # the trace the map and bars show
        self.bar_weights: np.ndarray = np.zeros(0)

        self.heading = ElidedLabel()  # one line, never wider than the tab (the whole in its tooltip)
        self.heading.setFont(theme.label_font(theme.DEFAULT_POINT_SIZE + 1, bold=True))
        self.mode_box = QComboBox()
        for key, text in MODES.items():
            self.mode_box.addItem(text, key.value)
        # as wide as the item shown, not the longest one (it wraps to its own line when narrow)
        self.mode_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.transpose_box = QCheckBox()
        self.hide_first_box = QCheckBox()
        self.note = QLabel("")
        self.note.setWordWrap(True)
        self.note.setObjectName("modeNote")  # its font is set in on_theme (smaller than body text)

        self.view = TimedView()
        self.plot = fixed_plot(self.view, row=0, col=0)
        self.plot.invertY(True)
        self.plot.showAxis("top")
        self.plot.hideAxis("bottom")
        self.background = pg.QtWidgets.QGraphicsRectItem()
        self.background.setBrush(QBrush(theme.MASKED_BRUSH, Qt.BDiagPattern))
        self.background.setPen(QPen(Qt.NoPen))
        self.plot.addItem(self.background)
        self.image = FastImageItem(axisOrder="row-major")
        self.plot.addItem(self.image)
        self.colorbar = pg.ColorBarItem(values=(0, 1), colorMap=theme.ATTENTION_CMAP, interactive=False, width=18)
        self.colorbar.setImageItem(self.image, insert_in=self.plot)
        self.row_highlight = pg.QtWidgets.QGraphicsRectItem()
        self.row_highlight.setPen(QPen(theme.HIGHLIGHT, 0.12))
        self.plot.addItem(self.row_highlight)
        self.labels = MatrixLabels(theme.label_font(max(7, theme.DEFAULT_POINT_SIZE - 4)),
                                   theme.label_font(theme.DEFAULT_POINT_SIZE))
        self.plot.addItem(self.labels)
        self.label_space = 2.5  # rows of room above the matrix for slanted column labels
        self._drawn: dict = {}  # what the axes and titles show now, to skip unchanged updates

        self.bars_plot = fixed_plot(self.view, row=0, col=1)
        self.bars_plot.invertY(True)
        self.bars_plot.setXRange(0, 1, padding=0)
        # Three ticks: the bar chart is narrow, and 0.2-steps ran into each other at 1280 × 720.
        self.bars_plot.getAxis("bottom").setTicks([[(0.0, "0"), (0.5, "0.5"), (1.0, "1")]])
        self.bars_plot.layout.removeItem(self.bars_plot.titleLabel)
        self.bars_plot.titleLabel = SteadyTitle("", size="11pt", parent=self.bars_plot)
        # over the token labels and the bars both: room for "'␣roamed' looks at" at 1280 px
        self.bars_plot.layout.addItem(self.bars_plot.titleLabel, 0, 0, 1, 2)
        self.bars_plot.setTitle(self.tr("the query looks at"))
        # The title no longer sizes its column: the column keeps room for a short one (on_theme).
        self.bars = pg.BarGraphItem(x0=[], y=[], height=0.7, width=[], brush=theme.HIGHLIGHT)
        self.bars_plot.addItem(self.bars)
        for plot in (self.plot, self.bars_plot):
            for side in ("left", "top", "bottom", "right"):
                # Token labels, not numbers with units: an SI prefix never applies, and
                # checking for one re-renders the axis label's HTML on every range change.
                plot.getAxis(side).enableAutoSIPrefix(False)
            # Token labels change with every keystroke; left to itself the axis resizes
            # while painting and the whole view lays out and paints again (three paints a
            # keystroke). Its width is set from the labels before painting instead.
            plot.getAxis("left").setStyle(autoExpandTextSpace=False)
        self.colorbar.axis.enableAutoSIPrefix(False)
        self.view.ci.layout.setColumnStretchFactor(0, 3)
        self.view.ci.layout.setColumnStretchFactor(1, 1)
        self.view.ci.layout.setColumnStretchFactor(0, 4)

        # The heading and the controls flow onto as few lines as the width allows (one at
        # 1280 px and 1×, more on a 1024-pixel projector at large text): never sideways.
        controls = FlowLayout()
        controls.addWidget(self.heading)
        controls.addWidget(self.mode_box)
        controls.addWidget(self.transpose_box)
        controls.addWidget(self.hide_first_box)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(controls)
        layout.addWidget(self.note)
        self.waiting = waiting_note()  # in the map's place until the first trace
        self.view.hide()
        layout.addWidget(self.waiting, 1)
        layout.addWidget(self.view, 1)

        self.mode_box.currentIndexChanged.connect(self._on_options_changed)
        self.transpose_box.toggled.connect(self._on_options_changed)
        self.hide_first_box.toggled.connect(self._on_options_changed)
        self.view.scene().sigMouseClicked.connect(self._on_mouse_clicked)
        # labels are thinned for the size the view has now: again whenever it changes
        self.plot.vb.sigResized.connect(self._on_view_resized)
        self.bars_plot.vb.sigResized.connect(self._on_view_resized)
        self.retranslate()

    def _mode_label(self, mode: str, text: str) -> str:
        """The mode's name; the scores of a model that does not divide by √dₖ (document 002's
        worked example) are not called QKᵀ/√dₖ."""
        weights = self.info.head_weights if self.info is not None else None
        if mode == HeadMode.SCORES and weights is not None and not weights.scaled:
            return self.tr("Raw scores QKᵀ (not ÷ √dₖ)")
        return _tr(text)

    def on_model_info(self, info) -> None:
        for index, (mode, text) in enumerate(MODES.items()):
            self.mode_box.setItemText(index, self._mode_label(mode, text))

    def retranslate(self) -> None:
        self.heading.setText(self.tr("Layer {layer}, head {head}").format(layer=self.selection.layer,
                                                                          head=self.selection.head))
        for index, (mode, text) in enumerate(MODES.items()):
            self.mode_box.setItemText(index, self._mode_label(mode, text))
        self.mode_box.setToolTip(self.tr("What to draw (M cycles)"))
        self.transpose_box.setText(self.tr("3Blue1Brown layout"))
        self.transpose_box.setToolTip(self.tr("Keys as rows and one column per query, as in the video (T)"))
        self.hide_first_box.setText(self.tr("Hide first token"))
        self.hide_first_box.setToolTip(self.tr("Drop the first token's column (the 'attention sink') and renormalise (F)"))
        self._drawn.clear()  # the axis labels and the bars' title are set again
        super().retranslate()

    # ------------------------------------------------------------------ panel API
    @property
    def mode(self) -> HeadMode:
        return HeadMode(self.mode_box.currentData())

    def set_mode(self, mode: str) -> None:
        self.mode_box.setCurrentIndex(list(MODES).index(HeadMode(mode)))

    def keyPressEvent(self, event) -> None:  # noqa: N802 (Qt API)
        key = event.key()
        if key == Qt.Key_M:
            self.mode_box.setCurrentIndex((self.mode_box.currentIndex() + 1) % len(MODES))
        elif key == Qt.Key_T:
            self.transpose_box.toggle()
        elif key == Qt.Key_F:
            self.hide_first_box.toggle()
        else:
            super().keyPressEvent(event)

    def apply_scene(self, state: dict) -> list[str]:
        if "mode" in state:
            self.set_mode(state["mode"])
        if "layout_3b1b" in state:
            self.transpose_box.setChecked(bool(state["layout_3b1b"]))
        if "hide_first" in state:
            self.hide_first_box.setChecked(bool(state["hide_first"]))
        return []

    def scene_values(self) -> dict:
        return {"mode": self.mode.value, "layout_3b1b": self.transpose_box.isChecked(),
                "hide_first": self.hide_first_box.isChecked()}

    # ------------------------------------------------------------------ drawing
    def on_theme(self, theme) -> None:
        keep_readable(self.view, theme, 6)
        self.heading.setFont(theme.font(3, bold=True))
        self.background.setBrush(QBrush(theme.colour("masked"), Qt.BDiagPattern))
        self.row_highlight.setPen(QPen(theme.colour("selected"), 0.12))
        self.bars.setOpts(brush=theme.colour("bars"))
        self.labels.set_fonts(theme.font(-4), theme.font(0), theme.fg)
        self.colorbar.axis.setTickFont(theme.font(-2))
        self.colorbar.axis.setTextPen(theme.fg)
        self.colorbar.axis.setPen(theme.fg)
        # the bars' column: room for its shortest title in the title's size
        self._bars_min = QFontMetricsF(theme.font(0)).horizontalAdvance(self.tr("looks at")) + 16
        self.bars_plot.setMinimumWidth(self._bars_min if self.bars_plot.isVisible() else 0)
        self._fit_bars()
        self._drawn.clear()  # axes, colour map and ranges are set again with the new look

    def _on_options_changed(self, *_args) -> None:
        self.mark_dirty()
        self.refresh()

    def redraw(self) -> None:
        trace = self.trace
        if trace is None:
            self.waiting.setText(waiting_text(self.info))
            return
        if self.view.isHidden():
            self.waiting.hide()
            self.view.show()
        layer, head = self.selection.layer, self.selection.head
        m = head_matrix(trace, layer, head, self.mode, self.transpose_box.isChecked(),
                        self.hide_first_box.isChecked())
        self.current = m
        if self.mode == HeadMode.ROLLOUT:
            heading = self.tr("Attention rollout through layer {l}").format(l=layer)
        else:
            heading = self.tr("Layer {layer}, head {head}").format(layer=layer, head=head)
            if self.info is not None and self.info.n_kv_heads:
                group = self.info.n_heads // self.info.n_kv_heads
                heading += self.tr("  ·  kv head {kv} of {n}").format(kv=head // group, n=self.info.n_kv_heads)
        self.heading.setText(heading)
        # which way is which, in words above the map (axis titles beside it took the map's room
        # and, cut, read "ies" for "queries")
        axes = self.tr("rows: {rows}, columns: {columns}").format(rows=_tr(PLURAL[m.row_axis]),
                                                                  columns=_tr(PLURAL[m.column_axis]))
        self.note.setText(f"{axes}. {m.note}" if m.note else axes)
        rows, cols = m.values.shape
        shown = np.where(m.masked, np.nan, m.values).astype(np.float32)
        cmap = self.theme.attention_cmap if self.mode in PROBABILITY_MODES else self.theme.score_cmap
        if self._changed("colour map", (self.mode in PROBABILITY_MODES, self.theme.colour_map)):
            self.colorbar.setColorMap(cmap)
        if self._changed("levels", tuple(m.levels)):
            self.colorbar.setLevels(m.levels)
        self.image.setImage(shown, autoLevels=False, levels=m.levels)
        self.background.setRect(QRectF(0, 0, cols, rows))
        self._draw_labels(m)
        self._draw_cell_texts(m)
        self._draw_query(trace)
        settle(self.view)

    def _changed(self, key: object, value: object) -> bool:
        """Record ``value`` under ``key``; true when it differs from last time. Every range,
        level or colour-map set makes pyqtgraph re-lay-out and repaint the whole view, even
        with the same value, so the drawing code sets only what changed."""
        if key in self._drawn and self._drawn[key] == value:
            return False
        self._drawn[key] = value
        return True

    def _set_axis(self, side: str, plot: pg.PlotItem, ticks: list[tuple[float, str]], label: str | None = None) -> None:
        """Set ticks and label only when they change: each set makes pyqtgraph lay the
        axis out again (rich-text labels included), which was a large share of a keystroke."""
        axis = plot.getAxis(side)
        if self._changed((id(plot), side), ticks):
            axis.setTicks([ticks])
            if side == "left":
                self._fit_axis_width(axis, [text for _, text in ticks])
        if label is not None and self._changed((id(plot), side, "label"), label):
            axis.setLabel(label)

    @staticmethod
    def _fit_axis_width(axis: pg.AxisItem, texts: list[str]) -> None:
        """Room for the longest tick label, in steps of 24 px so that most keystrokes do
        not change it; it shrinks only when far too wide."""
        metrics = QFontMetrics(axis.style["tickFont"] or axis.font())
        needed = max((metrics.horizontalAdvance(t) for t in texts), default=0) + 4
        current = axis.style["tickTextWidth"]
        if needed > current or needed < current - 48:
            axis.setStyle(tickTextWidth=24 * math.ceil(needed / 24))

    def _plan(self, m: HeadMatrix) -> LabelPlan:
        """How the matrix is labelled in the view's present size (nothing from earlier draws:
        the same state always gets the same labels)."""
        rows, cols = m.values.shape
        column_font = QFontMetricsF(self.labels.label_font)
        row_font = QFontMetricsF(self.plot.getAxis("left").style["tickFont"] or self.labels.label_font)
        width, height = self.plot.vb.width(), self.plot.vb.height()
        # slanted labels take at most a third of the height: longer ones are shortened
        longest = (height / 3 - column_font.height() * math.cos(SLANT) - 6) / math.sin(SLANT)
        self.column_texts = [column_font.elidedText(t, Qt.ElideRight, max(longest, column_font.horizontalAdvance("x…")))
                             for t in m.column_labels]
        widest = max((column_font.horizontalAdvance(t) for t in self.column_texts), default=0.0)
        # rows spaced by a whole line of the larger of the two label fonts
        return label_plan(width, height, rows, cols, max(row_font.height(), column_font.height()),
                          column_font.height(), widest)

    def _draw_labels(self, m: HeadMatrix) -> None:
        """Row labels (the left axis) and slanted column labels, every n-th when the cells are
        smaller than the text (at 256 tokens they ran into a grey band), the selected query's
        always; room above and right of the matrix for the slanted ones."""
        rows, cols = m.values.shape
        plan = self._plan(m)
        self.plan = plan
        q = self.selection.query_index(rows if not self.transpose_box.isChecked() else cols)
        query_row = None if self.transpose_box.isChecked() else q
        query_col = q if self.transpose_box.isChecked() else None
        shown_rows = thinned(rows, plan.row_every, query_row)
        shown_cols = thinned(cols, plan.col_every, query_col)
        # row labels take at most a fifth of the view's width: longer ones end in "…"
        row_font = QFontMetricsF(self.plot.getAxis("left").style["tickFont"] or self.labels.label_font)
        room = max(row_font.horizontalAdvance("xx…"), 0.3 * self.view.width())
        self._set_axis("left", self.plot, [(i + 0.5, row_font.elidedText(m.row_labels[i], Qt.ElideRight, room))
                                           for i in shown_rows])
        # Tick marks only where a column is labelled: 256 ticks cost the axis 5 ms a paint.
        self._set_axis("top", self.plot, [(j + 0.5, "") for j in shown_cols])
        keep = set(shown_cols)
        self.label_space = plan.label_space
        self.labels.set_column_labels([t if j in keep else "" for j, t in enumerate(self.column_texts)],
                                      plan.label_space)
        if self._changed("range", (rows, cols, plan.label_space, plan.right_space, plan.bottom_space)):
            self.plot.setRange(QRectF(0, -plan.label_space, cols + plan.right_space,
                                      rows + plan.label_space + plan.bottom_space), padding=0.01)

    def _on_view_resized(self, *_args) -> None:
        self._fit_bars()
        # the labels of what is drawn (a new trace not drawn yet has other tokens)
        if self.current is not None and self._drawn_trace is not None and self.bar_keys.size:
            self._draw_labels(self.current)
            self._draw_bar_labels(self._drawn_trace)

    def _fit_bars(self) -> None:
        """The "looks at" bars beside the map while the map keeps most of the width; on a narrow
        view (a 1024-pixel projector at large text) the map alone, its query row highlighted
        (the bars had left the map 20 pixels)."""
        wanted = self.view.width() >= 5 * self._bars_min
        if wanted != self.bars_plot.isVisible():
            self.bars_plot.setVisible(wanted)
            # a hidden item keeps its place in a graphics layout: no room at all when hidden
            self.bars_plot.setMinimumWidth(self._bars_min if wanted else 0)
            self.bars_plot.setMaximumWidth(100_000 if wanted else 0)

    def _draw_cell_texts(self, m: HeadMatrix) -> None:
        """Values go into the cells when the grid is small enough to read; the item itself
        leaves them out when a cell is too small on screen."""
        rows, cols = m.values.shape
        if max(rows, cols) > MAX_CELL_TEXT:
            self.labels.set_cells([], np.zeros((rows, cols), dtype=bool))
            return
        lo, hi = m.levels
        cmap = self.theme.attention_cmap if self.mode in PROBABILITY_MODES else self.theme.score_cmap
        light = light_text_wanted((m.values - lo) / (hi - lo), cmap) | m.masked
        if self.mode in PROBABILITY_MODES:
            texts = ["1" if v >= 0.995 else f"{v:.2f}".lstrip("0") for v in m.values.ravel().tolist()]
        else:
            texts = [f"{v:.1f}" for v in m.values.ravel().tolist()]
        for n in np.flatnonzero(m.masked.ravel()):
            texts[n] = "−∞"
        self.labels.set_cells(texts, light)

    def _draw_query(self, trace: Trace) -> None:
        T = trace.n_tokens
        q = self.selection.query_index(T)
        m = self.current
        pattern = trace.pattern[self.selection.layer, self.selection.head, q].astype(np.float64)
        if self.mode == HeadMode.ROLLOUT:
            from model.analysis.rollout import attention_rollout

            pattern = attention_rollout(trace.pattern)[self.selection.layer, q].astype(np.float64)
        keys = np.arange(T)
        if self.hide_first_box.isChecked() and T > 1:
            keys = keys[1:]
            pattern = pattern[1:] / max(pattern[1:].sum(), 1e-12)
        self.bars.setOpts(x0=np.zeros(len(keys)), y=np.arange(len(keys)) + 0.5, width=pattern, height=0.7)
        self.bar_keys, self.bar_weights = keys, pattern
        self._drawn_trace = trace
        self._draw_bar_labels(trace)
        # The narrow column never widens for its title: a long token is shortened to fit
        self.bars_plot.titleLabel.show_token(self.tr("'{token}' looks at"), _short(trace.token_strings[q]),
                                             self.tr("looks at"))
        rows, cols = m.values.shape
        if self.transpose_box.isChecked():
            self.row_highlight.setRect(QRectF(q, 0, 1, rows))
        else:
            self.row_highlight.setRect(QRectF(0, q, cols, 1))

    def _draw_bar_labels(self, trace: Trace) -> None:
        """The bars' token labels: every n-th where rows are thinner than the text, and always
        the key the query looks at most."""
        keys, weights = self.bar_keys, self.bar_weights
        if not len(keys):
            return
        metrics = QFontMetricsF(self.bars_plot.getAxis("left").style["tickFont"] or self.labels.label_font)
        n, h, height = len(keys), metrics.height(), max(self.bars_plot.vb.height(), 1.0) / 1.02
        # half a label of room above the first row and below the last when rows are thinner
        # than the text: the rows then share what is left
        per_row = height / n if height / n >= h or n == 1 else max((height - h) / (n - 1), 1e-3)
        pad = max(0.0, (h * 0.5 - per_row * 0.5) / per_row)
        every = max(1, math.ceil(h * 0.95 / per_row))
        shown = thinned(n, every, int(np.argmax(weights)))
        room = max(metrics.horizontalAdvance("xx…"), 0.12 * self.view.width())
        self._set_axis("left", self.bars_plot, [(i + 0.5, metrics.elidedText(_short(trace.token_strings[keys[i]]),
                                                                             Qt.ElideRight, room)) for i in shown])
        if self._changed("bars range", (len(keys), round(pad, 2))):
            self.bars_plot.setYRange(-pad, len(keys) + pad, padding=0.01)

    def _on_mouse_clicked(self, event) -> None:
        if self.trace is None or self.current is None:
            return
        p = self.plot.vb.mapSceneToView(event.scenePos())
        rows, cols = self.current.values.shape
        if not (0 <= p.x() < cols and 0 <= p.y() < rows):
            return
        query = int(p.x()) if self.transpose_box.isChecked() else int(p.y())
        self.request_selection(query=query)

    # ------------------------------------------------------------------ export
    def export_table(self) -> tuple[list[str], list[list]] | None:
        """The matrix as shown (mode, 3Blue1Brown layout, hidden first token): the column
        tokens as the header, one row per row token; masked cells read ``-inf``."""
        t = self.trace
        if t is None:
            return None
        m = head_matrix(t, self.selection.layer, self.selection.head, self.mode,
                        self.transpose_box.isChecked(), self.hide_first_box.isChecked())
        rows, cols = list(t.token_strings), list(t.token_strings)  # in full, not cut for the axis
        if self.hide_first_box.isChecked() and t.n_tokens > 1:
            cols = cols[1:]
        if self.transpose_box.isChecked():
            rows, cols = cols, rows
        corner = f"{m.row_axis} \\ {m.column_axis}"
        return [corner, *cols], [[label, *m.values[i].tolist()] for i, label in enumerate(rows)]
