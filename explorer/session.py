"""What the window shows, Qt-free: the model's info, the latest trace and the selection.

The window owns one :class:`Session`; setting a field broadcasts the new value once to every
subscriber of that field, in subscription order (napari's ViewerModel, with plain callbacks
instead of Qt signals), and setting an equal value broadcasts nothing. The window subscribes
its panels' contract (``set_model_info``, ``set_trace``, ``set_selection``); a test or an
embedder can subscribe too, without a window.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

FIELDS = ("model_info", "trace", "selection")


class Session:
    def __init__(self) -> None:
        self.model_info: Any = None  # model.core.info.ModelInfo
        self.trace: Any = None  # model.core.trace.Trace: the latest shown
        self.selection: Any = None  # explorer.views.base.Selection (it lives with the panels)
        self.source: str | None = None  # the source of the model on screen
        self._subscribers: dict[str, list[Callable[[Any], None]]] = {f: [] for f in FIELDS}

    def subscribe(self, field: str, callback: Callable[[Any], None]) -> Callable[[], None]:
        """Call ``callback(value)`` whenever ``field`` changes; returns a function that unsubscribes."""
        if field not in self._subscribers:
            raise KeyError(f"a session has no field {field!r}: one of {', '.join(FIELDS)}")
        self._subscribers[field].append(callback)
        return lambda: self._subscribers[field].remove(callback)

    def set(self, field: str, value: Any) -> bool:
        """Set ``field`` to ``value`` and tell its subscribers; False (and nothing told) when the
        value is the one already held. Traces are compared by identity: every trace is news."""
        current = getattr(self, field)
        if value is current or (field != "trace" and value is not None and value == current):
            return False
        setattr(self, field, value)
        for callback in list(self._subscribers[field]):
            callback(value)
        return True

    def set_model_info(self, info: Any) -> bool:
        return self.set("model_info", info)

    def set_trace(self, trace: Any) -> bool:
        return self.set("trace", trace)

    def set_selection(self, selection: Any) -> bool:
        return self.set("selection", selection)
