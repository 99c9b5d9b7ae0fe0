"""The window's start-up as one state machine (explorer/startup_state.py), on its own and in
the window."""

from __future__ import annotations

from explorer.startup_state import Phase, StartupState


def test_the_apps_start_up_in_order():
    s = StartupState(defer_tabs=True)
    assert s.waiting_for_paint and not s.tabs_built
    assert s.on("trace_shown") == Phase.BEFORE_PAINT  # nothing happens out of turn
    assert s.on("painted") == Phase.LOADING
    assert not s.tabs_to_build  # the tabs wait for the first trace
    assert s.on("model_loaded") == Phase.FIRST_TRACE and s.waiting_for_first_trace
    assert s.on("trace_shown") == Phase.FINISHING
    assert s.tabs_to_build
    s.tabs_started = True
    assert not s.tabs_to_build  # asked once
    assert s.on("tabs_built") == Phase.READY and s.tabs_built
    # every later load: its set-up waits for its own first trace, then it is ready again
    assert s.on("model_loaded") == Phase.FIRST_TRACE
    assert s.on("trace_shown") == Phase.READY
    assert [event for event, _ in s.history] == ["trace_shown", "painted", "model_loaded", "trace_shown",
                                                  "tabs_built", "model_loaded", "trace_shown"]


def test_a_fast_start_with_a_lesson_scene_waiting_for_its_model():
    """Quick NumPy model, its first trace, the torch model, the tabs, the scene applied once."""
    s = StartupState(defer_tabs=True)
    s.on("painted")
    s.hold_scene({"text": "a", "tab": "next"})  # a lesson given on the command line: its model is loading
    assert s.scene_waiting
    assert s.on("model_loaded") == Phase.FIRST_TRACE
    assert s.take_scene() == {"text": "a", "tab": "next"}
    assert s.take_scene() is None and not s.scene_waiting  # applied once
    assert s.on("trace_shown") == Phase.FINISHING
    assert s.model_shown(full_model=False) is False  # the quick model: the scan waits for torch
    s.on("tabs_started")
    assert not s.tabs_to_build
    assert s.full_model_loaded() is True  # torch is in: the scan runs now
    assert s.full_model_loaded() is False  # and only once
    assert s.on("tabs_built") == Phase.READY
    assert [event for event, _ in s.history] == [
        "painted", "scene_waits", "model_loaded", "scene_applied", "trace_shown", "scan_waits_for_torch",
        "tabs_started", "full_model_loaded", "full_model_loaded", "tabs_built"]
    # a later load that starts on the torch model scans at once
    s.on("model_loaded")
    s.on("trace_shown")
    assert s.model_shown(full_model=True) is True and not s.scan_waits_for_torch


def test_a_scene_whose_model_fails_to_load_is_dropped_not_applied_to_the_next_load():
    s = StartupState(defer_tabs=False)
    s.on("tabs_built")
    s.on("model_loaded")
    s.on("trace_shown")
    s.hold_scene({"model": "missing"})
    s.on("load_failed")
    assert not s.scene_waiting
    s.on("model_loaded")  # the person picks another model later
    assert s.take_scene() is None
    s.hold_scene({"model": "bundled"})
    s.on("lesson_ended")  # Esc while its model loads
    assert s.take_scene() is None
    assert [e for e, _ in s.history if e.startswith("scene")] == ["scene_waits", "scene_dropped", "scene_waits",
                                                                  "scene_dropped"]


def test_a_failed_first_load_still_builds_the_tabs():
    s = StartupState(defer_tabs=True)
    s.on("painted")
    assert s.on("load_failed") == Phase.FINISHING and s.tabs_to_build
    s = StartupState(defer_tabs=True)
    s.on("painted")
    s.on("model_loaded")
    assert s.on("trace_failed") == Phase.FINISHING and s.tabs_to_build  # e.g. an empty text


def test_without_deferred_tabs_everything_is_built_at_once():
    s = StartupState(defer_tabs=False)
    assert s.phase == Phase.LOADING and not s.tabs_to_build  # the window builds them itself
    assert s.on("tabs_built") == Phase.LOADING and s.tabs_built
    s.on("model_loaded")
    assert s.on("trace_shown") == Phase.READY


def test_the_window_goes_through_the_phases(qtbot, settings, tiny_model_folder):
    from explorer.window import MainWindow

    window = MainWindow(source=str(tiny_model_folder), settings=settings, initial_text="a fluffy", defer_tabs=True)
    qtbot.addWidget(window)
    try:
        assert window.startup.phase == Phase.BEFORE_PAINT
        window.show()
        qtbot.waitUntil(lambda: window.startup.phase == Phase.READY, timeout=30000)
        events = [event for event, _ in window.startup.history]
        assert events[0] == "painted"
        assert events.index("model_loaded") < events.index("trace_shown") < events.index("tabs_built")
        assert window.fully_built and window.trace is not None
    finally:
        window.worker.stop()
