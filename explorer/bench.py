"""Typing benchmark on the real window: ``python -m explorer.bench [--model PATH]``.

``--model gpt2-small-random`` builds a GPT-2-small-shaped folder first (transformers'
``GPT2Config()`` defaults: 12 layers × 12 heads, d 768; random weights; a byte-level
tokenizer without merges, so one character is one token) with ``transformers``, a test
extra (``pip install -e '.[test]'``), and types up to 256 tokens. The benchmark also
starts the app three times in fresh processes (``python -m explorer.startup``) and
reports the window and first-trace times from process start, and the memory of a trace.

Drives the main window offscreen with simulated keystrokes and prints medians and p95 of
keystroke-to-repaint latency, forward time and paint time, and the longest stall of the
GUI thread (a 5 ms heartbeat timer: any gap beyond its period is time the GUI thread
could not react). Latency of a keystroke is the time from the key to the first repaint
that shows a text at least as new as that key (superseded requests are never drawn).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pyqtgraph as pg
import PySide6
import torch
from PySide6.QtCore import QElapsedTimer, QEventLoop, QSettings, QTimer
from PySide6.QtWidgets import QApplication

from explorer.runtime import THREADS_ENV, configure_process
from model.core.paths import TOKENIZER_FILE
from model.loading import BUNDLED

SENTENCE = (
    "a fluffy blue creature roamed the verdant forest while the king and the queen "
    "walked past the eiffel tower, and one mole of carbon dioxide"
)


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def pct(values, q) -> float:
    return float(np.percentile(values, q)) if len(values) else float("nan")


GPT2_SMALL_RANDOM = "gpt2-small-random"


def build_gpt2_small_random(folder: Path) -> Path:
    """A GPT-2-small-shaped folder with random weights (needs transformers, a test extra)."""
    if (folder / "model.safetensors").is_file():
        return folder
    import transformers
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    config = transformers.GPT2Config()  # 12 × 12 heads, d 768, 1024 positions, 50257 tokens
    torch.manual_seed(0)
    transformers.GPT2LMHeadModel(config).eval().save_pretrained(folder)
    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())  # 256 byte symbols, no merges
    vocab = {symbol: i for i, symbol in enumerate(alphabet)} | {"<|endoftext|>": config.vocab_size - 1}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens(["<|endoftext|>"])
    tok.save(str(folder / TOKENIZER_FILE))
    return folder


def resolve_model(name: str) -> str:
    if name != GPT2_SMALL_RANDOM:
        return name
    folder = Path(tempfile.gettempdir()) / "attention-explorer-bench" / GPT2_SMALL_RANDOM
    folder.mkdir(parents=True, exist_ok=True)
    return str(build_gpt2_small_random(folder))


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def trace_mb(trace) -> tuple[float, float]:
    """(MB the trace's arrays span, MB of the buffer sets behind them) of one trace."""
    arrays = [v for v in vars(trace).values() if isinstance(v, np.ndarray)]
    return sum(a.nbytes for a in arrays) / 2**20, float("nan")


def startup(runs: int = 3) -> dict:
    """Window on screen and first trace painted, seconds from process start (fresh processes)."""
    results = []
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-m", "explorer.startup"], capture_output=True, text=True, env=env,
                             timeout=120)
        lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
        if lines:
            results.append(json.loads(lines[-1]))
    return {key: [r.get(key, False) for r in results]
            for key in ("window_s", "first_trace_s", "torch_before_window", "torch_before_first_trace")}


def run(window, app, n_keys: int, interval_ms: int, text: str = SENTENCE, edit_at_end: bool = False) -> dict:
    """Type ``text`` (restarting when it ends) for ``n_keys`` keystrokes, ``interval_ms`` apart.
    ``edit_at_end``: type and delete the last character in turn, from the text in the box."""
    keys: list[tuple[int, float]] = []  # (request id, time)
    latencies, forwards, updates, repaints, tokens = [], [], [], [], []
    view_paints: dict[str, list[float]] = {"heads grid": [], "head view": []}
    views = {"heads grid": window.heads_grid.view, "head view": window.head_detail.view}
    gaps: list[tuple[float, float]] = []  # (start, end) of each heartbeat interval
    busy: list[tuple[float, float, str]] = []  # what the GUI thread is known to have been doing
    last_beat = [time.perf_counter()]
    gc_start = [0.0]

    def on_gc(phase: str, _info: dict) -> None:
        if phase == "start":
            gc_start[0] = time.perf_counter()
        else:
            busy.append((gc_start[0], time.perf_counter(), "garbage collection"))

    flushing = [False]

    def on_trace(trace) -> None:  # connected after the window's slot: runs once the panels are updated
        forwards.append(trace.forward_ms)
        tokens.append(trace.n_tokens)
        if flushing[0]:
            return  # a newer trace arrived while the last one was being painted: it is counted there
        start = time.perf_counter()
        # Let Qt do what the next event-loop turns would: the scenes' queued updates, any
        # relayout they cause, and the paints; then the screen shows this trace.
        painted_before = {name: view.paint_ms_total for name, view in views.items()}
        flushing[0] = True
        app.processEvents()
        flushing[0] = False
        now = time.perf_counter()
        busy.append((start - window.update_ms / 1000.0, now, "panel update + repaint"))
        repaints.append((now - start) * 1000.0)
        updates.append(window.update_ms)
        for name, view in views.items():
            view_paints[name].append(view.paint_ms_total - painted_before[name])
        shown = max(trace.request_id, window.trace.request_id)  # a newer one may have come in the flush
        while keys and keys[0][0] <= shown:
            latencies.append((now - keys.pop(0)[1]) * 1000.0)

    def beat() -> None:
        now = time.perf_counter()
        gaps.append((last_beat[0], now))
        last_beat[0] = now

    window.worker.trace_ready.connect(on_trace)
    heartbeat = QTimer()
    heartbeat.setInterval(5)
    heartbeat.timeout.connect(beat)
    state = {"typed": 0, "pos": 0}
    loop = QEventLoop()

    def press() -> None:
        if state["typed"] >= n_keys:
            keyer.stop()
            QTimer.singleShot(500, loop.quit)
            return
        if edit_at_end:
            state["pos"] = len(text) - (state["typed"] % 2)
        else:
            state["pos"] = state["pos"] + 1 if state["pos"] < len(text) else 1
        window.text_box.setText(text[: state["pos"]])
        keys.append((window.worker.latest_trace_id, time.perf_counter()))
        state["typed"] += 1

    keyer = QTimer()
    keyer.setInterval(interval_ms)
    keyer.timeout.connect(press)
    gc.callbacks.append(on_gc)
    last_beat[0] = time.perf_counter()
    heartbeat.start()
    keyer.start()
    loop.exec()
    heartbeat.stop()
    gc.callbacks.remove(on_gc)
    window.worker.trace_ready.disconnect(on_trace)
    stalls = [(end - start) * 1000.0 - 5.0 for start, end in gaps]
    return {
        "keys": n_keys, "interval_ms": interval_ms, "latency": latencies, "forward": forwards,
        "update": updates, "repaint": repaints,
        **{f"paint ({name})": v for name, v in view_paints.items()},
        "stall": max(stalls) if stalls else float("nan"),
        "long_stalls": [explain(start, end, busy) for start, end in gaps if (end - start) * 1000.0 - 5.0 > STALL_MS],
        "tokens": max(tokens, default=0),
    }


STALL_MS = 50.0


def explain(start: float, end: float, busy: list[tuple[float, float, str]]) -> str:
    """What the GUI thread was doing for most of a stall, as far as the benchmark can see."""
    overlap: dict[str, float] = {}
    for b_start, b_end, what in busy:
        overlap[what] = overlap.get(what, 0.0) + max(0.0, min(end, b_end) - max(start, b_start))
    what, seconds = max(overlap.items(), key=lambda kv: kv[1], default=("", 0.0))
    if seconds < 0.5 * (end - start):
        return "waiting (the worker or another process held the CPU or the GIL)"
    return what


def report(name: str, r: dict) -> None:
    print(f"\n{name}: {r['keys']} keystrokes, one every {r['interval_ms']} ms, "
          f"{len(r['forward'])} repaints, up to {r['tokens']} tokens")
    for label, key in (("keystroke→repaint", "latency"), ("forward pass", "forward"),
                       ("update (all panels)", "update"), ("paint (heads grid)", "paint (heads grid)"),
                       ("paint (head view)", "paint (head view)"), ("repaint (window)", "repaint")):
        v = r[key]
        print(f"  {label:20s} p50 {pct(v, 50):6.1f} ms   p95 {pct(v, 95):6.1f} ms   max {max(v) if v else float('nan'):6.1f} ms")
    print(f"  {'longest GUI stall':20s} {r['stall']:6.1f} ms (beyond the 5 ms heartbeat)")
    causes = Counter(r["long_stalls"])
    print(f"  stalls over {STALL_MS:.0f} ms   {len(r['long_stalls'])}" +
          "".join(f"\n    {n} × {cause}" for cause, n in causes.most_common()))


#: What the issues ask of typing (keystroke → repaint p95, forward p95, longest GUI stall; ms):
#: #19/#28 for the bundled and GPT-2-small-shaped models and SmolLM2, #27 for Gemma 3.
TARGETS = {
    "bundled": {"keystroke→repaint p95": 25.0, "longest GUI stall": 50.0},
    GPT2_SMALL_RANDOM: {"forward p95": 15.0, "keystroke→repaint p95": 40.0, "longest GUI stall": 50.0},
    "smollm2": {"keystroke→repaint p95": 40.0, "longest GUI stall": 50.0},
    "gemma3": {"keystroke→repaint p95": 150.0, "longest GUI stall": 50.0},
}


def verdicts(model_key: str, result: dict, module) -> None:
    """Each target of ``model_key`` met or not; for one not met, the floor under it: one token's
    weight products alone (every weight read once), at the precision the model runs."""
    targets = TARGETS.get(model_key)
    if not targets:
        return
    measured = {"keystroke→repaint p95": pct(result["latency"], 95), "forward p95": pct(result["forward"], 95),
                "longest GUI stall": result["stall"]}
    print("targets:")
    floor = None
    for name, target in targets.items():
        value = measured[name]
        met = value <= target
        line = f"  {name:22s} {value:7.1f} ms  target {target:5.1f} ms  {'met' if met else 'NOT met'}"
        if not met and name != "longest GUI stall" and module is not None:
            from model.core.int8 import token_products_ms

            floor = token_products_ms(module) if floor is None else floor
            line += f" (floor: one token's weight products alone take {floor:.1f} ms on {torch.get_num_threads()} thread(s))"
        print(line)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=BUNDLED,
                        help=f"a model as for the app, or {GPT2_SMALL_RANDOM!r} (built with transformers)")
    parser.add_argument("--tokens", type=int, default=None,
                        help="characters of text to type up to (default: the sentence; 256 for gpt2-small-random)")
    parser.add_argument("--soak-keys", type=int, default=0,
                        help="then this many keys of type/delete at the end of the text, reporting RSS growth")
    parser.add_argument("--no-startup", action="store_true", help="skip the start-up measurement")
    parser.add_argument("--precision", choices=("auto", "float32", "float16", "int8", "bfloat16"), default="auto",
                        help="the model's weights, as the Model menu's Weights choice (default: the app's, auto)")
    parser.add_argument("--text", default=SENTENCE,
                        help="what to type, repeated up to --tokens characters (default: an English sentence; "
                             "Chinese text on Gemma 3 is about a token a character)")
    parser.add_argument("--keys", type=int, default=240)
    parser.add_argument("--interval", type=int, default=80, help="ms between keystrokes (typing speed)")
    parser.add_argument("--burst-interval", type=int, default=10, help="ms between keystrokes in the burst run")
    parser.add_argument("--torch-threads", type=int, default=None,
                        help="torch threads for the model (default: the app's choice, all cores but one)")
    args = parser.parse_args(argv)
    if args.torch_threads:
        os.environ[THREADS_ENV] = str(args.torch_threads)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    app = QApplication.instance() or QApplication(["attention-explorer-bench"])
    from explorer.window import MainWindow

    configure_process()  # what the app does at start-up

    settings = QSettings(str(Path(tempfile.mkdtemp()) / "bench.ini"), QSettings.IniFormat)
    source = resolve_model(args.model)
    sentence = args.text
    length = args.tokens or (255 if args.model == GPT2_SMALL_RANDOM else len(sentence))
    text = (sentence + " ") * (length // len(sentence) + 1)
    text = text[:length]
    settings.setValue("precision", args.precision)
    window = MainWindow(source=source, settings=settings, initial_text="warm up")
    window.resize(1600, 1000)
    window.show()
    timer = QElapsedTimer()
    timer.start()
    while window.trace is None and timer.elapsed() < 300000:
        app.processEvents()
        time.sleep(0.005)
    if window.trace is None:
        print("the model did not answer:", window.banner.text())
        return 1
    # the bundled model's first traces come from NumPy while torch loads: type on the torch model
    # (it also sets torch's thread count: print that after)
    window.worker.wait_until_idle(120)
    app.processEvents()
    print(f"machine: {cpu_name()}, {os.cpu_count()} cores, torch {torch.__version__} with "
          f"{torch.get_num_threads()} threads, Python {platform.python_version()}, Qt offscreen")
    print(f"         PySide6 {PySide6.__version__}, pyqtgraph {pg.__version__}, "
          f"{window.width()} × {window.height()} window")
    print(f"model: {window.model_info.name} ({window.model_info.n_layers} layers × {window.model_info.n_heads} heads, "
          f"{window.model_info.precision} weights)")
    if window.model_info.fidelity_summary:
        print(f"       {window.model_info.precision} against float32: {window.model_info.fidelity_summary}")
    if window.model_info.precision_speeds:
        print("       auto measured one token's products: " + ", ".join(
            f"{name} {ms:.1f} ms" for name, ms in window.model_info.precision_speeds))
    from model.core.int8 import weight_bytes_per_token

    module = getattr(window.worker.model, "module", None)
    if module is not None:
        print(f"       weights read per new token: {weight_bytes_per_token(module) / 1e6:.0f} MB")
    typing = run(window, app, args.keys, args.interval, text)
    report("typing", typing)
    verdicts("bundled" if source == BUNDLED else args.model, typing, getattr(window.worker.model, "module", None))
    report("burst", run(window, app, args.keys, args.burst_interval, text))
    window.text_box.setText(text)
    window.worker.wait_until_idle(60)
    app.processEvents()
    model = window.worker.model
    spans, _ = trace_mb(window.trace)
    tracer = getattr(model, "_tracer", None)
    pool = tracer.pool_bytes / 2**20 if tracer is not None else 0.0
    print(f"\nmemory: a trace of {window.trace.n_tokens} tokens spans {spans:.0f} MB of arrays; "
          f"the reused row buffers hold {pool:.0f} MB ({len(tracer.pool) if tracer else 0} sets of "
          f"{model.max_tokens} rows); RSS {rss_mb():.0f} MB")
    if args.soak_keys:
        before = rss_mb()
        soak = run(window, app, args.soak_keys, args.interval // 2, text, edit_at_end=True)
        window.worker.wait_until_idle(60)
        gc.collect()
        after = rss_mb()
        report(f"type/delete at {soak['tokens']} tokens", soak)
        print(f"  RSS {before:.0f} MB → {after:.0f} MB over {args.soak_keys} keystrokes: {after - before:+.0f} MB")
    window.close()
    if not args.no_startup:
        s = startup()
        print(f"\nstart-up (bundled model, {len(s['window_s'])} fresh processes, from process start):")
        print(f"  window on screen     {', '.join(f'{v:.2f}' for v in s['window_s'])} s "
              f"(median {np.median(s['window_s']):.2f} s; torch imported before it: {any(s['torch_before_window'])})")
        print(f"  first trace painted  {', '.join(f'{v:.2f}' for v in s['first_trace_s'])} s "
              f"(median {np.median(s['first_trace_s']):.2f} s; torch imported before it: "
              f"{any(s['torch_before_first_trace'])})")
    if argv is None:
        # The report is printed: leave without tearing down Qt, pyqtgraph and a model thread
        # that may be inside a step it cannot leave. The teardown crashed (exit 139) after
        # the report on Gemma 3, model thread idle or not.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
