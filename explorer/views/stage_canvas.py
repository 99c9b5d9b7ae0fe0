"""The step-through's stage drawing: one head's computation for one query, stage by stage,
in the source documents' notation (a painted canvas; the numbers come from HeadSteps), then the
rest of its block for the same token (:mod:`explorer.views.block_canvas`, from BlockSteps)."""


from __future__ import annotations

import numpy as np
from PySide6.QtCore import QCoreApplication, QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QWidget

from explorer import theme
from explorer.names import BLOCK_STAGES, HEAD_STAGES, STAGES
from explorer.views.block_canvas import BlockStages
from explorer.views.block_text import block_chip, block_formula
from explorer.views.delta_stage import DeltaStage
from explorer.views.key_rows import KeyRows, lay_out
from explorer.views.paint import (
    Colours,
    begin_paint,
    draw_hatched,
    draw_heat,
    draw_rich,
    fmt,
    font,
    line_height,
    rich_width,
    symmetric,
    text_width,
)
from explorer.views.stage_text import CHIPS, MAX_LABEL, _label, _tr, formula  # noqa: F401 (re-exported)
from model.analysis.block_steps import BlockSteps
from model.analysis.stepthrough import HeadSteps


class StageCanvas(BlockStages, DeltaStage, QWidget):
    """Paints the current stage: stage chips, formula, and the stage's numbers."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.steps: HeadSteps | None = None
        self.stage = 0
        self.message = QCoreApplication.translate("StepThrough", "Type some text to trace.")
        self.note = ""
        self.vocabulary: tuple[str, ...] = ()
        self.unembed_note = ""
        self.shown_keys: list[int] = []  # the keys listed by the last paint
        self.key_rows: KeyRows | None = None
        self.key_offset: int | None = None  # the wheel's window start (None: the keys up to the query)
        self.chip_rects: list[QRectF] = []
        self.chip_stages: list[int] = []  # the stage (index into STAGES) of each chip
        self.on_chip = None  # called with a stage index when a chip is clicked
        self.block: BlockSteps | None = None  # the rest of the block, for the block stages
        self.block_message = ""  # why there is no block yet
        self.sequence: tuple[int, ...] = tuple(range(len(HEAD_STAGES)))  # the stages stepped through
        self.shown: dict = {}  # what the last paint of a block stage showed (name → number)

    def mousePressEvent(self, event) -> None:  # noqa: N802 (Qt API)
        for n, rect in enumerate(self.chip_rects):
            if rect.contains(event.position()) and self.on_chip is not None:
                self.on_chip(self.chip_stages[n])
                return
        super().mousePressEvent(event)

    def show_steps(self, steps: HeadSteps | None, stage: int, message: str = "", note: str = "",
                   block: BlockSteps | None = None, block_message: str = "",
                   sequence: tuple[int, ...] | None = None) -> None:
        if steps is None or self.steps is None or (steps.layer, steps.head, steps.query, len(steps.tokens)) != (
                self.steps.layer, self.steps.head, self.steps.query, len(self.steps.tokens)):
            self.key_offset = None  # another query or text: the window follows the query again
        self.steps, self.stage, self.message, self.note = steps, stage, message, note
        self.block, self.block_message = block, block_message
        self.sequence = tuple(sequence) if sequence is not None else tuple(range(len(HEAD_STAGES)))
        self.update()

    @property
    def block_stage(self) -> bool:
        return STAGES[self.stage] in BLOCK_STAGES

    def _formula(self) -> tuple[str, str]:
        if self.block_stage:
            return block_formula(self.block, STAGES[self.stage])
        return formula(self.steps, self.stage)

    # ------------------------------------------------------------------ painting
    def paintEvent(self, event) -> None:  # noqa: N802 (Qt API)
        p, c = begin_paint(self)
        m = 12.0
        y = m
        y = self._chips(p, c, m, y) + 6
        width = self.width() - 2 * m
        self.shown = {}
        block = self.block_stage
        if self.steps is None or (block and self.block is None):
            p.setFont(font(1.3))
            p.setPen(c.fg)
            text = self.message if self.steps is None else (
                self.block_message or QCoreApplication.translate("StepThrough", "computing the rest of the block…"))
            p.drawText(QRectF(m, y, width, self.height() - y - m),
                       Qt.AlignLeft | Qt.AlignTop | Qt.TextWordWrap, text)
            return
        s = self.steps
        T = len(s.tokens)
        # Compact when the keys would not all fit below the full heading (a lesson caption on a
        # 1024 × 768 projector): no title line, a smaller formula, the gloss on one line.
        compact = self._header_height(s, width, compact=False) + self._rows_needed(6 if block else T) > self.height() - y - m
        if not compact:
            if block:
                b = self.block
                title = QCoreApplication.translate("StepThrough", "layer {layer} · after the heads · “{token}” (token {i} of {n})").format(
                    layer=b.layer, token=_label(b.token), i=b.query, n=T)
            else:
                title = QCoreApplication.translate("StepThrough", "layer {layer} · head {head} · query “{token}” (token {i} of {n})").format(
                    layer=s.layer, head=s.head, token=_label(s.tokens[s.query]), i=s.query, n=T)
            f_title = font(1.0, bold=True)
            p.setFont(f_title)
            p.setPen(c.dim)
            # one line, shortened with "…" when narrow (it ran off the canvas)
            p.drawText(QRectF(m, y, width, line_height(f_title)), Qt.AlignLeft | Qt.AlignVCenter,
                       p.fontMetrics().elidedText(title, Qt.ElideRight, int(width)))
            y += line_height(f_title) + 2
        big, gloss = self._formula()
        f_big = self._formula_font(big, width, compact)
        draw_rich(p, QRectF(m, y, width, line_height(f_big) * 1.15), big, f_big, c.fg)
        y += line_height(f_big) * 1.15
        f_gloss = font(0.9)
        p.setFont(f_gloss)
        p.setPen(c.dim)
        gloss = f"{gloss}    {self.note}" if self.note else gloss
        if not compact:  # compact: the rows have the room (a lesson's caption says what the stage does)
            box = p.boundingRect(QRectF(m, y, width, 10_000), Qt.AlignLeft | Qt.AlignTop | Qt.TextWordWrap, gloss)
            p.drawText(QRectF(m, y, width, box.height()), Qt.AlignLeft | Qt.AlignTop | Qt.TextWordWrap, gloss)
            y += box.height() + 6
        elif self.note:  # compact: the gloss gives way, what the numbers are (float32's, cut text) does not
            h = line_height(f_gloss)
            p.drawText(QRectF(m, y, width, h), Qt.AlignLeft | Qt.AlignVCenter,
                       p.fontMetrics().elidedText(self.note, Qt.ElideRight, int(width)))
            y += h + 4
        else:
            y += 4
        body = QRectF(m, y, width, self.height() - y - m)
        if block:
            getattr(self, f"_block_{STAGES[self.stage]}")(p, c, body, self.block)
        else:
            getattr(self, f"_stage_{STAGES[self.stage]}")(p, c, body, s)

    @staticmethod
    def _formula_font(big: str, width: float, compact: bool):
        f_big = font(1.2 if compact else 1.7)
        while rich_width(big, f_big) > width and f_big.pointSizeF() > font(0.6).pointSizeF():
            f_big.setPointSizeF(f_big.pointSizeF() * 0.92)  # the formula shrinks to fit, never cut
        return f_big

    def _header_height(self, s: HeadSteps, width: float, compact: bool) -> float:
        """The heading's height under the chips: title, formula, gloss."""
        big, gloss = self._formula()
        h = line_height(self._formula_font(big, width, compact)) * 1.15 + (4 if compact else line_height(font(0.9)) * 2 + 8)
        return h if compact else h + line_height(font(1.0, bold=True)) + 2

    @staticmethod
    def _rows_needed(n: int) -> float:
        """Height for a column heading and ``n`` key rows at their smallest."""
        return line_height(font(0.9)) + 4 + n * line_height(font(1.0)) * 1.1 + line_height(font(1.1)) * 1.4

    def minimumSizeHint(self):  # noqa: N802 (Qt API)
        """Room for the chips, a compact heading and three key rows: below that the tab
        scrolls (at 2× text on a small screen) rather than list one key."""
        from PySide6.QtCore import QSize

        chips = line_height(font(0.95, bold=True)) + 6
        heading = line_height(font(1.2)) * 1.15 + 4
        return QSize(320, int(24 + chips + 6 + heading + self._rows_needed(3)))

    def _chips(self, p: QPainter, c: Colours, x: float, y: float) -> float:
        """The stage chips on one line: named, or where they do not fit only the stage shown
        named and the others by number (two or three rows of chips took the rows' room)."""
        f = font(0.95, bold=True)
        p.setFont(f)
        h = line_height(f) + 6
        self.chip_stages = list(self.sequence)
        current = self.chip_stages.index(self.stage) if self.stage in self.chip_stages else 0
        names = [f"{n + 1} {_tr(CHIPS[stage]) if stage < len(CHIPS) else block_chip(self.block, STAGES[stage])}"
                 for n, stage in enumerate(self.chip_stages)]
        room = self.width() - 2 * x
        pad, gap = 18.0, 6.0
        if sum(text_width(f, t) + pad + gap for t in names) > room:
            names = [t if n == current else str(n + 1) for n, t in enumerate(names)]
            pad, gap = 12.0, 4.0  # numbered chips, tighter: one row on a narrow canvas
        lo, hi = self._chip_window([text_width(f, t) + pad + gap for t in names], current, room,
                                   text_width(f, "…") + gap)
        more_before, more_after = lo > 0, hi < len(names)
        names, self.chip_stages, current = names[lo:hi], self.chip_stages[lo:hi], current - lo
        self.chip_rects = []
        x0 = x
        if more_before:  # the block's stages made the chips a second row: a window of them, "…" either side
            p.setPen(c.dim)
            p.drawText(QRectF(x, y, text_width(f, "…") + gap, h), Qt.AlignLeft | Qt.AlignVCenter, "…")
            x += text_width(f, "…") + gap
        for n, text in enumerate(names):
            w = text_width(f, text) + pad
            if x > x0 and x + w > self.width() - x0:  # wrap onto a second row rather than clip
                x, y = x0, y + h + 6
            rect = QRectF(x, y, w, h)
            self.chip_rects.append(rect)
            if n == current:
                p.setBrush(c.accent)
                p.setPen(Qt.NoPen)
                p.drawRoundedRect(rect, 6, 6)
                p.setPen(c.bg)
            else:
                p.setBrush(Qt.NoBrush)
                p.setPen(QPen(c.faint if n > current else c.dim, 1.5))
                p.drawRoundedRect(rect, 6, 6)
                p.setPen(c.dim if n > current else c.fg)
            p.drawText(rect, Qt.AlignCenter, text)
            x += w + gap
        if more_after:
            p.setPen(c.dim)
            p.drawText(QRectF(x, y, text_width(f, "…") + gap, h), Qt.AlignLeft | Qt.AlignVCenter, "…")
        return y + h

    @staticmethod
    def _chip_window(widths: list[float], current: int, room: float, dots: float) -> tuple[int, int]:
        """The chips [lo, hi) shown: all when they fit ``room``, else as many around the
        current one as fit beside a "…" at either end (more after it than before: → is the
        key pressed most)."""
        if sum(widths) <= room:
            return 0, len(widths)
        room -= 2 * dots
        lo, hi, used = current, current + 1, widths[current]
        while True:
            grew = False
            for side in (1, 1, -1):
                if side > 0 and hi < len(widths) and used + widths[hi] <= room:
                    used, hi, grew = used + widths[hi], hi + 1, True
                elif side < 0 and lo > 0 and used + widths[lo - 1] <= room:
                    used, lo, grew = used + widths[lo - 1], lo - 1, True
            if not grew:
                return lo, hi

    # ------------------------------------------------------------------ layout helpers
    def _key_rows(self, body: QRectF, s: HeadSteps, reserve: float = 0.0, top: float | None = None) -> KeyRows:
        """The keys listed in ``body`` below ``reserve`` pixels (or from ``top``): all that fit,
        else the query, the keys it weighs most and a window the wheel scrolls, with a marker
        row for each run left out (:mod:`explorer.views.key_rows`)."""
        f = font(1.0)
        start = body.top() + reserve if top is None else top
        rows = lay_out(len(s.tokens), s.query, s.causal, s.weights, start, body.bottom() - start,
                       line_height(f) * 1.1, line_height(f) * 2.4, self.key_offset, line_height(font(0.8)) * 1.05)
        self.key_rows = rows
        self.shown_keys = rows.keys
        return rows

    def wheelEvent(self, event) -> None:  # noqa: N802 (Qt API)
        """The wheel scrolls the window of keys when not all are listed."""
        rows = self.key_rows
        if rows is None or rows.complete or self.steps is None:
            super().wheelEvent(event)
            return
        step = -1 if event.angleDelta().y() > 0 else 1
        n = len(self.steps.tokens)
        self.key_offset = max(0, min(n - max(rows.window, 1), rows.offset + step * max(1, rows.window // 2)))
        self.update()
        event.accept()

    def _gaps(self, p: QPainter, c: Colours, rows: KeyRows, x: float, right: float) -> None:
        """One thin row per run of keys not listed: how many, and their share of the weight."""
        f = font(0.8)
        p.setFont(f)
        p.setPen(c.dim)
        for gap in rows.gaps:
            text = QCoreApplication.translate("StepThrough", "⋮ {n} more keys ({first}–{last}) · Σ w = {w} · wheel to scroll").format(
                n=gap.count, first=gap.first, last=gap.first + gap.count - 1, w=fmt(gap.weight))
            rect = QRectF(x, gap.top, right - x, gap.height)
            p.drawText(rect, Qt.AlignLeft | Qt.AlignVCenter,
                       p.fontMetrics().elidedText(text, Qt.ElideRight, int(rect.width())))

    def _labels(self, p: QPainter, c: Colours, s: HeadSteps, rows: KeyRows, x: float) -> float:
        """Token labels right-aligned in a column starting at ``x``; returns the column's right edge."""
        keys = rows.keys
        w = max(text_width(font(1.0, bold=j == s.query), _label(s.tokens[j])) for j in keys) + 12
        for j, top, h in rows.rows:
            rect = QRectF(x, top, w - 8, h)
            is_q = j == s.query
            p.setFont(font(1.0, bold=is_q))
            p.setPen(c.accent if is_q else c.fg)
            p.drawText(rect, Qt.AlignRight | Qt.AlignVCenter, _label(s.tokens[j]))
        self._gaps(p, c, rows, x, self.width() - 12)
        return x + w

    def _header(self, p: QPainter, c: Colours, x: float, y: float, w: float, text: str,
                align=Qt.AlignLeft) -> None:
        """A column's heading, within its column: its explanation in brackets goes first, then
        it shrinks (a wider heading ran into the next: "q ·÷k5.6569")."""
        f = font(0.9, bold=True)
        if rich_width(text, f) > w and "   (" in text:
            text = text.split("   (")[0]
        while rich_width(text, f) > w and f.pointSizeF() > font(0.6).pointSizeF():
            f.setPointSizeF(f.pointSizeF() * 0.9)
        if rich_width(text, f) <= w + 1:
            draw_rich(p, QRectF(x, y, w, line_height(font(0.9, bold=True))), text, f, c.dim, align)

    def _bar(self, p: QPainter, rect: QRectF, value: float, limit: float, colour: QColor, zero_frac: float) -> None:
        """A horizontal bar from the zero line (at ``zero_frac`` of the width) to ``value``."""
        if not np.isfinite(value):
            return
        zero = rect.left() + rect.width() * zero_frac
        span = rect.width() * (1 - zero_frac if value >= 0 else zero_frac)
        length = span * min(1.0, abs(value) / limit) if limit > 0 else 0.0
        h = rect.height() * 0.6
        top = rect.center().y() - h / 2
        bar = QRectF(zero, top, length, h) if value >= 0 else QRectF(zero - length, top, length, h)
        p.fillRect(bar, colour)

    def _zero_line(self, p: QPainter, c: Colours, rect: QRectF, zero_frac: float) -> None:
        x = rect.left() + rect.width() * zero_frac
        p.setPen(QPen(c.faint, 1.5))
        p.drawLine(QPointF(x, rect.top()), QPointF(x, rect.bottom()))

    def _strips(self, p: QPainter, c: Colours, s: HeadSteps, rows: KeyRows, values: np.ndarray, x: float,
                w: float, limit: float, outline_query: bool = True) -> None:
        f = font(0.85)
        for j, top, h in rows.rows:
            rect = QRectF(x, top + 2, w, h - 4)
            outline = c.accent if (outline_query and j == s.query) else None
            draw_heat(p, rect, values[j][None, :], theme.SCORE_CMAP, -limit, limit, number_font=f, outline=outline)

    _num_scale = 1.0  # the number columns' text size, smaller when the columns would not fit

    def _number_column(self, p: QPainter, c: Colours, s: HeadSteps, rows: KeyRows, values: np.ndarray,
                       x: float, w: float, masked: np.ndarray | None = None) -> None:
        f = font(self._num_scale, mono=True)
        p.setFont(f)
        for j, top, h in rows.rows:
            rect = QRectF(x, top + 2, w, h - 4)
            if masked is not None and masked[j]:
                draw_hatched(p, rect, c.masked)
                p.setPen(QColor(245, 245, 245))
                p.setFont(font(self._num_scale, bold=True, mono=True))
                p.drawText(rect, Qt.AlignCenter, "−∞")
                p.setFont(f)
                continue
            p.setPen(c.accent if j == s.query else c.fg)
            p.drawText(rect.adjusted(0, 0, -6, 0), Qt.AlignRight | Qt.AlignVCenter, fmt(float(values[j])))

    def _num_w(self, values, caption: str = "") -> float:
        """A number column's width: its numbers, and its heading (a heading wider than its
        numbers ran into the next one: "q ·÷k5.6569")."""
        f = font(self._num_scale, mono=True)
        head = rich_width(caption, font(0.9 * self._num_scale, bold=True)) + 8 if caption else 0.0
        return max([text_width(f, fmt(float(v))) for v in values] + [text_width(f, "−∞"), text_width(f, "0.0000"), head]) + 16

    # ------------------------------------------------------------------ stages
    def _stage_input(self, p: QPainter, c: Colours, body: QRectF, s: HeadSteps) -> None:
        header_h = line_height(font(0.9)) + 4
        rows = self._key_rows(body, s, header_h)
        keys = rows.keys
        x = self._labels(p, c, s, rows, body.left())
        norms = np.linalg.norm(s.x, axis=1)
        num_w = self._num_w(norms[keys], "‖x_j‖")
        two = s.embed is not None and s.x_formula.startswith("LN")
        avail = body.right() - x - num_w - 8
        d = s.x.shape[1]
        strip_w = (avail - 16) / 2 if two else avail
        if two:
            lim_e = symmetric(s.embed[keys])
            self._header(p, c, x, body.top(), strip_w, QCoreApplication.translate("StepThrough", "E_j + P_j   ({d} numbers)").format(d=d))
            self._strips(p, c, s, rows, s.embed, x, strip_w, lim_e, outline_query=False)
            x += strip_w + 16
        lim = symmetric(s.x[keys])
        self._header(p, c, x, body.top(), strip_w, QCoreApplication.translate("StepThrough", "x_j = {formula}   ({d} numbers)").format(formula=s.x_formula, d=d))
        self._strips(p, c, s, rows, s.x, x, strip_w, lim)
        self._header(p, c, x + strip_w + 8, body.top(), num_w, "‖x_j‖", Qt.AlignRight)
        self._number_column(p, c, s, rows, norms, x + strip_w + 8, num_w)

    def _matrix(self, p: QPainter, c: Colours, rect: QRectF, m: np.ndarray, caption: str) -> None:
        f = font(0.9, bold=True)
        self._header(p, c, rect.left(), rect.top(), rect.width(), caption)
        top = rect.top() + line_height(f) + 2
        area = QRectF(rect.left(), top, rect.width(), rect.bottom() - top)
        rows, cols = m.shape
        # keep cells roughly square when the matrix is small, fill the area when large
        cell = min(area.width() / cols, area.height() / rows)
        if rows * cols <= 400:
            area = QRectF(area.left(), area.top(), cell * cols, cell * rows)
        lim = symmetric(m)
        draw_heat(p, area, m, theme.SCORE_CMAP, -lim, lim, number_font=font(0.9), outline=c.faint)

    def _stage_qk(self, p: QPainter, c: Colours, body: QRectF, s: HeadSteps) -> None:
        d, dh = s.w_q.shape
        left_w = min(body.width() * 0.3, 360.0)
        half = (body.height() - 12) / 2
        self._matrix(p, c, QRectF(body.left(), body.top(), left_w, half), s.w_q, f"W_Q   ({d} × {dh})")
        self._matrix(p, c, QRectF(body.left(), body.top() + half + 12, left_w, half), s.w_k, f"W_K   ({d} × {dh})")
        right = QRectF(body.left() + left_w + 24, body.top(), body.width() - left_w - 24, body.height())
        header_h = line_height(font(0.9)) + 4
        lim = symmetric(s.q, s.k)
        # the query's q on top, then every key's k_j
        q_label = f"q  “{_label(s.tokens[s.query])}”"
        f = font(1.0, bold=True)
        label_w = max(text_width(font(1.0, bold=True), q_label), *(text_width(font(1.0), _label(t)) for t in s.tokens)) + 12
        label_w = min(label_w, right.width() * 0.35)
        qh = line_height(f) * 1.6
        top = right.top()
        rows_q = [(QCoreApplication.translate("StepThrough", "q   ({dh} numbers)").format(dh=dh), s.q)]
        if s.q_before is not None:  # RoPE: x W_Q, then the same vector turned by the position's angles
            rows_q = [(QCoreApplication.translate("StepThrough", "q = x W_Q   ({dh} numbers, before RoPE)").format(dh=dh), s.q_before),
                      (QCoreApplication.translate("StepThrough", "q after RoPE: rotated by position {i}").format(i=s.query), s.q)]
            lim = symmetric(s.q, s.k, s.q_before)
        for caption, vector in rows_q:
            self._header(p, c, right.left() + label_w, top, right.width() - label_w, caption)
            p.setFont(f)
            p.setPen(c.accent)
            p.drawText(QRectF(right.left(), top + header_h, label_w - 8, qh), Qt.AlignRight | Qt.AlignVCenter,
                       p.fontMetrics().elidedText(q_label, Qt.ElideRight, int(label_w - 8)))
            draw_heat(p, QRectF(right.left() + label_w, top + header_h + 2, right.width() - label_w, qh - 4),
                      vector[None, :], theme.SCORE_CMAP, -lim, lim, number_font=font(0.85), outline=c.accent)
            top += header_h + qh + 10
        k_caption = (QCoreApplication.translate("StepThrough", "k_j after RoPE (each rotated by its own position j)")
                     if s.k_before is not None else "k_j")
        if s.kv_head is not None:
            k_caption += QCoreApplication.translate("StepThrough", "   · key/value head {kv} of {n}, shared with other query heads").format(
                kv=s.kv_head, n=s.n_kv_heads)
        self._header(p, c, right.left() + label_w, top, right.width() - label_w, k_caption)
        area = QRectF(right.left(), top + header_h, right.width(), right.bottom() - top - header_h)
        rows = self._key_rows(area, s)
        x = self._labels(p, c, s, rows, area.left())
        self._strips(p, c, s, rows, s.k, max(x, area.left() + label_w),
                     area.right() - max(x, area.left() + label_w), lim, outline_query=False)

    def _scores_table(self, p: QPainter, c: Colours, body: QRectF, s: HeadSteps, columns, bar_values,
                      bar_limit: float, bar_colour, zero_frac: float, masked=None, strip=None) -> float:
        """Token | [strip] | number columns… | bar: the shape of stages 3–6."""
        header_h = line_height(font(0.9)) + 4
        rows = self._key_rows(body, s, header_h)
        keys = rows.keys
        x = self._labels(p, c, s, rows, body.left())
        finite = [v[keys][np.isfinite(v[keys])] for _, v, _ in columns]
        # the number columns fit the canvas: the strip goes first, then their text shrinks
        self._num_scale = 1.0
        while True:
            widths = [self._num_w(v, caption) for v, (caption, _, _) in zip(finite, columns, strict=True)]
            needed = sum(w + 10 for w in widths) + 50
            if needed <= body.right() - x:
                break
            if self._num_scale < 0.65:  # last, the headings' worked part goes ("÷ 5.6569 = s_j": s_j)
                columns = [(caption.split("= ")[-1], v, m) for caption, v, m in columns]
                widths = [self._num_w(v, caption) for v, (caption, _, _) in zip(finite, columns, strict=True)]
                needed = sum(w + 10 for w in widths) + 50
                break
            self._num_scale *= 0.9
        if strip is not None:
            values, caption, lim = strip
            w = min(body.width() * 0.3, 32.0 * values.shape[1], body.right() - x - needed - 12)
            if w >= 40:
                self._header(p, c, x, body.top(), w, caption)
                self._strips(p, c, s, rows, values, x, w, lim, outline_query=False)
                x += w + 12
        for w, (caption, values, col_masked) in zip(widths, columns, strict=True):
            self._header(p, c, x, body.top(), w, caption, Qt.AlignRight)
            self._number_column(p, c, s, rows, values, x, w, col_masked)
            x += w + 10
        self._num_scale = 1.0
        top = body.top() + header_h
        bar_rect = QRectF(x + 10, top, body.right() - x - 10, rows.bottom - top)
        if bar_rect.width() < 40:
            return rows.bottom
        self._zero_line(p, c, bar_rect, zero_frac)
        for j, row_top, h in rows.rows:
            row = QRectF(bar_rect.left(), row_top, bar_rect.width(), h)
            if masked is not None and masked[j]:
                continue
            colour = bar_colour(j) if callable(bar_colour) else bar_colour
            self._bar(p, row, float(bar_values[j]), bar_limit, colour, zero_frac)
        return rows.bottom

    @staticmethod
    def _zero(values: np.ndarray) -> float:
        """Where the bars' zero sits: left when all are ≥ 0, right when all ≤ 0, else centre."""
        finite = values[np.isfinite(values)]
        if finite.size == 0 or (finite >= 0).all():
            return 0.0
        return 1.0 if (finite <= 0).all() else 0.5

    def _score_colour(self, c: Colours, s: HeadSteps):
        def colour(j: int) -> QColor:
            return c.accent if j == s.query else c.fg
        return colour

    def _stage_dot(self, p, c, body, s) -> None:
        lim = symmetric(s.dots)
        zero = self._zero(s.dots)
        self._scores_table(p, c, body, s, [("q · k_j", s.dots, None)], s.dots, lim,
                           self._score_colour(c, s), zero, strip=(s.k, "k_j", symmetric(s.k)))

    def _stage_scale(self, p, c, body, s) -> None:
        lim = symmetric(s.scaled)
        zero = self._zero(s.scaled)
        cols = [("q · k_j", s.dots, None)]
        if s.divisor != 1.0:
            cols.append((f"÷ {fmt(s.divisor)} = s_j", s.scaled, None))
        self._scores_table(p, c, body, s, cols, s.scaled, lim, self._score_colour(c, s), zero)

    def _stage_mask(self, p, c, body, s) -> None:
        lim = symmetric(s.scaled[~s.is_masked])
        zero = self._zero(s.masked)
        self._scores_table(p, c, body, s, [("s_j", s.scaled, None), (QCoreApplication.translate("StepThrough", "masked"), s.masked, s.is_masked)],
                           s.masked, lim, self._score_colour(c, s), zero, masked=s.is_masked)

    def _stage_softmax(self, p, c, body, s) -> None:
        def colour(j: int) -> QColor:
            return theme.ATTENTION_CMAP.map(0.25 + 0.75 * float(s.weights[j]), mode="qcolor")
        foot = line_height(font(1.1)) * 1.4
        table = QRectF(body.left(), body.top(), body.width(), body.height() - foot)
        bottom = self._scores_table(p, c, table, s, [("s_j", s.masked, s.is_masked), ("w_j", s.weights, None)],
                                    s.weights, 1.0, colour, 0.0, masked=s.is_masked)
        shown = "" if len(self.shown_keys) == len(s.tokens) else QCoreApplication.translate("StepThrough", "   (over all keys, not only those shown)")
        text = f"Σ_j w_j = {s.weights.sum():.4f}{shown}"
        f = font(1.1, bold=True)
        if rich_width(text, f) > body.width():
            text = f"Σ_j w_j = {s.weights.sum():.4f}"
        draw_rich(p, QRectF(body.left(), bottom + 4, body.width(), foot), text, f, c.fg)

    def _stage_values(self, p, c, body, s) -> None:
        header_h = line_height(font(0.9)) + 4
        foot = line_height(font(1.0)) * 2.0
        rows = self._key_rows(QRectF(body.left(), body.top(), body.width(), body.height() - foot - 8), s, header_h)
        keys = rows.keys
        x = self._labels(p, c, s, rows, body.left())
        num_w = self._num_w(s.weights[keys], "w_j")
        self._header(p, c, x, body.top(), num_w, "w_j", Qt.AlignRight)
        self._number_column(p, c, s, rows, s.weights, x, num_w, s.is_masked)
        x += num_w + 8
        f_op = font(1.1)
        op_w = text_width(f_op, "×") + 16
        strip_w = (body.right() - x - 2 * op_w) / 2
        lim = symmetric(s.v[keys])
        p.setFont(f_op)
        p.setPen(c.dim)
        for _j, top, h in rows.rows:
            p.drawText(QRectF(x, top, op_w, h), Qt.AlignCenter, "×")
            p.drawText(QRectF(x + op_w + strip_w, top, op_w, h), Qt.AlignCenter, "=")
        x += op_w
        self._header(p, c, x, body.top(), strip_w, "v_j")
        self._strips(p, c, s, rows, s.v, x, strip_w, lim, outline_query=False)
        x2 = x + strip_w + op_w
        self._header(p, c, x2, body.top(), strip_w, QCoreApplication.translate("StepThrough", "w_j v_j   (same colour scale: small weights fade)"))
        self._strips(p, c, s, rows, s.weighted_values, x2, strip_w, lim, outline_query=False)
        # the sum
        y = rows.bottom + 8
        p.setPen(QPen(c.fg, 2))
        p.drawLine(QPointF(x2, y), QPointF(x2 + strip_w, y))
        f_sum = font(1.1, bold=True)
        total = QCoreApplication.translate("StepThrough", "z = Σ_j w_j v_j   (its own scale) =")
        room = QRectF(body.left(), y + 4, x2 - 8 - body.left(), foot - 8)
        if rich_width(total, f_sum) > room.width():
            total = "z ="  # the long form does not fit left of the sum: its short form does
        draw_rich(p, room, total, f_sum, c.accent, Qt.AlignRight)
        lim_z = symmetric(s.z)
        if s.z.size <= 8:  # a worked example's short z: its numbers, as the book prints them
            text = "(" + ", ".join(fmt(float(v)) for v in s.z) + ")"
            f_z = font(1.0, mono=True)
            while text_width(f_z, text) > body.right() - x2 and f_z.pointSizeF() > 7:
                f_z.setPointSizeF(f_z.pointSizeF() * 0.9)
            p.setFont(f_z)
            p.setPen(c.accent)
            p.drawText(QRectF(x2, y + 4, body.right() - x2, foot - 8), Qt.AlignLeft | Qt.AlignVCenter, text)
        else:
            draw_heat(p, QRectF(x2, y + 4, strip_w, foot - 8), s.z[None, :], theme.SCORE_CMAP, -lim_z, lim_z,
                      number_font=font(0.85), outline=c.accent)
