"""The model thread's mailbox and engine on their own, then the worker's delivery rules."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

from explorer.trace_worker import BatchRequest, Engine, LoadRequest, Mailbox, ModelWorker, TraceRequest
from model.work.requests import Ablate, Dla, Exact, Lens


class Recorder:
    def __init__(self):
        self.events = []

    def engine(self, mailbox):
        return Engine(
            mailbox,
            on_trace=lambda t: self.events.append(("trace", t.request_id, t.text)),
            on_batch=lambda i, texts, traces: self.events.append(("batch", i, texts)),
            on_load=lambda i, info: self.events.append(("load", i, info.name)),
            on_error=lambda kind, i, message: self.events.append(("error", kind, i, message)),
        )


def test_a_newer_request_replaces_a_pending_one_of_its_kind(tiny_model_folder):
    mailbox, rec = Mailbox(), Recorder()
    engine = rec.engine(mailbox)
    mailbox.put("load", LoadRequest(1, str(tiny_model_folder)))
    for i, text in enumerate(("t", "th", "the"), start=2):
        mailbox.put("trace", TraceRequest(i, text))
    mailbox.put("batch", BatchRequest(5, ("a b",)))
    mailbox.put("batch", BatchRequest(6, ("the mole", "a mole")))
    engine.process()
    # the load runs first, then only the latest trace, then only the latest batch
    assert rec.events == [("load", 1, "tiny"), ("trace", 4, "the"), ("batch", 6, ("the mole", "a mole"))]
    assert not mailbox.pending()


def test_each_askers_latest_batch_is_traced_and_another_askers_does_not_replace_it(tiny_model_folder):
    mailbox, rec = Mailbox(), Recorder()
    engine = rec.engine(mailbox)
    mailbox.put("load", LoadRequest(1, str(tiny_model_folder)))
    mailbox.put("batch", BatchRequest(2, ("a b",)), asker_key=10)  # the drift tab
    mailbox.put("batch", BatchRequest(3, ("the mole",)), asker_key=20)  # the A/B tab
    mailbox.put("batch", BatchRequest(4, ("a mole",)), asker_key=10)  # the drift tab again
    engine.process()
    assert rec.events == [("load", 1, "tiny"), ("batch", 4, ("a mole",)), ("batch", 3, ("the mole",))]


def test_a_batch_is_answered_to_whoever_asked_even_when_another_asks_meanwhile(qtbot, tiny_model_folder):
    worker = ModelWorker()
    drift, ab = object(), object()
    answers, failures = [], []
    worker.batch_ready.connect(lambda asker, texts, traces: answers.append((asker, texts, [t.text for t in traces])))
    worker.batch_failed.connect(lambda asker, message: failures.append((asker, message)))
    try:
        worker.request_batch(("a b",), drift)  # no model yet: its error goes to the drift tab
        assert worker.wait_until_idle()
        assert failures == [(drift, "No model is loaded.")] and answers == []
        worker.load_model(str(tiny_model_folder))  # both batches wait behind the load
        worker.request_batch(("the mole", "a mole"), drift)
        worker.request_batch(("the cat",), ab)
        assert worker.wait_until_idle()
        assert sorted(answers, key=lambda a: a[0] is ab) == [
            (drift, ("the mole", "a mole"), ["the mole", "a mole"]), (ab, ("the cat",), ["the cat"])]
    finally:
        worker.stop()


def test_a_trace_before_any_model_is_an_error_not_an_exception():
    mailbox, rec = Mailbox(), Recorder()
    engine = rec.engine(mailbox)
    mailbox.put("trace", TraceRequest(1, "hello"))
    mailbox.put("batch", BatchRequest(2, ("a", "b")))
    engine.process()
    assert rec.events == [("error", "trace", 1, "No model is loaded."), ("error", "batch", 2, "No model is loaded.")]


def test_a_failed_load_keeps_the_previous_model(tiny_model_folder, tmp_path):
    mailbox, rec = Mailbox(), Recorder()
    engine = rec.engine(mailbox)
    mailbox.put("load", LoadRequest(1, str(tiny_model_folder)))
    engine.process()
    mailbox.put("load", LoadRequest(2, str(tmp_path / "missing")))
    mailbox.put("trace", TraceRequest(3, "the queen"))
    engine.process()
    assert rec.events[1][:3] == ("error", "load", 2) and "missing" in rec.events[1][3]
    assert rec.events[2] == ("trace", 3, "the queen")  # still traced by the first model


def test_a_closed_mailbox_wakes_the_thread_and_refuses_to_wait():
    mailbox = Mailbox()
    mailbox.put("trace", TraceRequest(1, "x"))
    mailbox.close()
    assert mailbox.wait(timeout=0.1) is False and not mailbox.pending()


def test_a_superseded_error_is_dropped(qtbot, tiny_model_folder, monkeypatch):
    from model.tracer.runner import TracingModel

    real = TracingModel.trace

    def slow_boom(self, text, *args, **kwargs):
        if text == "boom":
            time.sleep(0.2)
            raise RuntimeError("boom")
        return real(self, text, *args, **kwargs)

    monkeypatch.setattr(TracingModel, "trace", slow_boom)
    worker = ModelWorker()
    errors, traces = [], []
    worker.error.connect(lambda kind, message: errors.append(message))
    worker.trace_ready.connect(lambda t: traces.append(t.text))
    worker.load_model(str(tiny_model_folder))
    worker.request_trace("boom")
    time.sleep(0.05)  # "boom" is running when the next request comes
    worker.request_trace("fine")
    assert worker.wait_until_idle()
    worker.stop()
    assert errors == [] and traces[-1] == "fine"


def test_stop_returns_at_once_while_a_load_is_running(monkeypatch):
    import explorer.trace_worker as tw

    monkeypatch.setattr(tw, "load_tracing_model", lambda source: time.sleep(3))
    worker = ModelWorker()
    worker.load_model("slow")
    time.sleep(0.1)
    start = time.perf_counter()
    worker.stop()
    assert time.perf_counter() - start < 1.0


def test_closing_the_app_during_a_long_load_exits_cleanly_within_a_second(tmp_path):
    """Closed 1 s into a load that takes far longer: exit code 0, promptly, no abort."""
    script = textwrap.dedent(f"""
        import os, sys, time
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
        import explorer.trace_worker as tw
        tw.load_tracing_model = lambda source: time.sleep(30)
        from PySide6.QtCore import QTimer
        from PySide6.QtWidgets import QApplication
        app = QApplication([sys.argv[0]])
        from explorer import app as explorer_app
        from explorer.window import MainWindow
        def close_all():
            print("closed", time.time(), flush=True)
            for w in QApplication.topLevelWidgets():
                w.close()
        QTimer.singleShot(1000, close_all)
        os.environ["HOME"] = {str(tmp_path)!r}
        code = None
        try:
            code = explorer_app.main(["--model", "slow"])
        finally:
            print("returned", code, flush=True)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                          env={**__import__("os").environ, "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path)})
    ended = time.time()
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Destroyed while thread" not in done.stderr
    closed = float(done.stdout.split("closed", 1)[1].split()[0])
    assert ended - closed < 1.0


def test_the_window_can_show_before_torch_is_imported():
    """Importing torch takes over a second: it happens on the model thread, after the window
    is on screen (issue #19). Any GUI module that imports model code needing torch at import
    time breaks that (model.badges via the grid's overlays did)."""
    script = textwrap.dedent("""
        import os, sys
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
        from PySide6.QtWidgets import QApplication
        app = QApplication([])
        import explorer.app, explorer.window, explorer.export
        from explorer.window import MainWindow
        from PySide6.QtCore import QSettings
        import tempfile
        settings = QSettings(tempfile.mkdtemp() + "/s.ini", QSettings.IniFormat)
        window = MainWindow(source="bundled", settings=settings, initial_text="hi")  # every panel built
        window.show()
        window.repaint()
        print("torch" in sys.modules)
        os._exit(0)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "False"


# ------------------------------------------------------------------ fast start (issue #19)
def test_a_quick_start_traces_in_numpy_and_a_knock_out_asked_meanwhile_is_answered_after_the_switch(qtbot):

    from model.analysis.ablation import knockout_logits
    from model.tracer.numpy_forward import NumpyTracingModel
    from model.tracer.runner import TracingModel
    from tests.model.test_numpy_forward import assert_same_trace
    from tests.numerics import assert_close

    worker = ModelWorker()
    loaded, traces, work, full, events = [], [], [], [], []
    worker.model_loaded.connect(loaded.append)
    worker.trace_ready.connect(traces.append)
    worker.work_ready.connect(lambda asker, request, result: (work.append((request, result)), events.append("work")))
    worker.full_model_ready.connect(lambda: (full.append(True), events.append("full")))
    try:
        worker.load_model("bundled")
        worker.request_trace("the cat sat on the")
        qtbot.waitUntil(lambda: len(traces) == 1, timeout=20000)
        assert isinstance(worker.model, NumpyTracingModel) and not worker.full_model_loaded
        assert not worker.is_idle()  # the torch model is still to come
        quick_trace = traces[0]
        worker.ask(Ablate("the cat sat on the", heads=((1, 2),)))
        qtbot.wait(300)
        # a knock-out needs torch: it waits for the switch (which may already have begun on
        # its own, 1.5 s after the quick load, on a slow or busy machine)
        assert events in ([], ["full"], ["full", "work"])
        worker.load_full_model()  # what the window does once the first trace is painted
        qtbot.waitUntil(lambda: bool(work), timeout=60000)
        assert events[:2] == ["full", "work"]  # answered after the switch, never by the NumPy model
        assert full == [True] and worker.full_model_loaded and isinstance(worker.model, TracingModel)
        assert len(loaded) == 1  # the switch is not a second load
        request, result = work[0]
        ids = worker.model.encode("the cat sat on the")[0].ids
        assert isinstance(request, Ablate) and result.heads == ((1, 2),)
        assert_close(result.logits, knockout_logits(worker.model.module, ids, [(1, 2)]), what="knocked-out logits")
        # after the switch: torch traces, the same as the NumPy ones
        worker.request_trace("the cat sat on the")
        qtbot.waitUntil(lambda: len(traces) == 2, timeout=20000)
        assert_same_trace(traces[1], quick_trace)
        assert worker.wait_until_idle(30)
    finally:
        worker.stop()


def test_the_engine_defers_analyses_of_a_quick_model_and_runs_the_latest_after_the_upgrade():
    mailbox, rec = Mailbox(), Recorder()
    engine = Engine(
        mailbox,
        on_trace=lambda t: rec.events.append(("trace", t.request_id, t.text)),
        on_batch=lambda i, texts, traces: rec.events.append(("batch", i, texts)),
        on_load=lambda i, info: rec.events.append(("load", i, info.name)),
        on_error=lambda kind, i, message: rec.events.append(("error", kind, i, message)),
        on_work=lambda i, request, result: rec.events.append(("work", i, request.slot)),
        on_quick=lambda i: rec.events.append(("quick", i)),
        on_full=lambda i: rec.events.append(("full", i)),
    )
    from explorer.trace_worker import WorkRequest

    mailbox.put("load", LoadRequest(1, "bundled"))
    mailbox.put("trace", TraceRequest(2, "a b"))
    mailbox.put("lens", WorkRequest(3, Lens("a b")))
    mailbox.put("batch", BatchRequest(4, ("x", "y z")))
    engine.process()
    assert rec.events == [("quick", 1), ("load", 1, "teaching model (bundled)"), ("trace", 2, "a b"),
                          ("batch", 4, ("x", "y z"))]
    mailbox.put("lens", WorkRequest(5, Lens("a b c")))  # replaces the waiting one
    engine.process()
    assert engine.waiting_for_full_model and len(rec.events) == 4
    mailbox.put("full", 1)
    engine.process()  # starts the loader thread
    assert mailbox.wait(timeout=60)  # its "upgrade"
    engine.process()
    assert rec.events[4:] == [("full", 1), ("work", 5, "lens")]
    assert not engine.waiting_for_full_model


def test_a_load_during_the_torch_load_voids_the_upgrade(tiny_model_folder):
    mailbox, rec = Mailbox(), Recorder()
    engine = rec.engine(mailbox)
    mailbox.put("load", LoadRequest(1, "bundled"))
    mailbox.put("full", 1)
    engine.process()
    mailbox.put("load", LoadRequest(2, str(tiny_model_folder)))
    engine.process()
    assert engine.model.name == "tiny"
    assert mailbox.wait(timeout=60)  # the bundled model's upgrade arrives, for a load that is gone
    engine.process()
    assert engine.model.name == "tiny" and not engine.quick


def test_closing_while_torch_loads_after_a_fast_start_exits_cleanly(tmp_path):
    """The bundled model's first traces come from NumPy while torch loads on a thread of its
    own; closing while that thread runs aborted the process (exit 134: torch's C++ state torn
    down under it). Closed the moment the loader thread is seen running."""
    script = textwrap.dedent("""
        import os, sys, time
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
        from PySide6.QtCore import QTimer
        from PySide6.QtWidgets import QApplication
        app = QApplication([sys.argv[0]])
        from explorer import app as explorer_app
        from explorer.window import MainWindow
        windows = []
        original_init = MainWindow.__init__
        def init(self, *args, **kwargs):
            original_init(self, *args, **kwargs)
            windows.append(self)
        MainWindow.__init__ = init
        def close_when_loading():
            loader = windows and windows[0].worker._engine.loader
            if loader is not None and loader and loader.is_alive():
                print("closing while torch loads", flush=True)
                for w in QApplication.topLevelWidgets():
                    w.close()
            else:
                QTimer.singleShot(5, close_when_loading)
        QTimer.singleShot(0, close_when_loading)
        code = explorer_app.main(["--model", "bundled", "--text", "the king"])
        print("returned", code, flush=True)
    """)
    env = {**os.environ, "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env)
    assert "closing while torch loads" in done.stdout, done.stdout + done.stderr[-2000:]
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])
    assert "terminate called" not in done.stderr


def test_smaller_weights_come_after_the_float32_model_and_taught_numbers_stay_float32(tiny_model_folder):
    """A load asking for 8-bit weights shows the float32 model first, builds the 8-bit layers
    between traces, reports the new precision with its measured fidelity, and from then on
    types at 8 bits — while the analyses whose numbers are taught (DLA, the step-through's
    float32 trace) are float32's: equal to a float32 model's to float32 rounding."""
    from explorer.trace_worker import WorkRequest
    from model.loading import load_tracing_model
    from model.work import probes
    from tests.numerics import assert_close, assert_differ

    mailbox, rec, infos, results = Mailbox(), Recorder(), [], {}
    engine = Engine(
        mailbox,
        on_trace=lambda t: rec.events.append(("trace", t.request_id, t.precision)),
        on_batch=lambda i, texts, traces: None,
        on_load=lambda i, info: rec.events.append(("load", i, info.precision)),
        on_error=lambda kind, i, message: rec.events.append(("error", kind, i, message)),
        on_work=lambda i, request, result: results.__setitem__(request.slot, result),
        on_precision=lambda i, info: infos.append((i, info)),
    )
    source, text = str(tiny_model_folder), "the cat sat on the mat"
    mailbox.put("load", LoadRequest(1, source, "int8"))
    mailbox.put("trace", TraceRequest(2, text))
    engine.process()  # the load, the trace, then every conversion and fidelity step (nothing else waits)
    assert rec.events[:2] == [("load", 1, "float32"), ("trace", 2, "float32")]
    assert [i for i, _ in infos] == [1] and infos[0][1].precision == "int8"
    assert 0 < infos[0][1].top1_agreement <= 1 and "top-1 agreement" in infos[0][1].fidelity_summary
    mailbox.put("trace", TraceRequest(3, text))
    mailbox.put("dla", WorkRequest(4, Dla(text)))
    mailbox.put("exact", WorkRequest(5, Exact(text)))
    engine.process()
    assert rec.events[2] == ("trace", 3, "int8")
    reference = load_tracing_model(source)
    want = probes.run(reference, Dla(text))
    got = results["dla"]
    assert got.target == want.target
    assert_close(got.attribution.heads, want.attribution.heads, 1e-5, what="DLA under 8-bit typing")
    exact, live = results["exact"], engine.model.trace(text)
    assert exact.precision == "float32"
    assert_close(exact.pattern, reference.trace(text).pattern, 1e-5, scale=1.0, what="the step-through's trace")
    assert_differ(live.pattern, exact.pattern, 1e-7, scale=1.0, what="the live 8-bit pattern")


def test_background_steps_wait_while_the_person_types(tiny_model_folder, monkeypatch):
    """A long job (badges) steps only once typing pauses: a key that arrived during a step
    waited for it (Gemma 3: a step 140 ms, keystroke → repaint p95 154 → 80 ms without)."""
    import threading

    from explorer import mailbox as mailbox_module
    from explorer.trace_worker import WorkRequest
    from model.work.requests import Badges

    monkeypatch.setattr(mailbox_module, "TYPING_PAUSE_S", 0.3)
    mailbox, events = Mailbox(), []
    engine = Engine(
        mailbox,
        on_trace=lambda t: events.append(("trace", time.monotonic())),
        on_batch=lambda *a: None, on_load=lambda *a: None,
        on_error=lambda kind, i, message: events.append(("error", message)),
        on_work=lambda i, request, result: events.append(("done", time.monotonic())),
        on_progress=lambda i, request, done, total: events.append(("step", time.monotonic())),
    )
    mailbox.put("load", LoadRequest(1, str(tiny_model_folder)))
    mailbox.put("trace", TraceRequest(2, "the"))
    mailbox.put("badges", WorkRequest(3, Badges()))

    def typist():  # a key every 50 ms for half a second
        for i, text in enumerate(("the c", "the ca", "the cat", "the cat s", "the cat sa", "the cat sat",
                                  "the cat sat o", "the cat sat on", "the cat sat on a", "the cat sat on a m")):
            time.sleep(0.05)
            mailbox.put("trace", TraceRequest(10 + i, text))

    keys = threading.Thread(target=typist)
    keys.start()
    engine.process()  # returns when the job is done
    keys.join()
    traces = [t for kind, t in events if kind == "trace"]
    steps = [t for kind, t in events if kind in ("step", "done")]
    assert len(traces) >= 5 and steps, events
    assert steps[0] >= traces[-1] + 0.25  # no step until typing had paused
    assert events[-1][0] == "done"
