"""Which traces reach the screen (see :mod:`explorer.trace_worker`), Qt-free."""

from __future__ import annotations

#: A superseded trace is shown when the screen is at least this old (ms).
STALE_SCREEN_MS = 100


class ScreenPolicy:
    """Which traces reach the screen (see :mod:`explorer.trace_worker`): the latest request's
    always; a superseded one only if newer than the screen and the screen is at least
    ``stale_ms`` old; never one older than the screen."""

    def __init__(self, stale_ms: float = STALE_SCREEN_MS) -> None:
        self.stale_ms = stale_ms
        self.shown_id = -1
        self.shown_at = float("-inf")

    def verdict(self, request_id: int, latest_id: int, now: float) -> str:
        """"show", "stale" (show if nothing newer comes first) or "drop"."""
        if request_id == latest_id:
            return "show"
        if request_id > self.shown_id and (now - self.shown_at) * 1000.0 >= self.stale_ms:
            return "stale"
        return "drop"

    def shown(self, request_id: int, now: float) -> None:
        self.shown_id, self.shown_at = request_id, now
