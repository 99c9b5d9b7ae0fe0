"""Time the mechanism tools on a model: ``python -m model.bench_probes [SOURCE]``.

Per keystroke the app runs, on its model thread, the trace and then (when their tabs are
shown) the logit lens of that trace and the knocked-out prediction; a sweep knocks out
every head once. Prints the median of repeated runs at a few text lengths, in ms.
"""

from __future__ import annotations

import statistics
import sys
import time

import torch

from model.ablation import knockout_logits, sweep
from model.badges import badge_steps, candidate_ids, probe_ids
from model.loading import BUNDLED, load_tracing_model
from model.probes import lens

WORDS = ("the cat sat on the mat because it was tired and the dog ran after a ball in the park while "
         "children played near the river ").split()


def median_ms(fn, repeats: int = 15) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000.0)
    return statistics.median(times)


def main(argv: list[str]) -> int:
    source = argv[0] if argv else BUNDLED
    torch.set_num_threads(1)  # as the app runs (explorer.runtime)
    model = load_tracing_model(source)
    module = model.module
    L, H = module.cfg.n_layers, module.cfg.n_heads
    print(f"{model.name}: {L} × {H} heads, torch threads {torch.get_num_threads()}")
    print("tokens | trace | lens, keystroke | lens, whole text | knock-out 1.2 | knock-out 0.1 | sweep")
    for n_words in (8, 32, 100):
        words = (WORDS * 10)[:n_words]
        text = " ".join(words)
        before = " ".join(words[:-1] + [words[-1][:-1] or "a"])  # one character less: a keystroke
        trace, trace_before = model.trace(text), model.trace(before)
        ids = model.encode(text)[0].ids
        token = int(trace.probs[-1].argmax())
        options = {"track": [token]}
        t_trace = median_ms(lambda text=text: model.trace(text))

        def keystroke(text=text, before=before, trace=trace, trace_before=trace_before, options=options):
            memo: dict = {}
            lens(model, before, options, trace_before, memo)
            start = time.perf_counter()
            lens(model, text, options, trace, memo)
            return (time.perf_counter() - start) * 1000.0

        t_key = statistics.median(keystroke() for _ in range(15))
        t_lens = median_ms(lambda text=text, trace=trace, options=options: lens(model, text, options, trace))
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
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
