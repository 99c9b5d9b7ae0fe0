"""Context drift: one word in several sentences, traced through the layers.

Before attention the word has the same vector in every sentence (the embedding table is
a lookup); each block mixes in context and the paths part ways.
"""

from __future__ import annotations

import html

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QT_TRANSLATE_NOOP, QSignalBlocker, Qt
from PySide6.QtGui import QFontMetricsF
from PySide6.QtWidgets import (
    QComboBox,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from explorer import theme
from explorer.theme import style_text
from explorer.views import TimedView
from explorer.views.base import Panel
from explorer.views.fast_items import label_axes
from explorer.views.flow import CompactTable, FlowLayout, group
from explorer.views.room import keep_readable
from explorer.views.scatter_labels import fit_range, place
from model.analysis.geometry import find_word, fit_pca, pairwise_cosines, trajectory
from model.core.trace import Trace

#: presets by the key lessons use (``drift = "mole"``): the word and its sentences
PRESETS = {
    "mole": ("mole", ["american shrew mole", "one mole of carbon dioxide", "take a biopsy of the mole"]),
    "tower": ("tower", ["tower", "the eiffel tower", "a miniature eiffel tower"]),
}
#: how the preset box names them
PRESET_NAMES = {"mole": QT_TRANSLATE_NOOP("DriftPanel", "mole (animal, unit, skin)"),
                "tower": QT_TRANSLATE_NOOP("DriftPanel", "tower (alone, named, small)")}


class DriftPanel(Panel):
    """Emits ``traces_requested(tuple[str, ...])``; the window answers with ``set_batch_traces``."""

    title = QT_TRANSLATE_NOOP("Panel", "Context drift")
    key = "drift"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.paths: list[np.ndarray] = []
        self._texts: tuple[str, ...] = ()
        self._subtitle: tuple[str, int, int] | None = None  # (word, blocks, sentences) of the subtitle shown
        self._asked_model: object = None  # the model the sentences were last traced on (auto-run once each)
        self._label_xy: np.ndarray = np.zeros((0, 2))
        self._label_items: list[pg.TextItem] = []
        self._label_order: list[int] = []
        self._keys: list[str] = []  # "● 1 sentence" in each sentence's colour
        self._run_when_shown = False  # a scene changed the sentences while the tab was hidden
        self.preset_box = QComboBox()
        for key in PRESETS:
            self.preset_box.addItem(PRESET_NAMES.get(key, key), key)
        self.word = QLineEdit()
        self.sentences = QPlainTextEdit()
        # the sentences are listed in the colour key; the box to change them opens on demand
        # (it cost the plot three lines of a 1024 × 768 projector's height)
        self.sentences.hide()
        self.edit_button = QPushButton()
        self.edit_button.setCheckable(True)
        self.edit_button.toggled.connect(self.sentences.setVisible)
        self.run_button = QPushButton()
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.table = CompactTable(0, 0)
        self.table.verticalHeader().setVisible(False)
        self.view = TimedView()
        self.plot = self.view.addPlot(axisItems=label_axes())
        self.plot.hideAxis("top")
        self.plot.hideAxis("right")
        self.plot.setMenuEnabled(False)
        self.plot.hideButtons()
        self.plot.showGrid(x=True, y=True, alpha=0.15)
        self.start_point = pg.ScatterPlotItem(size=22, symbol="star", brush=pg.mkBrush("w"))
        self.plot.addItem(self.start_point)
        self.start_label = pg.TextItem("", anchor=(0, 0))
        self.start_label.setFont(theme.label_font(theme.DEFAULT_POINT_SIZE))
        self.plot.addItem(self.start_label)
        self.curves: list[pg.PlotDataItem] = []
        self.layer_labels: list[pg.TextItem] = []

        self.preset_label, self.word_label = QLabel(), QLabel()
        self.word.setMaximumWidth(220)
        top = FlowLayout()  # wraps rather than scroll sideways (docs/layout.md)
        for widget in (self.preset_label, self.preset_box, group(self.word_label, self.word),
                       self.run_button, self.edit_button):
            top.addWidget(widget)
        # which colour is which sentence, numbered as the table's columns: beside the plot,
        # not over it (a legend inside covered the "after block n" labels)
        self.colour_key = QLabel("")
        self.colour_key.setWordWrap(True)
        self.colour_key.setTextFormat(Qt.RichText)
        self.table.setMinimumWidth(80)
        self.table.horizontalHeader().setMinimumSectionSize(8)  # columns as narrow as their text
        split = QSplitter(Qt.Horizontal)
        self.split = split
        split.addWidget(self.view)
        split.addWidget(self.table)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addWidget(self.sentences)
        layout.addWidget(self.message)
        layout.addWidget(self.colour_key)
        layout.addWidget(split, 1)
        self.plot.vb.sigResized.connect(self._place_labels)
        self.preset_box.currentIndexChanged.connect(self._on_preset_changed)
        self.run_button.clicked.connect(self.run)
        self._on_preset_changed(self.preset_box.currentIndex())
        self.retranslate()

    def retranslate(self) -> None:
        for index, key in enumerate(PRESETS):
            self.preset_box.setItemText(index, self.tr(PRESET_NAMES.get(key, key)))
        self.sentences.setPlaceholderText(self.tr("one sentence per line, each containing the word"))
        self.run_button.setText(self.tr("Run"))
        self.edit_button.setText(self.tr("Edit sentences"))
        self.run_button.setToolTip(self.tr("Trace every sentence (Ctrl+Enter in the sentence box)"))
        self.start_label.setText(self.tr("token embedding\n(same in every sentence)"))
        self.preset_label.setText(self.tr("preset"))
        self.word_label.setText(self.tr("word"))
        if self._subtitle is not None:
            word, blocks, n = self._subtitle
            self._show_subtitle(self.tr("'{word}' through {blocks} blocks in {n} sentences").format(
                word=word, blocks=blocks, n=n))
        elif not self.paths:
            self.message.setText(self.tr("Run traces every sentence; the word's vector is followed block by block."))
        if self.paths:
            self._draw(self._texts)
        super().retranslate()

    def texts(self) -> tuple[str, ...]:
        return tuple(line.strip() for line in self.sentences.toPlainText().splitlines() if line.strip())

    def _on_preset_changed(self, index: int) -> None:
        word, sentences = PRESETS[list(PRESETS)[index]]
        self.word.setText(word)
        self.sentences.setPlainText("\n".join(sentences))

    def keyPressEvent(self, event) -> None:  # noqa: N802 (Qt API)
        if event.key() in (Qt.Key_Return, Qt.Key_Enter) and event.modifiers() & Qt.ControlModifier:
            self.run()
        else:
            super().keyPressEvent(event)

    def run(self) -> None:
        texts = self.texts()
        if len(texts) < 2:
            self.message.setText(self.tr("Enter at least two sentences that share the word."))
            return
        self.message.setText(self.tr("tracing…"))
        self.traces_requested.emit(texts)

    def apply_scene(self, state: dict) -> list[str]:
        """``drift`` picks a preset (its word and sentences); ``drift_word`` and
        ``drift_sentences`` set them as typed. Changed sentences are traced once the tab shows
        (a scene sets every tab; tracing the hidden ones would crowd the model thread)."""
        if not {"drift", "drift_word", "drift_sentences"} & set(state):
            return []
        before = (self.word.text(), self.texts())
        problems = []
        if "drift" in state:
            if state["drift"] in PRESETS:
                index = list(PRESETS).index(state["drift"])
                with QSignalBlocker(self.preset_box):
                    self.preset_box.setCurrentIndex(index)
                self._on_preset_changed(index)  # the preset's own word and sentences, even if edited since
            else:
                problems.append(self.tr("unknown context-drift preset {name!r} (known: {known})").format(
                    name=state["drift"], known=", ".join(PRESETS)))
        if "drift_word" in state:
            self.word.setText(state["drift_word"])
        if "drift_sentences" in state:
            self.sentences.setPlainText("\n".join(state["drift_sentences"]))
        if (self.word.text(), self.texts()) != before or not self.paths:
            self._run_when_shown = True
            self.mark_dirty()
            self.refresh()
        return problems

    def scene_values(self) -> dict:
        return {"drift": list(PRESETS)[self.preset_box.currentIndex()], "drift_word": self.word.text(),
                "drift_sentences": list(self.texts())}

    def on_theme(self, theme) -> None:
        keep_readable(self.view, theme, 5)
        self.start_point.setBrush(pg.mkBrush(theme.fg))
        style_text(self.start_label, theme)
        self.word.setMinimumWidth(int(QFontMetricsF(theme.font()).horizontalAdvance("tower__") + 14))
        lines = QFontMetricsF(theme.font()).height()
        self.sentences.setFixedHeight(int(3.4 * lines + 2 * self.sentences.frameWidth() + 8))
        self.table.setFont(theme.font(-2))  # a compact table: it shares the width with the plot
        self.table.horizontalHeader().setFont(theme.font(-2))
        if self.paths:
            self._draw(self._texts)

    def set_batch_error(self, message: str) -> None:
        self.message.setText(message)

    def set_batch_traces(self, texts: tuple[str, ...], traces: tuple[Trace, ...]) -> None:
        word = self.word.text().strip()
        paths, notes = [], []
        for text, trace in zip(texts, traces, strict=True):
            try:
                position, split = find_word(trace, word)
            except ValueError as exc:
                self.message.setText(str(exc))
                return
            if split:
                notes.append(self.tr("'{word}' is split into several tokens in '{text}'; following its first piece")
                             .format(word=word, text=text))
            paths.append(trajectory(trace, position))
        self.paths, self._texts = paths, texts
        self.message.setText(self.tr("; ").join(notes) or
                             self.tr("'{word}' through {blocks} blocks in {n} sentences").format(
                                 word=word, blocks=len(paths[0]) - 1, n=len(paths)))
        self._draw(texts)

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt API)
        super().resizeEvent(event)
        self._arrange()

    def _arrange(self) -> None:
        """The table beside the plot where both fit, under it where they do not (its columns
        are never cut: "cos(" was all that showed of one)."""
        wide = self.width() >= self.table.minimumWidth() + self.view.minimumSizeHint().width() + 120
        orientation = Qt.Horizontal if wide else Qt.Vertical
        if self.split.orientation() != orientation:
            self.split.setOrientation(orientation)

    def on_model_info(self, info) -> None:
        # the paths were another model's: trace again when shown
        self.paths, self._subtitle = [], None
        for curve in self.curves:
            curve.setData([], [])
        for label in self.layer_labels + [self.start_label]:
            label.setVisible(False)
        self.start_point.setData([])
        self.table.setRowCount(0)
        self.colour_key.setText("")

    def redraw(self) -> None:
        """The tab shows the preset's sentences traced: it runs them itself the first time it
        is shown for a model (it was empty until Run was pressed, with no hint), and again when a
        scene changed the sentences while it was hidden."""
        if self._run_when_shown or (not self.paths and self.info is not None and self._asked_model is not self.info):
            self._run_when_shown = False
            self._asked_model = self.info
            self.run()

    def _draw(self, texts: tuple[str, ...]) -> None:
        self.drawn_texts = texts  # what the paths belong to: the sentence box may change after
        word = self.word.text().strip()
        subtitle = self.tr("'{word}' through {blocks} blocks in {n} sentences").format(
            word=word, blocks=len(self.paths[0]) - 1, n=len(self.paths))
        mine = (word, len(self.paths[0]) - 1, len(self.paths))
        if self.message.text() == subtitle:  # set_batch_traces said it: this draw adds the colours
            self._subtitle = mine
        elif self._subtitle != mine:  # a note or an error is shown instead
            self._subtitle = None
        points = np.vstack(self.paths)
        pca = fit_pca(points)
        while len(self.curves) < len(self.paths):
            curve = pg.PlotDataItem(symbol="o", symbolSize=11)
            self.plot.addItem(curve)
            self.curves.append(curve)
        n_points = len(self.paths[0])
        while len(self.layer_labels) < len(self.paths) * n_points:
            label = pg.TextItem(anchor=(0, 0))
            style_text(label, self.theme, -2)
            self.plot.addItem(label)
            self.layer_labels.append(label)
        for label in self.layer_labels:
            label.setVisible(False)
        keys = []
        xy_all, items, by_block = [], [], {}
        for i, curve in enumerate(self.curves):
            if i >= len(self.paths):
                curve.setData([], [])
                continue
            colour = self.theme.series[i % len(self.theme.series)]
            xy = pca(self.paths[i])
            curve.setData(xy[:, 0], xy[:, 1], pen=pg.mkPen(colour, width=3), symbolBrush=colour)
            keys.append(f'<span style="color:{colour.name()}">●</span>&nbsp;{i + 1}&nbsp;{html.escape(texts[i])}')
            for j in range(1, n_points):
                label = self.layer_labels[i * n_points + j]
                label.setText(self.tr("after block {n}").format(n=j - 1))  # in the text colour: readable; the curve carries the hue
                xy_all.append(xy[j])
                items.append(label)
                by_block.setdefault(j, []).append(len(items) - 1)
        self._keys = keys
        if self._subtitle is not None:  # one paragraph: the subtitle, then which colour is which
            self._show_subtitle(subtitle)
        else:
            self.colour_key.setText("&nbsp;&nbsp; ".join(keys))
        self.colour_key.setVisible(self._subtitle is None)
        start = pca(self.paths[0][:1])
        self.start_point.setData(pos=start)
        # the start first, then one label per block, then the other sentences' where they fit
        self._label_items = [self.start_label] + items
        self._label_xy = np.vstack([start[:1]] + [np.asarray(xy_all)]) if xy_all else start[:1]
        first = [1 + ids[0] for _, ids in sorted(by_block.items())]
        self._label_order = [0] + first + [1 + k for ids in by_block.values() for k in ids[1:]]
        self._place_labels()
        cosines = [pairwise_cosines(np.stack([p[j] for p in self.paths])) for j in range(n_points)]
        pairs = [(a, b) for a in range(len(self.paths)) for b in range(a + 1, len(self.paths))]
        self.table.setColumnCount(1 + len(pairs))
        # "cos" over "(1,2)": two short lines keep the columns as narrow as their numbers
        self.table.setHorizontalHeaderLabels([self.tr("after")] + [f"cos\n({a + 1},{b + 1})" for a, b in pairs])
        self.table.setRowCount(n_points)
        for j in range(n_points):
            # short names ("after" heads the column): the table shares the width with the plot
            name = self.tr("embedding") if j == 0 else self.tr("block {n}").format(n=j - 1)
            self.table.setItem(j, 0, QTableWidgetItem(name))
            for k, (a, b) in enumerate(pairs):
                self.table.setItem(j, k + 1, QTableWidgetItem(f"{cosines[j][a, b]:.3f}"))
        self.table.resizeColumnsToContents()
        # the table as wide as its columns ("cos(" was all of the last one that showed)
        header = self.table.verticalHeader().width() if self.table.verticalHeader().isVisible() else 0
        self.table.setMinimumWidth(header + sum(self.table.columnWidth(c) for c in range(self.table.columnCount()))
                                   + 2 * self.table.frameWidth() + self.table.verticalScrollBar().sizeHint().width())
        self.table.setMinimumHeight(int((self.table.rowCount() + 1.6) * self.table.fontMetrics().height() * 1.3))
        self._arrange()

    def _show_subtitle(self, subtitle: str) -> None:
        self.message.setText(f"{html.escape(subtitle, quote=False)}:&nbsp;&nbsp; " + "&nbsp;&nbsp; ".join(self._keys))

    def _place_labels(self, *_args) -> None:
        """The range holds every point and its label; each label on a free side of its point."""
        if not len(self._label_xy) or not self.paths:
            return
        vb = self.plot.vb
        sizes = np.array([[item.textItem.boundingRect().width(), item.textItem.boundingRect().height()]
                          for item in self._label_items])
        curve_xy = np.vstack([np.column_stack(c.getData()) for c in self.curves[: len(self.paths)]])
        everything = np.vstack([self._label_xy, curve_xy])
        all_sizes = np.vstack([sizes, np.zeros((len(curve_xy), 2))])
        x0, x1, y0, y1 = fit_range(everything, all_sizes, vb.width(), vb.height())
        vb.setRange(xRange=(x0, x1), yRange=(y0, y1), padding=0)
        points = np.array([[vb.mapFromView(pg.Point(float(x), float(y))).x(),
                            vb.mapFromView(pg.Point(float(x), float(y))).y()] for x, y in self._label_xy])
        placed = {p.index: p for p in place(points, sizes, vb.boundingRect(), self._label_order)}
        for i, item in enumerate(self._label_items):
            where = placed.get(i)
            item.setVisible(where is not None)
            if where is not None:
                item.setPos(vb.mapToView(where.box.topLeft()))

    # ------------------------------------------------------------------ export
    def export_table(self) -> tuple[list[str], list[list]] | None:
        """The cosine between the word's vectors in every pair of sentences, per layer
        (layer 0 is the token embedding, layer j the residual stream after block j − 1)."""
        if not self.paths:
            raise ValueError(self.tr("the context-drift view has not been run yet: press Run first"))
        texts = self.drawn_texts
        rows = []
        for j in range(len(self.paths[0])):
            cosines = pairwise_cosines(np.stack([p[j] for p in self.paths]))
            point = "embedding" if j == 0 else f"after block {j - 1}"
            rows += [[j, point, texts[a], texts[b], cosines[a, b]]
                     for a in range(len(texts)) for b in range(a + 1, len(texts))]
        return ["layer", "point", "sentence_a", "sentence_b", "cosine"], rows
