from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QApplication

from explorer import bench


def test_the_benchmark_times_every_keystroke_and_ends_on_the_last_text(make_window):
    window = make_window()
    result = bench.run(window, QApplication.instance(), n_keys=15, interval_ms=20)
    assert len(result["latency"]) == 15  # every key is accounted for by some repaint
    assert all(np.isfinite(result[k]).all() and min(result[k]) >= 0 for k in ("latency", "forward", "repaint"))
    assert window.trace.text == bench.SENTENCE[:15]
    assert result["stall"] >= 0
    # the views' own paints, timed inside paintEvent: the grid is drawn for every shown trace
    assert len(result["paint (heads grid)"]) == len(result["repaint"]) and sum(result["paint (heads grid)"]) > 0
    assert all(isinstance(cause, str) and cause for cause in result["long_stalls"])


def test_the_model_leaves_a_core_for_painting(monkeypatch):
    from explorer.runtime import THREADS_ENV, model_thread_count

    monkeypatch.delenv(THREADS_ENV, raising=False)
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    assert model_thread_count() == 1
    monkeypatch.setattr("os.cpu_count", lambda: 1)
    assert model_thread_count() == 1
    monkeypatch.setenv(THREADS_ENV, "3")
    assert model_thread_count() == 3
    monkeypatch.setenv(THREADS_ENV, "lots")  # not a number: the default, not a crash
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    assert model_thread_count() == 1


def test_a_large_model_also_leaves_a_core_for_painting(monkeypatch, tracing_model):
    """An OpenMP team of two on two cores waits at every barrier for the core the GUI thread
    took (typing on a GPT-2-small-shaped model beside a busy process: forward p50 51 ms on one
    thread, 829 ms on two), at any model size and precision."""
    import torch

    from explorer import runtime
    from explorer.runtime import THREADS_ENV, model_thread_count

    monkeypatch.delenv(THREADS_ENV, raising=False)
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    assert model_thread_count(124_000_000) == 1 == model_thread_count(124_000_000, "int8")
    monkeypatch.setattr("os.cpu_count", lambda: 8)
    assert model_thread_count(124_000_000) == 7
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    monkeypatch.setenv(THREADS_ENV, "2")
    assert model_thread_count(124_000_000) == 2  # the override wins
    monkeypatch.delenv(THREADS_ENV)
    before = torch.get_num_threads()
    monkeypatch.setattr(runtime, "_policy", runtime._Policy(configured=True))
    try:
        torch.set_num_threads(2)
        runtime.configure_torch(124_000_000)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_a_new_token_repaints_each_attention_view_once(qtbot, make_window):
    """A new token changes every view's range; it used to cost each view a second full
    paint (pyqtgraph moved the items while painting, which asked for another)."""
    window = make_window()
    window.resize(1400, 900)
    qtbot.waitUntil(lambda: window.trace is not None, timeout=10000)
    # the head badges are scored after the first trace and repaint the grid when they
    # arrive (once per model): let that happen before counting
    qtbot.waitUntil(lambda: window.heads_grid.badges is not None, timeout=20000)
    views = {"grid": window.heads_grid.view, "detail": window.head_detail.view}

    def wait_until_painted():
        """Until neither view has painted for 200 ms (a loaded CI machine can take longer
        than a fixed wait to finish the last paint)."""
        counts = None
        while counts != {name: view.paint_count for name, view in views.items()}:
            counts = {name: view.paint_count for name, view in views.items()}
            qtbot.wait(200)

    for text in ("the king", "the king and", "the king and the queen"):
        wait_until_painted()  # the previous text, the resize and the badges are drawn
        before = {name: view.paint_count for name, view in views.items()}
        window.text_box.setText(text)
        qtbot.waitUntil(lambda t=text: window.trace.text == t, timeout=10000)
        wait_until_painted()
        assert {name: view.paint_count - before[name] for name, view in views.items()} == {"grid": 1, "detail": 1}, text


def test_the_first_load_freezes_without_a_full_collection_and_a_switch_collects_fully(monkeypatch):
    """A full collection of a loaded window is a ~150 ms stall: not just as the first trace
    appears; after a model switch it is what frees the old model, so it runs then."""
    import gc

    from explorer import runtime

    collections: list[int] = []
    real_collect = gc.collect
    monkeypatch.setattr(gc, "collect", lambda generation=2: collections.append(generation) or real_collect(0))
    monkeypatch.setattr(gc, "freeze", lambda: None)
    monkeypatch.setattr(gc, "unfreeze", lambda: None)
    monkeypatch.setattr(gc, "get_freeze_count", lambda: 0)
    monkeypatch.setattr(runtime, "_policy", runtime._Policy(freeze_after_load=True))
    runtime.before_model_load()
    runtime.after_model_load()
    assert collections == [1]  # the young generations only
    monkeypatch.setattr(gc, "get_freeze_count", lambda: 1000)  # a model is loaded and frozen
    runtime.before_model_load()
    runtime.after_model_load()
    assert collections == [1, 2]
