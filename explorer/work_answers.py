"""Part of :class:`explorer.window.MainWindow` (a mixin): the model thread's answers to analyses
reach the panel that asked (:meth:`explorer.views.base.Panel.ask`), or every panel when it
asked for everyone (the token strip shades the saliency the Who wrote it tab asks for; the
window asks for the head badges that the grid and Head roles show). A batch of traces
(``traces_requested``) is answered to the panel that asked for it."""

from __future__ import annotations

import shiboken6
from PySide6.QtCore import Slot


class WorkAnswers:
    def _to(self, asker) -> list:
        """Whoever an analysis's answer is for: the panel that asked (if it still exists), or
        every panel (None)."""
        return list(self.panels) if asker is None else [asker] if shiboken6.isValid(asker) else []

    @Slot(object, object, object)
    def _on_work_ready(self, asker, request, result) -> None:
        for panel in self._to(asker):
            panel.set_work_result(request, result)
        self._refresh_panels()

    @Slot(object, object, int, int)
    def _on_work_progress(self, asker, request, done: int, total: int) -> None:
        for panel in self._to(asker):
            panel.set_work_progress(request, done, total)

    @Slot(object, object, str)
    def _on_work_failed(self, asker, request, message: str) -> None:
        for panel in self._to(asker):
            panel.set_work_error(request, message)

    @Slot(object, object, object)
    def _on_batch_ready(self, asker, texts, traces) -> None:
        for panel in self._to(asker):
            panel.set_batch_traces(texts, traces)

    @Slot(object, str)
    def _on_batch_failed(self, asker, message: str) -> None:
        for panel in self._to(asker):
            panel.set_batch_error(message)
