"""Where every label of the window is, and what is wrong with where it is (issue #32).

:func:`labels` paints the whole window once while recording the texts the views paint
themselves (:mod:`explorer.views.drawn_text`) and adds every text item of every pyqtgraph
scene (titles, axis titles, legends, ``TextItem``s); :func:`problems` then lists, in words a
person can act on:

- a label outside its view (cut at the view's edge, outside the rectangle it was drawn in,
  or below the fold of a tab that would have to be scrolled to see it);
- two labels overlapping;
- a Qt widget (label, button, check box, combo box) narrower than its text, or reaching out
  of its tab's visible area;
- a tab that scrolls sideways.

Used by ``test_layout.py`` and, by hand, ``python -m tests.explorer.layout_check``.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyqtgraph as pg
from PySide6.QtCore import QPoint, QPointF, QRectF, QSize
from PySide6.QtGui import QPolygonF
from PySide6.QtWidgets import (
    QAbstractButton,
    QComboBox,
    QGraphicsItem,
    QGraphicsTextItem,
    QLabel,
    QLineEdit,
    QScrollArea,
    QStyle,
    QStyleOptionComboBox,
    QWidget,
)

from explorer.elided_label import ElidedLabel
from explorer.views import drawn_text

TOLERANCE = 1.5  # pixels a label may reach over an edge (antialiasing, rounding)
MIN_VIEW_LINES = 5  # a panel's chart is at least this many lines of text tall (docs/layout.md)


@dataclass
class Label:
    text: str
    box: QPolygonF  # window pixels
    owner: QWidget  # the view (or painted widget) it belongs to
    limits: list[tuple[str, QRectF]]  # (what, rectangle) it must stay inside, window pixels

    @property
    def rect(self) -> QRectF:
        return self.box.boundingRect()


def _offset(widget: QWidget, window: QWidget) -> QPointF:
    return QPointF(widget.mapTo(window, QPoint(0, 0)))


def visible_rect(widget: QWidget, window: QWidget) -> QRectF:
    """The part of ``widget`` not cut off by its ancestors (a scroll area's viewport), in window pixels."""
    rect = QRectF(_offset(widget, window), QPointF(widget.size().width(), widget.size().height()) + _offset(widget, window))
    parent = widget.parentWidget()
    while parent is not None and parent is not window:
        rect = rect.intersected(QRectF(_offset(parent, window), QPointF(parent.width(), parent.height())
                                       + _offset(parent, window)))
        parent = parent.parentWidget()
    return rect


def _shown(widget: QWidget, window: QWidget) -> bool:
    return widget.isVisibleTo(window) and widget.width() > 0 and widget.height() > 0


def _scene_labels(view: pg.GraphicsView, window: QWidget, scroll_ok: bool = False) -> list[Label]:
    out = []
    viewport = view.viewport()
    origin = _offset(viewport, window)
    view_rect = _view_rect(viewport, window, scroll_ok)
    for item in view.scene().items():
        if not isinstance(item, QGraphicsTextItem) or not item.isVisible() or item.effectiveOpacity() <= 0.01:
            continue
        text = item.toPlainText()
        if not text.strip():
            continue
        margin = item.document().documentMargin()
        rect = item.boundingRect().adjusted(margin, margin, -margin, -margin)
        box = view.mapFromScene(item.mapToScene(rect))
        box = QPolygonF([QPointF(p) + origin for p in box])
        limits = [("its view", view_rect)]
        parent: QGraphicsItem | None = item.parentItem()
        while parent is not None:
            if parent.flags() & QGraphicsItem.GraphicsItemFlag.ItemClipsChildrenToShape:
                clip = view.mapFromScene(parent.sceneBoundingRect()).boundingRect()
                limits.append(("its plot", QRectF(clip).translated(origin)))
            parent = parent.parentItem()
        out.append(Label(text, box, viewport, limits))
    return out


def labels(window: QWidget, scroll_ok: bool = False) -> list[Label]:
    """Every label the window shows now (painted once more to see them). ``scroll_ok``: a
    label below the fold of a tab that scrolls up and down is fine (at 2× text on a small
    screen); it must still be whole inside its own view."""
    with drawn_text.recording() as log:
        window.grab()
    out = []
    for drawn in log:
        widget = drawn.widget
        if widget is None or not _shown(widget, window):
            continue
        limits = [("its view", _view_rect(widget, window, scroll_ok))]
        if drawn.limit is not None:
            limits.append(("the rectangle it is drawn in", drawn.limit))
        if drawn.clip is not None:
            limits.append(("its clip", drawn.clip))
        out.append(Label(drawn.text, drawn.box, widget, limits))
    for view in window.findChildren(pg.GraphicsView):
        if _shown(view, window):
            out += _scene_labels(view, window, scroll_ok)
    return out


def _view_rect(widget: QWidget, window: QWidget, scroll_ok: bool) -> QRectF:
    """The part of ``widget`` a label must stay in: what is not cut off by its ancestors or,
    with ``scroll_ok``, the widget's own rectangle cut only at the sides by its scroll area."""
    if not scroll_ok:
        return visible_rect(widget, window)
    own = QRectF(_offset(widget, window), QPointF(widget.width(), widget.height()) + _offset(widget, window))
    left, right = own.left(), own.right()
    parent = widget.parentWidget()
    while parent is not None and parent is not window:  # cut at the sides only
        x = _offset(parent, window).x()
        left, right = max(left, x), min(right, x + parent.width())
        parent = parent.parentWidget()
    return QRectF(left, own.top(), max(0.0, right - left), own.height())


def _inside(inner: QRectF, outer: QRectF) -> bool:
    t = TOLERANCE
    return (inner.left() >= outer.left() - t and inner.right() <= outer.right() + t
            and inner.top() >= outer.top() - t and inner.bottom() <= outer.bottom() + t)


def _area(polygon: QPolygonF) -> float:
    points = [polygon.at(i) for i in range(polygon.count())]
    return abs(sum(a.x() * b.y() - b.x() * a.y() for a, b in zip(points, points[1:] + points[:1], strict=True))) / 2


def _core(label: Label) -> QPolygonF:
    """The part of a label's box its letters fill: less the line spacing above and below
    (the boxes of two lines one under the other touch while their letters do not); a
    rotated (slanted) box shrunk towards its centre."""
    rect = label.rect
    if abs(rect.width() * rect.height() - _area(label.box)) <= 1.0 + 0.01 * rect.width() * rect.height():
        shrink = min(rect.height() * 0.15, 3.0)
        return QPolygonF(rect.adjusted(1, shrink, -1, -shrink))
    centre = rect.center()
    return QPolygonF([centre + (label.box.at(i) - centre) * 0.8 for i in range(label.box.count())])


def overlaps(found: list[Label]) -> list[tuple[Label, Label]]:
    boxes = sorted(((label, _core(label)) for label in found), key=lambda b: b[1].boundingRect().left())
    out = []
    for n, (a, pa) in enumerate(boxes):
        ra = pa.boundingRect()
        for b, pb in boxes[n + 1:]:
            rb = pb.boundingRect()
            if rb.left() >= ra.right():
                break
            if ra.intersects(rb) and _area(pa.intersected(pb)) > 4.0:
                out.append((a, b))
    return out


def widget_problems(root: QWidget, window: QWidget, area: QRectF) -> list[str]:
    """Qt widgets under ``root`` cut short or reaching out of ``area`` (window pixels)."""
    out = []
    for w in root.findChildren(QWidget):
        if not _shown(w, window) or not isinstance(w, (QLabel, QAbstractButton, QComboBox, QLineEdit)):
            continue
        name = f"{type(w).__name__} {_text(w)!r}"
        rect = QRectF(_offset(w, window), QPointF(w.width(), w.height()) + _offset(w, window))
        if rect.right() > area.right() + TOLERANCE:
            out.append(f"{name} reaches {rect.right() - area.right():.0f} px out of the visible area at the right")
        if isinstance(w, ElidedLabel) or not _text(w):
            continue
        if isinstance(w, QLineEdit):  # a short entry (a word) must show whole
            needed = w.fontMetrics().horizontalAdvance(w.text()) + 14
            if len(w.text()) <= 16 and w.width() + TOLERANCE < needed:
                out.append(f"{name} is {needed - w.width():.0f} px narrower than its text")
            continue
        if isinstance(w, QLabel) and w.wordWrap():
            if w.height() + TOLERANCE < w.heightForWidth(w.width()):
                out.append(f"{name} is {w.heightForWidth(w.width()) - w.height()} px too short for its text")
        elif w.width() + TOLERANCE < _needed_width(w):
            out.append(f"{name} is {_needed_width(w) - w.width():.0f} px narrower than its text")
    return out


def _needed_width(w: QWidget) -> float:
    """The width that shows the widget's whole text (a combo box: its current item's)."""
    if isinstance(w, QComboBox):
        option = QStyleOptionComboBox()
        w.initStyleOption(option)
        text = w.fontMetrics().horizontalAdvance(w.currentText())
        return min(w.sizeHint().width(), w.style().sizeFromContents(
            QStyle.ContentsType.CT_ComboBox, option, QSize(text, w.fontMetrics().height()), w).width())
    return w.minimumSizeHint().width()


def _text(w: QWidget) -> str:
    if isinstance(w, QComboBox):
        return w.currentText()
    return w.text() if hasattr(w, "text") else ""


def problems(window, panel: QWidget | None = None, scroll_ok: bool = False) -> list[str]:
    """What is wrong with the layout of ``window`` showing ``panel`` (its current tab).
    ``scroll_ok``: the tab may scroll up and down (not sideways); its labels need not all be
    above the fold, and its view must still be at least :data:`MIN_VIEW_LINES` lines tall."""
    found = labels(window, scroll_ok)
    out = []
    for label in found:
        glyphs = _core(label).boundingRect().adjusted(-1, 0, 1, 0)  # the whole width, less the line spacing
        for what, limit in label.limits:
            if not _inside(glyphs, limit):
                r = label.rect
                out.append(f"{type(label.owner).__name__}: {label.text!r} at ({r.left():.0f}, {r.top():.0f}, "
                           f"{r.width():.0f} × {r.height():.0f}) is outside {what} ({limit.left():.0f}, "
                           f"{limit.top():.0f}, {limit.width():.0f} × {limit.height():.0f})")
                break
    for a, b in overlaps(found):
        out.append(f"{type(a.owner).__name__}: {a.text!r} overlaps {b.text!r}")
    roots = [window.heads_grid] + ([panel] if panel is not None else [])
    for root in roots:
        scroll = _scroll_area(root)
        area = visible_rect(scroll.viewport(), window) if scroll is not None else visible_rect(root, window)
        if scroll is not None and scroll.horizontalScrollBar().maximum() > 0:
            out.append(f"{type(root).__name__} scrolls sideways by {scroll.horizontalScrollBar().maximum()} px")
        if scroll is not None and not scroll_ok and scroll.verticalScrollBar().maximum() > 0:
            out.append(f"{type(root).__name__} scrolls up and down by {scroll.verticalScrollBar().maximum()} px")
        view = getattr(root, "view", None)
        if view is not None and _shown(view, window):
            line = view.fontMetrics().height()
            if view.height() < MIN_VIEW_LINES * line:
                out.append(f"{type(root).__name__}'s view is {view.height()} px tall: less than {MIN_VIEW_LINES} "
                           f"lines of text ({MIN_VIEW_LINES * line} px)")
        out += [f"{type(root).__name__}: {p}" for p in widget_problems(root, window, area)]
    return out


def _scroll_area(widget: QWidget) -> QScrollArea | None:
    parent = widget.parentWidget()
    while parent is not None:
        if isinstance(parent, QScrollArea):
            return parent
        parent = parent.parentWidget()
    return None


# ---------------------------------------------------------------------------- driving the window
def wait(app, condition, timeout: float = 30.0) -> bool:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        app.processEvents()
        if condition():
            return True
        time.sleep(0.005)
    return False


def show(window, panel, app) -> None:
    """Bring ``panel``'s tab forward in the state a teacher sees it: analyses it asks the model
    thread for delivered, the drift and A/B tabs run once."""
    window.show_tab(panel)
    if panel.key == "drift" and not panel.paths:
        panel.run()
        wait(app, lambda: bool(panel.paths))
    if panel.key == "ab" and panel.trace_b is None:
        panel.text_b.setText(window.trace.text.replace("the", "a", 1) if window.trace else "a b")
        panel.compare()
        wait(app, lambda: panel.trace_b is not None)
    if panel.key == "roles":
        wait(app, lambda: panel.badges is not None, 120)
    window.worker.wait_until_idle(60)
    for _ in range(3):
        app.processEvents()
    window.worker.wait_until_idle(60)
    app.processEvents()


def main(argv: list[str] | None = None) -> int:
    """``python -m tests.explorer.layout_check [--size 1024x768] [--points 20] [--tab key …]``:
    print every problem of every tab."""
    import argparse
    import tempfile
    from pathlib import Path

    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from model.core.paths import BUNDLED

    parser = argparse.ArgumentParser()
    parser.add_argument("--size", default="1024x768")
    parser.add_argument("--points", type=int, nargs="*", default=[13, 20, 26])
    parser.add_argument("--tab", nargs="*", default=None)
    parser.add_argument("--model", default=BUNDLED)
    parser.add_argument("--text", default="a fluffy blue creature roamed the verdant forest")
    parser.add_argument("--shots", type=Path, default=None)
    args = parser.parse_args(argv)
    app = QApplication.instance() or QApplication(["layout-check"])
    from explorer.window import MainWindow

    settings = QSettings(str(Path(tempfile.mkdtemp()) / "s.ini"), QSettings.IniFormat)
    settings.setValue("language", "en")
    window = MainWindow(source=args.model, settings=settings, initial_text=args.text)
    width, height = (int(v) for v in args.size.split("x"))
    window.resize(width, height)
    window.show()
    wait(app, lambda: window.trace is not None and window.trace.text == args.text, 60)
    window.select_position(4)
    total = 0
    for points in args.points:
        window.set_font_size(points)
        for panel in list(window.tab_panels.values()):
            if args.tab and panel.key not in args.tab:
                continue
            show(window, panel, app)
            found = problems(window, panel, scroll_ok=points > 20)
            total += len(found)
            print(f"== {args.size} {points} pt {panel.key}: {len(found)}")
            for line in found[:40]:
                print("   ", line)
            if args.shots is not None:
                args.shots.mkdir(parents=True, exist_ok=True)
                window.grab().save(str(args.shots / f"{panel.key}-{points}.png"))
    window.worker.stop()
    return 1 if total else 0


if __name__ == "__main__":
    import os
    import sys

    code = main()
    sys.stdout.flush()
    os._exit(code)  # no interpreter teardown: Qt items half-deleted by it call Python overrides
