"""Start-up probe: ``python -m explorer.startup`` opens the window offscreen on the bundled model
and prints, as JSON, the seconds from process start (the kernel's start time of this process)
to the window on screen and to the first trace painted. Run in a fresh process by the
benchmark (``python -m explorer.bench``), three times, since a warm disk is part of the claim.
"""

from __future__ import annotations

import json
import os
import sys
import time


def process_age_s() -> float:
    """Seconds since the kernel started this process (/proc: clock ticks since boot)."""
    with open("/proc/self/stat") as f:
        start_ticks = int(f.read().rsplit(")", 1)[1].split()[19])
    with open("/proc/uptime") as f:
        uptime = float(f.read().split()[0])
    return uptime - start_ticks / os.sysconf("SC_CLK_TCK")


def _FirstTracePaint(window):  # noqa: N802 (a class, made once Qt is imported)
    from PySide6.QtCore import QEvent, QObject

    class FirstTracePaint(QObject):
        at: float | None = None
        torch = False

        def eventFilter(self, obj, event) -> bool:  # noqa: N802 (Qt API)
            if self.at is None and event.type() == QEvent.Type.Paint and window.trace is not None:
                grid = window.heads_grid.view
                if obj is grid or obj is grid.viewport():
                    obj.event(event)  # deliver it here, to time its end
                    self.at, self.torch = process_age_s(), "torch" in sys.modules
                    return True
            return False

    return FirstTracePaint()


def main() -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(["attention-explorer"])
    import tempfile
    from pathlib import Path

    from explorer import runtime
    from explorer.window import MainWindow

    imported = process_age_s()
    runtime.configure_process()
    settings = QSettings(str(Path(tempfile.mkdtemp()) / "startup.ini"), QSettings.IniFormat)
    window = MainWindow(settings=settings, initial_text="a fluffy blue creature roamed the verdant forest",
                        defer_tabs=True)  # as the app does
    window.resize(1600, 1000)
    window.show()
    window.repaint()  # the first frame: the window and its "loading …" status
    shown = process_age_s()
    torch_at_show = "torch" in sys.modules
    # The first trace is on screen when the heads grid has painted it: timed at the end of the
    # grid's first paint once the window holds a trace. (Timing after the loop below would
    # also count what the event loop runs after that paint in the same turn: the window starts
    # loading torch then, on another thread.)
    first_paint = _FirstTracePaint(window)
    app.installEventFilter(first_paint)
    deadline = time.perf_counter() + 60
    while first_paint.at is None and time.perf_counter() < deadline:
        app.processEvents()
        time.sleep(0.001)
    app.removeEventFilter(first_paint)
    first, torch_at_first = first_paint.at, first_paint.torch
    print(json.dumps({"imports_s": imported, "window_s": shown, "first_trace_s": first, "torch_before_window": torch_at_show,
                      "torch_before_first_trace": torch_at_first, "ok": window.trace is not None}))
    sys.stdout.flush()
    os._exit(0)  # as the app does when the model thread may still be busy


if __name__ == "__main__":
    raise SystemExit(main())
