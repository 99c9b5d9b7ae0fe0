"""Time the mechanism tools on a model: ``python -m model.bench.probes [--typing] [SOURCE]``.

Per keystroke the app runs, on its model thread, the trace and then (when their tabs are
shown) the logit lens of that trace and the knocked-out prediction; a sweep knocks out
every head once. Prints the median of repeated runs at a few text lengths, in ms.

Then it types: starting at about 32, 64 and 101 tokens it appends one character at a time
(:data:`KEYS` keystrokes) and, after each keystroke's ordinary trace (as the app runs it,
not counted), times what a knock-out adds: the knocked-out prediction (Next token tab,
:func:`model.work.probes.ablate`) and the knocked-out logit lens (Logit lens tab,
:func:`model.work.probes.lens`), as the model thread calls them, zero and mean. Prints p50 and
p95 in ms, and the one-off cost of the model's reference means for mean ablation.
"""

from __future__ import annotations

import statistics
import sys
import time

import numpy as np
import torch

from model.analysis.ablation import knockout_logits, sweep
from model.analysis.badges import badge_steps, candidate_ids, probe_ids
from model.loading import BUNDLED, load_tracing_model
from model.work import probes
from model.work import requests as rq
from model.work.probes import lens

WORDS = ("the cat sat on the mat because it was tired and the dog ran after a ball in the park while "
         "children played near the river ").split()
#: Characters typed at the end of the text, one keystroke each, in the typing benchmark.
TYPED = " and then the cat went home to sleep by the warm fire"
KEYS = 40


def median_ms(fn, repeats: int = 15) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000.0)
    return statistics.median(times)


def percentiles(times: list[float]) -> str:
    p50, p95 = np.percentile(times, [50, 95])
    return f"{p50:5.1f} {p95:5.1f}"


def typing_ms(model, text: str, kind: str, heads: tuple, mode: str) -> list[float]:
    """Type :data:`KEYS` characters at the end of ``text``; after each keystroke's ordinary
    trace, the time of the ``kind`` analysis ("ablate" or "lens") with ``heads`` knocked out, in ms.
    (The model's reference means for mean ablation, computed once per model, are computed
    before the first keystroke, by the untimed first call.)"""
    memo: dict = {}
    request = rq.Lens if kind == "lens" else rq.Ablate
    trace = model.trace(text)
    probes.run(model, request(text, heads=heads, mode=mode), trace, memo)
    times = []
    for i in range(KEYS):
        text = text + TYPED[i % len(TYPED)]
        trace = model.trace(text)  # the keystroke's own trace: the app runs it first
        start = time.perf_counter()
        probes.run(model, request(text, heads=heads, mode=mode), trace, memo)
        times.append((time.perf_counter() - start) * 1000.0)
    return times


def typing(model) -> None:
    L = model.cfg.n_layers
    settings = [("ablate", (0, 1), "zero"), ("ablate", (L - 3, 2), "zero"), ("lens", (0, 1), "zero"),
                ("ablate", (0, 1), "mean"), ("lens", (0, 1), "mean")]
    print(f"typing at the end, {KEYS} keystrokes: what a knock-out adds after the trace, p50 p95 (ms)")
    print("tokens | " + " | ".join(f"{kind} {layer}.{head} {mode}" for kind, (layer, head), mode in settings))
    for n_words in (31, 63, 100):
        text = " ".join((WORDS * 10)[:n_words])
        cells = []
        for kind, head, mode in settings:
            times = typing_ms(model, text, kind, (head,), mode)
            cells.append(f"{percentiles(times):>{len(kind) + len(mode) + 6}}")
        print(f"{len(model.encode(text)[0].ids):6d} | " + " | ".join(cells))
    model.forget_last_trace()
    start = time.perf_counter()
    model.reference_means()
    print(f"reference means (once per model): {(time.perf_counter() - start) * 1000:.1f} ms")


def main(argv: list[str]) -> int:
    only_typing = "--typing" in argv  # the typing table alone
    argv = [a for a in argv if a != "--typing"]
    source = argv[0] if argv else BUNDLED
    torch.set_num_threads(1)  # as the app runs (explorer.runtime)
    model = load_tracing_model(source)
    module = model.module
    L, H = module.cfg.n_layers, module.cfg.n_heads
    print(f"{model.name}: {L} × {H} heads, torch threads {torch.get_num_threads()}")
    if only_typing:
        typing(model)
        return 0
    print("tokens | trace | lens, keystroke | lens, whole text | knock-out 1.2 | knock-out 0.1 | sweep")
    for n_words in (8, 32, 100):
        words = (WORDS * 10)[:n_words]
        text = " ".join(words)
        before = " ".join(words[:-1] + [words[-1][:-1] or "a"])  # one character less: a keystroke
        trace, trace_before = model.trace(text), model.trace(before)
        ids = model.encode(text)[0].ids
        token = int(trace.probs[-1].argmax())
        options = rq.Lens(text, track=(token,))
        options_before = rq.Lens(before, track=(token,))
        t_trace = median_ms(lambda text=text: model.trace(text))

        def keystroke(trace=trace, trace_before=trace_before, options=options, options_before=options_before):
            memo: dict = {}
            lens(model, options_before, trace_before, memo)
            start = time.perf_counter()
            lens(model, options, trace, memo)
            return (time.perf_counter() - start) * 1000.0

        t_key = statistics.median(keystroke() for _ in range(15))
        t_lens = median_ms(lambda trace=trace, options=options: lens(model, options, trace))
        t_late = median_ms(lambda ids=ids, trace=trace: knockout_logits(module, ids, [(L - 3, 2)],
                                                                          resid_pre=trace.resid_pre))
        t_early = median_ms(lambda ids=ids, trace=trace: knockout_logits(module, ids, [(0, 1)],
                                                                           resid_pre=trace.resid_pre))
        t_sweep = median_ms(lambda ids=ids, token=token, trace=trace: sweep(module, ids, token,
                                                                           resid_pre=trace.resid_pre), repeats=5)
        print(f"{len(ids):6d} | {t_trace:5.1f} | {t_key:15.1f} | {t_lens:16.1f} | {t_late:13.1f} | "
              f"{t_early:13.1f} | {t_sweep:5.1f}")
    texts = probe_ids(lambda t: model.encode(t)[0].ids, model.max_tokens)
    start = time.perf_counter()
    for _ in badge_steps(module, texts, candidate_ids(module)):
        pass
    print(f"badges (all probes): {(time.perf_counter() - start) * 1000:.0f} ms")
    typing(model)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
