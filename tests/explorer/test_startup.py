"""Start-up (issue #19): the window shows before torch and the hidden tabs, the throttle the
window and the worker share, and what a freshly loaded model leaves for after its first trace."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from explorer.throttle import Throttled
from explorer.views.registry import first_tab_panel_class, tab_panel_classes


def test_the_first_tab_is_the_registry_first():
    assert tab_panel_classes()[0] is first_tab_panel_class()


def test_a_leading_throttle_runs_the_first_call_at_once_and_the_last_held_back_call_later(qtbot):
    calls = []
    throttled = Throttled(calls.append, timeout=30, leading=True)
    throttled(1)
    assert calls == [1]
    throttled(2)
    throttled(3)
    assert calls == [1]
    qtbot.waitUntil(lambda: calls == [1, 3], timeout=2000)


def test_a_trailing_throttle_runs_only_the_last_call_of_a_period(qtbot):
    calls = []
    throttled = Throttled(calls.append, timeout=30, leading=False)
    throttled("a")
    throttled("b")
    assert calls == []
    qtbot.waitUntil(lambda: calls == ["b"], timeout=2000)


def test_cancel_drops_the_held_back_call_and_flush_runs_it_now(qtbot):
    calls = []
    throttled = Throttled(calls.append, timeout=10_000, leading=False)
    throttled("dropped")
    throttled.cancel()
    throttled.flush()
    assert calls == []
    throttled("kept")
    throttled.flush()
    assert calls == ["kept"]


def test_deferred_tabs_are_built_after_the_window_shows_in_registry_order(qtbot, settings, tiny_model_folder):
    from explorer.window import MainWindow

    window = MainWindow(source=str(tiny_model_folder), settings=settings, initial_text="a fluffy", defer_tabs=True)
    qtbot.addWidget(window)
    try:
        # before it shows: no panel at all (they import pyqtgraph), the "loading" status
        assert window.tab_panels == {} and window.heads_grid is None and window.panels == []
        assert "loading" in window.status_model.text()
        built = []  # (panel class, painted before?, a trace on screen?)
        real_add = window._add_tab_panel
        window._add_tab_panel = lambda cls: (built.append((cls, not window.startup.waiting_for_paint,
                                                           window.trace is not None)), real_add(cls))
        window.show()
        qtbot.waitUntil(lambda: window.fully_built, timeout=10000)
        # after the window's first paint: the visible panels and the tab shown first, before
        # any trace; the hidden tabs once the first trace is on screen
        assert built[0] == (first_tab_panel_class(), True, False)
        assert [c for c, _, _ in built] == tab_panel_classes() and all(trace for _, _, trace in built[1:])
        assert window.token_strip is not None and window.head_detail is window.tab_panels[first_tab_panel_class()]
        assert list(window.tab_panels) == tab_panel_classes()
        titles = [window.tabs.tabText(i) for i in range(window.tabs.count())]
        assert titles == [p.tab_title() for p in window.tab_panels.values()]
        assert window.next_token is window.tab_panels[tab_panel_classes()[1]]
        # Panels built before or after the model loaded all end up with it and its trace.
        qtbot.waitUntil(lambda: window.trace is not None and window.trace.text == "a fluffy", timeout=10000)
        assert all(p.info is window.model_info and p.trace is window.trace for p in window.panels)
    finally:
        window.worker.stop()


def test_finish_building_builds_every_tab_at_once(qtbot, settings, tiny_model_folder):
    from explorer.window import MainWindow

    window = MainWindow(source=str(tiny_model_folder), settings=settings, initial_text="", defer_tabs=True)
    qtbot.addWidget(window)
    try:
        window.finish_building()
        assert window.fully_built and list(window.tab_panels) == tab_panel_classes()
        window.finish_building()  # again: nothing more
        assert window.tabs.count() == len(tab_panel_classes())
    finally:
        window.worker.stop()


def test_after_the_first_trace_the_model_menu_is_filled_from_a_scan_off_the_gui_thread(qtbot, make_window,
                                                                                      monkeypatch):
    import threading

    import explorer.model_menu as window_module  # where the scan lives

    scanned_on = []
    real_scan = window_module._scan_models

    def scan(folders):
        scanned_on.append(threading.current_thread() is threading.main_thread())
        return real_scan(folders)

    monkeypatch.setattr(window_module, "_scan_models", scan)
    window = make_window()
    qtbot.waitUntil(lambda: any(a.isCheckable() for a in window.model_menu.actions()), timeout=10000)
    assert scanned_on == [False]
    assert "Teaching model (bundled)" in [a.text().split(" — ")[0] for a in window.model_menu.actions()]


def test_the_app_shows_its_window_before_torch_superqt_pyqtgraph_and_the_hidden_tabs():
    """What the start-up path leaves for later: torch (1.3-2 s, the model thread imports it),
    superqt (0.28 s of imports for one throttle), pyqtgraph (with NumPy about half of the
    rest: the panels are built once the window shows) and the hidden tabs' modules."""
    script = textwrap.dedent("""
        import os, sys
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
        from PySide6.QtWidgets import QApplication
        app = QApplication([])
        from explorer.window import MainWindow
        from PySide6.QtCore import QSettings
        import tempfile
        settings = QSettings(tempfile.mkdtemp() + "/s.ini", QSettings.IniFormat)
        window = MainWindow(source="bundled", settings=settings, initial_text="hi", defer_tabs=True)
        window.show()
        window.repaint()
        print(sorted(m for m in ("torch", "superqt", "qtpy", "pyqtgraph", "explorer.views.embeddings",
                                 "explorer.views.step_through") if m in sys.modules))
        os._exit(0)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"



def test_the_start_up_probe_paints_the_first_trace_before_torch_is_imported():
    """``python -m explorer.startup`` (what the benchmark runs): the bundled model's first
    trace comes from the NumPy forward pass, with torch not yet imported."""
    import json

    done = subprocess.run([sys.executable, "-m", "explorer.startup"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["ok"] is True
    assert report["torch_before_window"] is False
    assert report["torch_before_first_trace"] is False
    assert report["window_s"] <= report["first_trace_s"]


def test_without_the_quick_start_torch_comes_first(monkeypatch):
    """The probe's flag can say True: with the NumPy path switched off the first trace needs torch."""
    import json

    from explorer.trace_worker import QUICK_START_ENV

    monkeypatch.setenv(QUICK_START_ENV, "0")
    done = subprocess.run([sys.executable, "-m", "explorer.startup"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["ok"] is True and report["torch_before_first_trace"] is True
