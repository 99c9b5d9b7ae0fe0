"""The app's one "at most once every N ms, the last call wins" policy.

The same semantics as superqt's ``qthrottled`` (``superqt/utils/_throttler.py``: a throttler,
leading or trailing, with ``cancel()`` and ``flush()``), written out here because importing
``superqt.utils`` runs superqt's package ``__init__``, which imports every superqt widget and,
through ``qtpy``, QtOpenGL and QtDataVisualization: 0.28 s of a 0.6 s start-up budget
(issue #19, measured with ``python -X importtime``), for one small class.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, QTimer


class Throttled(QObject):
    """``func`` called at most once per ``timeout`` ms, with the arguments of the last call.

    ``leading=True``: a call when nothing ran in the last ``timeout`` ms runs at once;
    calls during the following ``timeout`` ms are held back and the last of them runs when
    it ends. ``leading=False``: the first call starts the period and the last call in it
    runs when it ends. Runs in the thread this object lives in (the GUI thread).
    """

    def __init__(self, func: Callable, timeout: int, leading: bool = True, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._func = func
        self._leading = leading
        self._pending: tuple | None = None  # the arguments of the call held back
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(int(timeout))
        self._timer.timeout.connect(self._on_timeout)

    def __call__(self, *args) -> None:
        self._pending = args
        if self._leading and not self._timer.isActive():
            self._run()
        elif not self._timer.isActive():
            self._timer.start()

    def cancel(self) -> None:
        """Drop the held-back call, if any."""
        self._pending = None

    def flush(self) -> None:
        """Run the held-back call now, if any."""
        self._on_timeout()

    def _run(self) -> None:
        args, self._pending = self._pending, None
        self._timer.start()
        self._func(*args)

    def _on_timeout(self) -> None:
        if self._pending is not None:
            self._run()
