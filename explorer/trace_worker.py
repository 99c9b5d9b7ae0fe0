"""One background thread owns the model; the GUI talks to it through a latest-wins mailbox.

Each request kind (load, trace, batch of traces) has a mailbox slot of size one: a newer
request replaces a pending one, so a burst of keystrokes costs at most one forward pass
behind the one running (batches have one slot per panel that asks). Every request carries an
increasing id. The engine drains the mailbox in a fixed order — a load first (it changes
what traces mean), then the latest trace, then the latest batch of each panel.

When a result reaches the GUI thread:

* the result of the **latest** request of its kind is always shown;
* a **superseded** trace (keys came faster than forward passes) is shown only when it is
  newer than what is on screen and the screen has not changed for
  :data:`STALE_SCREEN_MS`; otherwise it is dropped. Without this, a fast typist would see
  nothing move until they paused. One superseded trace at most per interval is shown
  (:class:`explorer.throttle.Throttled`, last one wins), and never one older than the screen;
* a superseded batch or error is dropped; a batch's traces or error go to the panel that
  asked for it (another panel's later batch does not supersede it).

**Fast start** (issue #19): the bundled teaching model is first served by its NumPy forward
pass (:mod:`model.tracer.numpy_forward`), which needs no torch: ``import torch`` alone takes
over a second on a 2-core machine (docs/benchmarks.md, "Importing torch") and holds the GIL. Once that model's first trace is on screen,
a loader thread imports torch and loads the same model as a :class:`TracingModel`; the engine
switches to it between two requests. Traces and batches are served by either (the same
:class:`ModelInfo`, the same traces to float32 rounding); the analyses (:data:`WORK_KINDS`:
knock-outs, the lens, sweeps, badges…) need torch and wait for the switch, latest of each
kind, then run. Nothing on screen changes at the switch.

The model runs on a plain daemon Python thread, not a QThread: a load cannot be interrupted
half-way (it is one call into torch), and a daemon thread that is still loading when the
person closes the window does not hold the process open (``stop`` returns at once; the
abandoned result is never delivered). Results cross to the GUI thread as queued signals of
:class:`ModelWorker`, which lives in the GUI thread.
"""

from __future__ import annotations

import threading
import time
import traceback
from typing import TYPE_CHECKING

from PySide6.QtCore import QCoreApplication, QObject, QTimer, Signal, Slot

from explorer.mailbox import (  # noqa: F401 (re-exported)
    JOB_KINDS,
    KINDS,
    LATER_PRECISIONS,
    WORK_KINDS,
    BatchRequest,
    LoadRequest,
    Mailbox,
    TraceRequest,
    TypingPause,
    WorkRequest,
)
from explorer.model_loads import (  # noqa: F401 (re-exported)
    FULL_LOAD_FALLBACK_MS,
    QUICK_START_ENV,
    describe_error,
    load_tracing_model,
    quick_model,
    quick_start,
)
from explorer.precision_job import PrecisionUpgrade, exactly
from explorer.screen_policy import STALE_SCREEN_MS, ScreenPolicy  # noqa: F401 (re-exported)
from explorer.throttle import Throttled
from model.core.errors import EmptyInputError, ModelFileError
from model.core.memory import HeapTrimmer
from model.work.requests import Analysis

if TYPE_CHECKING:  # the model code (NumPy; torch, over a second) is imported on the model thread
    from model.core.info import ModelInfo
    from model.core.trace import Trace
    from model.tracer.numpy_forward import NumpyTracingModel
    from model.tracer.runner import TracingModel

class Engine:
    """The only object that touches the model. Runs requests from a :class:`Mailbox` and
    reports through callbacks (``on_trace(trace)``, ``on_batch(id, texts, traces)``,
    ``on_load(id, info)``, ``on_error(kind, id, message)``, ``on_busy(bool)``).
    Has no Qt in it, so it can be tested on its own, synchronously, with :meth:`process`.

    A quick load (:func:`quick_model`) reports ``on_quick(id)`` before ``on_load``; a
    ``"full"`` message in the mailbox (its load's id) then starts the torch load on a thread
    of its own, which posts ``"upgrade"`` when done; the engine switches models at the next
    :meth:`process` and reports ``on_full(id)``. Analyses asked for meanwhile wait for it."""

    def __init__(self, mailbox: Mailbox, on_trace, on_batch, on_load, on_error, on_busy=lambda _b: None,
                 on_work=lambda _id, _analysis, _result: None,
                 on_progress=lambda _id, _analysis, _done, _total: None,
                 on_quick=lambda _id: None, on_full=lambda _id: None,
                 on_precision=lambda _id, _info: None) -> None:
        self.mailbox = mailbox
        # 8- or 16-bit weights (model/core/int8.py), built after the float32 model is shown
        self._precision = PrecisionUpgrade(on_precision, on_error, describe_error)
        self._on_quick, self._on_full = on_quick, on_full
        self._load_id = -1  # the load whose model is current
        self._full_source: str | None = None  # a quick model's source, until its torch model is loading
        self._full_error: str | None = None  # why the torch model of the quick one failed to load
        self._waiting: dict[str, WorkRequest] = {}  # analyses waiting for the torch model
        self._on_work, self._on_progress = on_work, on_progress
        self._jobs: dict = {}  # kind -> (request, step generator): long jobs in progress
        self._last_trace: Trace | None = None  # the lens reads it instead of tracing again
        self._typing = TypingPause(mailbox)  # background steps wait while the person types
        self._lens_memo: dict = {}  # the last lens, so typing recomputes only the changed positions
        self.model: TracingModel | None = None
        self.loader: threading.Thread | None = None  # the torch load after a fast start
        self._on_trace, self._on_batch, self._on_load = on_trace, on_batch, on_load
        self._on_error, self._on_busy = on_error, on_busy
        self.busy = False
        # Freed trace arrays stay on glibc's heap and RSS creeps up while typing; handing
        # them back every 50 traces costs ~1 ms per trace on average (model/core/memory.py).
        self._trimmer = HeapTrimmer(every=50)

    def process(self) -> None:
        """Drain the mailbox: a load first (it changes what traces mean), then the latest trace,
        then the latest batch of each asker, then analyses; long jobs (sweep, badges) advance one step at a
        time whenever nothing else is waiting, so typing stays live while they run."""
        while True:
            load, trace = self.mailbox.take("load"), self.mailbox.take("trace")
            batches = self.mailbox.take_each("batch")  # the latest of each asker
            work = [self.mailbox.take(kind) for kind in WORK_KINDS]
            cancel = self.mailbox.take("cancel")
            full, upgrade = self.mailbox.take("full"), self.mailbox.take("upgrade")
            if (load is None and trace is None and not batches and not any(work) and cancel is None
                    and full is None and upgrade is None):
                if (self._precision.running or self._jobs) and self._typing.wait():
                    continue  # a keystroke came in: trace it before any background step
                if self._precision.running:
                    self._precision.step()
                    continue
                if not self._jobs:
                    return
                self._step_job()
                continue
            if cancel is not None:
                for kind in cancel:
                    self._jobs.pop(kind, None)
                    self._waiting.pop(kind, None)
            if load is not None:
                self._jobs.clear()  # a new model: jobs about the old one are void
                self._precision.clear()
                self._waiting.clear()
                self._last_trace = None
                self._lens_memo.clear()
                self._load(load)
            if upgrade is not None:
                work += self._upgrade(*upgrade)
            if full is not None and full == self._load_id:
                self._start_full_load()
            if trace is not None:
                self._trace(trace)
            for batch in batches:
                self._batch(batch)
            for request in work:
                if request is not None:
                    self._work(request)

    def run_forever(self) -> None:
        while self.mailbox.wait():
            self.busy = True
            try:
                self.process()
            finally:
                self.busy = False

    def _load(self, request: LoadRequest) -> None:
        self._on_busy(True)
        # 8- and 16-bit weights start as float32 (the NumPy quick start included) and are
        # built after the model is on screen (_start_precision_job); bfloat16 is torch's at load
        later = request.precision in LATER_PRECISIONS
        first = "float32" if later else request.precision
        try:
            model = quick_model(request.source) if first == "float32" else None
            if model is None:
                model = load_tracing_model(request.source, first)
            info = model.info(source=request.source)
        except Exception as exc:  # the previous model stays in place
            self._on_error("load", request.request_id, describe_error(exc))
        else:
            self.model = model
            self._load_id = request.request_id
            quick = getattr(model, "needs_torch_for_analyses", False)
            self._full_source = request.source if quick else None
            self._full_error = None
            self._precision.want(request.request_id, request.source, request.precision if later else None)
            if quick:
                self._on_quick(request.request_id)
            self._on_load(request.request_id, info)
            if not quick:
                self._precision.start(model, self._load_id)
        finally:
            self._on_busy(False)

    @property
    def quick(self) -> bool:
        """The model is the NumPy one: analyses wait for the torch model."""
        return getattr(self.model, "needs_torch_for_analyses", False)

    @property
    def waiting_for_full_model(self) -> bool:
        """A quick model whose torch model is not in place yet (and has not failed to load)."""
        return self.quick and self._full_error is None

    def _start_full_load(self) -> None:
        """Load the quick model's torch model on a thread of its own; it posts "upgrade"."""
        if self._full_source is None:
            return
        source, load_id, self._full_source = self._full_source, self._load_id, None

        def load() -> None:
            try:
                result = load_tracing_model(source)  # the quick model is float32's stand-in
            except Exception as exc:
                result = exc
            self.mailbox.put("upgrade", (load_id, result))

        self.loader = threading.Thread(target=load, name="model-loader", daemon=True)
        self.loader.start()

    def _upgrade(self, load_id: int, result) -> list[WorkRequest]:
        """Put the torch model in the quick one's place (if it is still the current load);
        the analyses that waited for it, to run now."""
        if load_id != self._load_id or not self.quick:
            return []  # another model was loaded meanwhile
        waiting = list(self._waiting.values())
        self._waiting.clear()
        if isinstance(result, Exception):
            self._full_error = describe_error(result)
            traceback.print_exception(result)
            for request in waiting:
                self._work_failed(request, ValueError(self._full_error))
            return []
        self.model = result
        self._on_full(load_id)
        self._precision.start(self.model, load_id)
        return waiting

    def _trace(self, request: TraceRequest) -> None:
        if self.model is None:
            self._on_error("trace", request.request_id, QCoreApplication.translate("ModelWorker", "No model is loaded."))
            return
        try:
            trace = self.model.trace(request.text, request.request_id, list(request.logit_positions))
        except Exception as exc:
            if not isinstance(exc, (EmptyInputError, ModelFileError)):
                traceback.print_exc()
            self._on_error("trace", request.request_id, describe_error(exc))
        else:
            self._last_trace = trace
            self._on_trace(trace)
        self._typing.typed()
        self._trimmer.tick()

    def _batch(self, request: BatchRequest) -> None:
        if self.model is None:
            self._on_error("batch", request.request_id, QCoreApplication.translate("ModelWorker", "No model is loaded."))
            return
        try:
            with self.model.separate_memory():  # other texts: keep the typed one's rows
                traces = tuple(self.model.trace(t, request.request_id, [-1]) for t in request.texts)
        except Exception as exc:
            self._on_error("batch", request.request_id, describe_error(exc))
        else:
            self._on_batch(request.request_id, request.texts, traces)


    def _work(self, request: WorkRequest) -> None:
        if self.model is None:
            self._on_error(request.kind, request.request_id, "No model is loaded.")
            return
        if self.quick:
            if self._full_error is not None:
                self._work_failed(request, ValueError(self._full_error))
            else:  # runs once the torch model is in place
                self._waiting[request.kind] = request
            return
        from model.work import probes

        model, last, analysis = self.model, self._last_trace, request.analysis
        # numbers that are taught are float32's even when typing runs 8- or 16-bit weights
        taught = type(analysis).taught and getattr(model, "exact_differs", False)
        try:
            if type(analysis).job:
                steps = probes.job_steps(model, analysis, None if taught else last)
                self._jobs[request.kind] = (request, exactly(model, steps) if taught else steps)
                return
            if taught:  # float32's numbers, from float32's trace of the text
                with model.exact():
                    result = probes.run(model, analysis, model.exact_trace(analysis.text), self._lens_memo)
            else:
                result = probes.run(model, analysis, last, self._lens_memo)
        except Exception as exc:
            self._work_failed(request, exc)
        else:
            self._on_work(request.request_id, request.analysis, result)

    def _step_job(self) -> None:
        kind = next(iter(self._jobs))
        request, steps = self._jobs[kind]
        try:
            done, total, result = next(steps)
        except Exception as exc:
            self._jobs.pop(kind, None)
            self._work_failed(request, exc)
            return
        if result is None:
            self._on_progress(request.request_id, request.analysis, done, total)
        else:
            self._jobs.pop(kind, None)
            self._on_work(request.request_id, request.analysis, result)

    def _work_failed(self, request: WorkRequest, exc: Exception) -> None:
        if not isinstance(exc, (ValueError, EmptyInputError, ModelFileError)):
            traceback.print_exc()
        self._on_error(request.kind, request.request_id, describe_error(exc))


class ModelWorker(QObject):
    """The GUI thread's handle on the model thread.

    Signals (all emitted in the GUI thread, only for the latest request of their kind, but
    see the module docstring for superseded traces): ``trace_ready(Trace)``,
    ``model_loaded(ModelInfo)``, ``error(kind, message)`` with kind "load", "trace" or
    "precision", ``busy_changed(bool)``; a batch's ``batch_ready(asker, texts, traces)`` or
    ``batch_failed(asker, message)``, to whoever asked (:meth:`request_batch`).
    """

    trace_ready = Signal(object)
    batch_ready = Signal(object, object, object)
    batch_failed = Signal(object, str)
    model_loaded = Signal(object)
    error = Signal(str, str)
    busy_changed = Signal(bool)
    # Emitted from the model thread; queued into the slots below, in the GUI thread.
    _trace_done = Signal(object)
    _batch_done = Signal(int, object, object)
    _load_done = Signal(int, object)
    _failed = Signal(str, int, str)
    _busy = Signal(bool)
    #: Analyses (:mod:`model.work.requests`), addressed to whoever asked (:meth:`ask`; None:
    #: everyone): ``work_ready(asker, request, result)``, ``work_progress(asker, request, done,
    #: total)``, ``work_failed(asker, request, message)``; the latest request of each kind only.
    work_ready = Signal(object, object, object)
    work_progress = Signal(object, object, int, int)
    work_failed = Signal(object, object, str)
    _work_done = Signal(int, object, object)
    _work_step = Signal(int, object, int, int)
    #: The torch model has taken the quick NumPy model's place (nothing on screen changes;
    #: the window freezes the objects it brought out of garbage collection).
    full_model_ready = Signal()
    _quick_done = Signal(int)
    _full_done = Signal(int)
    #: The model on screen now runs 8- or 16-bit weights (or "auto" settled on float32): its
    #: ModelInfo with the precision and the measured fidelity. Its failures are ``error("precision", …)``.
    precision_ready = Signal(object)
    _precision_done = Signal(int, object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._mailbox = Mailbox()
        self._next_id = 0
        self._latest: dict[str, int] = {kind: -1 for kind in KINDS + WORK_KINDS}
        self._askers: dict[str, tuple[int, object, Analysis]] = {}  # kind -> the latest (id, asker, request)
        self._batch_askers: dict[int, tuple[int, object]] = {}  # id(asker) -> its latest batch's (id, asker)
        self.screen = ScreenPolicy()
        self.request_time: dict[int, float] = {}
        self._trace_done.connect(self._on_trace_done)
        self._batch_done.connect(self._on_batch_done)
        self._load_done.connect(self._on_load_done)
        self._failed.connect(self._on_failed)
        self._busy.connect(self.busy_changed)
        self._work_done.connect(self._on_work_done)
        self._work_step.connect(self._on_work_step)
        self._quick_done.connect(self._on_quick_load)
        self._full_done.connect(self._on_full_load)
        self._precision_done.connect(self._on_precision_done)
        self._quick_id: int | None = None  # a quick load whose torch model is not asked for yet
        self._stopped = False
        self._engine = Engine(self._mailbox, *(self._from_thread(signal) for signal in (
            self._trace_done, self._batch_done, self._load_done, self._failed, self._busy,
            self._work_done, self._work_step, self._quick_done, self._full_done, self._precision_done)))
        self._thread = threading.Thread(target=self._engine.run_forever, name="model-worker", daemon=True)
        self._thread.start()
        self._show_superseded = Throttled(self._emit_superseded, timeout=STALE_SCREEN_MS, leading=True, parent=self)

    def _from_thread(self, signal):
        """``signal.emit`` for the model thread: silent once stopped, since an abandoned load
        may finish after this object is gone."""
        def emit(*args) -> None:
            if self._stopped:
                return
            try:
                signal.emit(*args)
            except RuntimeError:  # deleted while the thread was finishing
                pass
        return emit

    # ------------------------------------------------------------------ requests
    def _send(self, kind: str, make) -> int:
        self._next_id += 1
        self._latest[kind] = self._next_id
        request = make(self._next_id)
        self._mailbox.put(kind, request)
        return self._next_id

    def load_model(self, source: str, precision: str = "float32") -> int:
        """Load ``source`` at ``precision``: "float32"; "auto", "float16" or "int8" (the float32
        model first, then 8- or 16-bit weights built between traces: ``precision_ready``);
        "bfloat16" (model/core/precision.py)."""
        for kind in JOB_KINDS:  # the engine drops them too; results already on their way are void
            self._latest[kind] = self._next_id + 1
        return self._send("load", lambda i: LoadRequest(i, str(source), precision))

    def ask(self, analysis: Analysis, asker: object = None) -> int:
        """Run ``analysis`` (a :mod:`model.work.requests` dataclass) on the model thread; its
        result, progress and error go to ``asker`` alone (None: to everyone). A newer request of
        the same kind replaces a pending one, and only the latest one's answer is delivered."""
        if not isinstance(analysis, Analysis) or analysis.slot not in WORK_KINDS:
            raise TypeError(f"not an analysis request: {analysis!r}")
        request_id = self._send(analysis.slot, lambda i: WorkRequest(i, analysis))
        self._askers[analysis.slot] = (request_id, asker, analysis)
        return request_id

    def cancel_work(self, kind: type[Analysis] | str) -> None:
        """Stop a sweep or the badges between two steps; nothing more of it is delivered."""
        kind = kind if isinstance(kind, str) else kind.slot
        self._next_id += 1
        self._latest[kind] = self._next_id
        self._mailbox.put("cancel", (kind,))

    def request_trace(self, text: str, logit_positions: tuple[int, ...] = (-1,)) -> int:
        request_id = self._send("trace", lambda i: TraceRequest(i, text, tuple(logit_positions)))
        self.request_time[request_id] = time.perf_counter()
        return request_id

    def request_batch(self, texts: tuple[str, ...], asker: object = None) -> int:
        """Trace ``texts`` apart from the typed text; the traces (``batch_ready``) or the error
        (``batch_failed``) go to ``asker``. A newer batch of the same asker replaces its pending
        one; another asker's batch is traced as well and answered to it."""
        self._next_id += 1
        self._batch_askers[id(asker)] = (self._next_id, asker)
        # the model thread sees only the key, never the asker (a Qt object)
        self._mailbox.put("batch", BatchRequest(self._next_id, tuple(texts)), asker_key=id(asker))
        return self._next_id

    def _batch_asker(self, request_id: int) -> tuple[object] | None:
        """(asker,) of a batch that is its asker's latest, else None (superseded or stopped)."""
        for key, (latest, asker) in self._batch_askers.items():
            if latest == request_id:
                del self._batch_askers[key]
                return (asker,)
        return None

    @property
    def latest_trace_id(self) -> int:
        return self._latest["trace"]

    @property
    def model(self) -> TracingModel | NumpyTracingModel | None:
        """The model the thread holds, for tests and tools; the GUI never calls it. After a
        quick start it is the NumPy model until :attr:`full_model_loaded` (``wait_until_idle``
        waits for that)."""
        return self._engine.model

    def is_running(self) -> bool:
        """The model thread, or the torch loader a fast start began, is still running: a
        process that ends now must leave without Python's teardown (``os._exit``), or torch's
        C++ state is destroyed under the running thread and the process aborts."""
        loader = getattr(self._engine, "loader", None)
        return self._thread.is_alive() or (loader is not None and loader.is_alive())

    def is_idle(self) -> bool:
        """Nothing pending, nothing running on the model thread, and after a quick start the
        torch model in place (or failed to load)."""
        return not self._mailbox.pending() and not self._engine.busy and not self._engine.waiting_for_full_model

    @property
    def full_model_loaded(self) -> bool:
        """The model in place is the torch one (not the quick NumPy one of a fast start)."""
        return self._engine.model is not None and not self._engine.quick

    def load_full_model(self) -> None:
        """After a quick start: load the torch model now (the worker does it by itself
        :data:`FULL_LOAD_FALLBACK_MS` after the quick load)."""
        if self._quick_id is not None:
            load_id, self._quick_id = self._quick_id, None
            self._mailbox.put("full", load_id)

    def wait_until_idle(self, timeout_s: float = 10.0) -> bool:
        """Block (processing Qt events) until the model thread has nothing to do and every
        result it produced has been delivered; for tests, the benchmark and headless export."""
        from PySide6.QtCore import QCoreApplication

        deadline = time.perf_counter() + timeout_s
        while time.perf_counter() < deadline:
            QCoreApplication.processEvents()
            if self.is_idle():
                QCoreApplication.processEvents()  # deliver what the last request emitted
                if self.is_idle():
                    return True
            time.sleep(0.002)
        return False

    def stop(self, timeout_s: float = 0.5) -> bool:
        """Tell the model thread to stop and wait at most ``timeout_s`` for it; True when it has
        stopped. A load or forward pass in progress is abandoned, not waited for: the thread
        is a daemon and its late result has nowhere to go."""
        self._stopped = True
        self._quick_id = None
        self._mailbox.close()
        self._latest = {kind: -2 for kind in KINDS}  # nothing that arrives from now on is current
        self._batch_askers.clear()
        self._show_superseded.cancel()
        self._thread.join(timeout_s)
        return not self._thread.is_alive()

    # ------------------------------------------------------------------ results (GUI thread)
    @Slot(int)
    def _on_quick_load(self, load_id: int) -> None:
        if load_id == self._latest["load"]:
            self._quick_id = load_id
            QTimer.singleShot(FULL_LOAD_FALLBACK_MS, self, self.load_full_model)

    @Slot(int)
    def _on_full_load(self, load_id: int) -> None:
        if load_id == self._latest["load"]:
            self.full_model_ready.emit()

    @Slot(object)
    def _on_trace_done(self, trace: Trace) -> None:
        self.request_time = {k: v for k, v in self.request_time.items() if k >= trace.request_id}
        verdict = self.screen.verdict(trace.request_id, self._latest["trace"], time.perf_counter(), trace.forward_ms)
        if verdict in ("show", "slow"):
            self._show_superseded.cancel()
            self._show(trace)
        elif verdict == "stale":
            self._show_superseded(trace)  # at most one per interval, the last one wins

    def _emit_superseded(self, trace: Trace) -> None:
        if trace.request_id > self.screen.shown_id and self._latest["trace"] >= 0:
            self._show(trace)

    def _show(self, trace: Trace) -> None:
        self.screen.shown(trace.request_id, time.perf_counter())
        self.trace_ready.emit(trace)

    @Slot(int, object, object)
    def _on_batch_done(self, request_id: int, texts, traces) -> None:
        to = self._batch_asker(request_id)
        if to is not None:
            self.batch_ready.emit(to[0], texts, traces)

    @Slot(int, object)
    def _on_load_done(self, request_id: int, info: ModelInfo) -> None:
        if request_id == self._latest["load"]:
            self.model_loaded.emit(info)

    @Slot(int, object)
    def _on_precision_done(self, load_id: int, info: ModelInfo) -> None:
        if load_id == self._latest["load"]:
            self.precision_ready.emit(info)

    def _asker(self, request_id: int, kind: str):
        """(asker, request) of the latest request of ``kind`` if it is ``request_id``, else None."""
        held = self._askers.get(kind)
        if held is None or held[0] != request_id or request_id != self._latest.get(kind):
            return None
        return held[1], held[2]

    @Slot(int, object, object)
    def _on_work_done(self, request_id: int, analysis: Analysis, result) -> None:
        to = self._asker(request_id, analysis.slot)
        if to is not None:
            self.work_ready.emit(to[0], to[1], result)

    @Slot(int, object, int, int)
    def _on_work_step(self, request_id: int, analysis: Analysis, done: int, total: int) -> None:
        to = self._asker(request_id, analysis.slot)
        if to is not None:
            self.work_progress.emit(to[0], to[1], done, total)

    @Slot(str, int, str)
    def _on_failed(self, kind: str, request_id: int, message: str) -> None:
        if kind in WORK_KINDS:
            to = self._asker(request_id, kind)
            if to is not None:
                self.work_failed.emit(to[0], to[1], message)
        elif kind == "batch":
            to = self._batch_asker(request_id)
            if to is not None:
                self.batch_failed.emit(to[0], message)
        elif request_id == self._latest.get("load" if kind == "precision" else kind):
            self.error.emit(kind, message)
