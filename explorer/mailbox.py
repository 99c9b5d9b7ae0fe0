"""What the GUI sends the model thread, and the mailbox that holds it (Qt-free).

Each request kind has a mailbox slot of size one: a newer request replaces a pending one
(latest wins). Requests are frozen dataclasses carrying an increasing id."""

from __future__ import annotations

import threading
from dataclasses import dataclass


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
    """An analysis of ``text`` beyond the trace (see :mod:`model.work.probes`): ``kind`` is
    one of :data:`WORK_KINDS`, ``options`` its parameters (a dict)."""

    request_id: int
    kind: str
    text: str
    options: dict


#: Analyses that take one step ("lens", "ablate", "patch", "dla", "block": the step-through's rest of a
#: block, "head_dla": the heads grid's colours, "token_lens": chosen tokens up the lens's layers, "character": finish a character
#: a sampled byte token left incomplete) and long jobs that run in steps between other
#: requests, report progress and can be cancelled ("sweep", "badges").
WORK_KINDS = ("lens", "ablate", "patch", "dla", "head_dla", "flow", "block", "token_lens", "character", "sweep", "badges",
              "saliency", "exact")
JOB_KINDS = ("sweep", "badges", "saliency")
#: Analyses whose numbers are taught, so computed with float32's products when the live view
#: runs 8- or 16-bit weights ("exact": the float32 trace itself, for the step-through).
TAUGHT_KINDS = ("dla", "head_dla", "flow", "block", "saliency", "exact")


class Mailbox:
    """The latest request of each kind, guarded by a lock; ``wait`` blocks until one arrives."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._slots: dict[str, object] = {}
        self._closed = False

    def put(self, kind: str, request: object) -> None:
        with self._cond:
            self._slots[kind] = request
            self._cond.notify()

    def take(self, kind: str):
        with self._cond:
            return self._slots.pop(kind, None)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until a request is pending or the mailbox is closed; False once closed."""
        with self._cond:
            self._cond.wait_for(lambda: self._slots or self._closed, timeout)
            return not self._closed

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._slots.clear()
            self._cond.notify_all()

    def pending(self) -> bool:
        with self._cond:
            return bool(self._slots)
