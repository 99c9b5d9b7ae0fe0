"""The model's own token-embedding table: word sets in 2-D, analogies as parallelograms,
and dot products along a direction ("the plural direction")."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QT_TRANSLATE_NOOP, Qt
from PySide6.QtGui import QFontMetricsF
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from explorer import theme
from explorer.elided_label import ElidedLabel
from explorer.theme import style_text
from explorer.views import TimedView
from explorer.views.base import Panel
from explorer.views.fast_items import label_axes
from explorer.views.flow import CompactTable, FlowLayout, SideScroll, WrappingPane, group
from explorer.views.room import keep_readable
from explorer.views.scatter_labels import fit_range, place
from model.analysis.analogy import EmbeddingIndex
from model.analysis.geometry import Projection, analogy_plane, fit_pca
from model.core.info import ModelInfo

#: word sets by name; the name is the key lessons use (``words = "gender pairs"``), shown translated
PRESETS = {
    QT_TRANSLATE_NOOP("EmbeddingPanel", "gender pairs"): "man woman king queen boy girl prince princess uncle aunt",
    QT_TRANSLATE_NOOP("EmbeddingPanel", "countries and capitals"):
        "france paris italy rome germany berlin japan tokyo spain madrid russia moscow",
    QT_TRANSLATE_NOOP("EmbeddingPanel", "singular and plural"): "cat cats dog dogs horse horses car cars apple apples",
    QT_TRANSLATE_NOOP("EmbeddingPanel", "verb tenses"): "walk walked walking go went going see saw seeing",
    QT_TRANSLATE_NOOP("EmbeddingPanel", "comparatives"): "big bigger biggest small smaller smallest good better best",
}
PROJECTIONS = {"plane": QT_TRANSLATE_NOOP("EmbeddingPanel", "analogy plane (b − a, c − a)"),
               "pca": QT_TRANSLATE_NOOP("EmbeddingPanel", "PCA of the word set")}
PLURAL_NOUNS = "cat cats dog dogs apple apples car cars king kings child children"



class EmbeddingPanel(Panel):
    """Scatter of a word set, an analogy solver, and a dot-product table."""

    title = QT_TRANSLATE_NOOP("Panel", "Embeddings")
    key = "embeddings"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.index: EmbeddingIndex | None = None
        self.projection: Projection | None = None
        self.words: list[str] = []
        self.answers = []
        self.result_vector: np.ndarray | None = None
        self._solved: tuple | None = None  # (a, b, c, answer, cosine) of the answer's line
        self.word_xy: np.ndarray = np.zeros((0, 2))  # where the words are drawn (plot units)
        self.target_xy: np.ndarray | None = None  # b − a + c
        self.sentence_xy: np.ndarray | None = None

        self.preset_box = QComboBox()
        for name in PRESETS:
            self.preset_box.addItem(name, name)
        self.extra_words = QLineEdit()
        self.sentence_box = QCheckBox()
        self.projection_box = QComboBox()
        for key, text in PROJECTIONS.items():
            self.projection_box.addItem(text, key)
        self.a, self.b, self.c = QLineEdit("man"), QLineEdit("woman"), QLineEdit("king")
        self.method_box = QComboBox()
        self.method_box.addItem("3CosAdd", "add")
        self.method_box.addItem("3CosMul", "mul")
        self.solve_button = QPushButton()
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.answer_table = CompactTable(0, 2)
        self.answer_table.horizontalHeader().setSectionResizeMode(QHeaderView.Stretch)
        self.answer_table.verticalHeader().setVisible(False)
        self.direction_a, self.direction_b = QLineEdit("cat"), QLineEdit("cats")
        self.direction_words = QLineEdit(PLURAL_NOUNS)
        self.direction_words.setCursorPosition(0)  # show the start of the list, not its end
        self.dot_table = CompactTable(0, 3)
        self.dot_table.horizontalHeader().setSectionResizeMode(QHeaderView.Stretch)
        self.dot_table.verticalHeader().setVisible(False)
        self.hover_label = ElidedLabel()  # one line: the map keeps the height (the whole in its tooltip)

        self.view = TimedView()
        self.plot = self.view.addPlot(axisItems=label_axes())
        self.plot.hideAxis("top")
        self.plot.hideAxis("right")
        self.plot.setMenuEnabled(False)
        self.plot.hideButtons()
        self.plot.showGrid(x=True, y=True, alpha=0.15)
        self.scatter = pg.ScatterPlotItem(size=14, brush=pg.mkBrush(90, 170, 255), pen=pg.mkPen("w"), hoverable=True)
        self.sentence_scatter = pg.ScatterPlotItem(size=10, symbol="d", brush=pg.mkBrush(255, 200, 0, 180))
        self.result_scatter = pg.ScatterPlotItem(size=18, symbol="star", brush=theme.HIGHLIGHT)
        self.plot.addItem(self.scatter)
        self.plot.addItem(self.sentence_scatter)
        self.plot.addItem(self.result_scatter)
        self.arrows = [pg.PlotDataItem(pen=pg.mkPen(theme.HIGHLIGHT, width=3)) for _ in range(2)]  # cosmetic: pixels
        self.sides = [pg.PlotDataItem(pen=pg.mkPen(200, 200, 200, style=Qt.DashLine, width=2)) for _ in range(2)]
        self.tips = pg.ScatterPlotItem(size=13, symbol="o", brush=theme.HIGHLIGHT, pen=pg.mkPen("w"))
        for item in self.arrows + self.sides + [self.tips]:
            self.plot.addItem(item)
        self.labels: list[pg.TextItem] = []

        self.words_label, self.direction_label, self.direction_words_label = QLabel(), QLabel(), QLabel()
        # Everything above the map flows onto as many lines as the width needs (docs/layout.md).
        controls = FlowLayout()
        self.extra_words.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.extra_words.setMinimumWidth(120)
        analogy = [self.a, QLabel(":"), self.b, QLabel("::"), self.c, QLabel(": ?")]
        for w in (self.a, self.b, self.c):
            w.setMaximumWidth(150)
            w.setMinimumWidth(60)
        for widget in (group(self.words_label, self.preset_box), self.extra_words, self.projection_box,
                       self.sentence_box):
            controls.addWidget(widget)
        # the analogy beside the map, over its answers (the side is tall, the top is short)
        solver = FlowLayout()
        for widget in (group(*analogy[:2]), group(*analogy[2:4]), group(*analogy[4:]), self.method_box,
                       self.solve_button):
            solver.addWidget(widget)
        direction = FlowLayout()
        for widget in (self.direction_label, group(self.direction_b, QLabel("−")), self.direction_a):
            direction.addWidget(widget)
        direction_words = QHBoxLayout()  # its own row: the list is long and the side pane narrow
        direction_words.addWidget(self.direction_words_label)
        direction_words.addWidget(self.direction_words, 1)
        self.direction_words.setMinimumWidth(60)
        for w in (self.direction_a, self.direction_b):
            w.setMaximumWidth(150)
            w.setMinimumWidth(60)
        side = WrappingPane()
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(0, 0, 0, 0)
        side_layout.addLayout(solver)
        side_layout.addWidget(self.message)
        side_layout.addWidget(self.answer_table, 3)
        side_layout.addLayout(direction)
        side_layout.addLayout(direction_words)
        side_layout.addWidget(self.dot_table, 2)
        plot_side = WrappingPane()
        plot_layout = QVBoxLayout(plot_side)
        plot_layout.setContentsMargins(0, 0, 0, 0)
        plot_layout.addWidget(self.view, 1)
        plot_layout.addWidget(self.hover_label)
        # the side scrolls on its own when short: the map keeps the panel's height
        side_area = SideScroll(side)
        split = QSplitter(Qt.Horizontal)
        self.split = split
        self._split_done = False
        split.addWidget(plot_side)
        split.addWidget(side_area)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(controls)
        layout.addWidget(split, 1)
        self.target_label = pg.TextItem("b − a + c")  # the parallelogram's fourth corner, named
        self.plot.addItem(self.target_label)
        self.plot.vb.sigResized.connect(self._place_labels)

        self.preset_box.currentIndexChanged.connect(self._on_words_changed)
        self.extra_words.editingFinished.connect(self._on_words_changed)
        self.projection_box.currentIndexChanged.connect(self._on_words_changed)
        self.sentence_box.toggled.connect(self._on_sentence_toggled)
        self.solve_button.clicked.connect(self.solve)
        for field in (self.a, self.b, self.c):
            field.returnPressed.connect(self.solve)
        self.method_box.currentIndexChanged.connect(self.solve)
        for field in (self.direction_a, self.direction_b, self.direction_words):
            field.editingFinished.connect(self._update_dot_table)
        self.scatter.sigHovered.connect(self._on_hovered)
        self.retranslate()

    def _say_answer(self) -> None:
        if self._solved is not None:
            a, b, c, answer, cosine = self._solved
            self.message.setText(self.tr("{a} : {b} :: {c} : {answer}   (cosine {cosine:.3f})").format(
                a=a, b=b, c=c, answer=answer, cosine=cosine))

    def retranslate(self) -> None:
        self._say_answer()  # the answer's line, composed again in the new language
        for index, name in enumerate(PRESETS):
            self.preset_box.setItemText(index, self.tr(name))
        for index, text in enumerate(PROJECTIONS.values()):
            self.projection_box.setItemText(index, self.tr(text))
        self.extra_words.setPlaceholderText(self.tr("add words, e.g. lion lioness"))
        self.sentence_box.setText(self.tr("show the sentence's tokens"))
        self.solve_button.setText(self.tr("Solve"))
        self.answer_table.setHorizontalHeaderLabels([self.tr("nearest"), self.tr("cosine")])
        self.dot_table.setHorizontalHeaderLabels([self.tr("word"), self.tr("dot"), self.tr("cosine")])
        self.hover_label.setText(self.tr("Hover a point: word and its cosine to b − a + c"))
        self.words_label.setText(self.tr("words"))
        self.direction_label.setText(self.tr("direction"))
        self.direction_words_label.setText(self.tr("words"))
        super().retranslate()

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt API)
        super().resizeEvent(event)
        if not self._split_done and self.width() > 0:  # the map 60 %, the analogy and tables 40 %
            self._split_done = True
            self.split.setSizes([int(self.width() * 0.6), int(self.width() * 0.4)])

    # ------------------------------------------------------------------ panel API
    def apply_scene(self, state: dict) -> list[str]:
        problems = []
        if "words" in state:
            if state["words"] in PRESETS:
                self.preset_box.setCurrentIndex(list(PRESETS).index(state["words"]))
            else:
                problems.append(self.tr("unknown word set {name!r} (known: {known})").format(
                    name=state["words"], known=", ".join(PRESETS)))
        if "extra_words" in state:
            self.extra_words.setText(state["extra_words"])
        if "analogy" in state:
            for field, word in zip((self.a, self.b, self.c), state["analogy"], strict=True):
                field.setText(word)
            self.solve()
        self._draw_words()
        return problems

    def scene_values(self) -> dict:
        return {"words": list(PRESETS)[self.preset_box.currentIndex()], "extra_words": self.extra_words.text(),
                "analogy": [self.a.text(), self.b.text(), self.c.text()]}

    def on_theme(self, theme) -> None:
        keep_readable(self.view, theme, 5)
        words, sentence = theme.series[0], theme.series[1]
        self.scatter.setBrush(pg.mkBrush(words))
        self.scatter.setPen(pg.mkPen(theme.fg))
        self.sentence_scatter.setBrush(pg.mkBrush(sentence))
        self.sentence_scatter.setPen(pg.mkPen(theme.fg))
        for arrow in self.arrows:
            arrow.setPen(pg.mkPen(theme.colour("bars"), width=3))
        for side in self.sides:
            side.setPen(pg.mkPen(theme.colour("muted"), style=Qt.DashLine, width=2))
        self.tips.setBrush(pg.mkBrush(theme.colour("bars")))
        self.tips.setPen(pg.mkPen(theme.fg))
        for label in self.labels:
            style_text(label, theme, 1)
        # the analogy's fields hold a word of 7 letters at this text size
        word = int(QFontMetricsF(theme.font()).horizontalAdvance("woman__") + 12)
        for table in (self.answer_table, self.dot_table):
            table.setMinimumHeight(int(4.5 * QFontMetricsF(theme.font()).height()))
        for field in (self.a, self.b, self.c, self.direction_a, self.direction_b):
            field.setMinimumWidth(word)
            field.setMaximumWidth(int(word * 1.5))
        style_text(self.target_label, theme, 0, theme.colour("bars"))
        self._draw_parallelogram()
        self._place_labels()

    def on_model_info(self, info: ModelInfo) -> None:
        self.index = EmbeddingIndex(info.embedding_table, info.vocabulary,  # normalised once per model
                                    prefer_word_start=info.tokenizer_kind in ("byte_level", "sentencepiece"))
        self.solve()

    def redraw(self) -> None:
        """Only the sentence's own tokens follow the text; the word set and the analogy are
        drawn when their controls change."""
        if self.sentence_box.isChecked():
            self._draw_sentence()

    # ------------------------------------------------------------------ actions
    def _word(self, text: str) -> str:
        """The vocabulary entry a typed word means: as typed when the vocabulary has it
        (cased models such as GPT-2 tell "Paris" from "paris"), else lower-cased."""
        word = text.strip()
        if self.index is None or word in self.index:
            return word
        return word.lower()

    def _on_words_changed(self, *_args) -> None:
        self._draw_words()

    def _on_sentence_toggled(self, _on: bool) -> None:
        self._draw_sentence()

    def solve(self, *_args) -> None:
        if self.index is None:
            return
        a, b, c = (self._word(w.text()) for w in (self.a, self.b, self.c))
        try:
            self.answers = self.index.solve(a, b, c, k=10, method=self.method_box.currentData())
            self.result_vector = self.index.vector(b) - self.index.vector(a) + self.index.vector(c)
        except (KeyError, ValueError) as exc:
            self.message.setText(str(exc).strip("'\""))
            self.answers, self.result_vector, self._solved = [], None, None
        else:
            best = self.answers[0]
            self._solved = (a, b, c, best.token, best.score)
            self._say_answer()
        self.answer_table.setRowCount(len(self.answers))
        for row, n in enumerate(self.answers):
            self.answer_table.setItem(row, 0, QTableWidgetItem(n.token))
            self.answer_table.setItem(row, 1, QTableWidgetItem(f"{n.score:.3f}"))
        self._draw_words()
        self._update_dot_table()

    def _update_dot_table(self) -> None:
        if self.index is None:
            return
        try:
            direction = self.index.vector(self._word(self.direction_b.text())) - self.index.vector(
                self._word(self.direction_a.text()))
        except (KeyError, ValueError) as exc:
            self.dot_table.setRowCount(0)
            self.message.setText(str(exc).strip("'\""))
            return
        words = [w for w in map(self._word, self.direction_words.text().split()) if w in self.index]
        self.dot_table.setRowCount(len(words))
        unit = direction / max(np.linalg.norm(direction), 1e-12)
        for row, word in enumerate(words):
            vector = self.index.vector(word)
            cos = float(vector @ unit / max(np.linalg.norm(vector), 1e-12))
            for col, text in enumerate((word, f"{float(vector @ direction):+.3f}", f"{cos:+.3f}")):
                self.dot_table.setItem(row, col, QTableWidgetItem(text))

    # ------------------------------------------------------------------ drawing
    def word_set(self) -> list[str]:
        words = PRESETS[self.preset_box.currentData()].split() + [self._word(w) for w in self.extra_words.text().split()]
        analogy = [self._word(w.text()) for w in (self.a, self.b, self.c)]
        if self.answers:
            analogy.append(self.answers[0].token)
        seen, out = set(), []
        for w in words + analogy:
            if self.index is not None and w in self.index and w not in seen:
                seen.add(w)
                out.append(w)
        return out

    def _draw_words(self) -> None:
        if self.index is None:
            return
        self.words = self.word_set()
        if len(self.words) < 3:
            return
        vectors = np.stack([self.index.vector(w) for w in self.words])
        self.projection = None
        if self.projection_box.currentData() == "plane" and self.result_vector is not None:
            try:
                a, b, c = (self.index.vector(self._word(w.text())) for w in (self.a, self.b, self.c))
                self.projection = analogy_plane(a, b, c)
            except ValueError:
                self.projection = None
        if self.projection is None:
            self.projection = fit_pca(vectors)
        xy = self.projection(vectors)
        self.word_xy = xy
        self.scatter.setData(pos=xy, data=self.words)
        while len(self.labels) < len(self.words):
            label = pg.TextItem(anchor=(0, 0))
            style_text(label, self.theme, 1)
            self.plot.addItem(label)
            self.labels.append(label)
        for i, label in enumerate(self.labels):
            if i < len(self.words):
                label.setText(self.words[i])
            else:
                label.setVisible(False)
        self._draw_parallelogram()
        self._draw_sentence()
        self._place_labels()

    def _place_labels(self, *_args) -> None:
        """The plot's range holds every point and the room its label needs; each word goes on
        the first side of its point where it is free (the analogy's words and the answer first);
        a word with no free side is left to the hover line rather than drawn over another."""
        if self.projection is None or not len(self.word_xy):
            return
        vb = self.plot.vb
        words = list(self.labels[: len(self.words)])
        items = words + [self.target_label]
        target = self.target_xy if self.target_xy is not None else None
        xy = np.vstack([self.word_xy] + ([target[None, :]] if target is not None else [])
                       + ([self.sentence_xy] if self.sentence_xy is not None and len(self.sentence_xy) else []))
        sizes = np.zeros((len(xy), 2))
        for i, item in enumerate(items[: len(self.word_xy) + (target is not None)]):
            rect = item.textItem.boundingRect()
            sizes[i] = (rect.width(), rect.height())
        x0, x1, y0, y1 = fit_range(xy, sizes, vb.width(), vb.height())
        vb.setRange(xRange=(x0, x1), yRange=(y0, y1), padding=0)
        points = np.array([[vb.mapFromView(pg.Point(float(x), float(y))).x(),
                            vb.mapFromView(pg.Point(float(x), float(y))).y()] for x, y in xy])
        analogy = {self._word(w.text()) for w in (self.a, self.b, self.c)} | (
            {self.answers[0].token} if self.answers else set())
        n_words = len(self.word_xy)
        first = ([n_words] if target is not None else []) + [i for i, w in enumerate(self.words) if w in analogy]
        order = first + [i for i in range(n_words) if i not in first]
        placed = {p.index: p for p in place(points[: n_words + (target is not None)], sizes, vb.boundingRect(), order)}
        for i, item in enumerate(items[: n_words] + ([self.target_label] if target is not None else [])):
            where = placed.get(i)
            item.setVisible(where is not None)
            if where is not None:
                item.setPos(vb.mapToView(where.box.topLeft()))
        if target is None:
            self.target_label.setVisible(False)

    def _draw_parallelogram(self) -> None:
        words = [self._word(w.text()) for w in (self.a, self.b, self.c)]
        if self.result_vector is None or self.projection is None or not self.answers:
            for item in self.arrows + self.sides:
                item.setData([], [])
            self.result_scatter.setData([])
            self.tips.setData([])
            self.target_xy = None
            return
        pa, pb, pc = self.projection(np.stack([self.index.vector(w) for w in words]))
        target = self.projection(self.result_vector)[0]
        answer = self.projection(self.index.vector(self.answers[0].token))[0]
        for item, (p, q) in zip(self.arrows, ((pa, pb), (pc, target)), strict=True):
            item.setData([p[0], q[0]], [p[1], q[1]])
        self.tips.setData(pos=[pb, target])  # the arrows' heads: a → b and c → b − a + c
        for item, (p, q) in zip(self.sides, ((pa, pc), (pb, target)), strict=True):
            item.setData([p[0], q[0]], [p[1], q[1]])
        self.result_scatter.setData(pos=[target, answer], brush=[self.theme.colour("bars"), self.theme.colour("selected")])
        self.target_xy = target

    def _draw_sentence(self) -> None:
        self.sentence_xy = None
        if not self.sentence_box.isChecked() or self.trace is None or self.projection is None or self.info is None:
            self.sentence_scatter.setData([])
            return
        ids = [int(i) for i, special in zip(self.trace.token_ids, self.trace.special, strict=True) if not special]
        if not ids:
            self.sentence_scatter.setData([])
            return
        xy = self.projection(self.info.embedding_table[ids])
        self.sentence_xy = xy
        self.sentence_scatter.setData(pos=xy, data=[self.info.vocabulary[i] for i in ids])

    def _on_hovered(self, _item, points, _event) -> None:
        if len(points) == 0 or self.index is None:
            return
        word = points[0].data()
        if self.result_vector is not None:
            cos = float(self.index.cosines_to(self.result_vector)[self.index.token_id(word)])
            self.hover_label.setText(self.tr("{word}: cosine {cosine:.3f} to b − a + c").format(word=word, cosine=cos))
        else:
            self.hover_label.setText(word)

    # ------------------------------------------------------------------ export
    def export_table(self) -> tuple[list[str], list[list]] | None:
        """Every point drawn (``word,x,y`` in the plot's coordinates) and the analogy's ten
        nearest tokens, each with its cosine to b − a + c (empty when no analogy is solved)."""
        if self.index is None:
            return None
        if self.projection is None or not self.words:
            raise ValueError(self.tr("the word set has fewer than three words in this model's vocabulary"))
        analogy = [self._word(w.text()) for w in (self.a, self.b, self.c)]
        cosines = self.index.cosines_to(self.result_vector) if self.result_vector is not None else None

        def row(word: str, vector: np.ndarray, role: str, token_id: int | None) -> list:
            x, y = self.projection(vector)[0].tolist()
            cosine = cosines[token_id] if cosines is not None and token_id is not None else ""
            return [word, x, y, role, cosine]

        rows = [row(w, self.index.vector(w), ("a", "b", "c")[analogy.index(w)] if w in analogy else "word set",
                    self.index.token_id(w)) for w in self.words]
        if self.sentence_box.isChecked() and self.trace is not None and self.info is not None:
            rows += [row(self.info.vocabulary[int(i)], self.info.embedding_table[int(i)], "sentence", int(i))
                     for i, special in zip(self.trace.token_ids, self.trace.special, strict=True) if not special]
        if self.result_vector is not None:
            rows.append(row("b − a + c", self.result_vector, "target", None)[:4] + [1.0])
            rows += [row(n.token, self.index.vector(n.token_id), f"neighbour {rank}", n.token_id)
                     for rank, n in enumerate(self.answers, start=1)]
        return ["word", "x", "y", "role", "cosine"], rows
