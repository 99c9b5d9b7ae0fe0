"""RSS stays flat while the bundled model traces random edits when the C heap is trimmed.

Run in a fresh subprocess: RSS is process-wide, and other tests' allocations would blur it.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytest.importorskip("psutil")

SCRIPT = r"""
import gc, json, random, sys
import psutil, torch
torch.set_num_threads(1)
from model.core.memory import HeapTrimmer, _malloc_trim
glibc = _malloc_trim() is not None
trimmer = HeapTrimmer() if sys.argv[1] == "trim" else None
from model.loading import load_tracing_model
model = load_tracing_model("bundled", device="cpu")
rng = random.Random(0)
words = "the king and queen were happy once upon a time cat mole tower paris".split()
chars = "abcdefghij    .,!?é中🙂\u202e"
text, rss = "the king", {}
for i in range(1, 501):
    r = rng.random()
    if r < 0.5:
        text += rng.choice(chars)
    elif r < 0.7:
        text = text[:-1]
    elif r < 0.9:
        text += " " + rng.choice(words)
    else:
        text = " ".join(rng.choice(words) for _ in range(rng.randrange(1, 150)))
    try:
        model.trace(text, request_id=i)
    except Exception:
        pass
    if trimmer is not None:
        trimmer.tick()
    if i in (100, 500):
        gc.collect()
        rss[i] = psutil.Process().memory_info().rss
print(json.dumps({"glibc": glibc, "growth_mb": (rss[500] - rss[100]) / 2**20}))
"""


def _growth(mode: str) -> dict:
    out = subprocess.run([sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_trimming_the_heap_keeps_rss_flat_after_warm_up():
    result = _growth("trim")
    if not result["glibc"]:
        pytest.skip("not glibc: no malloc_trim")
    # Untrimmed, traces 100..500 grew RSS by 20-30 MB (glibc kept the freed trace arrays);
    # trimmed every 50 traces, by 1-3 MB.
    assert result["growth_mb"] < 6, result


def test_heap_trimmer_counts():
    from model.core.memory import HeapTrimmer

    with pytest.raises(ValueError):
        HeapTrimmer(0)
    trimmer = HeapTrimmer(3)
    for _ in range(7):
        trimmer.tick()
    assert trimmer._count == 1
