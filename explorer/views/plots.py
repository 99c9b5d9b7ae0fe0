"""What the panels' pyqtgraph views share: a view that times its paints, a fixed plot, settling a range."""

import time

import pyqtgraph as pg
from PySide6.QtCore import QSize


class TimedView(pg.GraphicsLayoutWidget):
    """A pyqtgraph layout view that times its own paints, for the status line and the
    benchmark: ``last_paint_ms``, and ``paint_ms_total`` over ``paint_count`` paints."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.last_paint_ms = 0.0
        self.paint_ms_total = 0.0
        self.paint_count = 0

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt API)
        """Small: a view takes the room its panel has left (its stretch), it does not ask for
        more. A tab's scroll area sizes a panel whose layout has height-for-width (wrapping
        controls, word-wrapped notes) from its children's size hints, and a view's default
        hint made every such tab taller than the screen (docs/layout.md)."""
        return QSize(320, max(self.minimumHeight(), 160))

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt API)
        start = time.perf_counter()
        super().paintEvent(event)
        self.last_paint_ms = (time.perf_counter() - start) * 1000.0
        self.paint_ms_total += self.last_paint_ms
        self.paint_count += 1


def settle(view: pg.GraphicsView) -> None:
    """Apply a changed view range now rather than in the next paint.

    pyqtgraph moves a ViewBox's items to a new range when the view starts to paint; moving
    them marks them dirty again, so every range change cost the view a second full paint.
    Call at the end of a redraw: the next paint is then the only one."""
    view.scene().prepareForPaint()


def fixed_plot(view: pg.GraphicsLayoutWidget, **where) -> pg.PlotItem:
    """A plot in ``view`` that the person reads, not navigates: no context menu, no
    mouse pan or zoom, no auto-range button. ``where``: ``row``/``col`` in the layout."""
    from explorer.views.fast_items import label_axes

    plot = view.addPlot(axisItems=label_axes(), **where)
    plot.hideAxis("top")  # given axes are shown; pyqtgraph's default is left and bottom only
    plot.hideAxis("right")
    plot.setMenuEnabled(False)
    plot.setMouseEnabled(False, False)
    plot.hideButtons()
    return plot
