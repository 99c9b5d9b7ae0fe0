"""What the GUI sends the model thread, and the mailbox that holds it (Qt-free).

Each request kind has a mailbox slot of size one: a newer request replaces a pending one
(latest wins). A kind asked for by several askers (a batch of traces: the Context drift and
A/B tabs) has one slot per asker, so one asker's request never replaces another's. Requests
are frozen dataclasses carrying an increasing id."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from model.work.requests import ANALYSES, Analysis


@dataclass(frozen=True)
class TraceRequest:
    request_id: int
    text: str
    logit_positions: tuple[int, ...] = (-1,)


@dataclass(frozen=True)
class BatchRequest:
    request_id: int
    texts: tuple[str, ...]


@dataclass(frozen=True)
class LoadRequest:
    request_id: int
    source: str
    #: "float32", "auto", "float16", "int8" (built after the float32 model is shown:
    #: model/core/int8.py) or "bfloat16" (model/core/precision.py)
    precision: str = "float32"


KINDS = ("load", "trace", "batch")
#: Precisions the engine reaches after loading in float32, in steps between traces.
LATER_PRECISIONS = ("auto", "float16", "int8")


@dataclass(frozen=True)
class WorkRequest:
    """An analysis (a :mod:`model.work.requests` dataclass) on its way to the model thread, with
    the id its result, progress or error comes back under."""

    request_id: int
    analysis: Analysis

    @property
    def kind(self) -> str:
        """The mailbox slot: one pending request per kind of analysis."""
        return self.analysis.slot


#: Mailbox slots of the analyses (:data:`model.work.requests.ANALYSES`): one-step ones and
#: long jobs that run in steps between other requests, report progress and can be cancelled.
WORK_KINDS = tuple(cls.slot for cls in ANALYSES)
JOB_KINDS = tuple(cls.slot for cls in ANALYSES if cls.job)


class Mailbox:
    """The latest request of each kind, guarded by a lock; ``wait`` blocks until one arrives."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._slots: dict[str, object] = {}
        self._closed = False

    def put(self, kind: str, request: object, asker_key: int | None = None) -> None:
        """Leave ``request`` in ``kind``'s slot, or in the slot of ``kind`` for ``asker_key``
        (an asker's own slot: see :meth:`take_each`), replacing what was pending there."""
        with self._cond:
            self._slots[kind if asker_key is None else (kind, asker_key)] = request
            self._cond.notify()

    def take(self, kind: str):
        with self._cond:
            return self._slots.pop(kind, None)

    def take_each(self, kind: str) -> list:
        """Every pending request of ``kind``: its plain slot's and each asker's (in the order
        their slots were first filled)."""
        with self._cond:
            keys = [k for k in self._slots if k == kind or (isinstance(k, tuple) and k[0] == kind)]
            return [self._slots.pop(k) for k in keys]

    def wait(self, timeout: float | None = None) -> bool:
        """Block until a request is pending or the mailbox is closed; False once closed."""
        with self._cond:
            self._cond.wait_for(lambda: self._slots or self._closed, timeout)
            return not self._closed

    def wait_for_request(self, timeout: float) -> bool:
        """Block up to ``timeout`` seconds for a request (less if the mailbox is closed); True
        if one is pending."""
        with self._cond:
            self._cond.wait_for(lambda: self._slots or self._closed, timeout)
            return bool(self._slots)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._slots.clear()
            self._cond.notify_all()

    def pending(self) -> bool:
        with self._cond:
            return bool(self._slots)


#: Seconds after the last keystroke's trace before a background step runs
#: (:class:`TypingPause`): longer than the gap between a typist's keys, short enough that
#: badges and the smaller weights still arrive soon after typing stops.
TYPING_PAUSE_S = 0.35


class TypingPause:
    """While the person types, the model thread's background steps (the smaller weights being
    built, badges, a sweep) wait. A step of Gemma 3's badges takes ~140 ms, and a keystroke
    arriving during one waited for it: keystroke → repaint p95 154 ms, against 80 ms without.
    """

    def __init__(self, mailbox: Mailbox, seconds: float | None = None) -> None:
        self.mailbox = mailbox
        self.seconds = TYPING_PAUSE_S if seconds is None else seconds
        self._typed_at = float("-inf")

    def typed(self) -> None:
        """A typed text has just been traced."""
        self._typed_at = time.monotonic()

    def wait(self) -> bool:
        """Before a background step: wait until ``seconds`` after the last typed trace, or
        until a request arrives; True if one did (handle it first)."""
        left = self._typed_at + self.seconds - time.monotonic()
        return left > 0 and self.mailbox.wait_for_request(left)
