"""Which traces reach the screen (see :mod:`explorer.trace_worker`), Qt-free."""

from __future__ import annotations

#: A superseded trace is shown when the screen is at least this old (ms).
STALE_SCREEN_MS = 100
#: ... or when it took this long (ms): the next one is as far away, so the screen would wait
#: twice. Gemma 3 traces every ~80 ms in a burst of keys: with the 100 ms rule alone every
#: other trace was dropped and a key waited for the one after (burst p95 ~330 ms).
SLOW_TRACE_MS = 40


class ScreenPolicy:
    """Which traces reach the screen (see :mod:`explorer.trace_worker`): the latest request's
    always; a superseded one only if newer than the screen and either it was slow to come
    (``slow_ms``) or the screen is at least ``stale_ms`` old; never one older than the screen."""

    def __init__(self, stale_ms: float = STALE_SCREEN_MS, slow_ms: float = SLOW_TRACE_MS) -> None:
        self.stale_ms, self.slow_ms = stale_ms, slow_ms
        self.shown_id = -1
        self.shown_at = float("-inf")

    def verdict(self, request_id: int, latest_id: int, now: float, forward_ms: float = 0.0) -> str:
        """"show", "slow" (superseded, but it took ``slow_ms`` or more: show it now), "stale"
        (show if nothing newer comes first) or "drop"."""
        if request_id == latest_id:
            return "show"
        if request_id <= self.shown_id:
            return "drop"  # never backwards
        if forward_ms >= self.slow_ms:
            return "slow"
        return "stale" if (now - self.shown_at) * 1000.0 >= self.stale_ms else "drop"

    def shown(self, request_id: int, now: float) -> None:
        self.shown_id, self.shown_at = request_id, now
