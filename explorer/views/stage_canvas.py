"""The step-through's stage drawing: one head's computation for one query, stage by stage,
in the source documents' notation (a painted canvas; the numbers come from HeadSteps)."""


from __future__ import annotations

import numpy as np
from PySide6.QtCore import QT_TRANSLATE_NOOP, QCoreApplication, QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QWidget

from explorer import theme
from explorer.names import STAGES, Stage
from explorer.views.paint import (
    Colours,
    begin_paint,
    draw_hatched,
    draw_heat,
    draw_rich,
    fmt,
    font,
    line_height,
    symmetric,
    text_width,
)
from model.analysis.stepthrough import HeadSteps

CHIPS = ("x", "q, k", "q·k", "÷√d", QT_TRANSLATE_NOOP("StepThrough", "mask"), "softmax", "Σ w v", "ΔE")
MAX_LABEL = 12  # characters of a token label


def _tr(text: str) -> str:
    return QCoreApplication.translate("StepThrough", text)


def _label(token: str) -> str:
    token = token.replace("\n", "⏎").replace(" ", "␣") if token.strip() == "" else token.strip()
    return token if len(token) <= MAX_LABEL else token[: MAX_LABEL - 1] + "…"


def formula(steps: HeadSteps, stage: int) -> tuple[str, str]:
    """The stage's formula in the documents' notation, and one sentence saying what it does."""
    i, tok = steps.query, _label(steps.tokens[steps.query])
    dh = steps.d_head
    name = STAGES[stage]
    if name == Stage.INPUT:
        f = f"x_j = {steps.x_formula.replace('resid', 'resid_j').replace('E + P', 'E_j + P_j')}"
        return f, (QCoreApplication.translate("StepThrough", "every token's row as this head reads it: token embedding E plus position P")
                   if steps.embed is not None else QCoreApplication.translate("StepThrough", "every token's residual vector as this head reads it"))
    if name == Stage.QK:
        bq = " + b_Q" if steps.b_q.any() else ""
        bk = " + b_K" if steps.b_k.any() else ""
        return (f"q = x_{i} W_Q{bq}      k_j = x_j W_K{bk}",
                QCoreApplication.translate("StepThrough", "“{token}” asks with its query; every token answers with its key ({dh} numbers each)").format(
                    token=tok, dh=dh))
    if name == Stage.DOT:
        return "q · k_j = Σ q_i k_j,i", QCoreApplication.translate("StepThrough", "how well each key lines up with the query of “{token}”").format(token=tok)
    if name == Stage.SCALE:
        if steps.divisor == 1.0:
            return (QCoreApplication.translate("StepThrough", "q · k_j   (no ÷ √d_head)"),
                    QCoreApplication.translate("StepThrough", "this model does not scale its scores, as in the document's example"))
        return f"s_j = q · k_j / √d_head = q · k_j / {fmt(steps.divisor)}", \
            QCoreApplication.translate("StepThrough", "√{dh} keeps the scores of {dh}-number vectors from growing with d_head").format(dh=dh)
    if name == Stage.MASK:
        if not steps.causal:
            return QCoreApplication.translate("StepThrough", "s_j  (no mask)"), QCoreApplication.translate("StepThrough", "an encoder: every token sees every other token, nothing is masked")
        return (QCoreApplication.translate("StepThrough", "s_j = −∞  for  j > i"),
                QCoreApplication.translate("StepThrough", "a token may not look ahead: keys after “{token}” become −∞, so exp(−∞) = 0").format(token=tok))
    if name == Stage.SOFTMAX:
        return ("w_j = exp(s_j) / Σ_k exp(s_k)",
                QCoreApplication.translate("StepThrough", "the weights are positive and sum to 1: this row of the attention pattern"))
    if name == Stage.VALUES:
        bv = " + b_V" if steps.b_v.any() else ""
        return f"v_j = x_j W_V{bv}      z = Σ_j w_j v_j", QCoreApplication.translate("StepThrough", "each value, scaled by its weight, then added up")
    return "ΔE = z W_O      E ← E + ΔE", QCoreApplication.translate("StepThrough", "the head's contribution, added to the residual vector of “{token}”").format(
        token=tok)


class StageCanvas(QWidget):
    """Paints the current stage: stage chips, formula, and the stage's numbers."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.steps: HeadSteps | None = None
        self.stage = 0
        self.message = QCoreApplication.translate("StepThrough", "Type some text to trace.")
        self.note = ""
        self.vocabulary: tuple[str, ...] = ()
        self.unembed_note = ""
        self.shown_keys: range = range(0)
        self.chip_rects: list[QRectF] = []
        self.on_chip = None  # called with a stage index when a chip is clicked
        self.setMinimumSize(480, 320)

    def mousePressEvent(self, event) -> None:  # noqa: N802 (Qt API)
        for n, rect in enumerate(self.chip_rects):
            if rect.contains(event.position()) and self.on_chip is not None:
                self.on_chip(n)
                return
        super().mousePressEvent(event)

    def show_steps(self, steps: HeadSteps | None, stage: int, message: str = "", note: str = "") -> None:
        self.steps, self.stage, self.message, self.note = steps, stage, message, note
        self.update()

    # ------------------------------------------------------------------ painting
    def paintEvent(self, event) -> None:  # noqa: N802 (Qt API)
        p, c = begin_paint(self)
        m = 16.0
        y = m
        y = self._chips(p, c, m, y) + 10
        if self.steps is None:
            p.setFont(font(1.3))
            p.setPen(c.fg)
            p.drawText(QRectF(m, y, self.width() - 2 * m, self.height() - y - m),
                       Qt.AlignLeft | Qt.AlignTop | Qt.TextWordWrap, self.message)
            return
        s = self.steps
        T = len(s.tokens)
        title = QCoreApplication.translate("StepThrough", "layer {layer} · head {head} · query “{token}” (token {i} of {n})").format(
            layer=s.layer, head=s.head, token=_label(s.tokens[s.query]), i=s.query, n=T)
        f_title = font(1.0, bold=True)
        p.setFont(f_title)
        p.setPen(c.dim)
        p.drawText(QPointF(m, y + line_height(f_title) * 0.8), title)
        y += line_height(f_title) + 4
        big, gloss = formula(s, self.stage)
        f_big = font(1.7)
        draw_rich(p, QRectF(m, y, self.width() - 2 * m, line_height(f_big) * 1.2), big, f_big, c.fg)
        y += line_height(f_big) * 1.2 + 2
        f_gloss = font(1.0)
        p.setFont(f_gloss)
        p.setPen(c.dim)
        gloss = f"{gloss}    {self.note}" if self.note else gloss
        p.drawText(QRectF(m, y, self.width() - 2 * m, line_height(f_gloss) * 2.2),
                   Qt.AlignLeft | Qt.AlignTop | Qt.TextWordWrap, gloss)
        y += line_height(f_gloss) * (2.2 if text_width(f_gloss, gloss) > self.width() - 2 * m else 1.2) + 8
        body = QRectF(m, y, self.width() - 2 * m, self.height() - y - m)
        getattr(self, f"_stage_{STAGES[self.stage]}")(p, c, body, s)

    def _chips(self, p: QPainter, c: Colours, x: float, y: float) -> float:
        f = font(0.95, bold=True)
        p.setFont(f)
        h = line_height(f) + 8
        self.chip_rects = []
        x0 = x
        for n, chip in enumerate(CHIPS):
            text = f"{n + 1} {_tr(chip)}"
            w = text_width(f, text) + 18
            if x > x0 and x + w > self.width() - x0:  # wrap onto a second row rather than clip
                x, y = x0, y + h + 6
            rect = QRectF(x, y, w, h)
            self.chip_rects.append(rect)
            if n == self.stage:
                p.setBrush(c.accent)
                p.setPen(Qt.NoPen)
                p.drawRoundedRect(rect, 6, 6)
                p.setPen(c.bg)
            else:
                p.setBrush(Qt.NoBrush)
                p.setPen(QPen(c.faint if n > self.stage else c.dim, 1.5))
                p.drawRoundedRect(rect, 6, 6)
                p.setPen(c.dim if n > self.stage else c.fg)
            p.drawText(rect, Qt.AlignCenter, text)
            x += w + 6
        return y + h

    # ------------------------------------------------------------------ layout helpers
    def _key_rows(self, body: QRectF, s: HeadSteps, reserve: float = 0.0) -> tuple[list[int], float]:
        """Which keys fit in ``body`` (a window around the query when not all do) and the row height."""
        T = len(s.tokens)
        f = font(1.0)
        min_h = line_height(f) * 1.25
        avail = body.height() - reserve
        n_fit = max(1, int(avail // min_h))
        if T <= n_fit:
            keys = list(range(T))
        else:
            end = min(T, max(n_fit, s.query + 1 + (0 if s.causal else n_fit // 2)))
            keys = list(range(end - n_fit, end))
        self.shown_keys = range(keys[0], keys[-1] + 1)
        row_h = min(avail / len(keys), line_height(f) * 2.4)
        return keys, row_h

    def _labels(self, p: QPainter, c: Colours, s: HeadSteps, keys: list[int], x: float, y0: float,
                row_h: float) -> float:
        """Token labels right-aligned in a column starting at ``x``; returns the column's right edge."""
        w = max(text_width(font(1.0, bold=j == s.query), _label(s.tokens[j])) for j in keys) + 12
        for r, j in enumerate(keys):
            rect = QRectF(x, y0 + r * row_h, w - 8, row_h)
            is_q = j == s.query
            p.setFont(font(1.0, bold=is_q))
            p.setPen(c.accent if is_q else c.fg)
            p.drawText(rect, Qt.AlignRight | Qt.AlignVCenter, _label(s.tokens[j]))
        return x + w

    def _header(self, p: QPainter, c: Colours, x: float, y: float, w: float, text: str,
                align=Qt.AlignLeft) -> None:
        f = font(0.9, bold=True)
        draw_rich(p, QRectF(x, y, w, line_height(f)), text, f, c.dim, align)

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

    def _strips(self, p: QPainter, c: Colours, s: HeadSteps, keys: list[int], rows: np.ndarray, x: float,
                y0: float, row_h: float, w: float, limit: float, outline_query: bool = True) -> None:
        f = font(0.85)
        for r, j in enumerate(keys):
            rect = QRectF(x, y0 + r * row_h + 2, w, row_h - 4)
            outline = c.accent if (outline_query and j == s.query) else None
            draw_heat(p, rect, rows[j][None, :], theme.SCORE_CMAP, -limit, limit, number_font=f, outline=outline)

    def _number_column(self, p: QPainter, c: Colours, s: HeadSteps, keys: list[int], values: np.ndarray,
                       x: float, y0: float, row_h: float, w: float, masked: np.ndarray | None = None) -> None:
        f = font(1.0, mono=True)
        p.setFont(f)
        for r, j in enumerate(keys):
            rect = QRectF(x, y0 + r * row_h + 2, w, row_h - 4)
            if masked is not None and masked[j]:
                draw_hatched(p, rect, c.masked)
                p.setPen(QColor(245, 245, 245))
                p.setFont(font(1.0, bold=True, mono=True))
                p.drawText(rect, Qt.AlignCenter, "−∞")
                p.setFont(f)
                continue
            p.setPen(c.accent if j == s.query else c.fg)
            p.drawText(rect.adjusted(0, 0, -6, 0), Qt.AlignRight | Qt.AlignVCenter, fmt(float(values[j])))

    def _num_w(self, values) -> float:
        f = font(1.0, mono=True)
        return max([text_width(f, fmt(float(v))) for v in values] + [text_width(f, "−∞"), text_width(f, "0.0000")]) + 16

    # ------------------------------------------------------------------ stages
    def _stage_input(self, p: QPainter, c: Colours, body: QRectF, s: HeadSteps) -> None:
        header_h = line_height(font(0.9)) + 4
        keys, row_h = self._key_rows(body, s, header_h)
        y0 = body.top() + header_h
        x = self._labels(p, c, s, keys, body.left(), y0, row_h)
        norms = np.linalg.norm(s.x, axis=1)
        num_w = self._num_w(norms[keys])
        two = s.embed is not None and s.x_formula.startswith("LN")
        avail = body.right() - x - num_w - 8
        d = s.x.shape[1]
        strip_w = (avail - 16) / 2 if two else avail
        if two:
            lim_e = symmetric(s.embed[keys])
            self._header(p, c, x, body.top(), strip_w, QCoreApplication.translate("StepThrough", "E_j + P_j   ({d} numbers)").format(d=d))
            self._strips(p, c, s, keys, s.embed, x, y0, row_h, strip_w, lim_e, outline_query=False)
            x += strip_w + 16
        lim = symmetric(s.x[keys])
        self._header(p, c, x, body.top(), strip_w, QCoreApplication.translate("StepThrough", "x_j = {formula}   ({d} numbers)").format(formula=s.x_formula, d=d))
        self._strips(p, c, s, keys, s.x, x, y0, row_h, strip_w, lim)
        self._header(p, c, x + strip_w + 8, body.top(), num_w, "‖x_j‖", Qt.AlignRight)
        self._number_column(p, c, s, keys, norms, x + strip_w + 8, y0, row_h, num_w)

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
            p.drawText(QRectF(right.left(), top + header_h, label_w - 8, qh), Qt.AlignRight | Qt.AlignVCenter, q_label)
            draw_heat(p, QRectF(right.left() + label_w, top + header_h + 2, right.width() - label_w, qh - 4),
                      vector[None, :], theme.SCORE_CMAP, -lim, lim, number_font=font(0.85), outline=c.accent)
            top += header_h + qh + 10
        k_caption = (QCoreApplication.translate("StepThrough", "k_j after RoPE (each rotated by its own position j)")
                     if s.k_before is not None else "k_j")
        if s.kv_head is not None:
            k_caption += QCoreApplication.translate("StepThrough", "   · key/value head {kv} of {n}, shared with other query heads").format(
                kv=s.kv_head, n=s.n_kv_heads)
        self._header(p, c, right.left() + label_w, top, right.width() - label_w, k_caption)
        rows = QRectF(right.left(), top + header_h, right.width(), right.bottom() - top - header_h)
        keys, row_h = self._key_rows(rows, s)
        x = self._labels(p, c, s, keys, rows.left(), rows.top(), row_h)
        self._strips(p, c, s, keys, s.k, max(x, rows.left() + label_w), rows.top(), row_h,
                     rows.right() - max(x, rows.left() + label_w), lim, outline_query=False)

    def _scores_table(self, p: QPainter, c: Colours, body: QRectF, s: HeadSteps, columns, bar_values,
                      bar_limit: float, bar_colour, zero_frac: float, masked=None, strip=None) -> float:
        """Token | [strip] | number columns… | bar: the shape of stages 3–6."""
        header_h = line_height(font(0.9)) + 4
        keys, row_h = self._key_rows(body, s, header_h)
        y0 = body.top() + header_h
        x = self._labels(p, c, s, keys, body.left(), y0, row_h)
        if strip is not None:
            rows, caption, lim = strip
            w = min(body.width() * 0.3, 32.0 * rows.shape[1])
            self._header(p, c, x, body.top(), w, caption)
            self._strips(p, c, s, keys, rows, x, y0, row_h, w, lim, outline_query=False)
            x += w + 12
        for caption, values, col_masked in columns:
            w = self._num_w(values[keys][np.isfinite(values[keys])])
            self._header(p, c, x, body.top(), w, caption, Qt.AlignRight)
            self._number_column(p, c, s, keys, values, x, y0, row_h, w, col_masked)
            x += w + 10
        bar_rect = QRectF(x + 10, y0, body.right() - x - 10, row_h * len(keys))
        if bar_rect.width() < 40:
            return bar_rect.bottom()
        self._zero_line(p, c, bar_rect, zero_frac)
        for r, j in enumerate(keys):
            row = QRectF(bar_rect.left(), y0 + r * row_h, bar_rect.width(), row_h)
            if masked is not None and masked[j]:
                continue
            colour = bar_colour(j) if callable(bar_colour) else bar_colour
            self._bar(p, row, float(bar_values[j]), bar_limit, colour, zero_frac)
        return bar_rect.bottom()

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
        header_h = line_height(font(0.9)) + 4
        foot = line_height(font(1.1)) * 1.6
        table = QRectF(body.left(), body.top(), body.width(), body.height() - foot)
        bottom = self._scores_table(p, c, table, s, [("s_j", s.masked, s.is_masked), ("w_j", s.weights, None)],
                           s.weights, 1.0, colour, 0.0, masked=s.is_masked)
        shown = "" if len(self.shown_keys) == len(s.tokens) else QCoreApplication.translate("StepThrough", "   (over all keys, not only those shown)")
        draw_rich(p, QRectF(body.left(), bottom + 6, body.width(), foot),
                  f"Σ_j w_j = {s.weights.sum():.4f}{shown}", font(1.1, bold=True), c.fg)
        del header_h

    def _stage_values(self, p, c, body, s) -> None:
        header_h = line_height(font(0.9)) + 4
        foot = line_height(font(1.0)) * 2.0
        keys, row_h = self._key_rows(body, s, header_h + foot + 8)
        y0 = body.top() + header_h
        x = self._labels(p, c, s, keys, body.left(), y0, row_h)
        num_w = self._num_w(s.weights[keys])
        self._header(p, c, x, body.top(), num_w, "w_j", Qt.AlignRight)
        self._number_column(p, c, s, keys, s.weights, x, y0, row_h, num_w, s.is_masked)
        x += num_w + 8
        f_op = font(1.1)
        op_w = text_width(f_op, "×") + 16
        strip_w = (body.right() - x - 2 * op_w) / 2
        lim = symmetric(s.v[keys])
        p.setFont(f_op)
        p.setPen(c.dim)
        for r in range(len(keys)):
            p.drawText(QRectF(x, y0 + r * row_h, op_w, row_h), Qt.AlignCenter, "×")
            p.drawText(QRectF(x + op_w + strip_w, y0 + r * row_h, op_w, row_h), Qt.AlignCenter, "=")
        x += op_w
        self._header(p, c, x, body.top(), strip_w, "v_j")
        self._strips(p, c, s, keys, s.v, x, y0, row_h, strip_w, lim, outline_query=False)
        x2 = x + strip_w + op_w
        self._header(p, c, x2, body.top(), strip_w, QCoreApplication.translate("StepThrough", "w_j v_j   (same colour scale: small weights fade)"))
        self._strips(p, c, s, keys, s.weighted_values, x2, y0, row_h, strip_w, lim, outline_query=False)
        # the sum
        y = y0 + len(keys) * row_h + 8
        p.setPen(QPen(c.fg, 2))
        p.drawLine(QPointF(x2, y), QPointF(x2 + strip_w, y))
        draw_rich(p, QRectF(x, y + 4, strip_w + op_w - 8, foot - 8), QCoreApplication.translate("StepThrough", "z = Σ_j w_j v_j   (its own scale) ="),
                  font(1.1, bold=True), c.accent, Qt.AlignRight)
        lim_z = symmetric(s.z)
        draw_heat(p, QRectF(x2, y + 4, strip_w, foot - 8), s.z[None, :], theme.SCORE_CMAP, -lim_z, lim_z,
                  number_font=font(0.85), outline=c.accent)

    def _stage_output(self, p, c, body, s) -> None:
        dh, d = s.w_o.shape
        left_w = min(body.width() * 0.26, 320.0)
        self._matrix(p, c, QRectF(body.left(), body.top(), left_w, min(body.height() * 0.55, 320.0)), s.w_o,
                     f"W_O   ({dh} × {d})")
        x = body.left() + left_w + 24
        w = body.right() - x
        f = font(1.0, bold=True)
        row = line_height(f) * 1.7
        lim = symmetric(s.residual, s.residual + s.delta)
        y = body.top()
        for caption, vec, l_, accent in (
            ("z", s.z, symmetric(s.z), False),
            (QCoreApplication.translate("StepThrough", "ΔE = z W_O   (its own colour scale)"), s.delta, symmetric(s.delta), True),
            (QCoreApplication.translate("StepThrough", "E   (the residual vector of “{token}”)").format(token=_label(s.tokens[s.query])), s.residual, lim, False),
            (QCoreApplication.translate("StepThrough", "E + ΔE   (same scale as E)"), s.residual + s.delta, lim, False),
        ):
            self._header(p, c, x, y, w, caption)
            y += line_height(font(0.9)) + 2
            draw_heat(p, QRectF(x, y, w, row - 6), vec[None, :], theme.SCORE_CMAP, -l_, l_,
                      number_font=font(0.85), outline=c.accent if accent else c.faint)
            y += row
        f_num = font(1.2, bold=True)
        p.setFont(f_num)
        p.setPen(c.fg)
        parts = [f"‖ΔE‖ = {fmt(s.delta_norm)}", f"‖E‖ = {fmt(float(np.linalg.norm(s.residual)))}",
                 f"cos(ΔE, E) = {s.cosine:+.3f}".replace("-", "−")]
        one_line = "    ".join(parts)
        lines = [one_line] if text_width(f_num, one_line) <= w else ["    ".join(parts[:2]), parts[2]]
        for line in lines:
            p.drawText(QPointF(x, y + line_height(f_num) * 0.9), line)
            y += line_height(f_num) * 1.15
        y += line_height(f_num) * 0.3
        # the tokens ΔE pushes up, directly through the unembedding
        tokens_top = max(y, body.top() + min(body.height() * 0.55, 320.0) + 16)
        area = QRectF(body.left(), tokens_top, body.width(), body.bottom() - tokens_top)
        if len(s.top_token_ids) == 0:
            p.setFont(font(1.0))
            p.setPen(c.dim)
            p.drawText(area, Qt.AlignLeft | Qt.AlignTop, QCoreApplication.translate("StepThrough", "No language-model head: ΔE raises no token's logit here."))
            return
        note = f" ({self.unembed_note})" if self.unembed_note else ""
        self._header(p, c, area.left(), area.top(), area.width(),
                     QCoreApplication.translate("StepThrough", "ΔE · u_t: the tokens this head pushes up most{note}").format(note=note))
        f_tok = font(1.0)
        n = len(s.top_token_ids)
        cols = 2 if area.height() < n * line_height(f_tok) * 1.3 + 30 else 1
        per_col = int(np.ceil(n / cols))
        top = area.top() + line_height(font(0.9)) + 6
        rh = min(line_height(f_tok) * 1.3, (area.bottom() - top) / max(per_col, 1))
        col_w = area.width() / cols
        gmax = float(np.abs(s.top_token_gains).max()) or 1.0
        for n_, (tid, gain) in enumerate(zip(s.top_token_ids, s.top_token_gains, strict=True)):
            cx = area.left() + (n_ // per_col) * col_w
            ry = top + (n_ % per_col) * rh
            if ry + rh > area.bottom() + 1:
                continue
            word = _label(self.vocabulary[tid]) if tid < len(self.vocabulary) else f"<{tid}>"
            p.setFont(f_tok)
            p.setPen(c.fg)
            tw = col_w * 0.3
            p.drawText(QRectF(cx, ry, tw - 8, rh), Qt.AlignRight | Qt.AlignVCenter, word)
            p.setFont(font(1.0, mono=True))
            p.drawText(QRectF(cx + tw, ry, 110, rh), Qt.AlignRight | Qt.AlignVCenter, fmt(float(gain)))
            self._bar(p, QRectF(cx + tw + 120, ry, col_w - tw - 140, rh), float(gain), gmax, c.accent, 0.0)
