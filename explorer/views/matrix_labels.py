"""Cell values and slanted column labels for a heatmap, painted by one graphics item.

One pyqtgraph ``TextItem`` per cell cost most of a keystroke: each is its own item whose
transform pyqtgraph recomputes whenever the view changes (2.7 s of a 16 s profile for 41
traces). This item keeps plain strings and paints them all in one ``paint()`` call, in
device pixels, so the text stays the same size however the plot is scaled. Each distinct
string is laid out once (``QStaticText``; a grid repeats the same few hundred values) and
drawn light or dark in two passes, so a paint is mostly Qt drawing glyphs.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QStaticText, QTransform

from explorer.views import drawn_text

DARK_TEXT = QColor(15, 15, 15)
LIGHT_TEXT = QColor(245, 245, 245)
MIN_CELL_PIXELS = 26.0  # below this a value no longer fits its cell: draw none
LABEL_ANGLE = -40.0  # degrees; column labels rise to the right
STATIC_TEXT_CACHE = 4096  # distinct cell strings kept laid out


def light_text_wanted(normalised: np.ndarray, cmap: pg.ColorMap) -> np.ndarray:
    """True where a cell's colour is dark enough to need light text (vectorised luminance)."""
    rgba = cmap.map(np.clip(np.nan_to_num(normalised, nan=0.0), 0.0, 1.0).ravel(), mode="float")
    luminance = rgba[:, :3] @ np.array([0.2126, 0.7152, 0.0722])
    return (luminance <= 0.5).reshape(normalised.shape)


class MatrixLabels(pg.GraphicsObject):
    """Texts centred in the cells of a rows × cols grid at (0..cols, 0..rows) in data
    coordinates, and one label per column above row 0, slanted."""

    def __init__(self, font: QFont, label_font: QFont) -> None:
        super().__init__()
        self.font, self.label_font = font, label_font
        self.label_colour = QColor(pg.getConfigOption("foreground"))
        self.texts: list[str] = []  # row-major, rows × cols
        self.light: np.ndarray = np.zeros((0, 0), dtype=bool)
        self.column_labels: list[str] = []
        self.rows = self.cols = 0
        self.label_rows = 1.5  # rows of room above the grid that the labels may use
        self._static: dict[str, tuple[QStaticText, float, float]] = {}  # text -> (text, half w, half h)
        #: texts (tokens) are shortened with "…" to their cell; numbers (False) are drawn all or
        #: none: a cell narrower than the widest value shows none (they ran into each other)
        self.elide = False
        self._widest = 0.0

    def set_cells(self, texts: list[str], light: np.ndarray) -> None:
        self.prepareGeometryChange()
        self.rows, self.cols = light.shape
        self.texts, self.light = texts, light
        metrics = QFontMetricsF(self.font)
        self._widest = max((metrics.horizontalAdvance(t) for t in set(texts)), default=0.0)
        self.update()

    def set_column_labels(self, labels: list[str], label_rows: float) -> None:
        self.prepareGeometryChange()
        self.column_labels, self.label_rows = list(labels), label_rows
        self.cols = max(self.cols, len(labels))
        self.update()

    def set_fonts(self, font: QFont, label_font: QFont, label_colour: QColor | None = None) -> None:
        self.prepareGeometryChange()
        self.font, self.label_font = font, label_font
        if label_colour is not None:
            self.label_colour = QColor(label_colour)
        self._static.clear()
        metrics = QFontMetricsF(self.font)
        self._widest = max((metrics.horizontalAdvance(t) for t in set(self.texts)), default=0.0)
        self.update()

    def _static_text(self, text: str) -> tuple[QStaticText, float, float]:
        entry = self._static.get(text)
        if entry is None:
            if len(self._static) >= STATIC_TEXT_CACHE:
                self._static.clear()
            static = QStaticText(text)
            static.setTextFormat(Qt.PlainText)
            static.prepare(QTransform(), self.font)
            size = static.size()
            entry = self._static[text] = (static, size.width() / 2, size.height() / 2)
        return entry

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt API)
        return QRectF(0, -self.label_rows, max(self.cols, 1), max(self.rows, 1) + self.label_rows)

    def paint(self, painter, *_args) -> None:
        to_device = painter.transform()
        cell_w = abs(to_device.m11())
        cell_h = abs(to_device.m22())
        painter.save()
        painter.resetTransform()
        text_h = QFontMetricsF(self.font).height()
        fits = self.elide or self._widest + 4 <= cell_w
        if self.texts and min(cell_w, cell_h) >= MIN_CELL_PIXELS and fits and text_h * 0.8 <= cell_h:
            painter.setFont(self.font)
            metrics = QFontMetricsF(self.font)
            n_cells = min(len(self.texts), self.rows * self.cols)
            i, j = np.divmod(np.arange(n_cells), self.cols)
            x, y = j + 0.5, i + 0.5
            device_x = to_device.m11() * x + to_device.m21() * y + to_device.dx()
            device_y = to_device.m12() * x + to_device.m22() * y + to_device.dy()
            light = self.light.ravel()[:n_cells]
            for colour, cells in ((DARK_TEXT, np.flatnonzero(~light)), (LIGHT_TEXT, np.flatnonzero(light))):
                painter.setPen(colour)
                for n, cx, cy in zip(cells.tolist(), device_x[cells].tolist(), device_y[cells].tolist(), strict=True):
                    text = self.texts[n]
                    if self.elide and metrics.horizontalAdvance(text) + 4 > cell_w:
                        text = metrics.elidedText(text, Qt.ElideRight, cell_w - 4)
                        if text in ("", "…"):
                            continue
                    static, half_w, half_h = self._static_text(text)
                    painter.drawStaticText(QPointF(cx - half_w, cy - half_h), static)
                    if drawn_text.active():
                        drawn_text.note(painter, QRectF(cx - half_w, cy - half_h, 2 * half_w, 2 * half_h), text)
        if self.column_labels:
            painter.setFont(self.label_font)
            painter.setPen(self.label_colour)
            ascent = QFontMetricsF(self.label_font).ascent()
            for j, label in enumerate(self.column_labels):
                if not label:
                    continue  # thinned out: too many columns to label each
                foot = to_device.map(QPointF(j + 0.5, 0.0))
                painter.save()
                painter.translate(foot.x() - ascent / 3, foot.y() - 4)
                painter.rotate(LABEL_ANGLE)
                painter.drawText(QPointF(0, 0), label)
                drawn_text.note(painter, drawn_text.text_rect(painter, QPointF(0, 0), label), label)
                painter.restore()
        painter.restore()
