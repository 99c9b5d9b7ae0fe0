"""Inside one head: the attention computation for the selected query, one stage at a time,
in the source documents' notation and with the current trace's numbers.

→ / ← (and PgDn / PgUp, which presentation clickers send), Home and End step through
:data:`~explorer.views.base.STAGES`. Every number is recomputed by
:func:`model.analysis.stepthrough.head_steps` from the Trace and the head's weights (carried by the
ModelInfo): the view never runs the model, and a stage change recomputes nothing.

Beside it, the head's queries and keys of every token in one 2-D projection.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QT_TRANSLATE_NOOP, QCoreApplication, QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPalette, QPen
from PySide6.QtWidgets import QHBoxLayout, QSplitter, QWidget

from explorer import theme
from explorer.views.base import STAGES, Panel
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
from model.analysis.stepthrough import HeadSteps, head_steps
from model.core.info import HeadWeights, ModelInfo

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
    if name == "input":
        f = f"x_j = {steps.x_formula.replace('resid', 'resid_j').replace('E + P', 'E_j + P_j')}"
        return f, (QCoreApplication.translate("StepThrough", "every token's row as this head reads it: token embedding E plus position P")
                   if steps.embed is not None else QCoreApplication.translate("StepThrough", "every token's residual vector as this head reads it"))
    if name == "qk":
        bq = " + b_Q" if steps.b_q.any() else ""
        bk = " + b_K" if steps.b_k.any() else ""
        return (f"q = x_{i} W_Q{bq}      k_j = x_j W_K{bk}",
                QCoreApplication.translate("StepThrough", "“{token}” asks with its query; every token answers with its key ({dh} numbers each)").format(
                    token=tok, dh=dh))
    if name == "dot":
        return "q · k_j = Σ q_i k_j,i", QCoreApplication.translate("StepThrough", "how well each key lines up with the query of “{token}”").format(token=tok)
    if name == "scale":
        if steps.divisor == 1.0:
            return (QCoreApplication.translate("StepThrough", "q · k_j   (no ÷ √d_head)"),
                    QCoreApplication.translate("StepThrough", "this model does not scale its scores, as in the document's example"))
        return f"s_j = q · k_j / √d_head = q · k_j / {fmt(steps.divisor)}", \
            QCoreApplication.translate("StepThrough", "√{dh} keeps the scores of {dh}-number vectors from growing with d_head").format(dh=dh)
    if name == "mask":
        if not steps.causal:
            return QCoreApplication.translate("StepThrough", "s_j  (no mask)"), QCoreApplication.translate("StepThrough", "an encoder: every token sees every other token, nothing is masked")
        return (QCoreApplication.translate("StepThrough", "s_j = −∞  for  j > i"),
                QCoreApplication.translate("StepThrough", "a token may not look ahead: keys after “{token}” become −∞, so exp(−∞) = 0").format(token=tok))
    if name == "softmax":
        return ("w_j = exp(s_j) / Σ_k exp(s_k)",
                QCoreApplication.translate("StepThrough", "the weights are positive and sum to 1: this row of the attention pattern"))
    if name == "values":
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


def _diamond(centre: QPointF, half: float) -> QPainterPath:
    """A query's marker: a square on its corner, ``half`` from centre to each corner."""
    path = QPainterPath()
    path.moveTo(centre + QPointF(0, -half))
    path.lineTo(centre + QPointF(half, 0))
    path.lineTo(centre + QPointF(0, half))
    path.lineTo(centre + QPointF(-half, 0))
    path.closeSubpath()
    return path


class QKScatter(QWidget):
    """This head's q (◆) and k (●) of every token in one fixed 2-D projection: the two
    directions along which W_Q and W_K spread their outputs most (from the weights alone, so
    points do not jump as the text grows). The selected query is linked to its top keys."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.q2: np.ndarray | None = None
        self.k2: np.ndarray | None = None
        self.tokens: tuple[str, ...] = ()
        self.query = 0
        self.weights: np.ndarray | None = None
        self.setMinimumWidth(220)

    @staticmethod
    def basis(w_q: np.ndarray, w_k: np.ndarray) -> np.ndarray:
        """(dh, 2): top right-singular vectors of [W_Q; W_K], signs fixed for repeatability."""
        _, _, vt = np.linalg.svd(np.vstack([w_q, w_k]).astype(np.float64), full_matrices=False)
        b = vt[:2].T if vt.shape[0] >= 2 else np.pad(vt.T, ((0, 0), (0, 1)))
        signs = np.sign(b[np.abs(b).argmax(axis=0), range(b.shape[1])])
        return b * np.where(signs == 0, 1, signs)

    def show_points(self, q2, k2, tokens, query, weights) -> None:
        self.q2, self.k2, self.tokens, self.query, self.weights = q2, k2, tokens, query, weights
        self.update()

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt API)
        p = QPainter(self)
        p.setRenderHint(QPainter.Antialiasing)
        c = Colours(self)
        p.fillRect(self.rect(), c.panel)
        m = 14.0
        f = font(0.9, bold=True)
        p.setFont(f)
        p.setPen(c.dim)
        p.drawText(QRectF(m, m, self.width() - 2 * m, line_height(f) * 2.2), Qt.AlignLeft | Qt.TextWordWrap,
                   QCoreApplication.translate("StepThrough", "queries ◆ and keys ● of this head, one 2-D projection"))
        if self.q2 is None or self.k2 is None or len(self.q2) == 0:
            return
        top = m + line_height(f) * 2.4
        plot = QRectF(m, top, self.width() - 2 * m, self.height() - top - m)
        pts = np.vstack([self.q2, self.k2])
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        mid = (lo + hi) / 2
        half = float(max(hi - lo)) / 2 * 1.2 or 1.0  # one scale for both axes: angles stay true
        plot = plot.adjusted(0, 0, -60, 0)  # room for labels on the right
        side = min(plot.width(), plot.height())
        centre = plot.center()

        def to_px(v) -> QPointF:
            return QPointF(centre.x() + (v[0] - mid[0]) / half * side / 2,
                           centre.y() - (v[1] - mid[1]) / half * side / 2)

        p.setPen(QPen(c.faint, 1))
        origin = to_px(np.zeros(2))
        if plot.contains(origin):
            p.drawLine(QPointF(plot.left(), origin.y()), QPointF(plot.right(), origin.y()))
            p.drawLine(QPointF(origin.x(), plot.top()), QPointF(origin.x(), plot.bottom()))
        key_colour = self.palette().color(QPalette.Link)
        q_colour = QColor(c.fg)
        q_colour.setAlphaF(0.45)
        T = len(self.tokens)
        top_keys: list[int] = []
        if self.weights is not None:
            top_keys = [int(j) for j in np.argsort(-self.weights)[:3] if self.weights[j] > 0.02]
        qp = to_px(self.q2[self.query])
        for j in top_keys:
            p.setPen(QPen(c.accent, 1 + 6 * float(self.weights[j]), Qt.SolidLine, Qt.RoundCap))
            p.drawLine(qp, to_px(self.k2[j]))
        r = max(4.0, font(0.5).pointSizeF() * 0.6)
        p.setPen(Qt.NoPen)
        for i in range(T):
            pt = to_px(self.q2[i])
            p.setBrush(q_colour)
            p.drawPath(_diamond(pt, r * 1.3))
        p.setBrush(key_colour)
        for j in range(T):
            p.drawEllipse(to_px(self.k2[j]), r, r)
        # the selected query, large
        p.setBrush(c.accent)
        p.drawPath(_diamond(qp, r * 2.4))
        f_lab = font(0.85)
        p.setFont(f_lab)
        labelled = set(top_keys) if T > 12 else set(range(T))
        p.setPen(c.fg)
        for j in labelled:
            pt = to_px(self.k2[j])
            p.drawText(pt + QPointF(r + 3, -r), _label(self.tokens[j]))
        p.setFont(font(0.95, bold=True))
        p.setPen(c.accent)
        p.drawText(qp + QPointF(r * 2.4 + 4, r * 2.4 + line_height(f_lab) * 0.7),
                   f"q “{_label(self.tokens[self.query])}”")


class StepThroughPanel(Panel):
    """The step-through view: :class:`StageCanvas` and :class:`QKScatter` side by side."""

    title = QT_TRANSLATE_NOOP("Panel", "Step through")
    key = "step"
    selection_fields = frozenset({"layer", "head", "query", "stage"})

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFocusPolicy(Qt.StrongFocus)
        self.canvas = StageCanvas(self)
        self.scatter = QKScatter(self)
        for child in (self.canvas, self.scatter):
            child.setFocusPolicy(Qt.ClickFocus)
            child.setFocusProxy(self)  # a click anywhere gives the panel the arrow keys
        self.canvas.on_chip = self.step_to
        self.splitter = QSplitter(Qt.Horizontal, self)
        self.splitter.addWidget(self.canvas)
        self.splitter.addWidget(self.scatter)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 1)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.splitter)
        self.steps: HeadSteps | None = None
        self.message = ""
        self._cache_key: tuple | None = None
        self._bases: dict[tuple[int, int], np.ndarray] = {}
        self._split_done = False

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt API)
        super().resizeEvent(event)
        if not self._split_done and self.width() > 0:
            self._split_done = True
            self.splitter.setSizes([int(self.width() * 0.7), int(self.width() * 0.3)])

    # ------------------------------------------------------------------ contract
    def on_model_info(self, info: ModelInfo) -> None:
        self._cache_key, self.steps, self._bases = None, None, {}
        self.canvas.vocabulary = info.vocabulary
        hw = info.head_weights
        self.canvas.unembed_note = hw.unembed_note if hw is not None else ""

    def on_trace(self, trace) -> None:
        self._cache_key = None

    @property
    def stage(self) -> int:
        return self.selection.stage

    def redraw(self) -> None:
        steps, message = self._compute()
        self.steps, self.message = steps, message
        note = ""
        if self.trace is not None and self.trace.truncated:
            note = QCoreApplication.translate("StepThrough", "(the text is {total} tokens; the model sees the last {shown}, the {dropped} oldest are "
                       "dropped)").format(total=self.trace.n_input_tokens, shown=self.trace.n_tokens,
                                          dropped=self.trace.n_dropped_tokens)
        self.canvas.show_steps(steps, self.selection.stage, message, note)
        if steps is not None and self.trace is not None:
            b = self._basis(steps)
            sel = self.selection
            self.scatter.show_points(self.trace.q[sel.layer, sel.head] @ b, self.trace.k[sel.layer, sel.head] @ b,
                                     steps.tokens, steps.query, steps.weights)
        else:
            self.scatter.show_points(None, None, (), 0, None)

    def _compute(self) -> tuple[HeadSteps | None, str]:
        info, trace, sel = self.info, self.trace, self.selection
        if info is None or trace is None:
            return None, QCoreApplication.translate("StepThrough", "Type some text to trace.")
        hw: HeadWeights | None = info.head_weights
        if hw is None:
            return None, QCoreApplication.translate("StepThrough", "{model}: this model's weights cannot be read per head, so its heads cannot be stepped "
                             "through.").format(model=info.name)
        i = sel.query_index(trace.n_tokens)
        key = (trace.request_id, id(trace), sel.layer, sel.head, i)
        if key == self._cache_key and self.steps is not None:
            return self.steps, ""
        try:
            steps = head_steps(trace, hw, sel.layer, sel.head, i)
        except ValueError as exc:
            return None, QCoreApplication.translate("StepThrough", "Cannot step through this head: {error}").format(error=exc)
        self._cache_key = key
        return steps, ""

    def _basis(self, steps: HeadSteps) -> np.ndarray:
        key = (steps.layer, steps.head)
        if key not in self._bases:
            self._bases[key] = QKScatter.basis(steps.w_q, steps.w_k)
        return self._bases[key]

    # ------------------------------------------------------------------ keyboard
    def step_to(self, stage: int) -> None:
        """Show ``stage`` now and ask the window to share it."""
        stage = max(0, min(len(STAGES) - 1, stage))
        if stage == self.selection.stage:
            return
        self.selection = self.selection.with_(stage=stage)
        self.mark_dirty()
        self.refresh()
        self.request_selection(stage=stage)

    def keyPressEvent(self, event) -> None:  # noqa: N802 (Qt API)
        key, stage = event.key(), self.selection.stage
        target = {
            Qt.Key_Right: stage + 1, Qt.Key_PageDown: stage + 1, Qt.Key_Space: stage + 1,
            Qt.Key_Left: stage - 1, Qt.Key_PageUp: stage - 1, Qt.Key_Backspace: stage - 1,
            Qt.Key_Home: 0, Qt.Key_End: len(STAGES) - 1,
        }.get(key)
        if target is None or event.modifiers() & (Qt.AltModifier | Qt.ControlModifier):
            super().keyPressEvent(event)
            return
        self.step_to(target)
        event.accept()

    # ------------------------------------------------------------------ export
    def export_table(self) -> tuple[list[str], list[list]] | None:
        """One row per key for the selected layer, head and query: q·k, ÷√d, masked, weight."""
        steps, message = self._compute()
        if steps is None:
            raise ValueError(message)
        rows = [[j, steps.tokens[j], steps.dots[j], steps.scaled[j], steps.masked[j], steps.weights[j]]
                for j in range(len(steps.tokens))]
        return ["key", "token", "dot", "scaled", "masked", "weight"], rows
