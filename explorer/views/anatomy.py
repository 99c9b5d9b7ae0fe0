"""Model anatomy (document 000): where the current model's parameters are, by kind, beside
the GPT-3 accounting the document walks through (computed by :class:`model.lessons.Gpt3Counts`)."""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import QWidget

from explorer.views.base import Panel
from explorer.views.paint import Colours, begin_paint, draw_rich, font, line_height, text_width
from model.info import ModelInfo
from model.lessons import Gpt3Counts


def gpt3_rows(g: Gpt3Counts | None = None) -> list[tuple[str, str, int, str]]:
    """(what, shape, count, how document 000 rounds it) for the GPT-3 table. The document's
    "6.17亿", "约630w", "约6亿" are given in English: a projector machine may lack CJK fonts."""
    g = g or Gpt3Counts()
    d, dh, V = g.d_model, g.d_head, g.vocab_size
    return [
        ("embedding W_E", f"{V:,} × {d:,}", g.embedding_weights, "≈ 617 million"),
        ("unembedding W_U", f"{d:,} × {V:,}", g.embedding_weights, "same size, transposed"),
        ("value map, full rank", f"{d:,} × {d:,}", g.full_rank_value_map, "too big"),
        ("value map, low rank", f"{d:,} × {dh} + {dh} × {d:,}", g.low_rank_value_map, ""),
        ("one head", f"query, key, value↓, value↑: 4 × {d:,} × {dh}", g.weights_per_head, "≈ 6.3 million"),
        ("one attention layer", f"{g.n_heads} heads", g.weights_per_attention_layer, "≈ 600 million"),
    ]


class AnatomyPanel(Panel):
    """Two painted tables: this model by kind, GPT-3 by the document's numbers."""

    title = "Anatomy"
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
        self._table(p, c, QRectF(m, m, col_w, self.height() - 2 * m),
                    f"{self.model_name or 'no model'}: {self.total / 1e6:,.2f} million parameters"
                    if self.total >= 1e6 else f"{self.model_name or 'no model'}: {self.total:,} parameters",
                    [(kind, shape, n, "") for kind, n, shape in self.rows], self.total)
        g_rows = gpt3_rows()
        self._table(p, c, QRectF(2 * m + col_w, m, col_w, self.height() - 2 * m - 60),
                    "GPT-3, as document 000 counts it", g_rows, max(n for _, _, n, _ in g_rows))
        if self.total:
            ratio = Gpt3Counts().embedding_weights / self.total
            p.setFont(font(1.0))
            p.setPen(c.dim)
            p.drawText(QRectF(2 * m + col_w, self.height() - m - 60, col_w, 60), Qt.AlignLeft | Qt.TextWordWrap,
                       f"GPT-3's embedding table alone is {ratio:,.0f} × this whole model.")

    def _table(self, p: QPainter, c: Colours, rect: QRectF, title: str, rows, scale: int) -> None:
        f_title, f_row, f_small = font(1.1, bold=True), font(1.15), font(0.95)
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
