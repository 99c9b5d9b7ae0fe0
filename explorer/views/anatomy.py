"""Model anatomy (document 000): where the current model's parameters are, by kind, beside
the GPT-3 accounting the document walks through (computed by :class:`model.teaching.lessons.Gpt3Counts`)."""

from __future__ import annotations

import re

from PySide6.QtCore import QT_TRANSLATE_NOOP, QCoreApplication, QRectF, Qt
from PySide6.QtGui import QFont, QFontMetricsF, QPainter
from PySide6.QtWidgets import QWidget

from explorer.views.base import Panel
from explorer.views.labels import model_name
from explorer.views.paint import Colours, begin_paint, draw_rich, font, line_height, rich_width, text_width
from model.core.info import ModelInfo
from model.teaching.lessons import Gpt3Counts


def _tr(text: str) -> str:
    return QCoreApplication.translate("Anatomy", text)


#: the model layer's names for parameter kinds and its fixed shape notes (model/core/anatomy.py), for lupdate
_MODEL_TEXTS = (QT_TRANSLATE_NOOP("Anatomy", "embedding"), QT_TRANSLATE_NOOP("Anatomy", "positions"),
                QT_TRANSLATE_NOOP("Anatomy", "unembedding"), QT_TRANSLATE_NOOP("Anatomy", "other"),
                QT_TRANSLATE_NOOP("Anatomy", "none"), QT_TRANSLATE_NOOP("Anatomy", "γ and β per norm"),
                QT_TRANSLATE_NOOP("Anatomy", "tied to the embedding"), QT_TRANSLATE_NOOP("Anatomy", "none (encoder)"),
                QT_TRANSLATE_NOOP("Anatomy", "sin/cos formula: 0 weights"), QT_TRANSLATE_NOOP("Anatomy", "layers"),
                QT_TRANSLATE_NOOP("Anatomy", "heads"), QT_TRANSLATE_NOOP("Anatomy", "adaptive softmax over"),
                QT_TRANSLATE_NOOP("Anatomy", "tokens"))


def model_text(text: str) -> str:
    """A kind or shape note from :mod:`model.core.anatomy` (English, Qt-free) in the interface language:
    fixed notes whole, and the words in "4 layers × 8 heads × 256 × 32"."""
    whole = _tr(text)
    if whole != text:
        return whole
    return re.sub(r"\b(layers|heads|adaptive softmax over|tokens)\b", lambda m: _tr(m.group(1)), text)


def gpt3_rows(g: Gpt3Counts | None = None) -> list[tuple[str, str, int, str]]:
    """(what, shape, count, how document 000 rounds it) for the GPT-3 table, in the interface
    language: the document's own "6.17亿", "约630w", "约6亿" in Chinese, in English otherwise."""
    g = g or Gpt3Counts()
    d, dh, V = g.d_model, g.d_head, g.vocab_size
    return [
        (QCoreApplication.translate("Anatomy", "embedding W_E"), f"{V:,} × {d:,}", g.embedding_weights, QCoreApplication.translate("Anatomy", "≈ 617 million")),
        (QCoreApplication.translate("Anatomy", "unembedding W_U"), f"{d:,} × {V:,}", g.embedding_weights, QCoreApplication.translate("Anatomy", "same size, transposed")),
        (QCoreApplication.translate("Anatomy", "value map, full rank"), f"{d:,} × {d:,}", g.full_rank_value_map, QCoreApplication.translate("Anatomy", "too big")),
        (QCoreApplication.translate("Anatomy", "value map, low rank"), f"{d:,} × {dh} + {dh} × {d:,}", g.low_rank_value_map, ""),
        (QCoreApplication.translate("Anatomy", "one head"), QCoreApplication.translate("Anatomy", "query, key, value↓, value↑: 4 × {d} × {dh}").format(d=f"{d:,}", dh=dh),
         g.weights_per_head, QCoreApplication.translate("Anatomy", "≈ 6.3 million")),
        (QCoreApplication.translate("Anatomy", "one attention layer"), QCoreApplication.translate("Anatomy", "{n} heads").format(n=g.n_heads), g.weights_per_attention_layer,
         QCoreApplication.translate("Anatomy", "≈ 600 million")),
    ]


class AnatomyPanel(Panel):
    """Two painted tables: this model by kind, GPT-3 by the document's numbers."""

    title = QT_TRANSLATE_NOOP("Panel", "Anatomy")
    key = "anatomy"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.rows: list[tuple[str, int, str]] = []
        self.model_name = ""

    def on_model_info(self, info: ModelInfo) -> None:
        self.model_name = info.name
        self.rows = list(info.structure.counts) if info.structure is not None else []

    def redraw(self) -> None:
        self.update()

    @property
    def total(self) -> int:
        return sum(n for _, n, _ in self.rows)

    def _tables(self) -> tuple[str, list, int, str, list, int, str]:
        name = model_name(self.model_name) if self.model_name else QCoreApplication.translate("Anatomy", "no model")
        title = (QCoreApplication.translate("Anatomy", "{model}: {n:,.2f} million parameters").format(model=name, n=self.total / 1e6)
                 if self.total >= 1e6 else QCoreApplication.translate("Anatomy", "{model}: {n:,} parameters").format(model=name, n=self.total))
        rows = [(model_text(kind), model_text(shape), n, "") for kind, n, shape in self.rows]
        g_rows = gpt3_rows()
        footer = ""
        if self.total:
            ratio = Gpt3Counts().embedding_weights / self.total
            footer = QCoreApplication.translate("Anatomy", "GPT-3's embedding table alone is {ratio:,.0f} × this whole model.").format(ratio=ratio)
        return (title, rows, self.total, QCoreApplication.translate("Anatomy", "GPT-3, as document 000 counts it"),
                g_rows, max(n for _, _, n, _ in g_rows), footer)

    @staticmethod
    def _fonts(scale: float):
        return font(1.1 * scale, bold=True), font(1.1 * scale), font(0.9 * scale), font(1.1 * scale, mono=True)

    def _height(self, rows: int, scale: float, width: float, footer: str = "") -> float:
        f_title, f_row, f_small, _ = self._fonts(scale)
        h = line_height(f_title) * 1.3 + rows * (line_height(f_row) + line_height(f_small) + 6)
        if footer:
            h += QFontMetricsF(f_small).boundingRect(QRectF(0, 0, width, 10_000), Qt.TextWordWrap, footer).height() + 8
        return h

    def _scale(self, width: float, height: float) -> float:
        """The largest text scale (1 … 0.5) at which both tables fit the panel: their text
        shrinks rather than running into each other ("value map, full rank150,994,944")."""
        _, rows, _, _, g_rows, _, footer = self._tables()
        scale = 1.0
        while scale > 0.5 and max(self._height(len(rows), scale, width),
                                  self._height(len(g_rows), scale, width, footer)) > height:
            scale -= 0.05
        return max(scale, 0.5)

    def minimumSizeHint(self):  # noqa: N802 (Qt API)
        """Below the smallest text the tables take, the tab scrolls (2× text on a small screen)."""
        from PySide6.QtCore import QSize

        _, rows, _, _, g_rows, _, footer = self._tables()
        return QSize(360, int(max(self._height(len(rows), 0.5, 300), self._height(len(g_rows), 0.5, 300, footer)) + 32))

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt API)
        p, c = begin_paint(self)
        m = 16.0
        col_w = (self.width() - 3 * m) / 2
        height = self.height() - 2 * m
        title, rows, total, g_title, g_rows, g_scale, footer = self._tables()
        scale = self._scale(col_w, height)
        self._table(p, c, QRectF(m, m, col_w, height), title, rows, total, scale, share=True)
        bottom = self._table(p, c, QRectF(2 * m + col_w, m, col_w, height), g_title, g_rows, g_scale, scale)
        if footer:
            f_small = self._fonts(scale)[2]
            p.setFont(f_small)
            p.setPen(c.dim)
            box = p.boundingRect(QRectF(2 * m + col_w, bottom + 8, col_w, 10_000), Qt.TextWordWrap, footer)
            p.drawText(QRectF(2 * m + col_w, bottom + 8, col_w, box.height()), Qt.AlignLeft | Qt.TextWordWrap, footer)

    def _table(self, p: QPainter, c: Colours, rect: QRectF, title: str, rows, scale_to: int, scale: float,
               share: bool = False) -> float:
        """Each row: its name and its count on one line (the count right-aligned: they ran into
        each other), a bar of its share under them, its shape (and the document's words, or its
        percentage) on the line below, shortened with "…" to the table's width."""
        f_title, f_row, f_small, f_num = self._fonts(scale)
        while text_width(f_title, title) > rect.width() and f_title.pointSizeF() > 7:
            f_title.setPointSizeF(f_title.pointSizeF() * 0.9)  # a long model name must not run into the other table
        draw_rich(p, QRectF(rect.left(), rect.top(), rect.width(), line_height(f_title) * 1.3), title, f_title, c.fg)
        y = rect.top() + line_height(f_title) * 1.3
        for what, shape, n, said in rows:
            number = f"{n:,}"
            num_w = text_width(f_num, number)
            name_room = rect.width() - num_w - 12
            f_name = QFont(f_row)
            while rich_width(what, f_name) > name_room and f_name.pointSizeF() > 7:
                f_name.setPointSizeF(f_name.pointSizeF() * 0.9)
            line = line_height(f_row)
            draw_rich(p, QRectF(rect.left(), y, name_room, line), what, f_name, c.fg)
            p.setFont(f_num)
            p.setPen(c.fg if n else c.dim)
            p.drawText(QRectF(rect.right() - num_w - 2, y, num_w + 2, line), Qt.AlignRight | Qt.AlignVCenter, number)
            if scale_to > 0 and n > 0:
                p.fillRect(QRectF(rect.left(), y + line - 3, max(2.0, rect.width() * n / scale_to), 3), c.accent)
            pieces = [shape] + ([f"“{said}”"] if said else []) + ([f"{100 * n / scale_to:.1f} %"] if share and scale_to else [])
            p.setFont(f_small)
            p.setPen(c.dim)
            p.drawText(QRectF(rect.left(), y + line + 2, rect.width(), line_height(f_small)),
                       Qt.AlignLeft | Qt.AlignVCenter,
                       p.fontMetrics().elidedText("   ".join(pieces), Qt.ElideRight, int(rect.width())))
            y += line + line_height(f_small) + 6
        return y

    def export_table(self) -> tuple[list[str], list[list]] | None:
        if not self.rows:
            raise ValueError("no model loaded")
        return ["kind", "parameters", "shape"], [[kind, int(count), shape] for kind, count, shape in self.rows]
