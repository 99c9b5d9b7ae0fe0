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
    assert all(isinstance(cause, str) and cause for cause in result["long_stalls"])


def test_the_model_leaves_a_core_for_painting(monkeypatch):
    from explorer.trace_worker import THREADS_ENV, model_thread_count

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
