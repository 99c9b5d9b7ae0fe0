"""A tall, narrow model's heads in two bands of layers side by side (issue #27 / #32: SmolLM2's
30 × 9 and Gemma 3's 18 × 4 heads used a strip of the grid's pane, 5–10 px tiles)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PySide6.QtCore import QPointF

from explorer.views.mosaic import Arrangement, arrangement_for, cell_at, mosaic
from model.core.transformer import Transformer
from model.core.weights import save_model
from tests.model.conftest import tiny_config, train_wordpiece


def test_two_bands_place_every_head_once_and_find_it_again():
    a = Arrangement(30, 9, 2)
    assert (a.rows, a.cols) == (15, 19)
    places = {a.place(layer, head) for layer in range(30) for head in range(9)}
    assert len(places) == 270  # no two heads share a tile
    assert all(a.head_at(*a.place(layer, head)) == (layer, head) for layer in range(30) for head in range(9))
    assert a.head_at(0, 9) is None  # the empty column between the bands
    odd = Arrangement(5, 2, 2)
    assert odd.head_at(2, 3) is None and list(odd.band_layers(1)) == [3, 4]  # past the last layer


def test_a_tall_grid_in_a_wide_pane_gets_two_bands_and_a_wide_one_keeps_one():
    assert arrangement_for(30, 9, 370, 290).bands == 2  # SmolLM2 in the grid pane at 1280 × 720
    assert arrangement_for(18, 4, 370, 290).bands == 2  # Gemma 3 270M
    assert arrangement_for(4, 8, 370, 290).bands == 1  # the bundled model
    assert arrangement_for(12, 12, 370, 290).bands == 1  # GPT-2 small: square enough


def test_the_mosaic_and_the_cell_under_the_mouse_agree_in_two_bands():
    L, H, T = 6, 2, 3
    patterns = np.zeros((L, H, T, T), dtype=np.float32)
    for layer in range(L):
        for head in range(H):
            patterns[layer, head] = layer * 10 + head
    a = Arrangement(L, H, 2)
    image = mosaic(patterns, arrangement=a)
    assert image.shape == (a.rows * (T + 1) - 1, a.cols * (T + 1) - 1)
    for y in range(image.shape[0]):
        for x in range(image.shape[1]):
            cell = cell_at(x + 0.5, y + 0.5, L, H, T, arrangement=a)
            if cell is None:
                assert np.isnan(image[y, x])
            else:
                assert image[y, x] == cell[0] * 10 + cell[1]


@pytest.fixture(scope="module")
def tall_model_folder(tmp_path_factory):
    """A random 12-layer, 2-head model: tall and narrow, as SmolLM2 and Gemma are."""
    folder = tmp_path_factory.mktemp("tall-model")
    torch.manual_seed(0)
    save_model(Transformer(tiny_config(n_layers=12, n_heads=2, bos_token_id=2, positional="sinusoidal", name="tall")),
               folder)
    train_wordpiece().save(str(folder / "tokenizer.json"))
    return folder


def test_the_window_shows_a_tall_model_in_two_bands_labelled_on_both_sides(qtbot, make_window, tall_model_folder):
    window = make_window(source=tall_model_folder, text="the cat sat on the mat")
    window.resize(1280, 720)
    grid = window.heads_grid
    qtbot.waitUntil(lambda: grid.arrangement.bands == 2, timeout=5000)
    grid.refresh(force=True)
    assert grid.plot.getAxis("right").isVisible()
    left = [text for _, text in grid.plot.getAxis("left")._tickLevels[0]]
    right = [text for _, text in grid.plot.getAxis("right")._tickLevels[0]]
    assert left[0] == "L0" and right[0] == "L6"  # each band's first layer
    # a click on the second band's tile of layer 7, head 1 selects layer 7, head 1
    row, col = grid.arrangement.place(7, 1)
    step = grid._tile() + 1
    scene = grid.plot.vb.mapViewToScene(QPointF(col * step + 0.5, row * step + 0.5))
    assert grid._cell_under(scene)[:2] == (7, 1)
    # tiles larger on screen than one band of 12 layers could be in the whole pane's height
    side = grid.plot.vb.mapViewToScene(QPointF(step, 0)).x() - grid.plot.vb.mapViewToScene(QPointF(0, 0)).x()
    assert side > 1.25 * (grid.height() - grid.below.height()) / 12  # the height above the controls


def test_the_grid_settles_at_every_window_width(qtbot, make_window, tall_model_folder):
    """The band choice never flips back and forth by itself. Made from the view's width, it
    did: two bands' labels on the right made the view narrower, one band then looked better,
    the labels went, two looked better... a relayout every few ms, forever — Gemma 3 in a
    1600 px window spent 40 % of a core on it at rest and slowed its own forward pass 2×."""
    window = make_window(source=tall_model_folder, text="the cat sat on the mat")
    grid = window.heads_grid
    qtbot.waitUntil(lambda: grid.trace is not None, timeout=5000)
    resizes = []
    grid.plot.vb.sigResized.connect(lambda *_: resizes.append(grid.arrangement.bands))
    seen = set()
    for width in range(1400, 2000, 17):
        window.resize(width, 1200)
        qtbot.wait(60)  # relayout, and any resize it causes
        resizes.clear()
        qtbot.wait(120)
        assert resizes == [], f"the grid kept resizing at {width} px: bands {resizes[:6]}"
        seen.add(grid.arrangement.bands)
    assert seen == {1, 2}  # the sweep crossed the point where the choice changes


def test_the_window_at_rest_lays_nothing_out_on_any_tab(qtbot, make_window, tall_model_folder):
    """Once a trace is drawn and nothing is typed, no widget is resized or laid out again, on
    any tab, at a projector's and a laptop's size: a layout that feeds back on itself costs
    a core and, through the GIL, the model thread's speed."""
    from PySide6.QtCore import QEvent, QObject
    from PySide6.QtWidgets import QApplication

    class Count(QObject):
        def __init__(self):
            super().__init__()
            self.seen = []

        def eventFilter(self, obj, event):  # noqa: N802 (Qt API)
            if event.type() in (QEvent.Resize, QEvent.LayoutRequest):
                self.seen.append((type(obj).__name__, event.type().name))
            return False

    window = make_window(source=tall_model_folder, text="the cat sat on the mat")
    count = Count()
    QApplication.instance().installEventFilter(count)
    try:
        for width, height in ((1280, 720), (1920, 1080), (1553, 1200)):
            window.resize(width, height)
            for index in range(window.tabs.count()):
                window.tabs.setCurrentIndex(index)
                qtbot.wait(150)
                assert window.worker.wait_until_idle(30)
                qtbot.wait(100)
                count.seen.clear()
                qtbot.wait(250)
                assert count.seen == [], f"{window.tabs.tabText(index)} at {width} × {height}: {count.seen[:5]}"
    finally:
        QApplication.instance().removeEventFilter(count)
