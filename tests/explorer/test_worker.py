"""The model thread's mailbox and engine on their own, then the worker's delivery rules."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

from explorer.trace_worker import BatchRequest, Engine, LoadRequest, Mailbox, ModelWorker, TraceRequest


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
    from model.runner import TracingModel

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
