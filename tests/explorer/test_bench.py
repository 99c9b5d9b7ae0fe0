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
