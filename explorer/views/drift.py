"""Context drift: one word in several sentences, traced through the layers.

Before attention the word has the same vector in every sentence (the embedding table is
a lookup); each block mixes in context and the paths part ways.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QT_TRANSLATE_NOOP, QSignalBlocker, Qt
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from explorer import theme
from explorer.theme import style_text
from explorer.views import TimedView
from explorer.views.base import Panel
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
        self._run_when_shown = False  # a scene changed the sentences while the tab was hidden
        self.preset_box = QComboBox()
        for key in PRESETS:
            self.preset_box.addItem(PRESET_NAMES.get(key, key), key)
        self.word = QLineEdit()
        self.sentences = QPlainTextEdit()
        self.sentences.setMaximumHeight(110)
        self.run_button = QPushButton()
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.table = QTableWidget(0, 0)
        self.table.verticalHeader().setVisible(False)
        self.view = TimedView()
        self.plot = self.view.addPlot()
        self.plot.setMenuEnabled(False)
        self.plot.hideButtons()
        self.plot.showGrid(x=True, y=True, alpha=0.15)
        self.legend = self.plot.addLegend(offset=(10, 10))
        self.start_point = pg.ScatterPlotItem(size=22, symbol="star", brush=pg.mkBrush("w"))
        self.plot.addItem(self.start_point)
        self.start_label = pg.TextItem("", anchor=(0, 1))
        self.start_label.setFont(theme.label_font(theme.DEFAULT_POINT_SIZE))
        self.plot.addItem(self.start_label)
        self.curves: list[pg.PlotDataItem] = []
        self.layer_labels: list[pg.TextItem] = []

        top = QHBoxLayout()
        self.preset_label, self.word_label = QLabel(), QLabel()
        top.addWidget(self.preset_label)
        top.addWidget(self.preset_box)
        top.addWidget(self.word_label)
        top.addWidget(self.word)
        top.addWidget(self.run_button)
        top.addStretch(1)
        split = QSplitter(Qt.Horizontal)
        split.addWidget(self.view)
        split.addWidget(self.table)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addWidget(self.sentences)
        layout.addWidget(self.message)
        layout.addWidget(split, 1)
        self.preset_box.currentIndexChanged.connect(self._on_preset_changed)
        self.run_button.clicked.connect(self.run)
        self._on_preset_changed(self.preset_box.currentIndex())
        self.retranslate()

    def retranslate(self) -> None:
        for index, key in enumerate(PRESETS):
            self.preset_box.setItemText(index, self.tr(PRESET_NAMES.get(key, key)))
        self.sentences.setPlaceholderText(self.tr("one sentence per line, each containing the word"))
        self.run_button.setText(self.tr("Run"))
        self.run_button.setToolTip(self.tr("Trace every sentence (Ctrl+Enter in the sentence box)"))
        self.start_label.setText(self.tr("token embedding\n(same in every sentence)"))
        self.preset_label.setText(self.tr("preset"))
        self.word_label.setText(self.tr("word"))
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

    def redraw(self) -> None:
        if self._run_when_shown:
            self._run_when_shown = False
            self.run()

    def on_theme(self, theme) -> None:
        self.start_point.setBrush(pg.mkBrush(theme.fg))
        self.legend.setLabelTextColor(theme.fg)
        self.legend.setLabelTextSize(f"{theme.points(-1):.1f}pt")
        style_text(self.start_label, theme)
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

    def _draw(self, texts: tuple[str, ...]) -> None:
        self.drawn_texts = texts  # what the paths belong to: the sentence box may change after
        points = np.vstack(self.paths)
        pca = fit_pca(points)
        self.legend.clear()
        while len(self.curves) < len(self.paths):
            curve = pg.PlotDataItem(symbol="o", symbolSize=11)
            self.plot.addItem(curve)
            self.curves.append(curve)
        n_points = len(self.paths[0])
        while len(self.layer_labels) < len(self.paths) * n_points:
            label = pg.TextItem(anchor=(0.5, 1.2))
            style_text(label, self.theme, -2)
            self.plot.addItem(label)
            self.layer_labels.append(label)
        for label in self.layer_labels:
            label.setVisible(False)
        for i, curve in enumerate(self.curves):
            if i >= len(self.paths):
                curve.setData([], [])
                continue
            colour = self.theme.series[i % len(self.theme.series)]
            xy = pca(self.paths[i])
            curve.setData(xy[:, 0], xy[:, 1], pen=pg.mkPen(colour, width=3), symbolBrush=colour, name=texts[i])
            self.legend.addItem(curve, texts[i])
            for j in range(1, n_points):
                label = self.layer_labels[i * n_points + j]
                label.setText(self.tr("after block {n}").format(n=j - 1))  # in the text colour: readable; the curve carries the hue
                label.setPos(*xy[j])
                label.setVisible(True)
        start = pca(self.paths[0][:1])
        self.start_point.setData(pos=start)
        self.start_label.setPos(*start[0])
        self.plot.autoRange(padding=0.15)
        cosines = [pairwise_cosines(np.stack([p[j] for p in self.paths])) for j in range(n_points)]
        pairs = [(a, b) for a in range(len(self.paths)) for b in range(a + 1, len(self.paths))]
        self.table.setColumnCount(1 + len(pairs))
        self.table.setHorizontalHeaderLabels([self.tr("layer")] + [f"cos({a + 1},{b + 1})" for a, b in pairs])
        self.table.setRowCount(n_points)
        for j in range(n_points):
            name = self.tr("embedding") if j == 0 else self.tr("after block {n}").format(n=j - 1)
            self.table.setItem(j, 0, QTableWidgetItem(name))
            for k, (a, b) in enumerate(pairs):
                self.table.setItem(j, k + 1, QTableWidgetItem(f"{cosines[j][a, b]:.3f}"))
        self.table.resizeColumnsToContents()

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
