"""Panels: small widgets that each draw a Trace (``set_trace``) and never call the model."""

import pyqtgraph as pg


def settle(view: pg.GraphicsView) -> None:
    """Apply a changed view range now rather than in the next paint.

    pyqtgraph moves a ViewBox's items to a new range when the view starts to paint; moving
    them marks them dirty again, so every range change cost the view a second full paint.
    Call at the end of a redraw: the next paint is then the only one."""
    view.scene().prepareForPaint()
