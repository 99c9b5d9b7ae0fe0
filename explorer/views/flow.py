"""A row of controls that wraps onto the next line when it does not fit (Qt's flow-layout
example), so a panel's controls never make its tab scroll sideways at large text on a
1024-pixel projector (docs/layout.md: controls wrap).

Widgets whose horizontal size policy expands (a slider, a text field) share the room left
on their line; the others keep their size hint.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QMargins, QPoint, QRect, QSize, Qt
from PySide6.QtWidgets import QLayout, QLayoutItem, QScrollArea, QSizePolicy, QTableWidget, QWidget


class FlowLayout(QLayout):
    def __init__(self, parent: QWidget | None = None, spacing: int = 6) -> None:
        super().__init__(parent)
        self._items: list[QLayoutItem] = []
        self._breaks: set[int] = set()  # item indices that start a new line
        self.setSpacing(spacing)
        self.setContentsMargins(QMargins(0, 0, 0, 0))

    def __del__(self) -> None:
        # the items go before the layout (PySide's flow-layout example: else a crash at exit)
        while self.takeAt(0) is not None:
            pass

    # ------------------------------------------------------------------ QLayout
    def addItem(self, item: QLayoutItem) -> None:  # noqa: N802 (Qt API)
        self._items.append(item)

    def add_break(self) -> None:
        """The next widget starts a new line."""
        self._breaks.add(len(self._items))

    def count(self) -> int:
        return len(self._items)

    def itemAt(self, index: int) -> QLayoutItem | None:  # noqa: N802 (Qt API)
        return self._items[index] if 0 <= index < len(self._items) else None

    def takeAt(self, index: int) -> QLayoutItem | None:  # noqa: N802 (Qt API)
        return self._items.pop(index) if 0 <= index < len(self._items) else None

    def expandingDirections(self) -> Qt.Orientation:  # noqa: N802 (Qt API)
        return Qt.Orientation(0)

    def hasHeightForWidth(self) -> bool:  # noqa: N802 (Qt API)
        return True

    def heightForWidth(self, width: int) -> int:  # noqa: N802 (Qt API)
        return self._arrange(QRect(0, 0, width, 0), apply=False)

    def setGeometry(self, rect: QRect) -> None:  # noqa: N802 (Qt API)
        super().setGeometry(rect)
        self._arrange(rect, apply=True)

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt API)
        """As wide as the widest widget and as tall as that width needs (Qt's example): a row
        that asked for all its widgets on one line took a splitter's room from the chart."""
        size = self.minimumSize()
        return QSize(size.width(), self.heightForWidth(size.width()))

    def minimumSize(self) -> QSize:  # noqa: N802 (Qt API)
        """As narrow as the widest single widget."""
        m = self.contentsMargins()
        size = QSize()
        for item in self._shown():
            size = size.expandedTo(item.minimumSize())
        return size + QSize(m.left() + m.right(), m.top() + m.bottom())

    # ------------------------------------------------------------------ arranging
    def _shown(self) -> list[QLayoutItem]:
        return [i for i in self._items if not (i.widget() is not None and i.widget().isHidden())]

    def _lines(self, width: int) -> list[list[QLayoutItem]]:
        lines: list[list[QLayoutItem]] = [[]]
        used = 0
        for index, item in enumerate(self._items):
            if item.widget() is not None and item.widget().isHidden():
                continue
            w = item.sizeHint().width()
            if lines[-1] and (index in self._breaks or used + self.spacing() + w > width):
                lines.append([])
                used = 0
            used += (self.spacing() if lines[-1] else 0) + w
            lines[-1].append(item)
        return [line for line in lines if line]

    def _arrange(self, rect: QRect, apply: bool) -> int:
        m = self.contentsMargins()
        area = rect.adjusted(m.left(), m.top(), -m.right(), -m.bottom())
        y = area.y()
        for line in self._lines(area.width()):
            widths = [min(i.sizeHint().width(), area.width()) for i in line]
            spare = area.width() - sum(widths) - self.spacing() * (len(line) - 1)
            growing = [n for n, i in enumerate(line) if _grows(i)]
            if spare > 0 and growing:
                for n in growing:
                    widths[n] += spare // len(growing)
            height = max(i.sizeHint().height() for i in line)
            x = area.x()
            if apply:
                for item, w in zip(line, widths, strict=True):
                    h = min(height, max(item.sizeHint().height(), item.minimumSize().height()))
                    item.setGeometry(QRect(QPoint(x, y + (height - h) // 2), QSize(w, h)))
                    x += w + self.spacing()
            y += height + self.spacing()
        return y - self.spacing() - rect.y() + m.bottom() if y > area.y() else m.top() + m.bottom()


def _grows(item: QLayoutItem) -> bool:
    """Whether the item takes room left on its line (a slider, a text field)."""
    widget = item.widget()
    if widget is None:
        return bool(item.expandingDirections() & Qt.Orientation.Horizontal)
    return bool(widget.sizePolicy().horizontalPolicy().value & QSizePolicy.PolicyFlag.ExpandFlag.value)


class ControlsArea(QScrollArea):
    """Controls under a chart that scroll up and down when the pane is too short for them and
    the chart (docs/layout.md: the chart keeps its minimum height, the controls give way).
    Its size hint is the height its content needs at its present width (a flowing row wraps
    onto more lines when narrow): a plain scroll area asks for one line."""

    def __init__(self, content: QWidget, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidget(content)
        self.setWidgetResizable(True)
        self.setFrameShape(QScrollArea.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        self._width = -1

    def _needed(self, width: int) -> int:
        content = self.widget()
        if content is None:
            return 0
        if content.hasHeightForWidth():
            return content.heightForWidth(max(width, content.minimumSizeHint().width()))
        return content.sizeHint().height()

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt API)
        content = self.widget()
        width = self.width() if self.width() > 0 else content.sizeHint().width()
        # as much as it needs beside a scroll bar: given that, it shows none
        return QSize(content.minimumSizeHint().width(), self._needed(width - self.verticalScrollBar().sizeHint().width()))

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt API)
        content = self.widget()
        return QSize(content.minimumSizeHint().width(), min(self._needed(self.width()), self.fontMetrics().height() * 2))

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt API)
        super().resizeEvent(event)
        if self.width() != self._width:  # a new width wraps the row differently: ask for its height
            self._width = self.width()
            self.updateGeometry()


class WrappingPane(QWidget):
    """A pane whose minimum height is what its wrapping rows and word-wrapped notes need at its
    present width. A splitter does not pass height-for-width on: without this a pane of
    wrapping controls in a splitter was squeezed and its notes cut."""

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt API)
        super().resizeEvent(event)
        self._fit()

    def event(self, event) -> bool:
        if event.type() == QEvent.Type.LayoutRequest:  # a text changed: it may wrap differently
            self._fit()
        return super().event(event)

    def _fit(self) -> None:
        layout = self.layout()
        if layout is None or not layout.hasHeightForWidth() or self.width() <= 0:
            return
        needed = layout.totalHeightForWidth(self.width())
        if needed > 0 and needed != self.minimumHeight():
            self.setMinimumHeight(needed)


class SideScroll(QScrollArea):
    """A side pane that scrolls up and down on its own (its chart keeps the height), never
    sideways: as wide as its content at the least, with the scroll bar beside it."""

    def __init__(self, content: QWidget, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidget(content)
        self.setWidgetResizable(True)
        self.setFrameShape(QScrollArea.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt API)
        content = self.widget()
        return QSize(content.minimumSizeHint().width() + self.verticalScrollBar().sizeHint().width(),
                     super().minimumSizeHint().height())

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt API)
        """Its width; no height of its own (it takes what the chart beside it has)."""
        return QSize(super().sizeHint().width(), self.minimumSizeHint().height())


class CompactTable(QTableWidget):
    """A table that asks for no more height than its minimum: it takes the room its layout
    leaves it and scrolls inside (a table's default hint, 192 px, made tabs taller than the
    screen at large text)."""

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt API)
        return QSize(super().sizeHint().width(), self.minimumHeight())


def group(*widgets: QWidget) -> QWidget:
    """Widgets kept side by side on one line of a flowing row (a label and its box); a slider
    takes what is left of the line."""
    from PySide6.QtWidgets import QHBoxLayout, QSlider

    box = QWidget()
    row = QHBoxLayout(box)
    row.setContentsMargins(0, 0, 0, 0)
    for widget in widgets:
        row.addWidget(widget, 1 if isinstance(widget, QSlider) else 0)
    return box
