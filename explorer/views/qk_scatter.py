"""Every token's query ◆ and key ● of one head in one 2-D projection, the query linked to its
top keys (beside the step-through)."""


from __future__ import annotations

import numpy as np
from PySide6.QtCore import QCoreApplication, QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPalette, QPen
from PySide6.QtWidgets import QWidget

from explorer.views.drawn_text import RecordingPainter
from explorer.views.paint import (
    Colours,
    font,
    line_height,
    text_width,
)
from explorer.views.scatter_labels import place
from explorer.views.stage_canvas import _label


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
        self.setMinimumWidth(140)

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
        p = RecordingPainter(self)
        p.setRenderHint(QPainter.Antialiasing)
        c = Colours(self)
        p.fillRect(self.rect(), c.panel)
        m = 10.0
        f = font(0.9, bold=True)
        p.setFont(f)
        p.setPen(c.dim)
        title = QCoreApplication.translate("StepThrough", "queries ◆ and keys ● of this head, one 2-D projection")
        flags = Qt.AlignLeft | Qt.AlignTop | Qt.TextWordWrap
        while p.boundingRect(QRectF(m, m, self.width() - 2 * m, 10_000), flags, title).height() > line_height(f) * 3.2 \
                and f.pointSizeF() > 7:
            f.setPointSizeF(f.pointSizeF() * 0.9)  # the title wraps onto three lines at most, whole
            p.setFont(f)
        box = p.boundingRect(QRectF(m, m, self.width() - 2 * m, 10_000), flags, title)
        p.drawText(QRectF(m, m, self.width() - 2 * m, box.height()), flags, title)
        if self.q2 is None or self.k2 is None or len(self.q2) == 0:
            return
        top = m + box.height() + 6
        plot = QRectF(m, top, self.width() - 2 * m, self.height() - top - m)
        pts = np.vstack([self.q2, self.k2])
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        mid = (lo + hi) / 2
        half = float(max(hi - lo)) / 2 * 1.2 or 1.0  # one scale for both axes: angles stay true
        side = min(plot.width(), plot.height()) * 0.8  # a margin for the labels around the points
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
        # labels where they are free, the query's and its top keys' first; the others only
        # where there is room (they ran into one blob)
        f_lab, f_q = font(0.85), font(0.95, bold=True)
        texts = [f"q “{_label(self.tokens[self.query])}”"] + [_label(t) for t in self.tokens]
        fonts = [f_q] + [f_lab] * T
        points = np.array([[qp.x(), qp.y()]] + [[to_px(k).x(), to_px(k).y()] for k in self.k2])
        sizes = np.array([[text_width(fn, t) + 2, line_height(fn)] for t, fn in zip(texts, fonts, strict=True)])
        order = [0] + [1 + j for j in top_keys] + [1 + j for j in range(T) if j not in top_keys]
        marks = [QRectF(pt[0] - r, pt[1] - r, 2 * r, 2 * r) for pt in points[:1]]
        for where in place(points, sizes, self.rect().adjusted(2, int(top), -2, -2).toRectF()
                           if hasattr(self.rect(), "toRectF") else QRectF(self.rect()).adjusted(2, top, -2, -2),
                           order, marks):
            p.setFont(fonts[where.index])
            p.setPen(c.accent if where.index == 0 else c.fg)
            p.drawText(where.box, Qt.AlignLeft | Qt.AlignVCenter, texts[where.index])
