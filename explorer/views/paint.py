"""Small QPainter helpers shared by the painted lesson views (step-through, positions, anatomy).

These views draw everything in one ``paintEvent``: a few hundred numbers, strips and bars
cost one paint, not one graphics item each (see :mod:`explorer.views.matrix_labels`).
Colours come from the widget's palette, which :func:`explorer.theme.apply_theme` sets for
the whole application, so a theme switch recolours them with no extra wiring; sizes come
from the application font, which the text-size keys change.
"""

from __future__ import annotations

import html
import math
import re
from collections import OrderedDict

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QImage, QPainter, QPalette, QTextDocument
from PySide6.QtWidgets import QApplication, QWidget

from explorer import theme
from explorer.views.drawn_text import RecordingPainter, note
from explorer.views.matrix_labels import DARK_TEXT, LIGHT_TEXT


def base_point_size() -> int:
    app = QApplication.instance()
    size = app.font().pointSize() if app is not None else -1
    return size if size > 0 else theme.DEFAULT_POINT_SIZE


def font(scale: float = 1.0, bold: bool = False, mono: bool = False) -> QFont:
    f = QFont()
    if mono:
        f.setStyleHint(QFont.Monospace)
        f.setFamilies(["DejaVu Sans Mono", "Menlo", "Consolas", "monospace"])
    f.setPointSizeF(max(6.0, base_point_size() * scale))
    f.setBold(bold)
    return f


class Colours:
    """The theme's colours as the palette holds them."""

    def __init__(self, widget: QWidget) -> None:
        pal = widget.palette()
        self.bg = pal.color(QPalette.Window)
        self.panel = pal.color(QPalette.Base)
        self.fg = pal.color(QPalette.WindowText)
        self.accent = pal.color(QPalette.Highlight)
        self.dim = QColor(self.fg)
        self.dim.setAlphaF(0.6)
        self.faint = QColor(self.fg)
        self.faint.setAlphaF(0.18)
        self.masked = theme.MASKED_BRUSH


def fmt(value: float) -> str:
    """A number as the documents print them: integers bare, otherwise 4 decimals (fewer
    for large magnitudes), −∞ as such."""
    if not math.isfinite(value):
        return "−∞" if value < 0 else "∞"
    if abs(value - round(value)) < 1e-9 and abs(value) < 1e6:
        return f"{int(round(value))}".replace("-", "−")
    a = abs(value)
    text = f"{value:.4f}" if a < 10 else f"{value:.3f}" if a < 100 else f"{value:.1f}" if a < 1e5 else f"{value:.2e}"
    return text.replace("-", "−")


def heat_image(values: np.ndarray, cmap: pg.ColorMap, lo: float, hi: float) -> QImage:
    """A rows × cols image of ``values`` coloured by ``cmap`` over ``lo..hi`` (one pixel a cell)."""
    values = np.atleast_2d(np.asarray(values, dtype=np.float64))
    span = hi - lo if hi > lo else 1.0
    norm = np.clip((np.nan_to_num(values, nan=lo, neginf=lo, posinf=hi) - lo) / span, 0, 1)
    rgba = cmap.map(norm.ravel(), mode="byte").reshape(*values.shape, 4)
    rgba = np.ascontiguousarray(rgba, dtype=np.uint8)
    h, w = values.shape
    image = QImage(rgba.data, w, h, 4 * w, QImage.Format_RGBA8888)
    return image.copy()  # own the pixels: rgba is a temporary


def symmetric(*arrays: np.ndarray) -> float:
    """A symmetric colour limit covering every finite value."""
    m = 0.0
    for a in arrays:
        finite = np.asarray(a)[np.isfinite(a)]
        if finite.size:
            m = max(m, float(np.abs(finite).max()))
    return m or 1.0


def draw_heat(
    painter: QPainter, rect: QRectF, values: np.ndarray, cmap: pg.ColorMap, lo: float, hi: float,
    numbers: bool = True, number_font: QFont | None = None, outline: QColor | None = None,
) -> None:
    """``values`` as a heat map filling ``rect``, with each cell's number when it fits."""
    values = np.atleast_2d(values)
    painter.save()
    painter.setRenderHint(QPainter.SmoothPixmapTransform, False)
    painter.drawImage(rect, heat_image(values, cmap, lo, hi))
    rows, cols = values.shape
    cw, ch = rect.width() / cols, rect.height() / rows
    if numbers and number_font is not None and rows * cols <= 400:
        painter.setFont(number_font)
        metrics = QFontMetricsF(number_font)
        texts = [fmt(float(v)) for v in values.ravel()]
        if max(metrics.horizontalAdvance(t) for t in texts) + 4 <= cw and metrics.height() <= ch:
            span = hi - lo if hi > lo else 1.0
            norm = np.clip((values - lo) / span, 0, 1)
            rgba = cmap.map(norm.ravel(), mode="float")
            light = (rgba[:, :3] @ np.array([0.2126, 0.7152, 0.0722])) <= 0.5
            for n, text in enumerate(texts):
                r, c = divmod(n, cols)
                painter.setPen(LIGHT_TEXT if light[n] else DARK_TEXT)
                cell = QRectF(rect.left() + c * cw, rect.top() + r * ch, cw, ch)
                painter.drawText(cell, Qt.AlignCenter, text)
    if outline is not None:
        painter.setPen(outline)
        painter.setBrush(Qt.NoBrush)
        painter.drawRect(rect)
    painter.restore()


def draw_hatched(painter: QPainter, rect: QRectF, colour: QColor) -> None:
    """The head view's look for a masked cell: grey with diagonal hatching."""
    painter.save()
    painter.fillRect(rect, colour)
    hatch = QColor(colour).darker(160)
    painter.setPen(hatch)
    painter.setClipRect(rect)
    step = 8.0
    x = rect.left() - rect.height()
    while x < rect.right():
        painter.drawLine(QPointF(x, rect.bottom()), QPointF(x + rect.height(), rect.top()))
        x += step
    painter.restore()


def text_width(f: QFont, text: str) -> float:
    return QFontMetricsF(f).horizontalAdvance(text)


def line_height(f: QFont) -> float:
    return QFontMetricsF(f).height()


_SUB = re.compile(r"_\{([^}]*)\}|_([A-Za-z0-9,]+)")
_SUP = re.compile(r"\^\{(.*?)\}")


def rich(text: str) -> str:
    """The documents' plain notation as rich text: ``x_j`` → x<sub>j</sub>, ``e^{s_j}`` → a superscript."""
    text = html.escape(text, quote=False).replace(" ", "&nbsp;")  # one line: never wrap
    text = _SUB.sub(lambda m: f"<sub>{m.group(1) or m.group(2)}</sub>", text)
    return "<nobr>" + _SUP.sub(r"<sup>\1</sup>", text) + "</nobr>"


#: laid-out documents by (text, font, colour), least recently used first. A document costs about
#: 18 kB: the step-through's formulas carry numbers and shrink-to-fit tries several sizes, so
#: the old cap of 2,048 (clearing all at once) was a 37 MB sawtooth (issue #31); one redraw
#: uses fewer than 100.
_RICH_CACHE: OrderedDict[tuple[str, str, str], QTextDocument] = OrderedDict()
RICH_CACHE_SIZE = 256


def rich_width(text: str, f: QFont) -> float:
    """How wide :func:`draw_rich` draws ``text`` in ``f``."""
    return _document(text, f, QColor(0, 0, 0)).size().width()


def draw_rich(painter: QPainter, rect: QRectF, text: str, f: QFont, colour: QColor,
              align: Qt.AlignmentFlag = Qt.AlignLeft) -> float:
    """Draw ``text`` (plain notation, see :func:`rich`) on one line in ``rect``, vertically
    centred; returns its width. (A laid-out document is cached per text, font and colour.)"""
    doc = _document(text, f, colour)
    size = doc.size()
    if align & Qt.AlignRight:
        x = rect.right() - size.width()
    elif align & Qt.AlignHCenter:
        x = rect.center().x() - size.width() / 2
    else:
        x = rect.left()
    top = rect.center().y() - size.height() / 2
    note(painter, QRectF(x, top, size.width(), size.height()), text, limit=QRectF(rect.left(), top, rect.width(), size.height()))
    painter.save()
    painter.translate(x, top)
    doc.drawContents(painter)
    painter.restore()
    return size.width()


def _document(text: str, f: QFont, colour: QColor) -> QTextDocument:
    key = (text, f.toString(), colour.name(QColor.HexArgb))
    doc = _RICH_CACHE.get(key)
    if doc is not None:
        _RICH_CACHE.move_to_end(key)
    else:
        while len(_RICH_CACHE) >= RICH_CACHE_SIZE:
            _RICH_CACHE.popitem(last=False)
        doc = QTextDocument()
        doc.setDocumentMargin(0)
        doc.setDefaultFont(f)
        doc.setUndoRedoEnabled(False)
        alpha = colour.alphaF()
        rgb = f"rgba({colour.red()},{colour.green()},{colour.blue()},{alpha:.3f})"
        doc.setHtml(f'<span style="color:{rgb}">{rich(text)}</span>')
        doc.setTextWidth(-1)
        _RICH_CACHE[key] = doc
    return doc


def begin_paint(widget: QWidget) -> tuple[QPainter, Colours]:
    """A painter on ``widget`` with antialiasing, its colours, and the background filled:
    how every self-painted panel starts its paintEvent."""
    p = RecordingPainter(widget)
    p.setRenderHint(QPainter.Antialiasing)
    c = Colours(widget)
    p.fillRect(widget.rect(), c.bg)
    return p, c
