"""One background thread owns the model; the GUI talks to it through a latest-wins mailbox.

Each request kind (load, trace, batch of traces) has a mailbox slot of size one: a newer
request replaces a pending one, so a burst of keystrokes costs at most one forward pass
behind the one running. Every request carries an increasing id, and a result whose id is
no longer the latest of its kind is dropped on arrival in the GUI thread. Results and
errors cross threads only as queued signals into slots of :class:`ModelWorker`, which
lives in the GUI thread.
"""

from __future__ import annotations

import os
import sys
import threading
import time
import traceback
from dataclasses import dataclass

import torch
from PySide6.QtCore import QObject, QThread, Signal, Slot

from model.errors import EmptyInputError, ModelFileError
from model.info import ModelInfo
from model.loading import load_tracing_model
from model.runner import TracingModel
from model.trace import Trace


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


class _Mailbox:
    """The latest request of each kind, guarded by a lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._slots: dict[str, object] = {}

    def put(self, kind: str, request: object) -> None:
        with self._lock:
            self._slots[kind] = request

    def take(self, kind: str):
        with self._lock:
            return self._slots.pop(kind, None)


def describe_error(exc: BaseException) -> str:
    """A message for a person: what went wrong and, for files, which file."""
    if isinstance(exc, (ModelFileError, EmptyInputError)):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


class _Engine(QObject):
    """Lives in the worker thread; the only object that touches the model."""

    trace_done = Signal(object)  # Trace
    batch_done = Signal(int, object, object)  # request id, texts, traces
    load_done = Signal(int, object)  # request id, ModelInfo
    failed = Signal(str, int, str)  # kind, request id, message
    busy = Signal(bool)

    def __init__(self, mailbox: _Mailbox) -> None:
        super().__init__()
        self._mailbox = mailbox
        self.model: TracingModel | None = None

    @Slot()
    def process(self) -> None:
        """Drain the mailbox: a load first (it changes what traces mean), then the latest trace."""
        while True:
            load = self._mailbox.take("load")
            trace = self._mailbox.take("trace")
            batch = self._mailbox.take("batch")
            if load is None and trace is None and batch is None:
                return
            if load is not None:
                self._load(load)
            if trace is not None:
                self._trace(trace)
            if batch is not None:
                self._batch(batch)

    def _load(self, request: LoadRequest) -> None:
        self.busy.emit(True)
        try:
            model = load_tracing_model(request.source)
            info = model.info(source=request.source)
        except Exception as exc:  # the previous model stays in place
            self.failed.emit("load", request.request_id, describe_error(exc))
        else:
            self.model = model
            self.load_done.emit(request.request_id, info)
        finally:
            self.busy.emit(False)

    def _trace(self, request: TraceRequest) -> None:
        if self.model is None:
            self.failed.emit("trace", request.request_id, "No model is loaded.")
            return
        try:
            trace = self.model.trace(request.text, request.request_id, list(request.logit_positions))
        except Exception as exc:
            message = describe_error(exc)
            if not isinstance(exc, (EmptyInputError, ModelFileError)):
                traceback.print_exc()
            self.failed.emit("trace", request.request_id, message)
        else:
            self.trace_done.emit(trace)

    def _batch(self, request: BatchRequest) -> None:
        if self.model is None:
            self.failed.emit("batch", request.request_id, "No model is loaded.")
            return
        try:
            traces = tuple(self.model.trace(t, request.request_id, [-1]) for t in request.texts)
        except Exception as exc:
            self.failed.emit("batch", request.request_id, describe_error(exc))
        else:
            self.batch_done.emit(request.request_id, request.texts, traces)


# pyqtgraph paints in Python on the GUI thread, and the model thread needs the GIL back
# between every small torch op. With CPython's default 5 ms switch interval each handoff
# could wait 5 ms: measured, keystroke-to-repaint went from 566 ms (p50) to 41 ms with 0.5 ms.
GIL_SWITCH_INTERVAL_S = 0.0005
THREADS_ENV = "ATTENTION_EXPLORER_TORCH_THREADS"


def model_thread_count() -> int:
    """Torch threads for the model: all cores but one, which the GUI thread needs to paint.

    On 2 cores torch's default (2) left painting competing with the forward pass: measured
    with ``python -m explorer.bench``, one thread brought typing p95 from 54-63 ms to 40-47
    ms and the longest stall from 61-68 ms to 41-42 ms, and the forward pass itself got
    faster (p95 21-25 -> 12-14 ms); the model is too small to gain from a second thread.
    ``ATTENTION_EXPLORER_TORCH_THREADS`` overrides it.
    """
    override = os.environ.get(THREADS_ENV, "").strip()
    if override.isdigit() and int(override) > 0:
        return int(override)
    return max(1, min(torch.get_num_threads(), (os.cpu_count() or 2) - 1))
# A superseded result is still shown when the screen has not changed for this long: when
# keys come faster than forward passes, every result is stale on arrival, and dropping
# them all would freeze the display until typing stops.
MAX_SCREEN_AGE_S = 0.1


class ModelWorker(QObject):
    """The GUI thread's handle on the model thread.

    Signals (all emitted in the GUI thread, only for the latest request of their kind):
    ``trace_ready(Trace)``, ``batch_ready(texts, traces)``, ``model_loaded(ModelInfo)``,
    ``error(kind, message)`` with kind "load", "trace" or "batch", ``busy_changed(bool)``.
    """

    trace_ready = Signal(object)
    batch_ready = Signal(object, object)
    model_loaded = Signal(object)
    error = Signal(str, str)
    busy_changed = Signal(bool)
    _wake = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
        torch.set_num_threads(model_thread_count())
        self._mailbox = _Mailbox()
        self._next_id = 0
        self._latest: dict[str, int] = {"trace": -1, "batch": -1, "load": -1}
        self.traces_dropped = 0
        self._shown_id = -1
        self._shown_at = 0.0
        self.last_request_time: dict[int, float] = {}
        self._thread = QThread()
        self._thread.setObjectName("model-worker")
        self._engine = _Engine(self._mailbox)
        self._engine.moveToThread(self._thread)
        self._wake.connect(self._engine.process)
        self._engine.trace_done.connect(self._on_trace_done)
        self._engine.batch_done.connect(self._on_batch_done)
        self._engine.load_done.connect(self._on_load_done)
        self._engine.failed.connect(self._on_failed)
        self._engine.busy.connect(self.busy_changed)
        self._thread.start()

    # ------------------------------------------------------------------ requests
    def _new_id(self, kind: str) -> int:
        self._next_id += 1
        self._latest[kind] = self._next_id
        return self._next_id

    def load_model(self, source: str) -> int:
        request = LoadRequest(self._new_id("load"), str(source))
        self._mailbox.put("load", request)
        self._wake.emit()
        return request.request_id

    def request_trace(self, text: str, logit_positions: tuple[int, ...] = (-1,)) -> int:
        request = TraceRequest(self._new_id("trace"), text, tuple(logit_positions))
        self.last_request_time[request.request_id] = time.perf_counter()
        self._mailbox.put("trace", request)
        self._wake.emit()
        return request.request_id

    def request_batch(self, texts: tuple[str, ...]) -> int:
        request = BatchRequest(self._new_id("batch"), tuple(texts))
        self._mailbox.put("batch", request)
        self._wake.emit()
        return request.request_id

    @property
    def latest_trace_id(self) -> int:
        return self._latest["trace"]

    def is_running(self) -> bool:
        return self._thread.isRunning()

    def stop(self, timeout_ms: int = 5000) -> bool:
        """Stop the thread after the request in progress; True when it has stopped."""
        self._thread.quit()
        return self._thread.wait(timeout_ms)

    # ------------------------------------------------------------------ results (GUI thread)
    @Slot(object)
    def _on_trace_done(self, trace: Trace) -> None:
        self.last_request_time = {k: v for k, v in self.last_request_time.items() if k >= trace.request_id}
        now = time.perf_counter()
        if trace.request_id != self._latest["trace"]:
            screen_is_fresh = now - self._shown_at < MAX_SCREEN_AGE_S
            if trace.request_id <= self._shown_id or screen_is_fresh:
                self.traces_dropped += 1
                return
        self._shown_id, self._shown_at = trace.request_id, now
        self.trace_ready.emit(trace)

    @Slot(int, object, object)
    def _on_batch_done(self, request_id: int, texts, traces) -> None:
        if request_id == self._latest["batch"]:
            self.batch_ready.emit(texts, traces)

    @Slot(int, object)
    def _on_load_done(self, request_id: int, info: ModelInfo) -> None:
        if request_id == self._latest["load"]:
            self.model_loaded.emit(info)

    @Slot(str, int, str)
    def _on_failed(self, kind: str, request_id: int, message: str) -> None:
        if request_id == self._latest.get(kind):
            self.error.emit(kind, message)
