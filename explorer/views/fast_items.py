"""Drop-in pyqtgraph items that cost less per keystroke, for the views that redraw on every
trace (measured on the bundled model, 34 tokens, 1600 × 1000: the axes were 3.8 ms and the
two heatmap images 3.2 ms of a ~10 ms repaint).

- ``FastImageItem`` hands Qt its image premultiplied. pyqtgraph renders a colour-mapped
  image as RGBA8888 (or Indexed8), which the raster engine converts pixel by pixel on every
  scaled draw: 1.0 ms to fill 700 × 700 px against 0.3 ms for ARGB32_Premultiplied; and
  its general rendering path took 0.5 ms for a 34 × 34 pattern.
- ``LabelAxis`` draws an axis with explicit ticks (token labels, L0…, H0…) straight from
  cached ``QStaticText``s. pyqtgraph's axis lays every label out again (``boundingRect``,
  ``drawText``) into a ``QPicture`` each time its range or ticks change — every keystroke
  here — and replays it on each paint. Axes without explicit ticks (numbers) are left to
  pyqtgraph.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QLineF, QPointF, QRectF, Qt
from PySide6.QtGui import QImage, QPainter, QStaticText

from explorer.views import drawn_text

STATIC_TEXT_CACHE = 2048  # distinct tick labels kept laid out per axis


class FastImageItem(pg.ImageItem):
    """An ``ImageItem`` whose QImage is ARGB32_Premultiplied (what the raster engine draws
    without converting), made straight from a colour-mapped float image: one table lookup
    per pixel into the lookup table, premultiplied once (Qt's own arithmetic); NaN cells
    transparent, as pyqtgraph makes them. The same pixels as pyqtgraph's, in a third of the
    time; any other image (RGB, integer, no table, downsampled) is rendered by pyqtgraph
    and converted."""

    _table_source: np.ndarray | None = None
    _table: np.ndarray | None = None
    _buffer: np.ndarray | None = None

    def _premultiplied_table(self, lut: np.ndarray) -> np.ndarray:
        if self._table_source is not lut:
            rgba = np.empty((1, len(lut), 4), dtype=np.uint8)
            rgba[0, :, :3] = lut[:, :3]
            rgba[0, :, 3] = lut[:, 3] if lut.shape[1] == 4 else 255
            image = QImage(rgba.data, len(lut), 1, 4 * len(lut), QImage.Format.Format_RGBA8888)
            image = image.convertToFormat(QImage.Format.Format_ARGB32_Premultiplied)
            self._table = np.frombuffer(image.constBits(), dtype=np.uint32, count=len(lut)).copy()
            self._table_source = lut
        return self._table

    def render(self, *args, **kwargs):
        # Called from paint(): an exception there takes the whole app down with PySide6 6.10
        # (its override-error path crashes), so anything unexpected falls back to pyqtgraph.
        try:
            self._render(*args, **kwargs)
        except Exception:  # noqa: BLE001 (see above)
            self._table_source = None
            super().render(*args, **kwargs)

    def _render(self, *args, **kwargs):
        image, lut, levels = self.image, self.lut, self.levels
        simple = (image is not None and image.ndim == 2 and image.size and image.dtype.kind == "f"
                  and not self.autoDownsample and self.axisOrder == "row-major"
                  and isinstance(lut, np.ndarray) and lut.dtype == np.uint8 and lut.ndim == 2
                  and lut.shape[1] in (3, 4) and levels is not None and np.ndim(levels) == 1)
        if not simple:
            super().render(*args, **kwargs)
            if self.qimage is not None and self.qimage.format() != QImage.Format.Format_ARGB32_Premultiplied:
                self.qimage = self.qimage.convertToFormat(QImage.Format.Format_ARGB32_Premultiplied)
            return
        table = self._premultiplied_table(lut)
        low, high = float(levels[0]), float(levels[1])
        n = len(table)
        # pyqtgraph's arithmetic: (v - low) · n / range in float32, clipped to the table, truncated
        scaled = np.array(image, dtype=np.float32, order="C")  # the 3Blue1Brown layout is a transposed view
        scaled -= np.float32(low)
        scaled *= np.float32(n / ((high - low) or 1.0))
        nan = np.isnan(scaled)
        np.clip(scaled, 0, n - 1, out=scaled)
        scaled[nan] = 0
        pixels = table[scaled.astype(np.intp)]
        pixels[nan] = 0  # transparent: the hatched "masked" background shows through
        self._buffer = pixels
        # pyqtgraph's own wrapper: the QImage reads the array's memory and holds the array
        # (a QImage made from ``pixels.data`` crashed the export's paint)
        self.qimage = pg.functions.ndarray_to_qimage(pixels, QImage.Format.Format_ARGB32_Premultiplied)
        self._renderRequired = False
        self._unrenderable = False


class LabelAxis(pg.AxisItem):
    """An ``AxisItem`` that paints explicit ticks itself: the same line, tick marks and
    label positions as pyqtgraph's, each label's layout cached. With automatic (numeric)
    ticks it is pyqtgraph's axis."""

    def __init__(self, orientation: str, **kwargs) -> None:
        super().__init__(orientation, **kwargs)
        self._texts: OrderedDict[tuple, QStaticText] = OrderedDict()
        self._text_specs: list = []  # pyqtgraph's numeric labels as last laid out (for drawn_text)

    def setTickFont(self, font) -> None:  # noqa: N802 (pyqtgraph API)
        """A horizontal axis makes room for the new font's line now: pyqtgraph grows it only
        after a paint that cut the larger labels off (and never shrinks it)."""
        super().setTickFont(font)
        if self.orientation in ("top", "bottom") and font is not None:
            from PySide6.QtGui import QFontMetricsF

            self.textHeight = QFontMetricsF(font).height()
            self._updateHeight()

    def _updateHeight(self) -> None:  # noqa: N802 (pyqtgraph API)
        # pyqtgraph counts 80 % of the axis title's height: at large text the title then ran
        # into the tick labels above it. The whole of it.
        super()._updateHeight()
        if self.fixedHeight is None and self.isVisible() and self.label.isVisible():
            h = self.maximumHeight() + self.label.boundingRect().height() * 0.2
            self.setMaximumHeight(h)
            self.setMinimumHeight(h)

    def _updateWidth(self) -> None:  # noqa: N802 (pyqtgraph API)
        super()._updateWidth()
        if self.fixedWidth is None and self.isVisible() and self.label.isVisible():
            w = self.maximumWidth() + self.label.boundingRect().height() * 0.2
            self.setMaximumWidth(w)
            self.setMinimumWidth(w)

    def drawPicture(self, p, axisSpec, tickSpecs, textSpecs):  # noqa: N802 (pyqtgraph API)
        self._text_specs = list(textSpecs)
        super().drawPicture(p, axisSpec, tickSpecs, textSpecs)

    def _static(self, text: str, font) -> QStaticText:
        key = (text, font.key())
        if self._texts and next(reversed(self._texts))[1] != key[1]:
            # another font (text size, language): the labels laid out in the old one are not
            # drawn again; kept, they filled toward 2,048 per axis × 44 axes (issue #31)
            self._texts.clear()
        static = self._texts.get(key)
        if static is None:
            static = QStaticText(text)
            static.setTextFormat(Qt.PlainText)
            static.setPerformanceHint(QStaticText.AggressiveCaching)
            static.prepare(font=font)
            self._texts[key] = static
            if len(self._texts) > STATIC_TEXT_CACHE:
                self._texts.popitem(last=False)
        else:
            self._texts.move_to_end(key)
        return static

    def paint(self, p: QPainter, opt, widget) -> None:  # noqa: D401 (Qt API)
        # An exception in a paint override takes the app down with PySide6 6.10: anything
        # unexpected is drawn by pyqtgraph instead.
        p.save()
        try:
            self._paint(p, opt, widget)
        except Exception:  # noqa: BLE001 (see above)
            p.restore()
            p.save()
            super().paint(p, opt, widget)
        finally:
            p.restore()

    def _paint(self, p: QPainter, opt, widget) -> None:
        levels = self._tickLevels
        if levels is None or len(levels) != 1:
            super().paint(p, opt, widget)
            if drawn_text.active() and self.style["showValues"]:
                for rect, flags, text in self._text_specs:
                    drawn_text.note(p, p.boundingRect(QRectF(rect), flags, text) if p.isActive() else QRectF(rect),
                                    text)
            return
        self.picture = None  # nothing recorded: a later switch to numbers starts afresh
        bounds = self.mapRectFromParent(self.geometry())
        if bounds.width() <= 0 or bounds.height() <= 0:
            return
        vertical = self.orientation in ("left", "right")
        lo, hi = self.range
        span = hi - lo
        if vertical:
            scale = -bounds.height() / span if span else 1.0
            offset = lo * scale - bounds.height() if span else 0.0
        else:
            scale = bounds.width() / span if span else 1.0
            offset = lo * scale if span else 0.0
        low, high = sorted((lo * scale - offset, hi * scale - offset))
        linked = self.linkedView()
        tick_bounds = bounds if linked is None or self.grid is False else linked.mapRectToItem(self, linked.boundingRect())
        tick_length = self.style["tickLength"]
        if self.orientation == "left":
            start, stop, direction = tick_bounds.right(), bounds.right(), -1
            line = QLineF(bounds.right() - 1, bounds.top() - 1, bounds.right() - 1, bounds.bottom() + 1)
        elif self.orientation == "right":
            start, stop, direction = tick_bounds.left(), bounds.left(), 1
            line = QLineF(bounds.left() + 1, bounds.top() - 1, bounds.left() + 1, bounds.bottom() + 1)
        elif self.orientation == "top":
            start, stop, direction = tick_bounds.bottom(), bounds.bottom(), -1
            line = QLineF(bounds.left() - 1, bounds.bottom() - 1, bounds.right() + 1, bounds.bottom() - 1)
        else:
            start, stop, direction = tick_bounds.top(), bounds.top(), 1
            line = QLineF(bounds.left() - 1, bounds.top() + 1, bounds.right() + 1, bounds.top() + 1)

        positions = []
        for value, text in levels[0]:
            x = value * scale - offset
            if low <= x <= high:
                positions.append((x, text))

        p.setRenderHint(QPainter.Antialiasing, False)
        p.setRenderHint(QPainter.TextAntialiasing, True)
        p.setPen(self.pen())
        p.drawLine(line)
        end = stop + (tick_length * direction if self.grid is False else 0.0)
        if positions and tick_length:
            pen = self.tickPen()
            colour = pen.color()
            alpha = self.style["tickAlpha"]
            if isinstance(alpha, float):
                colour.setAlpha(max(0, min(255, round(alpha * 255))))
            elif isinstance(alpha, int):
                colour.setAlpha(alpha)
            pen.setColor(colour)
            p.setPen(pen)
            if vertical:
                p.drawLines([QLineF(start, x, end, x) for x, _ in positions])
            else:
                p.drawLines([QLineF(x, start, x, end) for x, _ in positions])
        if not self.style["showValues"]:
            return
        font = self.style["tickFont"] or self.font()
        p.setFont(font)
        p.setPen(self.textPen())
        box = self.boundingRect()
        p.setClipRect(box)
        left, top, right, bottom = box.left(), box.top(), box.right(), box.bottom()
        if self.label.isVisible():  # the axis title's strip is not for tick labels (they ran over it)
            title = self.mapRectFromItem(self.label, self.label.boundingRect())
            if self.orientation == "left":
                left = max(left, title.right() - 4)
            elif self.orientation == "right":
                right = min(right, title.left() + 4)
            elif self.orientation == "top":
                top = max(top, title.bottom() - 4)
            else:
                bottom = min(bottom, title.top() + 4)
        gap = max(0, tick_length) + self.style["tickTextOffset"][0 if vertical else 1]
        widest = 0.0
        for x, text in positions:
            if not text:
                continue
            static = self._static(text, font)
            size = static.size()
            w, h = size.width(), size.height()
            # Where pyqtgraph puts it: centred on its tick, beside (left/right) or on the
            # far side of (top/bottom) the tick marks; its test box is 80% of the line
            # height, and a label whose box leaves the axis is not drawn (it would be cut).
            if self.orientation in ("left", "right"):
                x0 = stop - gap - w if self.orientation == "left" else stop + gap
                at, y0 = QPointF(x0, x - h / 2), x - 0.4 * h
            elif self.orientation == "top":
                at, y0 = QPointF(x - w / 2, stop - gap - h), stop - gap - 0.8 * h
            else:
                at, y0 = QPointF(x - w / 2, stop + gap), stop + gap
            # every label counts towards the room the axis asks for, drawn or not (else an
            # axis that once had none shrinks and never makes room again); a horizontal axis
            # its whole line height (pyqtgraph's 80 % cut the descenders of a large font off)
            widest = max(widest, w if vertical else h)
            if not vertical and (at.x() < left - 0.5 or at.x() + w > right + 0.5) and w < right - left:
                # an end label whose tick is inside the axis by more than half its width's
                # overflow (the first tile's "0") slides inside rather than being left out;
                # one on the axis's very end is left out, as pyqtgraph does
                overflow = max(left - at.x(), at.x() + w - right)
                if overflow < min(x - left, right - x):
                    at = QPointF(min(max(at.x(), left), right - w), at.y())
            if at.x() < left - 0.5 or at.x() + w > right + 0.5 or y0 < top - 0.5 or y0 + 0.8 * h > bottom + 0.5:
                continue
            p.drawStaticText(at, static)
            drawn_text.note(p, QRectF(at, size), text)
        self._updateMaxTextSize(int(widest))


def label_axes() -> dict[str, LabelAxis]:
    """One ``LabelAxis`` per side, for ``addPlot(axisItems=…)``."""
    return {side: LabelAxis(side) for side in ("left", "right", "top", "bottom")}
