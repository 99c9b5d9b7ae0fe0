"""Positional encoding (document 001): the vector P(k) added at position k, as a heat map
of P(k, i) over positions k and dimensions i, with the formula for a sinusoidal model and
the hovered cell's value, beside the cosine between every two positions."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QT_TRANSLATE_NOOP, QPointF, QRectF, Qt
from PySide6.QtGui import QFont, QFontMetricsF, QPen
from PySide6.QtWidgets import QWidget

from explorer import theme
from explorer.views.base import Panel
from explorer.views.paint import begin_paint, draw_heat, draw_rich, font, line_height, rich_width, text_width
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

    def minimumSizeHint(self):  # noqa: N802 (Qt API)
        """The formula, the headings, a map of a few lines and the notes under it, at this text
        size: below that the tab scrolls (2× text on a small screen)."""
        from PySide6.QtCore import QSize

        return QSize(360, int(line_height(font(1.0)) * 14))

    def rope_text(self) -> str:
        text = self.tr("This model uses rotary positions (RoPE): no position vector P is added to the embeddings. "
    "Instead, inside every head, q and k are rotated by an angle that grows with the position "
    "(pairs of dimensions turn at different speeds, as in the sinusoids of the original "
    "transformer). The dot product q·k of two rotated vectors then depends on how far apart the "
    "two tokens are, not on where they are. The step-through shows q and k before and after the rotation.")
        return text + self.bases_text()

    def bases_text(self) -> str:
        """The RoPE base(s) of this model, from its own config: one for every layer, or Gemma 3's
        two (its local layers turn fast, its global layers slowly)."""
        bases = self.info.rope_bases if self.info is not None else ()
        if not bases:
            return ""
        distinct = sorted(set(bases))
        if len(distinct) == 1:
            return " " + self.tr("Its base θ = {base}: pair i of a d-wide head turns by position × θ^(−2i/d) radians.").format(
                base=f"{distinct[0]:,.0f}")
        windows = self.info.layer_windows or (None,) * len(bases)
        small, large = distinct[0], distinct[-1]
        local = [f"L{i}" for i, b in enumerate(bases) if b == small]
        global_ = [f"L{i}" for i, b in enumerate(bases) if b == large]
        window = next((w for w, b in zip(windows, bases, strict=False) if b == small and w is not None), None)
        return " " + self.tr(
            "This model rotates with two bases. Its {n_local} local layers, which see the last {window} tokens, "
            "use θ = {small}: their pairs turn fast and tell nearby positions apart. Its global layers ({global_}), "
            "which see every earlier token, use θ = {large}: their slowest pairs turn so little that positions "
            "thousands of tokens apart still differ.").format(
            n_local=len(local), window=window if window is not None else "?", small=f"{small:,.0f}",
            global_=", ".join(global_), large=f"{large:,.0f}")

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
        width = self.width() - 2 * m
        f_big, f_small, f_head, f_tick = font(1.5), font(1.0), font(0.9, bold=True), font(0.85)
        y = m
        # the formula on one line if it fits, its two halves on two if not, smaller if need be
        lines = [self.formula()]
        if "      " in lines[0] and rich_width(lines[0], f_big) > width:
            lines = lines[0].split("      ")
        while max(rich_width(t, f_big) for t in lines) > width and f_big.pointSizeF() > font(0.8).pointSizeF():
            f_big.setPointSizeF(f_big.pointSizeF() * 0.92)
        for text in lines:
            draw_rich(p, QRectF(m, y, width, line_height(f_big) * 1.2), text, f_big, c.fg)
            y += line_height(f_big) * 1.2
        hover = self.hover or self.tr("hover a cell for its value")
        f_hover = QFont(f_small)
        while rich_width(hover, f_hover) > width and f_hover.pointSizeF() > font(0.7).pointSizeF():
            f_hover.setPointSizeF(f_hover.pointSizeF() * 0.92)
        draw_rich(p, QRectF(m, y, width, line_height(f_small) * 1.4), hover, f_hover, c.accent if self.hover else c.dim)
        y += line_height(f_small) * 1.5
        # two columns: the table (with its position ticks) and the cosine map; every heading and
        # note wraps inside its own column (the two headings ran into each other)
        p.setFont(f_tick)
        axis_w = text_width(f_tick, str(n_ctx - 1)) + 10
        map_w = (width - axis_w - 24) * 0.6
        cx = m + axis_w + map_w + 24
        cos_w = self.width() - m - cx
        flags = Qt.AlignLeft | Qt.AlignTop | Qt.TextWordWrap
        head_l = self.tr("P(k, i): {n} positions k (down) × {d} dimensions i (across)").format(n=n_ctx, d=d)
        head_r = self.tr("cos(P(a), P(b)), positions 0–{last}").format(last=len(self.cosine) - 1)
        p.setFont(f_head)
        head_h = max(p.boundingRect(QRectF(0, 0, map_w, 10_000), flags, head_l).height(),
                     p.boundingRect(QRectF(0, 0, cos_w, 10_000), flags, head_r).height())
        p.setPen(c.dim)
        p.drawText(QRectF(m + axis_w, y, map_w, head_h), flags, head_l)
        p.drawText(QRectF(cx, y, cos_w, head_h), flags, head_r)
        top = y + head_h + 4
        yours = (self.tr("your text: positions 0–{last} (bar at left), query {query} (line)").format(
            last=self.n_tokens - 1, query=self.query) if self.n_tokens else "")
        note = self.tr("near positions look alike (red diagonal band); −1 blue … +1 red")
        p.setFont(f_tick)
        yours_h = p.boundingRect(QRectF(0, 0, map_w, 10_000), flags, yours).height() if yours else 0.0
        f_note = QFont(f_tick)  # the note under the cosine map shrinks to leave the map half the height
        while QFontMetricsF(f_note).boundingRect(QRectF(0, 0, cos_w, 10_000), flags, note).height() > \
                (self.height() - top - m) / 2 and f_note.pointSizeF() > 7:
            f_note.setPointSizeF(f_note.pointSizeF() * 0.9)
        note_h = QFontMetricsF(f_note).boundingRect(QRectF(0, 0, cos_w, 10_000), flags, note).height()
        below_l = line_height(f_tick) + 2 + yours_h
        area_h = max(40.0, self.height() - top - m - max(below_l, 0.0))
        self._map_rect = QRectF(m + axis_w, top, map_w, area_h)
        lim = float(np.abs(self.table).max()) or 1.0
        draw_heat(p, self._map_rect, self.table, theme.SCORE_CMAP, -lim, lim, numbers=False, outline=c.faint)
        # ticks for positions (as many as fit), and the text's own positions bracketed
        p.setFont(f_tick)
        p.setPen(c.dim)
        row_h = self._map_rect.height() / n_ctx
        tick_h = line_height(f_tick)
        n_ticks = int(max(1, min(5, self._map_rect.height() // (tick_h * 1.5))))
        for k in (np.linspace(0, n_ctx - 1, n_ticks).astype(int) if n_ticks > 1 else [0]):
            yk = self._map_rect.top() + (k + 0.5) * row_h
            yk = min(max(yk, self._map_rect.top() + tick_h / 2), self._map_rect.bottom() - tick_h / 2)
            p.drawText(QRectF(m, yk - tick_h / 2, axis_w - 8, tick_h), Qt.AlignRight | Qt.AlignVCenter, str(k))
        if self.n_tokens:
            x0 = self._map_rect.left() - 4
            p.setPen(QPen(c.accent, 3))
            p.drawLine(QPointF(x0, self._map_rect.top()), QPointF(x0, self._map_rect.top() + self.n_tokens * row_h))
            yq = self._map_rect.top() + (self.query + 0.5) * row_h
            p.drawLine(QPointF(self._map_rect.left(), yq), QPointF(self._map_rect.right(), yq))
        p.setFont(f_tick)
        p.setPen(c.dim)
        below = QRectF(self._map_rect.left(), self._map_rect.bottom() + 2, map_w, tick_h)
        p.drawText(below, Qt.AlignLeft | Qt.AlignVCenter, "i = 0")
        p.drawText(below, Qt.AlignRight | Qt.AlignVCenter, f"i = {d - 1}")
        if yours:
            p.setPen(c.accent)
            p.drawText(QRectF(self._map_rect.left(), below.bottom() + 2, map_w, yours_h), flags, yours)
        # cosine between positions: a square as large as fits with its note under it
        side = max(20.0, min(cos_w, self.height() - top - m - note_h - 4))
        self._cos_rect = QRectF(cx, top, side, side)
        draw_heat(p, self._cos_rect, self.cosine, theme.SCORE_CMAP, -1.0, 1.0, numbers=False, outline=c.faint)
        p.setFont(f_note)
        p.setPen(c.dim)
        p.drawText(QRectF(cx, self._cos_rect.bottom() + 4, cos_w, note_h), flags, note)

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
