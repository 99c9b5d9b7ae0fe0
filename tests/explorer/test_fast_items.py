"""The cheaper axis and image items draw what pyqtgraph's own would."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtCore import QRectF
from PySide6.QtGui import QImage, QPainter

from explorer import theme
from explorer.views.fast_items import FastImageItem, LabelAxis


def render(view: pg.GraphicsLayoutWidget, size=(420, 300)) -> np.ndarray:
    view.resize(*size)
    view.show()
    pg.QtWidgets.QApplication.processEvents()
    image = QImage(size[0], size[1], QImage.Format_ARGB32)
    image.fill(0)
    painter = QPainter(image)
    view.render(painter)
    painter.end()
    pixels = np.frombuffer(image.constBits(), dtype=np.uint8).reshape(size[1], size[0], 4)
    return pixels[..., :3].astype(int)


def token_plot(axis_items: dict | None, labels: list[str]) -> tuple[pg.GraphicsLayoutWidget, pg.PlotItem]:
    view = pg.GraphicsLayoutWidget()
    view.setBackground("k")
    plot = view.addPlot(axisItems=axis_items)
    plot.showAxis("top")
    plot.setRange(QRectF(0, 0, len(labels), len(labels)), padding=0)
    for side in ("left", "top"):
        axis = plot.getAxis(side)
        axis.setTextPen("w")
        axis.setTicks([[(i + 0.5, s) for i, s in enumerate(labels)]])
    return view, plot


def test_token_labels_are_drawn_where_pyqtgraph_draws_them(qtbot):
    labels = ["the", "king", "and", "queen", "walked", "past"]
    ours, _ = token_plot({side: LabelAxis(side) for side in ("left", "top")}, labels)
    theirs, _ = token_plot(None, labels)
    qtbot.addWidget(ours)
    qtbot.addWidget(theirs)
    a, b = render(ours), render(theirs)
    lit_a, lit_b = a.sum(-1) > 200, b.sum(-1) > 200  # the white text and lines
    assert lit_a.sum() > 500  # the labels are there
    # the same pixels lit, give or take antialiasing and sub-pixel placement
    assert abs(int(lit_a.sum()) - int(lit_b.sum())) < 0.15 * lit_b.sum()
    assert (lit_a & lit_b).sum() > 0.6 * lit_b.sum()


def test_a_label_that_does_not_fit_is_left_out_as_pyqtgraph_does(qtbot):
    """A tick label that would be cut at the axis end is not drawn; one that fits is."""
    lit = {}
    for name, axes in (("ours", {"left": LabelAxis("left"), "top": LabelAxis("top")}), ("theirs", None)):
        view, plot = token_plot(axes, ["a", "b"])
        qtbot.addWidget(view)
        top = plot.getAxis("top")
        for key, ticks in (("none", []), ("fits", [(1.0, "fits")]),
                           ("cut", [(0.0, "a very long label at the very start")])):
            top.setTicks([ticks])
            pixels = render(view)
            box = top.sceneBoundingRect()
            band = pixels[int(box.top()):int(box.bottom()), int(box.left()):int(box.right())]
            lit[name, key] = int((band.sum(-1) > 200).sum())
    assert lit["ours", "fits"] > lit["ours", "none"] + 40  # the label is drawn
    assert lit["ours", "cut"] < lit["ours", "none"] + 40  # a tick mark at most, no text
    for key in ("none", "cut"):
        assert abs(lit["ours", key] - lit["theirs", key]) <= 0.1 * lit["theirs", key], key
    # a label that fits: ours reserves the axis its whole line height (pyqtgraph's 80 % cut the
    # descenders off a large font, issue #32), so at least as much of it shows
    assert 0.9 * lit["theirs", "fits"] <= lit["ours", "fits"] <= 1.3 * lit["theirs", "fits"]


def test_numeric_axes_stay_pyqtgraphs():
    axis = LabelAxis("bottom")
    assert axis._tickLevels is None  # automatic ticks: drawn by pyqtgraph's paint


@pytest.mark.parametrize("levels, cmap, transposed", [((0.0, 1.0), "ATTENTION_CMAP", False),
                                                      ((-3.5, 7.25), "SCORE_CMAP", False),
                                                      ((0.0, 1.0), "ATTENTION_CMAP", True)])
def test_the_image_is_premultiplied_and_keeps_its_colours(qtbot, levels, cmap, transposed):
    """Pixel for pixel pyqtgraph's image; also for a transposed view (the 3Blue1Brown layout),
    which crashed the app: an exception in a paint override takes PySide6 down."""
    rng = np.random.default_rng(0)
    values = rng.uniform(levels[0] - 1, levels[1] + 1, size=(9, 7) if transposed else (7, 9)).astype(np.float32)
    values[0, 1:] = np.nan  # masked cells stay transparent
    values[3, 4] = -np.inf  # a masked raw score
    if transposed:
        values = values.T  # not C-contiguous
    ours, theirs = FastImageItem(axisOrder="row-major"), pg.ImageItem(axisOrder="row-major")
    for item in (ours, theirs):
        item.setLookupTable(getattr(theme, cmap).getLookupTable(nPts=256))
        item.setImage(values, levels=levels, autoLevels=False)
        item.render()
    assert ours._buffer is not None  # drawn by our own path, not pyqtgraph's
    assert ours.qimage.format() == QImage.Format.Format_ARGB32_Premultiplied
    assert theirs.qimage.format() != QImage.Format.Format_ARGB32_Premultiplied  # why ours converts
    # the same pixels on screen: pyqtgraph's, premultiplied (a transparent cell is all zero)
    same = theirs.qimage.convertToFormat(QImage.Format.Format_ARGB32_Premultiplied)
    for y in range(7):
        for x in range(9):
            assert ours.qimage.pixel(x, y) == same.pixel(x, y), (x, y)
    assert ours.qimage.pixelColor(0, 0).alpha() == 255
    assert ours.qimage.pixelColor(*((0, 1) if transposed else (1, 0))).alpha() == 0
