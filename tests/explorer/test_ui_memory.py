"""What UI actions leave behind: live Qt objects stay bounded however often they are repeated
(issue #31: memory grew with UI actions, not with edits)."""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, QEvent, QObject


def settle() -> None:
    """What the event loop does between two actions, deferred deletes included (a bare
    processEvents() outside exec() never runs them)."""
    QCoreApplication.processEvents()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


def live_objects(window) -> int:
    settle()
    return len(window.findChildren(QObject))


def test_switching_the_language_and_opening_the_lessons_menu_leave_nothing_behind(make_window, qtbot):
    window = make_window()
    window.finish_building()
    # the Model menu is filled once the background scan of the models answers
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
