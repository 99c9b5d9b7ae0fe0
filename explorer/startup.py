"""Start-up probe: ``python -m explorer.startup`` opens the window offscreen on the bundled model
and prints, as JSON, the seconds from process start (the kernel's start time of this process)
to the window on screen (the end of its first paint) and to the first trace painted (the end
of the heads grid's first paint with a trace), and whether torch was imported by then. Run in a fresh process by the
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


def _paint_timer(window):
    """An event filter that times, from process start, the end of the window's first paint
    (``window_at``: show() paints nothing; the window system exposes the window in a later
    event-loop turn, and it is painted then) and the end of the first paint that draws the
    heads grid once the window holds a trace (``first_at``, with ``torch``: whether torch was
    imported then): the end of the whole window's paint and flush it was part of, or of the
    grid's own repaint. Each is timed by delivering the event here."""
    from PySide6.QtCore import QEvent, QObject

    class PaintTimer(QObject):
        window_at: float | None = None
        torch_at_window = False
        first_at: float | None = None
        torch = False
        _window_painted = False
        _grid_painted = False
        _in_sync = False

        def eventFilter(self, obj, event) -> bool:  # noqa: N802 (Qt API)
            kind = event.type()
            if kind == QEvent.Type.Paint:
                if obj is window and self.window_at is None:
                    self._window_painted = True
                    if not self._in_sync:  # painted some other way: its start will do
                        self.window_at, self.torch_at_window = process_age_s(), "torch" in sys.modules
                if self.first_at is None and window.trace is not None and window.heads_grid is not None:
                    grid = window.heads_grid.view
                    if obj is grid or obj is grid.viewport():
                        if self._in_sync:  # timed when the whole window's paint is done
                            self._grid_painted = True
                            return False
                        obj.event(event)  # a repaint() of its own: timed at its end
                        self.first_at, self.torch = process_age_s(), "torch" in sys.modules
                        return True
                return False
            if ((self.window_at is None or self.first_at is None)
                    and kind in (QEvent.Type.Expose, QEvent.Type.UpdateRequest)
                    and (obj is window or obj is window.windowHandle())):
                self._in_sync = True
                try:
                    obj.event(event)  # the paint of every dirty widget, and the flush
                finally:
                    self._in_sync = False
                now, torch = process_age_s(), "torch" in sys.modules
                if self._window_painted and self.window_at is None:
                    self.window_at, self.torch_at_window = now, torch
                if self._grid_painted and self.first_at is None:
                    self.first_at, self.torch = now, torch
                return True
            return False

    return PaintTimer()


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
    timer = _paint_timer(window)
    app.installEventFilter(timer)
    window.show()
    deadline = time.perf_counter() + 60
    while timer.first_at is None and time.perf_counter() < deadline:
        app.processEvents()
        time.sleep(0.001)
    app.removeEventFilter(timer)
    shown, first, torch_at_first = timer.window_at, timer.first_at, timer.torch
    torch_at_show = timer.torch_at_window
    print(json.dumps({"imports_s": imported, "window_s": shown, "first_trace_s": first, "torch_before_window": torch_at_show,
                      "torch_before_first_trace": torch_at_first, "ok": window.trace is not None}))
    sys.stdout.flush()
    os._exit(0)  # as the app does when the model thread may still be busy


if __name__ == "__main__":
    raise SystemExit(main())
