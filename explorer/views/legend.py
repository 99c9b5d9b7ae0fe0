"""A colour legend with numbers: what a colour means, for the maps that have no colour bar of
their own (the heads grid's sweep colours, the A/B difference per head).

One painted strip: the colour map from ``low`` to ``high`` with the two ends and, for a
diverging map, 0 in the middle written under it, and a caption above. It asks for the
height of two text lines and any width, so it fits under a narrow grid at large text.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtWidgets import QSizePolicy, QWidget

from explorer.views.paint import begin_paint, font, heat_image, line_height, text_width


def number(value: float) -> str:
    """A legend's end: three significant figures, a real minus sign."""
    text = f"{value:+.3g}" if value else "0"
    return text.replace("-", "−")


class ColourLegend(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.caption = ""
        self.low, self.high = 0.0, 1.0
        self.cmap: pg.ColorMap | None = None
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)

    def set_scale(self, caption: str, cmap: pg.ColorMap, low: float, high: float) -> None:
        self.caption, self.cmap, self.low, self.high = caption, cmap, float(low), float(high)
        self.updateGeometry()
        self.update()

    def ticks(self) -> list[tuple[float, str]]:
        """(where on the strip 0…1, text): both ends, and 0 when the scale crosses it."""
        out = [(0.0, number(self.low)), (1.0, number(self.high))]
        if self.low < 0 < self.high:
            out.insert(1, ((0 - self.low) / (self.high - self.low), "0"))
        return out

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt API)
        f = font(0.9)
        return QSize(int(text_width(f, self.caption)) + 8, int(line_height(f) * 2 + 14))

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt API)
        return QSize(80, self.sizeHint().height())

    def paintEvent(self, _event) -> None:  # noqa: N802 (Qt API)
        p, c = begin_paint(self)
        if self.cmap is None:
            return
        f = font(0.9)
        lh = line_height(f)
        p.setFont(f)
        p.setPen(c.fg)
        w = self.width() - 8
        p.drawText(QRectF(4, 0, w, lh), Qt.AlignLeft | Qt.AlignVCenter,
                   p.fontMetrics().elidedText(self.caption, Qt.ElideRight, int(w)))
        strip = QRectF(4, lh + 2, w, 8)
        p.drawImage(strip, heat_image(np.linspace(self.low, self.high, 256)[None, :], self.cmap, self.low, self.high))
        p.setPen(c.dim)
        p.drawRect(strip)
        p.setPen(c.fg)
        drawn: list[QRectF] = []
        ticks = self.ticks()
        for at, text in ticks[:1] + ticks[-1:] + ticks[1:-1]:  # the ends first: the 0 gives way
            tw = text_width(f, text) + 2
            x = min(max(strip.left() + at * strip.width() - tw / 2, strip.left()), strip.right() - tw)
            rect = QRectF(x, strip.bottom() + 2, tw, lh)
            if any(rect.adjusted(-4, 0, 4, 0).intersects(r) for r in drawn):
                continue
            drawn.append(rect)
            p.drawText(rect, Qt.AlignCenter, text)
