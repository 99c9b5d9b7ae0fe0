"""Colours and fonts sized for a projector: one :class:`Theme` object, applied everywhere.

A theme is data: background and text colours, the accent colours of chart marks, the
colour map, and the text size. The window makes one (:func:`make_theme`), applies it to
the application (:func:`apply_to_app`) and hands it to every panel
(:meth:`explorer.views.base.Panel.apply_theme`), which restyles its axes, labels and marks
with :func:`style_plot` and :func:`style_text`. Nothing in a panel hard-codes a colour or a
point size.

Colours: both themes meet WCAG AA (text ≥ 4.5 : 1 against the background, chart marks
≥ 3 : 1; ``tests/explorer/test_theme.py`` measures the colours actually set on the
widgets). Accents come from the Okabe–Ito palette, chosen to stay distinguishable under
the common colour-vision deficiencies; the attention colour map is viridis or cividis
(perceptually uniform, colour-blind safe).
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QApplication

from explorer.palette import (  # noqa: F401 (re-exported: the look's pyqtgraph-free part)
    _PALETTES,
    COLOUR_MAPS,
    DEFAULT_POINT_SIZE,
    OKABE_ITO,
    THEME_NAMES,
    Theme,
    apply_palette,
    contrast_ratio,
    label_font,
    make_theme,
    relative_luminance,
)

pg.setConfigOptions(imageAxisOrder="row-major", antialias=True)


def __getattr__(name: str):
    # The colour maps on first use: each is read from a file (10-20 ms), on the way to the
    # first trace otherwise (issue #19).
    if name in _LAZY:
        value = globals()[name] = _LAZY[name]()
        return value
    raise AttributeError(f"module 'explorer.theme' has no attribute {name!r}")


_LAZY = {
    "SCORE_CMAP": lambda: pg.colormap.get("CET-D1"),  # diverging: negative blue, positive red
    "ATTENTION_CMAP": lambda: _DARK.attention_cmap,
}


def apply_to_app(app: QApplication, theme: Theme) -> None:
    """The Qt palette, the application font and pyqtgraph's defaults for new items."""
    apply_palette(app, theme)
    pg.setConfigOption("background", theme.colours["bg"])
    pg.setConfigOption("foreground", theme.colours["fg"])


def style_axis(axis: pg.AxisItem, theme: Theme, delta: float = -1) -> None:
    """Axis line, tick labels and axis title in the theme's text colour and size."""
    axis.setPen(theme.fg)
    axis.setTextPen(theme.fg)  # also sets the label colour
    axis.setTickFont(theme.font(delta))
    axis.labelStyle["font-size"] = f"{theme.points(delta):.1f}pt"
    axis._updateLabel()  # pyqtgraph has no public call that re-renders the label with a new style


def style_plot(plot: pg.PlotItem, theme: Theme, delta: float = -1) -> None:
    """Every axis of ``plot`` and its title."""
    for side in ("left", "right", "top", "bottom"):
        style_axis(plot.getAxis(side), theme, delta)
    title = plot.titleLabel
    title.opts["color"] = theme.colours["fg"]
    title.opts["size"] = f"{theme.points(0):.1f}pt"
    title.setText(title.text)
    fit_title(plot)


def fit_title(plot: pg.PlotItem) -> None:
    """The title's row as tall as its text: pyqtgraph fixes it at 30 px, and a title at
    large text ran into the plot under it (issue #32)."""
    title = plot.titleLabel
    if title.isVisible() and title.text:
        height = title.itemRect().height()
        title.setMaximumHeight(height)
        plot.layout.setRowFixedHeight(0, height)


def style_text(item: pg.TextItem, theme: Theme, delta: float = 0, colour: QColor | None = None,
               bold: bool = False) -> None:
    item.setFont(theme.font(delta, bold))
    item.setColor(colour if colour is not None else theme.fg)


# Backwards-compatible names for code that predates the Theme object (dark theme values).
_DARK = make_theme("dark")  # ATTENTION_CMAP: _DARK's, made on first use (see __getattr__)
MASKED_BRUSH = _DARK.colour("masked")
HIGHLIGHT = _DARK.colour("bars")
SELECTED = _DARK.colour("selected")
