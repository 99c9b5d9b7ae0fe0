"""Model anatomy (document 000): where the current model's parameters are, by kind, beside
the GPT-3 accounting the document walks through (computed by :class:`model.teaching.lessons.Gpt3Counts`)."""

from __future__ import annotations

import re

from PySide6.QtCore import QT_TRANSLATE_NOOP, QCoreApplication, QRectF, Qt
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import QWidget

from explorer.views.base import Panel
from explorer.views.paint import Colours, begin_paint, draw_rich, font, line_height, text_width
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
        self.setMinimumSize(480, 320)

    def on_model_info(self, info: ModelInfo) -> None:
        self.model_name = info.name
        self.rows = list(info.structure.counts) if info.structure is not None else []

    def redraw(self) -> None:
        self.update()

    @property
    def total(self) -> int:
        return sum(n for _, n, _ in self.rows)

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt API)
        p, c = begin_paint(self)
        m = 16.0
        col_w = (self.width() - 3 * m) / 2
        name = self.model_name or QCoreApplication.translate("Anatomy", "no model")
        self._table(p, c, QRectF(m, m, col_w, self.height() - 2 * m),
                    QCoreApplication.translate("Anatomy", "{model}: {n:,.2f} million parameters").format(model=name, n=self.total / 1e6)
                    if self.total >= 1e6 else QCoreApplication.translate("Anatomy", "{model}: {n:,} parameters").format(model=name, n=self.total),
                    [(model_text(kind), model_text(shape), n, "") for kind, n, shape in self.rows], self.total)
        g_rows = gpt3_rows()
        self._table(p, c, QRectF(2 * m + col_w, m, col_w, self.height() - 2 * m - 60),
                    QCoreApplication.translate("Anatomy", "GPT-3, as document 000 counts it"), g_rows, max(n for _, _, n, _ in g_rows))
        if self.total:
            ratio = Gpt3Counts().embedding_weights / self.total
            p.setFont(font(1.0))
            p.setPen(c.dim)
            p.drawText(QRectF(2 * m + col_w, self.height() - m - 60, col_w, 60), Qt.AlignLeft | Qt.TextWordWrap,
                       QCoreApplication.translate("Anatomy", "GPT-3's embedding table alone is {ratio:,.0f} × this whole model.").format(ratio=ratio))

    def _table(self, p: QPainter, c: Colours, rect: QRectF, title: str, rows, scale: int) -> None:
        f_title, f_row, f_small = font(1.1, bold=True), font(1.15), font(0.95)
        while text_width(f_title, title) > rect.width() and f_title.pointSizeF() > 7:
            f_title.setPointSizeF(f_title.pointSizeF() * 0.9)  # a long model name must not run into the other table
        draw_rich(p, QRectF(rect.left(), rect.top(), rect.width(), line_height(f_title) * 1.3), title, f_title, c.fg)
        y = rect.top() + line_height(f_title) * 1.6
        if not rows:
            return
        row_h = min(line_height(f_row) + line_height(f_small) + 20, (rect.bottom() - y) / len(rows))
        num_w = max(text_width(f_row, f"{n:,}") for _, _, n, _ in rows) + 12
        name_w = rect.width() * 0.45
        for what, shape, n, said in rows:
            draw_rich(p, QRectF(rect.left(), y, name_w, line_height(f_row)), what, f_row, c.fg)
            sub = f"{shape}   “{said}”" if said else shape
            p.setFont(f_small)
            p.setPen(c.dim)
            sub_w = name_w + num_w if scale == self.total else rect.width()  # else no % label below the bar
            p.drawText(QRectF(rect.left(), y + line_height(f_row), sub_w, line_height(f_small)),
                       Qt.AlignLeft | Qt.AlignVCenter, sub)
            p.setFont(font(1.15, mono=True))
            p.setPen(c.fg if n else c.dim)
            p.drawText(QRectF(rect.left() + name_w, y, num_w, line_height(f_row)), Qt.AlignRight | Qt.AlignVCenter,
                       f"{n:,}")
            bar_x = rect.left() + name_w + num_w + 12
            bar_w = rect.right() - bar_x
            if bar_w > 20 and scale > 0 and n > 0:
                share = n / scale
                p.fillRect(QRectF(bar_x, y + 4, max(2.0, bar_w * share), line_height(f_row) - 8), c.accent)
                p.setFont(f_small)
                p.setPen(c.dim)
                label = f"{100 * share:.1f} %" if scale == self.total else ""
                p.drawText(QRectF(bar_x, y + line_height(f_row), bar_w, line_height(f_small)),
                           Qt.AlignLeft | Qt.AlignVCenter, label)
            y += row_h

    def export_table(self) -> tuple[list[str], list[list]] | None:
        if not self.rows:
            raise ValueError("no model loaded")
        return ["kind", "parameters", "shape"], [[kind, int(count), shape] for kind, count, shape in self.rows]
