"""Colours and fonts sized for a projector: large type, high contrast."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtGui import QColor, QFont, QPalette
from PySide6.QtWidgets import QApplication

pg.setConfigOptions(imageAxisOrder="row-major", antialias=True)

DEFAULT_POINT_SIZE = 13
ATTENTION_CMAP = pg.colormap.get("viridis")
SCORE_CMAP = pg.colormap.get("CET-D1")  # diverging: negative blue, positive red
MASKED_BRUSH = QColor(120, 120, 120)
HIGHLIGHT = QColor(255, 64, 160)
SELECTED = QColor(255, 200, 0)

THEMES = {
    "dark": {"bg": "#101216", "fg": "#f2f2f2", "panel": "#1b1e24", "accent": "#ffc800", "error": "#ff6b6b"},
    "light": {"bg": "#ffffff", "fg": "#111111", "panel": "#f1f1f1", "accent": "#b35900", "error": "#c00000"},
}


def apply_theme(app: QApplication, name: str, point_size: int) -> dict[str, str]:
    colours = THEMES[name]
    palette = QPalette()
    for role, key in (
        (QPalette.Window, "bg"), (QPalette.Base, "panel"), (QPalette.AlternateBase, "bg"),
        (QPalette.Button, "panel"), (QPalette.ToolTipBase, "panel"),
    ):
        palette.setColor(role, QColor(colours[key]))
    for role in (QPalette.WindowText, QPalette.Text, QPalette.ButtonText, QPalette.ToolTipText):
        palette.setColor(role, QColor(colours["fg"]))
    palette.setColor(QPalette.Highlight, QColor(colours["accent"]))
    palette.setColor(QPalette.HighlightedText, QColor(colours["bg"]))
    app.setPalette(palette)
    font = QFont(app.font())
    font.setPointSize(point_size)
    app.setFont(font)
    pg.setConfigOption("background", colours["bg"])
    pg.setConfigOption("foreground", colours["fg"])
    return colours


def label_font(point_size: int, bold: bool = False) -> QFont:
    font = QFont()
    font.setPointSize(point_size)
    font.setBold(bold)
    return font
