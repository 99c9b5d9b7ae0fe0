"""Where the labels the app paints itself land on screen, for the layout tests (issue #32).

Qt's own widgets (labels, buttons, tables) lay their text out in a layout that keeps them
apart; the views paint most of their text themselves (axis ticks, cell values, slanted
column labels, the step-through's tables, badge letters). Each of those paint calls also
tells :func:`note` what it drew and where. Nothing is kept unless a test asked for it with
:func:`recording`: outside a test a note costs one ``is None`` check.

Every record is in the pixels of the widget being painted *as the painter's device
transform maps them*: a whole-window ``grab()`` gives window coordinates, which is how the
tests read them (``tests/explorer/layout_check.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from PySide6.QtCore import QPointF, QRect, QRectF
from PySide6.QtGui import QFontMetricsF, QPainter, QPolygonF, QStaticText
from PySide6.QtWidgets import QWidget

_log: list[Drawn] | None = None


@dataclass(frozen=True)
class Drawn:
    """One painted text: ``box`` is where its glyphs go (a polygon: slanted labels are
    rotated), ``limit`` the rectangle it was asked to stay inside (``drawText`` with a
    rectangle clips to it: a text larger than its rectangle is cut), ``clip`` the painter's
    clip; all three in the painted root's pixels."""

    widget: QWidget | None
    box: QPolygonF
    text: str
    limit: QRectF | None = None
    clip: QRectF | None = None


def active() -> bool:
    return _log is not None


@contextmanager
def recording() -> Iterator[list[Drawn]]:
    """Record every painted label until the block ends (for tests)."""
    global _log
    previous, _log = _log, []
    try:
        yield _log
    finally:
        _log = previous


def note(painter: QPainter, rect: QRectF, text: str, limit: QRectF | None = None) -> None:
    """``text`` was painted in ``rect`` (the painter's current coordinates)."""
    if _log is None or not text.strip() or rect.isEmpty():
        return
    transform = painter.deviceTransform()
    clip = None
    if painter.hasClipping():
        clip = transform.mapRect(painter.clipBoundingRect())
    device = painter.device()
    _log.append(Drawn(device if isinstance(device, QWidget) else None, transform.map(QPolygonF(rect)), text,
                      transform.mapRect(limit) if limit is not None else None, clip))


def text_rect(painter: QPainter, at: QPointF, text: str) -> QRectF:
    """Where ``painter.drawText(at, text)`` puts its glyphs (``at`` is on the baseline)."""
    metrics = QFontMetricsF(painter.font())
    return QRectF(at.x(), at.y() - metrics.ascent(), metrics.horizontalAdvance(text), metrics.height())


class RecordingPainter(QPainter):
    """A ``QPainter`` whose ``drawText`` / ``drawStaticText`` calls (from Python) also
    :func:`note` what they drew: the painter of every self-painted panel."""

    def drawText(self, *args):  # noqa: N802 (Qt API)
        if _log is not None:
            self._note_text(args)
        return super().drawText(*args)

    def drawStaticText(self, *args):  # noqa: N802 (Qt API)
        if _log is not None and len(args) == 2 and isinstance(args[1], QStaticText):
            at = QPointF(args[0])
            note(self, QRectF(at, args[1].size()), args[1].text())
        return super().drawStaticText(*args)

    def _note_text(self, args: tuple) -> None:
        if len(args) == 2 and isinstance(args[1], str):  # (point, text): the point is on the baseline
            note(self, text_rect(self, QPointF(args[0]), args[1]), args[1])
        elif len(args) == 3 and isinstance(args[2], str) and isinstance(args[0], (QRectF, QRect)):
            rect = QRectF(args[0])
            flags = args[1].value if hasattr(args[1], "value") else int(args[1])
            note(self, self.boundingRect(rect, flags, args[2]), args[2], limit=rect)
        elif len(args) == 3 and isinstance(args[2], str):  # (x, y, text)
            note(self, text_rect(self, QPointF(args[0], args[1]), args[2]), args[2])
