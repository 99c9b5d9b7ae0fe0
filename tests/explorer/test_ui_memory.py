"""What UI actions leave behind: live Qt objects, scene items and caches stay bounded however
often the actions are repeated (issue #31: memory grew with UI actions, not with edits)."""

from __future__ import annotations

import random

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QApplication

from explorer.soak import ACTIONS, converge, random_action, random_edit, settle, warm_up_every_panel


def live_objects(window) -> int:
    settle(QApplication.instance())
    return len(window.findChildren(QObject))


def footprint(window) -> dict[str, int]:
    """Counts a per-action leak would grow: Qt objects under the window, items in every plot's
    scene, laid-out texts cached."""
    import pyqtgraph as pg

    from explorer.views import paint
    from explorer.views.fast_items import LabelAxis

    settle(QApplication.instance())
    scenes = {view.scene() for view in window.findChildren(pg.GraphicsView) if view.scene() is not None}
    items = [item for scene in scenes for item in scene.items()]
    return {"qobjects": len(window.findChildren(QObject)), "scene items": len(items),
            "rich documents": len(paint._RICH_CACHE),
            "axis labels": max((len(a._texts) for a in items if isinstance(a, LabelAxis)), default=0)}


def rounds(window, rng: random.Random, n: int) -> None:
    """``n`` rounds of every UI action once (the rare ones too), each after an edit."""
    app = QApplication.instance()
    text = window.text_box.text()
    for _ in range(n):
        for name in ACTIONS:
            text = random_edit(rng, text)[:400]  # short: the tiny model's context, and fast
            window.text_box.setText(text)
            random_action(rng, window, name)
            settle(app)
            window.next_token.stop()
            text = window.text_box.text()
        assert converge(window, app)


def test_every_ui_action_repeated_leaves_no_objects_items_or_cache_entries_behind(make_window, qtbot):
    window = make_window(text="the king and the queen")
    window.resize(1280, 720)
    # the Model menu is filled once the background scan of the models answers
    qtbot.waitUntil(lambda: getattr(window, "_scanned_choices", None) is not None, timeout=10000)
    warm_up_every_panel(window, QApplication.instance())
    rng = random.Random(5)
    rounds(window, rng, 2)
    before = footprint(window)
    rounds(window, rng, 4)
    after = footprint(window)
    # a language switch kept 56 menu objects, an opening of the Lessons menu its entries
    assert after["qobjects"] <= before["qobjects"] + 10, (before, after)
    assert after["scene items"] <= before["scene items"] + 10, (before, after)
    from explorer.views.paint import RICH_CACHE_SIZE

    assert after["rich documents"] <= RICH_CACHE_SIZE
    assert after["axis labels"] <= 600, (before, after)  # one font's labels (the tiny model's context)


def test_switching_the_language_and_opening_the_lessons_menu_leave_nothing_behind(make_window, qtbot):
    window = make_window()
    window.finish_building()
    qtbot.waitUntil(lambda: getattr(window, "_scanned_choices", None) is not None, timeout=10000)
    for language in ("zh_CN", "en"):  # warm up: every text laid out once
        window.set_language(language)
    window.lessons_menu.aboutToShow.emit()
    before = live_objects(window)
    for _ in range(5):
        window.set_language("zh_CN")
        window.set_language("en")
        window.lessons_menu.aboutToShow.emit()
    # each switch kept 49 actions and 7 menus, each opening of the Lessons menu its ~15 entries
    assert live_objects(window) <= before + 5, (before, live_objects(window))


def test_an_axis_keeps_the_labels_of_its_current_font_only(qtbot):
    """Each text-size change left every label laid out in the old size in the axis's cache
    (up to 2,048 per axis, 44 axes in the window)."""
    from PySide6.QtGui import QFont

    from explorer.views.fast_items import LabelAxis
    from tests.explorer.test_fast_items import render, token_plot

    labels = [f"tok{i}" for i in range(12)]
    axes = {side: LabelAxis(side) for side in ("left", "top")}
    view, _ = token_plot(axes, labels)
    qtbot.addWidget(view)
    for size in (9, 11, 14, 18, 22):
        font = QFont()
        font.setPointSize(size)
        for axis in axes.values():
            axis.setTickFont(font)
        render(view)
    fonts = {key[1] for key in axes["left"]._texts}
    assert len(fonts) == 1 and 0 < len(axes["left"]._texts) <= len(labels), sorted(axes["left"]._texts)[:3]


def test_the_rich_text_cache_is_bounded(qtbot):
    """Laid-out formulas are kept per text, font and colour; numbers in them made each redraw
    new ones, and the cache grew to 2,048 documents (about 37 MB) before it was cleared."""
    from PySide6.QtGui import QFont

    from explorer.views import paint

    font = QFont()
    for i in range(paint.RICH_CACHE_SIZE * 3):
        paint.rich_width(f"x_{i} = {i / 7:.3f}", font)
    assert len(paint._RICH_CACHE) <= paint.RICH_CACHE_SIZE
    paint.rich_width("x_0 = 0.000", font)  # a hit moves to the end: the most recently used stays
    assert next(reversed(paint._RICH_CACHE))[0] == "x_0 = 0.000"
