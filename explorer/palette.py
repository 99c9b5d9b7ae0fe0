"""The part of the look that needs no pyqtgraph: the :class:`Theme` record, its palettes, and
applying it to Qt's palette and font. :mod:`explorer.theme` re-exports all of it and adds
pyqtgraph's side (colour maps, axis styling); the window uses this module before it shows,
since importing pyqtgraph (with NumPy) took about half of the time to a shown window
(issue #19). See :mod:`explorer.theme` for the colours' reasons.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from PySide6.QtGui import QColor, QFont, QPalette
from PySide6.QtWidgets import QApplication

if TYPE_CHECKING:
    import pyqtgraph as pg

DEFAULT_POINT_SIZE = 13
COLOUR_MAPS = ("viridis", "cividis")

# Okabe & Ito (2008), "Color Universal Design": distinguishable by most colour-blind readers.
OKABE_ITO = {
    "orange": "#E69F00", "sky blue": "#56B4E9", "bluish green": "#009E73", "yellow": "#F0E442",
    "blue": "#0072B2", "vermillion": "#D55E00", "reddish purple": "#CC79A7",
}

_PALETTES = {
    "dark": {
        "bg": "#101216", "fg": "#f2f2f2", "panel": "#1b1e24", "muted": "#a8adb5",
        "accent": "#ffc800", "error": "#ff7b7b",
        "bars": OKABE_ITO["sky blue"], "selected": OKABE_ITO["orange"], "cut": "#7d828a",
        "masked": "#6e737b",
        "series": (OKABE_ITO["sky blue"], OKABE_ITO["orange"], OKABE_ITO["bluish green"],
                   OKABE_ITO["reddish purple"], OKABE_ITO["yellow"], OKABE_ITO["vermillion"]),
    },
    "light": {
        "bg": "#ffffff", "fg": "#111111", "panel": "#f1f1f1", "muted": "#4a4f57",
        "accent": "#9a4a00", "error": "#b00000",
        "bars": OKABE_ITO["blue"], "selected": OKABE_ITO["vermillion"], "cut": "#8a8f96",
        "masked": "#9a9ea5",
        "series": (OKABE_ITO["blue"], OKABE_ITO["vermillion"], OKABE_ITO["bluish green"],
                   OKABE_ITO["reddish purple"], "#8a6d00", OKABE_ITO["orange"]),
    },
}
THEME_NAMES = tuple(_PALETTES)


@dataclass(frozen=True)
class Theme:
    """Everything a panel needs to draw in the current look."""

    name: str = "dark"
    point_size: int = DEFAULT_POINT_SIZE
    colour_map: str = "viridis"
    colours: dict = field(default_factory=lambda: dict(_PALETTES["dark"]), compare=False)

    # ------------------------------------------------------------------ colours
    def colour(self, key: str) -> QColor:
        return QColor(self.colours[key])

    @property
    def bg(self) -> QColor:
        return self.colour("bg")

    @property
    def fg(self) -> QColor:
        return self.colour("fg")

    @property
    def series(self) -> list[QColor]:
        return [QColor(c) for c in self.colours["series"]]

    @property
    def attention_cmap(self) -> pg.ColorMap:
        import pyqtgraph as pg  # here: the window shows before pyqtgraph is imported

        return pg.colormap.get(self.colour_map)

    @property
    def score_cmap(self) -> pg.ColorMap:
        import pyqtgraph as pg

        return pg.colormap.get("CET-D1")  # diverging: negative blue, positive red

    # ------------------------------------------------------------------ type
    @property
    def scale(self) -> float:
        return self.point_size / DEFAULT_POINT_SIZE

    def font(self, delta: float = 0, bold: bool = False) -> QFont:
        """The text font ``delta`` points larger than body text, scaled with the text size."""
        font = QFont()
        font.setPointSizeF(max(6.0, self.point_size + delta * self.scale))
        font.setBold(bold)
        return font

    def points(self, delta: float = 0) -> float:
        return self.font(delta).pointSizeF()

    def with_(self, **changes) -> Theme:
        return replace(self, **changes)


def make_theme(name: str = "dark", point_size: int = DEFAULT_POINT_SIZE, colour_map: str = "viridis") -> Theme:
    if name not in _PALETTES:
        name = "dark"
    if colour_map not in COLOUR_MAPS:
        colour_map = "viridis"
    return Theme(name, int(point_size), colour_map, dict(_PALETTES[name]))


def apply_palette(app: QApplication, theme: Theme) -> None:
    """The Qt palette and the application font (:func:`explorer.theme.apply_to_app` also sets
    pyqtgraph's defaults for new items)."""
    c = theme.colours
    palette = QPalette()
    for role, key in (
        (QPalette.Window, "bg"), (QPalette.Base, "panel"), (QPalette.AlternateBase, "bg"),
        (QPalette.Button, "panel"), (QPalette.ToolTipBase, "panel"),
    ):
        palette.setColor(role, QColor(c[key]))
    for role in (QPalette.WindowText, QPalette.Text, QPalette.ButtonText, QPalette.ToolTipText):
        palette.setColor(role, QColor(c["fg"]))
    palette.setColor(QPalette.PlaceholderText, QColor(c["muted"]))
    for group in (QPalette.Disabled,):
        for role in (QPalette.WindowText, QPalette.Text, QPalette.ButtonText):
            palette.setColor(group, role, QColor(c["muted"]))
    palette.setColor(QPalette.Link, QColor(c["bars"]))  # self-painted panels' data marks
    palette.setColor(QPalette.Highlight, QColor(c["accent"]))
    palette.setColor(QPalette.HighlightedText, QColor(c["bg"]))
    app.setPalette(palette)
    font = QFont(app.font())
    font.setPointSize(theme.point_size)
    app.setFont(font)


# ---------------------------------------------------------------------------- measuring
def relative_luminance(colour: QColor) -> float:
    """WCAG 2.x relative luminance of an opaque colour."""
    def channel(v: float) -> float:
        return v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(x) for x in (colour.redF(), colour.greenF(), colour.blueF()))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(a: QColor, b: QColor) -> float:
    """WCAG contrast ratio between two colours (1 … 21); a translucent ``a`` is first
    composited over ``b``."""
    if a.alphaF() < 1.0:
        t = a.alphaF()
        a = QColor.fromRgbF(a.redF() * t + b.redF() * (1 - t), a.greenF() * t + b.greenF() * (1 - t),
                            a.blueF() * t + b.blueF() * (1 - t))
    la, lb = relative_luminance(a), relative_luminance(b)
    hi, lo = max(la, lb), min(la, lb)
    return (hi + 0.05) / (lo + 0.05)


def label_font(point_size: int, bold: bool = False) -> QFont:
    font = QFont()
    font.setPointSize(point_size)
    font.setBold(bold)
    return font
