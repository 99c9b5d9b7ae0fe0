"""The logit lens ladder: what the residual stream after each block would predict.

Rows are layers (the last, which is the model's own prediction, at the top), columns the
positions of the text; each cell names the top next token if the model stopped after that
block, shaded by its probability. Hover a cell for its top 5; click one to pin its top token
(two at most) and follow that token's probability and rank up the layers at the selected
position. Or type a token (and a second to compare: " is" vs " are") and follow its
probability, logit or rank layer by layer (:func:`model.analysis.lens.token_lens`); a text that
is not one token gets one line saying how the tokenizer splits it. The numbers come from the model thread (:func:`model.analysis.lens.logit_lens`), asked for
only while this tab is shown.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QT_TRANSLATE_NOOP, QCoreApplication, QPointF, Qt
from PySide6.QtGui import QFontMetricsF
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget

from explorer.elided_label import ElidedLabel
from explorer.views import TimedView, fixed_plot, settle
from explorer.views.base import Panel
from explorer.views.fast_items import FastImageItem
from explorer.views.flow import FlowLayout
from explorer.views.labels import model_name, token_label
from explorer.views.matrix_labels import MatrixLabels, light_text_wanted
from explorer.views.room import keep_readable
from model.core.info import ModelInfo
from model.work import requests as rq

MAX_PINS = 2


if TYPE_CHECKING:  # model.analysis.lens imports torch, which loads after the window shows
    from model.analysis.lens import LensResult
    from model.work.probes import TokenLensResult

#: what the typed tokens' lines show per layer
MEASURES = (QT_TRANSLATE_NOOP("LensPanel", "probability"), QT_TRANSLATE_NOOP("LensPanel", "logit"),
            QT_TRANSLATE_NOOP("LensPanel", "rank"))


class LensPanel(Panel):
    title = QT_TRANSLATE_NOOP("Panel", "Logit lens")
    key = "lens"
    selection_fields = frozenset({"query", "ablated", "ablation_mode"})

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.result: LensResult | None = None
        self.pins: list[int] = []
        self._asked: tuple | None = None  # the last request sent, so a failure is not re-asked
        self.heading = QLabel()
        self.heading.setWordWrap(True)
        # one line, the whole in its tooltip: the row of typed tokens below needs the height
        self.note = ElidedLabel("")
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.hover = ElidedLabel()  # one line, the whole in its tooltip: the ladder keeps the height
        self.hover.setObjectName("hoverLabel")
        self.clear_pins = QPushButton()
        self.clear_pins.clicked.connect(self._on_clear_pins_clicked)
        # typed tokens to follow: one (its rank, probability or logit), or two compared
        self.follow: TokenLensResult | None = None
        self._follow_asked: tuple | None = None
        self.follow_label = QLabel()
        self.first = QLineEdit()
        self.versus = QLabel("vs")
        self.second = QLineEdit()
        self.measure = QComboBox()
        for m in MEASURES:
            self.measure.addItem("", m)
        self.follow_message = ElidedLabel("")
        self.follow_message.hide()  # shown only with something to say
        for edit in (self.first, self.second):
            edit.editingFinished.connect(self._on_follow_changed)
        self.measure.currentIndexChanged.connect(self._on_follow_changed)
        self.view = TimedView()
        self.plot = fixed_plot(self.view, row=0, col=0)
        self.plot.invertY(True)
        self.image = FastImageItem(axisOrder="row-major")
        self.plot.addItem(self.image)
        self.labels = MatrixLabels(self.theme.font(-3), self.theme.font(0))
        self.labels.elide = True  # a token longer than its cell ends in "…" (none drew over the next)
        self.plot.addItem(self.labels)
        self.line_plot = fixed_plot(self.view, row=1, col=0)

        self.line_plot.setYRange(0, 1, padding=0.02)
        self.legend = self.line_plot.addLegend(offset=(10, 5))
        self.lines: list[pg.PlotDataItem] = []
        self.view.ci.layout.setRowStretchFactor(0, 3)
        self.view.ci.layout.setRowStretchFactor(1, 1)
        self.no_head_note = QLabel("")
        self.no_head_note.setWordWrap(True)
        self.no_head_note.setAlignment(Qt.AlignCenter)
        self.no_head_note.hide()
        row = QHBoxLayout()
        row.addWidget(self.hover, 1)
        row.addWidget(self.clear_pins)
        self.hover.setMinimumWidth(40)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(3)  # the row of typed tokens fits at 1024 × 768 with 1.5× text
        layout.addWidget(self.heading)
        layout.addWidget(self.note)
        follow = FlowLayout()  # wraps rather than scroll sideways (docs/layout.md)
        for w in (self.follow_label, self.first, self.versus, self.second, self.measure):
            follow.addWidget(w)
        layout.addLayout(follow)
        layout.addWidget(self.follow_message)
        layout.addWidget(self.message)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.no_head_note, 1)
        layout.addLayout(row)
        self.view.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self.view.scene().sigMouseClicked.connect(self._on_mouse_clicked)
        self.plot.vb.sigResized.connect(self._on_ladder_resized)
        self.layers_shown: list[int] = []  # the ladder's rows, bottom to top
        self._ticks: tuple = ((), ())  # (position labels, layer labels) of the ladder drawn
        self.retranslate()

    def retranslate(self) -> None:
        """The fixed texts in the interface language (they stayed English until a restart)."""
        note = self.tr(
            "Each cell: the next token the model would predict if it stopped after that layer "
            "(final norm + unembedding applied to the residual stream there), shaded by its "
            "probability. Click a cell to follow its token up the layers.")
        self.note.setText(note)
        self.note.setToolTip(note)
        self.hover.setText(self.tr("Hover a cell for its top 5"))
        self.clear_pins.setText(self.tr("Clear pinned tokens"))
        self.follow_label.setText(self.tr("follow:"))
        self.first.setPlaceholderText(self.tr("a token, e.g. ' is'"))
        self.second.setPlaceholderText(self.tr("compare with, e.g. ' are'"))
        self.versus.setText(self.tr("vs"))
        for n, m in enumerate(MEASURES):
            self.measure.setItemText(n, QCoreApplication.translate("LensPanel", m))
        self.measure.setToolTip(self.tr("What the lines show per layer at the selected position: the token's "
                                        "probability, its logit (w_t · final-norm(x) + b), or its rank (1 = the top token)"))
        self.line_plot.setLabel("bottom", self.tr("layer"))
        self.line_plot.setLabel("left", self.tr("probability"))
        self._set_heading()
        super().retranslate()

    def _set_heading(self) -> None:
        r = self.result
        text = self.tr("Logit lens: top next token after each layer")
        if r is not None and self.trace is not None and r.n_tokens == self.trace.n_tokens:
            suffix = self.tr(" — with {n} head(s) knocked out").format(n=len(r.ablated)) if r.ablated else ""
            text += suffix + self.tr("   (line: position {p})").format(p=self.selection.query_index(r.n_tokens))
        self.heading.setText(text)

    # ------------------------------------------------------------------ contract
    def on_theme(self, theme) -> None:
        keep_readable(self.view, theme, 5)
        self.heading.setFont(theme.font(1, bold=True))
        self.note.setFont(theme.font(-2))
        # room for "L29" at this text size now (an axis grows only after a paint that cut it)
        tick = QFontMetricsF(theme.font(-1))
        self.plot.getAxis("left").setWidth(int(tick.horizontalAdvance("L00") + 14))
        self.no_head_note.setFont(theme.font(3))
        self.image.setLookupTable(theme.attention_cmap.getLookupTable(nPts=256))
        self.labels.set_fonts(theme.font(-3), theme.font(0), theme.fg)
        self._draw_lines()

    def on_model_info(self, info: ModelInfo) -> None:
        self.result, self.pins, self._asked = None, [], None
        self.follow, self._follow_asked = None, None
        self.follow_message.setText("")
        self.hover.setText(self.tr("Hover a cell for its top 5"))  # the last hover named another model's tokens

    def on_trace(self, trace) -> None:
        if self.result is not None and trace.text != self.result.text:
            self.hover.setText(self.tr("Hover a cell for its top 5"))

    def set_work_result(self, request, result) -> None:
        if isinstance(request, rq.Lens):
            self.result = result
            self.mark_dirty()
        elif isinstance(request, rq.TokenLens):
            self.follow = result
            self.follow_message.setText("")
            self.follow_message.hide()
            self.mark_dirty()

    def set_work_error(self, request, message: str) -> None:
        if isinstance(request, rq.Lens):
            self.message.setText(message)
        elif isinstance(request, rq.TokenLens):  # e.g. how the tokenizer splits a text that is not one token
            self.follow, self._follow_asked = None, None
            self.follow_message.setText(message)
            self.follow_message.setToolTip(message)
            self.follow_message.show()
            self.mark_dirty()

    # ------------------------------------------------------------------ typed tokens
    def words(self) -> tuple[str, ...]:
        """The typed tokens, as typed (a leading space matters: " is" is not "is")."""
        return tuple(w for w in (self.first.text(), self.second.text()) if w)

    def _follow_wanted(self) -> tuple:
        s = self.selection
        return (self.trace.text, s.query_index(self.trace.n_tokens), self.words(), tuple(sorted(s.ablated)),
                s.ablation_mode if s.ablated else "zero")

    def _follow_matches(self) -> bool:
        f = self.follow
        if f is None or self.trace is None:
            return False
        w = self._follow_wanted()
        return (f.text, f.lens.position, f.words) == w[:3] and self._follow_asked is not None and self._follow_asked[3:] == w[3:]

    def _ask_follow(self) -> None:
        if self.trace is None or not self.words() or self._follow_matches():
            return
        wanted = self._follow_wanted()
        if wanted != self._follow_asked:
            self._follow_asked = wanted
            s = self.selection
            self.ask(rq.TokenLens(wanted[0], position=wanted[1], tokens=tuple(wanted[2]), heads=tuple(s.ablated),
                                  mode=s.ablation_mode))

    def _on_follow_changed(self, *_args) -> None:
        if not self.words():
            self.follow, self._follow_asked = None, None
            self.follow_message.setText("")
            self.follow_message.hide()
        self.mark_dirty()
        self.refresh()

    def _wanted(self) -> tuple:
        s = self.selection
        return (self.trace.text, tuple(sorted(s.ablated)), s.ablation_mode if s.ablated else "zero",
                tuple(self.pins))

    def _matches(self, result: LensResult | None) -> bool:
        if result is None or self.trace is None:
            return False
        have = (result.text, tuple(result.ablated), result.ablation_mode if result.ablated else "zero",
                tuple(int(t) for t in result.tracked_ids))
        return have == self._wanted()

    # ------------------------------------------------------------------ drawing
    def redraw(self) -> None:
        info, trace = self.info, self.trace
        no_head = info is not None and not info.has_lm_head
        self.view.setVisible(not no_head)
        self.no_head_note.setVisible(no_head)
        if no_head:
            self.no_head_note.setText(self.tr(
                "{name} has no language-model head: there is no unembedding to read its residual "
                "stream with, so there is no logit lens.").format(name=model_name(info.name)))
            return
        if trace is None:
            return
        if not self._matches(self.result):
            wanted = self._wanted()
            if wanted != self._asked:
                self._asked = wanted
                s = self.selection
                self.ask(rq.Lens(trace.text, heads=tuple(s.ablated), mode=s.ablation_mode, track=tuple(self.pins)))
            if self.result is None or self.result.n_tokens != trace.n_tokens:
                self.message.setText(self.tr("computing the lens…"))
                return
        self.message.setText("")
        self._ask_follow()
        self._draw_ladder()
        self._draw_lines()
        settle(self.view)

    def _draw_ladder(self) -> None:
        """The ladder, the last layer on top. A deep model's layers are more rows than fit with
        their token written in (SmolLM2's 30 rows were 8 pixels, blank): then every n-th
        layer, the first and the last always, each row named by its layer."""
        r, info = self.result, self.info
        L, T = r.n_layers, r.n_tokens
        line = QFontMetricsF(self.labels.font).height() * 1.25
        fit = max(2, int(self.plot.vb.height() // line)) if self.plot.vb.height() > 0 else L
        self.layers_shown = (list(range(L)) if L <= fit else
                             sorted({int(i) for i in np.round(np.linspace(0, L - 1, fit))}))
        shown = self.layers_shown
        probs = r.top_probs[shown][::-1, :, 0]  # last layer on top
        self.image.setImage(probs, levels=(0.0, 1.0), autoLevels=False)
        self.image.setLookupTable(self.theme.attention_cmap.getLookupTable(nPts=256))
        vocab = info.vocabulary if info is not None else None
        texts = [token_label(vocab[t]) if vocab else str(t) for t in r.top_ids[shown][::-1, :, 0].ravel().tolist()]
        self.labels.set_cells(texts, light_text_wanted(probs, self.theme.attention_cmap))
        tokens = self.trace.token_strings if self.trace is not None and self.trace.n_tokens == T else ("",) * T
        self._ticks = ([token_label(t, 10) for t in tokens], [f"L{i}" for i in shown])
        self._label_axes()
        self.plot.setXRange(0, T, padding=0.01)
        self.plot.setYRange(0, len(shown), padding=0.01)
        self._set_heading()

    def _on_ladder_resized(self, *_args) -> None:
        """A new height fits another number of layers with their text: draw them again."""
        r = self.result
        if r is not None and self.layers_shown and self._matches(r):
            fit = max(2, int(self.plot.vb.height() // (QFontMetricsF(self.labels.font).height() * 1.25)))
            if min(fit, r.n_layers) != len(self.layers_shown):
                self._draw_ladder()
                return
        self._label_axes()

    def _label_axes(self, *_args) -> None:
        """Every n-th position and layer where the cells are smaller than their labels (SmolLM2's
        L0–L29 ran into each other), the selected position always."""
        positions, layers = self._ticks
        if not positions:
            return
        T, L = len(positions), len(layers)
        font = self.plot.getAxis("bottom").style["tickFont"] or self.theme.font(-1)
        metrics = QFontMetricsF(font)
        cell_w = max(self.plot.vb.width(), 1.0) / (T * 1.02)
        cell_h = max(self.plot.vb.height(), 1.0) / (L * 1.02)
        every_x = max(1, math.ceil((max(metrics.horizontalAdvance(t) for t in positions) + 10) / cell_w))
        every_y = max(1, math.ceil(metrics.height() * 0.9 / cell_h))
        query = self.selection.query_index(T)
        shown = [j for j in range(0, T, every_x) if abs(j - query) >= every_x or j == query] + [query]
        self.plot.getAxis("bottom").setTicks([[(j + 0.5, positions[j]) for j in sorted(set(shown))]])
        self.plot.getAxis("left").setTicks([[(L - 1 - i + 0.5, layers[i]) for i in range(0, L, every_y)]])

    def _draw_lines(self) -> None:
        r = self.result
        for item in self.lines:
            self.line_plot.removeItem(item)
        self.lines = []
        self.legend.clear()
        typed = self.words() and self._follow_matches()
        shown = (r is not None and len(r.tracked_ids) > 0 and self.trace is not None) or bool(typed)
        self.line_plot.setLogMode(False, False)
        self.line_plot.setVisible(shown)
        # a hidden item keeps its place in a graphics layout: give the ladder its room
        self.line_plot.setMaximumHeight(100_000 if shown else 0)
        self.line_plot.setMinimumHeight(0)
        self.view.ci.layout.setRowStretchFactor(1, 1 if shown else 0)
        if not shown:
            return
        if typed:
            self._draw_followed()
            return
        self.line_plot.setLabel("left", self.tr("probability"))
        self.line_plot.setYRange(0, 1, padding=0.02)
        position = self.selection.query_index(r.n_tokens)
        layers = np.arange(r.n_layers)
        vocab = self.info.vocabulary if self.info is not None else None
        for i, token in enumerate(r.tracked_ids.tolist()):
            colour = self.theme.series[i % len(self.theme.series)]
            probs = r.tracked_probs[:, position, i]
            ranks = r.tracked_ranks[:, position, i]
            name = token_label(vocab[token]) if vocab else str(token)
            item = self.line_plot.plot(layers, probs, pen=pg.mkPen(colour, width=3), symbol="o", symbolBrush=colour,
                                       name=self.tr("'{t}' (rank {a} → {b})").format(t=name, a=ranks[0], b=ranks[-1]))
            self.lines.append(item)
        self.line_plot.getAxis("bottom").setTicks([[(i, f"L{i}") for i in range(r.n_layers)]])

    def _draw_followed(self) -> None:
        """The typed tokens' lines: probability, logit or rank per layer, and with two tokens
        and logits their difference (dashed)."""
        f = self.follow.lens
        measure = self.measure.currentData()
        layers = np.arange(f.n_layers)
        values = {"probability": f.probs, "logit": f.logits, "rank": f.ranks.astype(np.float64)}[measure]
        self.line_plot.setLabel("left", QCoreApplication.translate("LensPanel", measure))
        for i, word in enumerate(self.follow.words):
            colour = self.theme.series[i % len(self.theme.series)]
            name = self.tr("'{t}' (rank {a} → {b})").format(t=token_label(word), a=f.ranks[0, i], b=f.ranks[-1, i])
            self.lines.append(self.line_plot.plot(layers, values[:, i], pen=pg.mkPen(colour, width=3), symbol="o",
                                                  symbolBrush=colour, name=name))
        if len(self.follow.words) == 2 and measure == "logit":
            diff = f.logit_difference
            self.lines.append(self.line_plot.plot(layers, diff, pen=pg.mkPen(self.theme.fg, width=2, style=Qt.DashLine),
                                                  name=self.tr("'{a}' − '{b}'").format(
                                                      a=token_label(self.follow.words[0]), b=token_label(self.follow.words[1]))))
        if measure == "rank":
            self.line_plot.setLogMode(False, True)  # ranks run from 1 to the vocabulary's size
        self.line_plot.enableAutoRange(axis="y") if measure != "probability" else self.line_plot.setYRange(0, 1, padding=0.02)
        self.line_plot.getAxis("bottom").setTicks([[(i, f"L{i}") for i in range(f.n_layers)]])

    # ------------------------------------------------------------------ mouse
    def _cell(self, scene_pos: QPointF):
        r = self.result
        if r is None or not self.plot.sceneBoundingRect().contains(scene_pos):
            return None
        p = self.plot.vb.mapSceneToView(scene_pos)
        col, row = int(np.floor(p.x())), int(np.floor(p.y()))
        shown = self.layers_shown or list(range(r.n_layers))
        if not (0 <= col < r.n_tokens and 0 <= row < len(shown)):
            return None
        return shown[len(shown) - 1 - row], col  # (layer, position)

    def _on_mouse_moved(self, scene_pos: QPointF) -> None:
        cell = self._cell(scene_pos)
        if cell is None:
            return
        layer, position = cell
        r, vocab = self.result, self.info.vocabulary if self.info else None
        tops = "  ".join(f"{token_label(vocab[t]) if vocab else t} {p:.3f}"
                         for t, p in zip(r.top_ids[layer, position].tolist(), r.top_probs[layer, position].tolist(),
                                         strict=True))
        self.hover.setText(self.tr("after L{l}, position {p}: ").format(l=layer, p=position) + tops)

    def _on_mouse_clicked(self, event) -> None:
        cell = self._cell(event.scenePos())
        if cell is None:
            return
        layer, position = cell
        self.pin(int(self.result.top_ids[layer, position, 0]))
        self.request_selection(query=position)

    def pin(self, token: int) -> None:
        """Follow ``token`` across the layers (the oldest pin goes when there are too many)."""
        if token in self.pins:
            return
        self.pins = (self.pins + [token])[-MAX_PINS:]
        self.mark_dirty()
        self.refresh()

    def _on_clear_pins_clicked(self) -> None:
        self.pins = []
        self.mark_dirty()
        self.refresh()

    # ------------------------------------------------------------------ export
    def export_table(self) -> tuple[list[str], list[list]] | None:
        """One row per layer and position: the top token after that layer and its probability."""
        if self.info is not None and not self.info.has_lm_head:
            raise ValueError(f"{self.info.name} has no language-model head: there is no logit lens")
        r = self.result
        if r is None or self.trace is None:
            return None
        if not self._matches(r):
            raise ValueError("the lens of this text is still being computed")
        vocab = self.info.vocabulary if self.info is not None else None
        tokens = self.trace.token_strings
        rows = [[layer, position, tokens[position], vocab[int(r.top_ids[layer, position, 0])] if vocab else "",
                 float(r.top_probs[layer, position, 0])]
                for layer in range(r.n_layers) for position in range(r.n_tokens)]
        return ["layer", "position", "token", "top_token", "probability"], rows
