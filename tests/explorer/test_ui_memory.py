"""What UI actions leave behind: live Qt objects, scene items and caches stay bounded however
often the actions are repeated (issue #31: memory grew with UI actions, not with edits)."""

from __future__ import annotations

import random

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QApplication

from explorer.soak import (
    ACTIONS,
    converge,
    random_action,
    random_edit,
    settle,
    type_edit,
    warm_up_every_panel,
)


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
            type_edit(window.text_box, window.text_box.text(), random_edit(rng, text)[:400])  # short: fast
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
    rounds(window, rng, 1)
    before = footprint(window)
    rounds(window, rng, 3)
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


def undo_all(box, limit: int = 100) -> list[str]:
    """Every text Ctrl+Z can bring back, most recent first."""
    texts = []
    while box.isUndoAvailable() and len(texts) < limit:
        box.undo()
        texts.append(box.text())
    return texts


def test_the_text_boxs_undo_history_lets_go_of_long_pastes(make_window):
    """QLineEdit kept every character ever pasted or deleted for Ctrl+Z (8 MB per 1,000 edits
    with long pastes, given back never); past MAX_UNDO_CHARS characters the history starts
    afresh (a smaller cap here: a 200,000-character text takes the model a while)."""
    from explorer.undo_limit import MAX_UNDO_CHARS

    assert 10_000 <= MAX_UNDO_CHARS <= 1_000_000  # typing by hand never reaches it; a few MB at most
    window = make_window()
    window._undo_limit.max_chars = 1_000
    box = window.text_box
    box.setText("")
    box.insert("first " * 100)  # pasted, then deleted: 1,200 characters recorded
    box.selectAll()
    box.del_()
    box.insert("second")  # typed after the reset: Ctrl+Z takes it back as usual
    assert box.text() == "second"
    texts = undo_all(box)
    assert texts and texts[0] == ""
    assert not any("first" in t for t in texts)  # the long paste is gone from the history


def test_the_undo_limit_keeps_the_text_cursor_and_selection(qtbot):
    from PySide6.QtWidgets import QLineEdit

    from explorer.undo_limit import UndoLimit

    box = QLineEdit()
    qtbot.addWidget(box)
    limit = UndoLimit(box, max_chars=50)
    box.insert("a" * 30)
    box.setSelection(10, 5)
    box.insert("b" * 40)  # a replacement: 35 more recorded, past 50
    assert limit.recorded == 0 and not box.isUndoAvailable()
    assert box.text() == "a" * 10 + "b" * 40 + "a" * 15 and box.cursorPosition() == 50
    box.setSelection(20, -8)  # selected leftwards
    limit.reset()
    assert box.selectedText() == "b" * 8 and box.cursorPosition() == 12


def test_the_soak_types_its_edits_as_a_person_would(qtbot):
    """The soak edits the box by selecting and typing over (recorded for Ctrl+Z, as typing is),
    and the box ends with the text the edit asked for, emoji and CJK included."""
    from PySide6.QtWidgets import QLineEdit

    box = QLineEdit()
    box.setMaxLength(2**31 - 1)
    qtbot.addWidget(box)
    rng = random.Random(3)
    text = ""
    for _ in range(300):
        wanted = random_edit(rng, text)
        if any(0xD800 <= ord(c) <= 0xDFFF for c in wanted):  # Qt replaces lone surrogates
            wanted = "".join(c for c in wanted if not 0xD800 <= ord(c) <= 0xDFFF)
            box.setText(text)  # from a text without them
        type_edit(box, box.text(), wanted)
        assert box.text() == wanted
        text = wanted
    assert box.isUndoAvailable()
