"""Positional encoding (document 001): the vector P(k) added at position k, as a heat map
of P(k, i) over positions k and dimensions i, with the formula for a sinusoidal model and
the hovered cell's value, beside the cosine between every two positions."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QT_TRANSLATE_NOOP, QPointF, QRectF, Qt
from PySide6.QtGui import QPen
from PySide6.QtWidgets import QWidget

from explorer import theme
from explorer.views.base import Panel
from explorer.views.paint import begin_paint, draw_heat, draw_rich, font, line_height
from model.core.info import ModelInfo

MAX_COSINE_POSITIONS = 128  # the cosine map's side: beyond this a cell is under a pixel


class PositionalPanel(Panel):
    """P(k, i) for the model's positions, and cos(P(a), P(b))."""

    title = QT_TRANSLATE_NOOP("Panel", "Positions")
    key = "positions"
    selection_fields = frozenset({"query"})

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.table: np.ndarray | None = None  # (n_ctx, d)
        self.cosine: np.ndarray | None = None  # (N, N)
        self.positional = ""
        self.base = 10000.0
        self.n_tokens = 0
        self.query = 0
        self.hover = ""
        self._map_rect = QRectF()
        self._cos_rect = QRectF()
        self.setMouseTracking(True)
        self.setMinimumSize(480, 320)

    def rope_text(self) -> str:
        return self.tr("This model uses rotary positions (RoPE): no position vector P is added to the embeddings. "
    "Instead, inside every head, q and k are rotated by an angle that grows with the position "
    "(pairs of dimensions turn at different speeds, as in the sinusoids of the original "
    "transformer). The dot product q·k of two rotated vectors then depends on how far apart the "
    "two tokens are, not on where they are. The step-through shows q and k before and after the rotation.")

    def on_model_info(self, info: ModelInfo) -> None:
        st = info.structure
        self.hover = ""
        if st is None:
            self.table = self.cosine = None
            return
        self.table, self.positional, self.base = st.positions, st.positional, st.sinusoid_base
        if self.positional == "rope":
            self.cosine = None
            return
        n = min(len(self.table), MAX_COSINE_POSITIONS)
        rows = self.table[:n].astype(np.float64)
        norms = np.linalg.norm(rows, axis=1)
        norms[norms == 0] = 1.0
        unit = rows / norms[:, None]
        self.cosine = unit @ unit.T

    def redraw(self) -> None:
        if self.trace is not None:
            self.n_tokens = self.trace.n_tokens
            self.query = self.selection.query_index(self.trace.n_tokens)
        self.update()

    # ------------------------------------------------------------------ text
    def formula(self) -> str:
        if self.positional == "sinusoidal":
            n = f"{self.base:g}"
            return f"P(k, 2i) = sin(k / {n}^{{2i/d}})      P(k, 2i+1) = cos(k / {n}^{{2i/d}})"
        return self.tr("P(k) = row k of a learned table (no formula: training chose these numbers)")

    def cell_text(self, k: int, i: int) -> str:
        value = float(self.table[k, i])
        d = self.table.shape[1]
        if self.positional == "sinusoidal":
            two_i = i - i % 2
            fn = "sin" if i % 2 == 0 else "cos"
            return f"P({k}, {i}) = {fn}({k} / {self.base:g}^{{{two_i}/{d}}}) = {value:+.4f}".replace("-", "−")
        return f"P({k}, {i}) = {value:+.4f}".replace("-", "−")

    # ------------------------------------------------------------------ painting
    def paintEvent(self, event) -> None:  # noqa: N802 (Qt API)
        p, c = begin_paint(self)
        m = 16.0
        if self.table is None or self.positional == "rope":
            p.setFont(font(1.2))
            p.setPen(c.fg)
            p.drawText(self.rect().adjusted(16, 16, -16, -16), Qt.AlignLeft | Qt.TextWordWrap,
                       self.rope_text() if self.positional == "rope" else self.tr("No position table for this model."))
            return
        n_ctx, d = self.table.shape
        f_big, f_small = font(1.5), font(1.0)
        y = m
        draw_rich(p, QRectF(m, y, self.width() - 2 * m, line_height(f_big) * 1.3), self.formula(), f_big, c.fg)
        y += line_height(f_big) * 1.3
        hover = self.hover or self.tr("hover a cell for its value")
        draw_rich(p, QRectF(m, y, self.width() - 2 * m, line_height(f_small) * 1.4), hover, f_small,
                  c.accent if self.hover else c.dim)
        y += line_height(f_small) * 1.6
        f_head = font(0.9, bold=True)
        axis_w = 56.0
        area_h = self.height() - y - m - line_height(f_head) * 2.5
        map_w = (self.width() - 2 * m - axis_w) * 0.58
        draw_rich(p, QRectF(m + axis_w, y, map_w, line_height(f_head)),
                  self.tr("P(k, i): {n} positions k (down) × {d} dimensions i (across)").format(n=n_ctx, d=d),
                  f_head, c.dim)
        top = y + line_height(f_head) + 4
        self._map_rect = QRectF(m + axis_w, top, map_w, area_h)
        lim = float(np.abs(self.table).max()) or 1.0
        draw_heat(p, self._map_rect, self.table, theme.SCORE_CMAP, -lim, lim, numbers=False, outline=c.faint)
        # ticks for positions, and the text's own positions bracketed
        p.setFont(font(0.85))
        p.setPen(c.dim)
        row_h = self._map_rect.height() / n_ctx
        for k in np.linspace(0, n_ctx - 1, 5).astype(int):
            yk = self._map_rect.top() + (k + 0.5) * row_h
            p.drawText(QRectF(m, yk - 10, axis_w - 8, 20), Qt.AlignRight | Qt.AlignVCenter, str(k))
        if self.n_tokens:
            x0 = self._map_rect.left() - 4
            p.setPen(QPen(c.accent, 3))
            p.drawLine(QPointF(x0, self._map_rect.top()), QPointF(x0, self._map_rect.top() + self.n_tokens * row_h))
            yq = self._map_rect.top() + (self.query + 0.5) * row_h
            p.drawLine(QPointF(self._map_rect.left(), yq), QPointF(self._map_rect.right(), yq))
        p.setFont(font(0.85))
        p.setPen(c.dim)
        p.drawText(QRectF(self._map_rect.left(), self._map_rect.bottom() + 2, map_w, 22), Qt.AlignLeft, "i = 0")
        p.drawText(QRectF(self._map_rect.left(), self._map_rect.bottom() + 2, map_w, 22), Qt.AlignRight, f"i = {d - 1}")
        p.setPen(c.accent)
        if self.n_tokens:
            p.drawText(QRectF(self._map_rect.left(), self._map_rect.bottom() + 22, map_w, 22), Qt.AlignLeft,
                       self.tr("your text: positions 0–{last} (bar at left), query {query} (line)").format(
                           last=self.n_tokens - 1, query=self.query))
        # cosine between positions
        n = len(self.cosine)
        cx = self._map_rect.right() + 40
        side = min(self.width() - m - cx, area_h)
        draw_rich(p, QRectF(cx, y, self.width() - m - cx, line_height(f_head)),
                  self.tr("cos(P(a), P(b)), positions 0–{last}").format(last=n - 1), f_head, c.dim)
        self._cos_rect = QRectF(cx, top, side, side)
        draw_heat(p, self._cos_rect, self.cosine, theme.SCORE_CMAP, -1.0, 1.0, numbers=False, outline=c.faint)
        p.setFont(font(0.85))
        p.setPen(c.dim)
        p.drawText(QRectF(cx, self._cos_rect.bottom() + 2, side, 40), Qt.AlignLeft | Qt.TextWordWrap,
                   self.tr("near positions look alike (red diagonal band); −1 blue … +1 red"))

    def mouseMoveEvent(self, event) -> None:  # noqa: N802 (Qt API)
        pos = event.position()
        text = ""
        if self.table is not None and self._map_rect.contains(pos):
            n_ctx, d = self.table.shape
            k = int((pos.y() - self._map_rect.top()) / self._map_rect.height() * n_ctx)
            i = int((pos.x() - self._map_rect.left()) / self._map_rect.width() * d)
            text = self.cell_text(min(k, n_ctx - 1), min(i, d - 1))
        elif self.cosine is not None and self._cos_rect.contains(pos):
            n = len(self.cosine)
            a = min(n - 1, int((pos.y() - self._cos_rect.top()) / self._cos_rect.height() * n))
            b = min(n - 1, int((pos.x() - self._cos_rect.left()) / self._cos_rect.width() * n))
            text = f"cos(P({a}), P({b})) = {self.cosine[a, b]:+.4f}".replace("-", "−")
        if text != self.hover:
            self.hover = text
            self.update()
        super().mouseMoveEvent(event)

    def export_table(self) -> tuple[list[str], list[list]] | None:
        """P(k, i) for every position k the trace uses (the table's first rows when there is
        no trace), one row per (position, dimension)."""
        if self.table is None or self.positional == "rope":
            raise ValueError("this model has no position table (RoPE rotates q and k instead)")
        n = self.n_tokens or min(len(self.table), MAX_COSINE_POSITIONS)
        return ["position", "dimension", "value"], [
            [k, i, float(self.table[k, i])] for k in range(min(n, len(self.table))) for i in range(self.table.shape[1])]
