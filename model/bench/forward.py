"""Forward time while typing at the end of a text: ``python -m model.bench.forward [FOLDER] [--precision P]``.

For each length N in 64, 128, 256 tokens it traces N − 30 tokens, then types 30 characters one
at a time (keeping the last two traces alive, as the screen does) and prints p50 / p95 /
min of ``Trace.forward_ms`` and of the thread's CPU time, on one torch thread as the app runs.
FOLDER defaults to the GPT-2-small-shaped folder ``python -m explorer.bench --model
gpt2-small-random`` builds (one character is one token there). The machine is shared:
run it three times and compare the spread, or the min.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from model.loading import load_tracing_model

KEYS = 30
DEFAULT = Path(tempfile.gettempdir()) / "attention-explorer-bench" / "gpt2-small-random"
PROSE = ("Type in the box at the top; the token strip under it shows how the model cut the text. The left "
         "half is every head of every layer as one grid, rows are queries and columns are keys: hover for "
         "layer, head, tokens and weight, click a head to enlarge it. The bars beside it answer where the "
         "selected token looks, and the next token tab shows the most likely next tokens with their odds. ")


def main(argv: list[str]) -> int:
    precision = "float32"
    if "--precision" in argv:
        i = argv.index("--precision")
        precision = argv[i + 1]
        argv = argv[:i] + argv[i + 2:]
    source = argv[0] if argv else str(DEFAULT)
    torch.set_num_threads(1)  # as the app runs (explorer.runtime)
    model = load_tracing_model(source, precision=precision)
    print(f"{model.name}, {precision}, torch threads {torch.get_num_threads()}")
    text_source = PROSE * 4
    for n in (64, 128, 256):
        model.forget_last_trace()
        start = n - KEYS - (1 if model.cfg.bos_token_id is not None else 0)
        keep = [model.trace(text_source[:start])]
        forward, cpu = [], []
        for i in range(KEYS):
            before = time.thread_time()
            trace = model.trace(text_source[: start + i + 1])
            cpu.append((time.thread_time() - before) * 1000.0)
            forward.append(trace.forward_ms)
            keep = [keep[-1], trace]
        f50, f95 = np.percentile(forward, [50, 95])
        c50, c95 = np.percentile(cpu, [50, 95])
        print(f"{trace.n_tokens:4d} tokens: forward p50 {f50:5.1f} p95 {f95:5.1f} min {min(forward):5.1f} ms"
              f" | CPU p50 {c50:5.1f} p95 {c95:5.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
