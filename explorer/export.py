"""Writing what a panel shows to a file: PNG, SVG or CSV, chosen by the file's extension.

Any :class:`~explorer.views.base.Panel` can be exported: its pyqtgraph view (``panel.view``),
or the panel itself when it paints without one, becomes the PNG or SVG, and
:meth:`~explorer.views.base.Panel.export_table` gives the numbers for the CSV. The window (Ctrl+E) and the headless command (``attention-explorer export``,
:mod:`explorer.headless`) both call :func:`export_panel`.

Every file is written atomically: into a temporary file in the target's folder, then
renamed over the target with :func:`os.replace`. A failure at any point leaves the target as
it was (absent, or the previous file) and no temporary file behind; it is reported as an
:class:`ExportError` whose message is one line a person can act on.
"""

from __future__ import annotations

import csv
import io
import math
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from PySide6.QtCore import QBuffer, QByteArray, QCoreApplication, QIODevice, QPoint, Qt
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QWidget

from explorer.atomic import replace_file

FORMATS = {".png": "png", ".svg": "svg", ".csv": "csv"}
#: PNGs are rendered at twice the view's size on screen unless a width is asked for: sharp
#: on a projector and in a PDF, and the layout (what fits, where labels go) stays the one shown.
DEFAULT_PIXEL_RATIO = 2.0
MAX_PNG_WIDTH = 16384  # QImage's practical limit; a larger request is a typo


class ExportError(Exception):
    """An export that could not be done; ``str()`` is one line meant for the person."""


def export_format(path: str | Path) -> str:
    """``"png"``, ``"svg"`` or ``"csv"`` from the file's extension."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise ExportError(QCoreApplication.translate(
            "Export", "cannot tell the format of '{name}': use a file name ending in {formats}").format(
            name=Path(path).name, formats=", ".join(FORMATS)))
    return FORMATS[suffix]


def export_panel(panel, path: str | Path, width: int | None = None, title: str = "") -> Path:
    """Write ``panel`` to ``path`` as the extension says; returns the path written.

    ``width``: the PNG's width in pixels (default: :data:`DEFAULT_PIXEL_RATIO` × the view's
    width on screen); the height follows the view's aspect ratio. ``title``: a PNG's band of
    words above the picture (:func:`explorer.picture_title.panel_title`: which view, layer,
    head, model and text), so a picture on a slide says what it shows.
    """
    path = Path(path)
    fmt = export_format(path)
    try:
        _export(panel, path, fmt, width, title)
    except ExportError:
        raise
    except Exception as exc:  # a bug in a panel's export must reach the person as a message, not a crash
        raise ExportError(QCoreApplication.translate("Export", "could not export {name}: {error}").format(
            name=path.name, error=_one_line(str(exc)) or type(exc).__name__)) from exc
    return path


def _export(panel, path: Path, fmt: str, width: int | None, title: str = "") -> None:
    title = getattr(panel, "title", "") or type(panel).__name__
    if fmt == "csv":
        try:
            table = panel.export_table()
        except ValueError as exc:  # the panel says why it has nothing (yet)
            raise ExportError(_one_line(str(exc))) from exc
        if table is None:
            raise ExportError(QCoreApplication.translate("Export", "the {view} view has no numbers to export").format(
                view=QCoreApplication.translate("Panel", title)))
        header, rows = table
        write_csv(path, header, rows)
        return
    # The pyqtgraph view when the panel has one (the figure without the controls around
    # it); a panel that paints itself (QPainter widgets) is exported whole.
    view = getattr(panel, "view", None)
    picture = view if view is not None else panel
    if fmt == "png":
        write_png(picture, path, width, title)
    else:
        write_svg(picture, path)


# ---------------------------------------------------------------------- atomic writing
def write_atomically(path: str | Path, write: Callable[[Path], None]) -> None:
    """Call ``write(temp_path)`` and rename the result to ``path``; on any failure remove the
    temporary file and raise :class:`ExportError`. The temporary file is in the same folder,
    so the rename is atomic (and never crosses file systems)."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise ExportError(QCoreApplication.translate("Export", "cannot write {path}: it is a folder").format(path=path))
    if not folder.is_dir():
        raise ExportError((QCoreApplication.translate("Export", "cannot write {path}: the folder {folder} is not a folder")
                           if folder.exists() else
                           QCoreApplication.translate("Export", "cannot write {path}: the folder {folder} does not exist"))
                          .format(path=path, folder=folder))
    try:
        replace_file(path, write)
    except BaseException as exc:
        if isinstance(exc, ExportError):
            raise
        if isinstance(exc, OSError):
            raise ExportError(QCoreApplication.translate("Export", "cannot write {path}: {error}").format(
            path=path, error=exc.strerror or exc)) from exc
        if isinstance(exc, Exception):
            raise ExportError(QCoreApplication.translate("Export", "could not export {name}: {error}").format(
            name=path.name, error=_one_line(str(exc)) or type(exc).__name__)) from exc
        raise


def write_bytes(path: str | Path, data: bytes) -> None:
    def write(temp: Path) -> None:
        with open(temp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())

    write_atomically(path, write)


# ---------------------------------------------------------------------- CSV
def csv_cell(value: object) -> object:
    """Numbers as their shortest exact text (float32 stays float32-short, −∞ as ``-inf``),
    so a CSV read back gives the trace's numbers."""
    if isinstance(value, (np.floating, np.integer, np.bool_)):
        return str(value.item() if not isinstance(value, np.floating) else value)
    if isinstance(value, float):
        return repr(value)
    return value


def csv_text(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([csv_cell(v) for v in row])
    return out.getvalue()


def write_csv(path: str | Path, header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    # Plain UTF-8, no byte-order mark: what pandas, R and the csv module read by default
    # (a BOM would become part of the first column's name there).
    write_bytes(path, csv_text(header, rows).encode("utf-8"))


# ---------------------------------------------------------------------- pictures
def render_image(widget: QWidget, width: int | None = None) -> QImage:
    """``widget`` painted into an image ``width`` pixels wide (default: twice its size).

    The widget is painted at a device pixel ratio of width / its width, as a high-DPI screen
    would paint it: text and lines are drawn at the higher resolution, not scaled up."""
    if widget.width() <= 0 or widget.height() <= 0:
        raise ExportError(QCoreApplication.translate("Export", "the view has no size yet: show it first"))
    if width is None:
        width = round(widget.width() * DEFAULT_PIXEL_RATIO)
    if not 1 <= width <= MAX_PNG_WIDTH:
        raise ExportError(QCoreApplication.translate("Export", "a PNG width must be between 1 and {max} pixels, not {width}")
                          .format(max=MAX_PNG_WIDTH, width=width))
    ratio = width / widget.width()
    height = max(1, math.ceil(widget.height() * ratio - 1e-6))
    image = QImage(width, height, QImage.Format_ARGB32_Premultiplied)
    image.fill(_background(widget))
    image.setDevicePixelRatio(ratio)
    painter = QPainter(image)
    try:
        painter.setRenderHint(QPainter.Antialiasing)
        painter.setRenderHint(QPainter.TextAntialiasing)
        # QWidget's render, not QGraphicsView's (which draws the scene only, without the
        # view's own background and frame).
        QWidget.render(widget, painter, QPoint(0, 0))
    finally:
        painter.end()
    image.setDevicePixelRatio(1.0)  # the file says nothing about it; its pixels are what count
    return image


def png_bytes(widget: QWidget, width: int | None = None, title: str = "") -> bytes:
    image = render_image(widget, width)
    if title:
        from explorer.picture_title import titled

        image = titled(image, title, _background(widget), widget.palette().windowText().color())
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.WriteOnly)
    if not image.save(buffer, "PNG"):
        raise ExportError(QCoreApplication.translate("Export", "Qt could not encode the PNG"))
    buffer.close()
    return bytes(data.data())


def write_png(widget: QWidget, path: str | Path, width: int | None = None, title: str = "") -> None:
    write_bytes(path, png_bytes(widget, width, title))


def svg_bytes(widget: QWidget) -> bytes:
    """``widget`` as SVG with text kept as ``<text>``: a pyqtgraph view through pyqtgraph's
    SVGExporter (it needs PySide6 < 6.11, see pyproject.toml), which clips each plot to its
    axes; any other widget painted into Qt's SVG generator."""
    import pyqtgraph as pg

    try:
        if isinstance(widget, pg.GraphicsView):
            from pyqtgraph.exporters import SVGExporter

            data = SVGExporter(widget.scene()).export(toBytes=True)
        else:
            data = _widget_svg(widget)
    except Exception as exc:  # pyqtgraph #3495 and its like: say what failed, in one line
        raise ExportError(QCoreApplication.translate("Export", "the SVG exporter failed: {error}").format(
            error=_one_line(str(exc)) or type(exc).__name__)) from exc
    return unscale_patterns(data.decode("utf-8")).encode("utf-8")


def _widget_svg(widget: QWidget) -> bytes:
    from PySide6.QtCore import QRect, QSize
    from PySide6.QtSvg import QSvgGenerator

    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.WriteOnly)
    generator = QSvgGenerator()
    generator.setOutputDevice(buffer)
    generator.setSize(QSize(widget.width(), widget.height()))
    generator.setViewBox(QRect(0, 0, widget.width(), widget.height()))
    generator.setTitle(getattr(widget, "title", "") or "Attention Explorer")
    painter = QPainter(generator)
    try:
        painter.fillRect(QRect(0, 0, widget.width(), widget.height()), _background(widget))
        QWidget.render(widget, painter, QPoint(0, 0))
    finally:
        painter.end()
    buffer.close()
    return bytes(data.data())


_PATTERN = re.compile(r'<pattern id="([^"]+)".*?</pattern>', re.S)
_PATTERN_USE = re.compile(r'fill="url\(#([^)]+)\)"([^>]*?) transform="matrix\(([^,]+),[^,]+,[^,]+,([^,]+),')


def unscale_patterns(svg: str) -> str:
    """Keep hatching fine in the SVG as on screen.

    Qt draws a pattern brush (the hatched −∞ cells) in device pixels whatever the item's
    scale; its SVG generator instead puts the 8-unit pattern inside the item's group, which
    pyqtgraph scales from data units (one cell) to the page, so each stripe became a cell
    wide. Each such use gets its own copy of the pattern scaled back by the group's scale."""
    patterns = {m.group(1): m.group(0) for m in _PATTERN.finditer(svg)}
    copies: list[str] = []

    def rescale(m: re.Match) -> str:
        name, sx, sy = m.group(1), float(m.group(3)), float(m.group(4))
        if name not in patterns or sx == 0 or sy == 0:
            return m.group(0)
        copy = f"{name}_unscaled{len(copies)}"
        copies.append(patterns[name].replace(
            f'id="{name}"', f'id="{copy}" patternTransform="scale({1 / sx:.6g},{1 / sy:.6g})"', 1))
        return m.group(0).replace(f"url(#{name})", f"url(#{copy})", 1)

    svg = _PATTERN_USE.sub(rescale, svg)
    if copies:
        svg = svg.replace("</defs>", "\n".join(copies) + "\n</defs>", 1)
    return svg


def write_svg(widget: QWidget, path: str | Path) -> None:
    write_bytes(path, svg_bytes(widget))


def _background(widget: QWidget) -> QColor:
    brush = widget.backgroundBrush() if hasattr(widget, "backgroundBrush") else None
    if brush is not None and brush.style() != Qt.NoBrush:
        return brush.color()
    return widget.palette().window().color()


def _one_line(text: str) -> str:
    return " ".join(text.split())
