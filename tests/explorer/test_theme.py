"""Readable on a projector: contrast of the colours actually set, text that scales, a window
that fits the screen, and accents that survive colour-vision deficiencies."""

from __future__ import annotations

import itertools
import re

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtCore import QRect
from PySide6.QtGui import QColor, QFontMetricsF
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractSpinBox,
    QComboBox,
    QLabel,
    QLineEdit,
    QScrollArea,
    QSlider,
    QWidget,
)

from explorer import theme
from explorer.theme import contrast_ratio
from explorer.views.matrix_labels import MatrixLabels

TEXT, MARK = 4.5, 3.0  # WCAG AA: text, graphical marks


def plot_items(panel):
    if panel.view is None:
        return []
    return [item for item in panel.view.ci.items if isinstance(item, pg.PlotItem)]


def drawn_colours(window):
    """(what, colour, background, required ratio) for every text and mark the panels drew."""
    out = []
    for panel in window.panels:
        for plot in plot_items(panel):
            bg = panel.view.backgroundBrush().color()
            name = f"{type(panel).__name__}"
            for side in ("left", "top", "bottom", "right"):
                axis = plot.getAxis(side)
                if axis.isVisible():
                    out.append((f"{name} {side} ticks", axis.textPen().color(), bg, TEXT))
                    if axis.label.isVisible() and axis.labelText:
                        colour = QColor(axis.labelStyle.get("color", "#000000"))
                        out.append((f"{name} {side} label", colour, bg, TEXT))
            if plot.titleLabel.text:
                out.append((f"{name} title", QColor(plot.titleLabel.opts["color"]), bg, TEXT))
            for item in plot.items:
                if not item.isVisible():
                    continue
                if isinstance(item, pg.TextItem) and item.textItem.toPlainText():
                    out.append((f"{name} text '{item.textItem.toPlainText()[:12]}'", QColor(item.color), bg, TEXT))
                elif isinstance(item, MatrixLabels) and item.column_labels:
                    out.append((f"{name} column labels", item.label_colour, bg, TEXT))
                elif isinstance(item, pg.BarGraphItem):
                    brushes = item.opts.get("brushes") or [item.opts.get("brush")]
                    for brush in brushes:
                        if brush is not None:
                            colour = pg.mkBrush(brush).color()
                            if colour.alpha() == 255:  # translucent ghosts are backdrops, not marks
                                out.append((f"{name} bar", colour, bg, MARK))
                elif isinstance(item, pg.ScatterPlotItem) and len(item.data):
                    spot_brushes = [b for b in item.data["brush"] if b is not None] or [item.opts["brush"]]
                    for brush in spot_brushes:
                        out.append((f"{name} points", pg.mkBrush(brush).color(), bg, MARK))
    window_bg = window.palette().color(window.backgroundRole())
    for label in window.findChildren(QLabel):
        if label.isVisible() and label.text():
            out.append((f"label '{label.text()[:20]}'", label.palette().color(label.foregroundRole()), window_bg, TEXT))
    return out


@pytest.mark.parametrize("name", theme.THEME_NAMES)
def test_every_text_and_mark_meets_wcag_aa_in_both_themes(qtbot, make_window, name):
    window = make_window(text="the king and the queen")
    window.resize(1400, 900)
    window.set_theme(theme.make_theme(name, 14))
    for panel in (window.head_detail, window.next_token, window.embeddings, window.drift):
        window.show_tab(panel)
        qtbot.wait(20)
    window.show_tab(window.drift)
    window.drift.run()
    qtbot.waitUntil(lambda: len(window.drift.paths) > 0, timeout=10000)
    window.embeddings.sentence_box.setChecked(True)
    window.show_tab(window.next_token)
    window.show_tab(window.head_detail)
    checked = drawn_colours(window)
    assert len(checked) > 30
    failures = [(what, colour.name(), round(contrast_ratio(colour, bg), 2)) for what, colour, bg, need in checked
                if contrast_ratio(colour, bg) < need]
    assert failures == []
    # the banner's two colours and the token chips
    bg = QColor(window.colours["bg"])
    assert contrast_ratio(QColor(window.colours["accent"]), bg) >= TEXT
    assert contrast_ratio(QColor(window.colours["error"]), bg) >= TEXT
    assert contrast_ratio(QColor(window.colours["fg"]), QColor(window.colours["panel"])) >= TEXT
    assert contrast_ratio(QColor(window.colours["bg"]), QColor(window.colours["accent"])) >= TEXT


def test_switching_theme_recolours_axes_labels_and_marks(qtbot, make_window):
    window = make_window()
    window.set_theme(theme.make_theme("light", 14))
    ticks = window.next_token.plot.getAxis("left").textPen().color()
    assert contrast_ratio(ticks, QColor("#ffffff")) >= TEXT  # near-white ticks on white were the bug
    window.set_theme(theme.make_theme("dark", 14))
    ticks = window.next_token.plot.getAxis("left").textPen().color()
    assert contrast_ratio(ticks, QColor(window.colours["bg"])) >= TEXT


def text_heights(window) -> dict[str, float]:
    """Pixel height of every kind of text the app draws."""
    heights = {"text box": QFontMetricsF(window.text_box.font()).height()}
    chip = window.token_strip.chips[0]
    heights["token chip"] = QFontMetricsF(chip.font()).height()
    heights["head heading"] = QFontMetricsF(window.head_detail.heading.font()).height()
    heights["status"] = QFontMetricsF(window.status_model.font()).height()
    for panel in window.panels:
        for k, plot in enumerate(plot_items(panel)):
            for side in ("left", "top", "bottom"):
                axis = plot.getAxis(side)
                if axis.isVisible():
                    heights[f"{type(panel).__name__} {k} {side} ticks"] = QFontMetricsF(axis.style["tickFont"]).height()
                    size = re.search(r"([\d.]+)pt", axis.labelStyle.get("font-size", ""))
                    if size and axis.labelText:
                        heights[f"{type(panel).__name__} {k} {side} label"] = float(size.group(1))
            for item in plot.items:
                if isinstance(item, pg.TextItem):
                    heights[f"{type(panel).__name__} text item"] = QFontMetricsF(item.textItem.font()).height()
                elif isinstance(item, MatrixLabels):
                    heights["cell values"] = QFontMetricsF(item.font).height()
                    heights["column labels"] = QFontMetricsF(item.label_font).height()
    return heights


def test_one_text_scale_reaches_every_text(qtbot, make_window):
    window = make_window(text="the king and the queen")
    window.show_tab(window.next_token)
    window.show_tab(window.embeddings)
    window.show_tab(window.head_detail)
    window.set_font_size(13)
    qtbot.wait(20)
    small = text_heights(window)
    window.set_font_size(20)
    qtbot.wait(20)
    large = text_heights(window)
    assert len(small) >= 12 and len(set(small) & set(large)) >= 12
    # (a chart that gives way to a larger one at large text, the head view's bars, is not drawn)
    not_grown = {k: (small[k], large[k]) for k in small if k in large and not large[k] > small[k]}
    assert not_grown == {}


CONTROLS = (QAbstractButton, QComboBox, QAbstractSpinBox, QLineEdit, QSlider)


def clipped_controls(window) -> list[str]:
    """Visible controls that are cut off by the window edge (outside any scroll area) or
    squeezed narrower than they need to show their text."""
    bad = []
    frame = QRect(0, 0, window.width(), window.height())
    for control in window.findChildren(QWidget):
        if not isinstance(control, CONTROLS) or not control.isVisible():
            continue
        if any(isinstance(a, QScrollArea) for a in ancestors(control, window)):
            continue  # reachable by scrolling
        rect = QRect(control.mapTo(window, control.rect().topLeft()), control.size())
        if not frame.contains(rect):
            bad.append(f"{type(control).__name__} '{getattr(control, 'text', lambda: '')()}' outside the window")
    return bad


def ancestors(widget, stop):
    parent = widget.parentWidget()
    while parent is not None and parent is not stop:
        yield parent
        parent = parent.parentWidget()


@pytest.mark.parametrize("size", [(1024, 768), (1280, 720), (1920, 1080)])
@pytest.mark.parametrize("scale", [1.0, 1.5])
def test_the_window_fits_the_screen_at_every_size_and_text_scale(qtbot, make_window, size, scale, tmp_path):
    window = make_window(text="the king and the queen")
    window.set_font_size(round(theme.DEFAULT_POINT_SIZE * scale))
    window.resize(*size)
    for panel in (window.next_token, window.embeddings, window.drift, window.head_detail):
        window.show_tab(panel)
        qtbot.wait(30)
        assert window.width() <= size[0] and window.height() <= size[1], (window.size(), panel.title)
        assert clipped_controls(window) == [], panel.title
    assert not window.grab().isNull()


def test_f11_presents_and_puts_everything_back(qtbot, make_window):
    window = make_window()
    size = window.point_size
    window.toggle_presentation()
    assert window.presenting and not window.menuBar().isVisible() and not window.statusBar().isVisible()
    assert window.point_size > size
    window.toggle_presentation()
    assert not window.presenting and window.menuBar().isVisible() and window.point_size == size


# ---------------------------------------------------------------------------- colour vision
# Machado, Oliveira & Fernandes (2009), severity 1.0, in linear RGB.
CVD = {
    "protanopia": [[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216], [-0.003882, -0.048116, 1.051998]],
    "deuteranopia": [[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413], [-0.011820, 0.042940, 0.968881]],
    "tritanopia": [[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602], [0.004733, 0.691367, 0.303900]],
}


def to_lab(rgb: np.ndarray) -> np.ndarray:
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    xyz = linear @ np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]).T
    xyz /= np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], -1)


def simulate(colour: QColor, matrix) -> np.ndarray:
    rgb = np.array([colour.redF(), colour.greenF(), colour.blueF()])
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    out = np.clip(np.asarray(matrix) @ linear, 0, 1)
    return np.where(out <= 0.0031308, 12.92 * out, 1.055 * out ** (1 / 2.4) - 0.055)


@pytest.mark.parametrize("name", theme.THEME_NAMES)
def test_accent_colours_stay_distinguishable_under_colour_vision_deficiencies(name):
    t = theme.make_theme(name)
    accents = {"bars": t.colour("bars"), "selected": t.colour("selected"), "cut": t.colour("cut")}
    accents.update({f"series {i}": c for i, c in enumerate(t.series[:4])})
    pairs = [("bars", "selected"), ("bars", "cut"), ("selected", "cut")]
    pairs += list(itertools.combinations([f"series {i}" for i in range(4)], 2))
    for kind, matrix in CVD.items():
        for a, b in pairs:
            la, lb = (to_lab(simulate(accents[k], matrix)) for k in (a, b))
            assert np.linalg.norm(la - lb) >= 12, (name, kind, a, b)
