"""The contribution graph: which earlier token fed which later one, through which layer.

Tokens in columns, layers in rows (the embeddings at the bottom, the last block's output at
the top); an edge from token j at one row to token i at the next where j's share of what i
received through that layer's attention is above the threshold (information flow routes,
Ferrando & Voita 2024: :mod:`model.analysis.flow` has the formula). Edges are coloured by the
head that carries most of them; click an edge to select that head. By default the graph is
traced back from the selected token; tick *whole graph* for every edge.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QT_TRANSLATE_NOOP, Qt
from PySide6.QtGui import QFontMetricsF
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QSlider, QVBoxLayout, QWidget

from explorer.elided_label import ElidedLabel
from explorer.views import TimedView, fixed_plot, settle
from explorer.views.base import Panel
from explorer.views.labels import token_label
from explorer.views.map_labels import thinned
from model.work import requests as rq

if TYPE_CHECKING:  # the model code imports torch, which loads after the window shows
    from model.analysis.flow import FlowGraph

MAX_LABEL = 10


class GraphPanel(Panel):
    title = QT_TRANSLATE_NOOP("Panel", "Contribution graph")
    key = "graph"
    selection_fields = frozenset({"query"})

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.graph: FlowGraph | None = None
        self.shown: list[tuple[int, int, int, float, int]] = []
        self._asked: str | None = None
        self.heading = ElidedLabel("")
        self.threshold = QSlider(Qt.Horizontal)
        self.threshold.setRange(1, 50)  # hundredths
        self.threshold.setValue(5)
        self.threshold_label = QLabel("")
        self.whole = QCheckBox()
        self.note = ElidedLabel("")
        self.message = QLabel("")
        self.message.hide()
        self.view = TimedView()
        self.view.setMinimumHeight(120)
        self.plot = fixed_plot(self.view)
        self.edge_items: list[pg.PlotDataItem] = []
        self.nodes = pg.ScatterPlotItem(size=7, pen=None)
        self.plot.addItem(self.nodes)
        self.plot.vb.sigResized.connect(self._label_tokens)  # thinned again for the new width
        row = QHBoxLayout()
        row.addWidget(self.threshold_label)
        row.addWidget(self.threshold, 1)
        row.addWidget(self.whole)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.heading)
        layout.addLayout(row)
        layout.addWidget(self.message)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.note)
        self.threshold.valueChanged.connect(self._on_controls_changed)
        self.whole.toggled.connect(self._on_controls_changed)
        self.view.scene().sigMouseClicked.connect(self._on_mouse_clicked)
        self.retranslate()

    def retranslate(self) -> None:
        self.whole.setText(self.tr("whole graph"))
        # the formula model/analysis/flow.py computes (tests/explorer/test_graph_help.py recomputes it)
        explained = self.tr(
            "Information flow routes (Ferrando & Voita 2024), as the LLM Transparency Tool computes them. "
            "At layer l the attention adds to token i's vector x_i one part per source token j and head h: "
            "y_i = x_i + Σ_j Σ_h c_ij^h + b, with c_ij^h = A_ij^h · (v_j^h − b_V^h) W_O^h "
            "(b: the output bias and the value biases through W_O, which come from no token). "
            "Each part z (x_i and every c_ij^h) gets prox(z) = max(0, ‖y_i‖₁ − ‖y_i − z‖₁), divided by "
            "the sum over all of i's parts, so they add up to 1. The edge j → i carries Σ_h of j's shares "
            "(i → i also the residual's) and is coloured by the head with the largest share. "
            "Unlike the Tool, which clips at 1e-5, a part pointing away from y_i gets exactly 0.")
        self.note.setText(self.tr("Edges: a token's share of what a later token received, coloured by the head "
                                  "that carries most of it. Click an edge to select its head."))
        self.note.setToolTip(explained)
        self.view.setToolTip(explained)
        self._show_threshold()
        super().retranslate()

    def _show_threshold(self) -> None:
        self.threshold_label.setText(self.tr("threshold {t:.2f}").format(t=self.threshold.value() / 100))

    def on_theme(self, theme) -> None:
        self.heading.setFont(theme.font(1, bold=True))
        self.note.setFont(theme.font(-2))

    def on_model_info(self, info) -> None:
        self.graph, self._asked = None, None

    def set_work_result(self, request, result) -> None:
        if isinstance(request, rq.Flow):
            self.graph = result
            self.message.hide()
            self.mark_dirty()

    def set_work_error(self, request, message: str) -> None:
        if isinstance(request, rq.Flow):
            self.message.setText(message)
            self.message.show()

    def apply_scene(self, state: dict) -> list[str]:
        """``threshold``: the smallest edge shown (0.01–0.5); ``whole_graph``: every edge."""
        if "threshold" in state:
            self.threshold.setValue(int(round(float(state["threshold"]) * 100)))
        if "whole_graph" in state:
            self.whole.setChecked(bool(state["whole_graph"]))
        return []

    def scene_values(self) -> dict:
        return {"threshold": self.threshold.value() / 100, "whole_graph": self.whole.isChecked()}

    def _on_controls_changed(self, *_args) -> None:
        self._show_threshold()
        self.mark_dirty()
        self.refresh()

    # ------------------------------------------------------------------ drawing
    def redraw(self) -> None:
        trace = self.trace
        if trace is None:
            return
        if self.graph is None or self.graph.text != trace.text:
            if self._asked != trace.text:
                self._asked = trace.text
                self.ask(rq.Flow(trace.text))
            return
        self._draw()
        settle(self.view)

    def _draw(self) -> None:
        g, trace = self.graph, self.trace
        L, T = g.n_layers, trace.n_tokens
        threshold = self.threshold.value() / 100
        query = self.selection.query_index(T)
        self.shown = g.edges(threshold) if self.whole.isChecked() else g.traced_back(query, threshold)
        for item in self.edge_items:
            self.plot.removeItem(item)
        self.edge_items = []
        colours = self.theme.series
        for head in sorted({e[4] for e in self.shown}):
            edges = [e for e in self.shown if e[4] == head]
            for low, high, width in ((0.0, 0.2, 1.5), (0.2, 0.5, 3.0), (0.5, 1.01, 5.0)):
                chosen = [e for e in edges if low <= e[3] < high]
                if not chosen:
                    continue
                x = np.array([[e[1], e[2]] for e in chosen], dtype=float).ravel()
                y = np.array([[e[0], e[0] + 1] for e in chosen], dtype=float).ravel()
                item = pg.PlotDataItem(x, y, connect="pairs",
                                       pen=pg.mkPen(colours[head % len(colours)], width=width))
                self.plot.addItem(item)
                self.edge_items.append(item)
        xs, ys = np.meshgrid(np.arange(T), np.arange(L + 1))
        self.nodes.setData(xs.ravel(), ys.ravel(), brush=pg.mkBrush(self.theme.fg))
        self._label_tokens()
        self.plot.getAxis("left").setTicks([[(0, self.tr("input"))] + [(layer + 1, f"L{layer}") for layer in range(L)]])
        self.plot.setXRange(-0.5, T - 0.5, padding=0.02)
        self.plot.setYRange(-0.3, L + 0.3, padding=0.02)
        heads = sorted({e[4] for e in self.shown})
        self.heading.setText(self.tr("Contribution graph: {n} edges above {t:.2f}, {what}").format(
            n=len(self.shown), t=threshold,
            what=self.tr("all tokens") if self.whole.isChecked() else self.tr("traced back from “{token}”").format(
                token=token_label(trace.token_strings[query], MAX_LABEL)))
            + (self.tr("; heads by colour: {heads}").format(heads=", ".join(f"H{h}" for h in heads)) if heads else ""))

    def _label_tokens(self, *_args) -> None:
        """The token under each column, every n-th where the columns are narrower than the
        labels (they ran into each other), the selected token always."""
        trace = self.trace
        if trace is None or self.graph is None:
            return
        T = trace.n_tokens
        labels = [token_label(t, MAX_LABEL) for t in trace.token_strings]
        metrics = QFontMetricsF(self.plot.getAxis("bottom").style["tickFont"] or self.theme.font(-1))
        widest = max((metrics.horizontalAdvance(text) for text in labels), default=0.0)
        column = max(self.plot.vb.width(), 1.0) / (T + 0.04 * T + 1.0)  # the x range: T columns and its padding
        every = max(1, math.ceil((widest + 8) / column))
        keep = self.selection.query_index(T) if not self.whole.isChecked() else None
        self.plot.getAxis("bottom").setTicks([[(j, labels[j]) for j in thinned(T, every, keep)]])

    def _on_mouse_clicked(self, event) -> None:
        if not self.shown:
            return
        point = self.plot.vb.mapSceneToView(event.scenePos())
        px, py = point.x(), point.y()
        best, best_distance = None, 0.35
        for layer, j, i, _imp, head in self.shown:
            if not layer <= py <= layer + 1:
                continue
            t = py - layer  # along the edge from (j, layer) to (i, layer + 1)
            distance = abs(px - (j + (i - j) * t))
            if distance < best_distance:
                best, best_distance = (layer, head), distance
        if best is not None:
            self.request_selection(layer=best[0], head=best[1])

    def export_table(self) -> tuple[list[str], list[list]] | None:
        if self.graph is None:
            raise ValueError("no contribution graph yet")
        return ["layer", "source", "target", "importance"], [[e[0], e[1], e[2], e[3]] for e in self.shown]
