"""The one comparison of two Traces, for every test that holds one tracer to another
(tests/model/test_conformance.py, test_incremental.py, test_numpy_forward.py, test_precision.py).

Every field is compared: text, tokens and flags exactly, integer arrays exactly, float arrays
with :func:`tests.numerics.assert_close` to ``rel`` of the field's scale (its largest finite
magnitude, at least 1: patterns and probabilities lie in [0, 1] and a pattern's error is
relative to its row's sum, 1), plus ``rel_each`` of each element's own magnitude where a
tracer rounds each element (bfloat16). The −∞ of a masked score or of a token the model
cannot predict must be in the same places. Only ``request_id`` and ``forward_ms`` may differ.

The pattern is the softmax of the scores: a score off by δ moves a weight by at most δ/2,
so its scale is the scores' (at least 1). Gemma's scores reach ±15 before the softmax, and a
pattern held to 1e-5 absolute failed by 1.4e-5 where its scores agreed to 3e-6 relative.
"""

from __future__ import annotations

from dataclasses import fields

import numpy as np

from tests.numerics import REL, assert_close

#: Fields two traces of the same text may differ in.
UNCOMPARED = ("request_id", "forward_ms")


def assert_same_trace(actual, expected, rel: float = REL, *, rel_each: float = 0.0, what: str = "") -> None:
    """``actual`` is ``expected``, field by field (module docstring)."""
    for f in fields(expected):
        if f.name in UNCOMPARED:
            continue
        x, y = getattr(actual, f.name), getattr(expected, f.name)
        name = f"{what}: {f.name}" if what else f.name
        if y is None:
            assert x is None, name
        elif isinstance(y, np.ndarray):
            assert isinstance(x, np.ndarray), name
            assert x.shape == y.shape and x.dtype == y.dtype, f"{name}: {x.shape} {x.dtype} != {y.shape} {y.dtype}"
            if y.dtype.kind == "f":
                scale = None
                if f.name == "pattern" and getattr(expected, "scores", None) is not None:
                    finite = np.abs(expected.scores[np.isfinite(expected.scores)])
                    scale = max(1.0, float(finite.max()) if finite.size else 1.0)
                assert_close(x, y, rel, scale=scale, floor=1.0, rel_each=rel_each, what=name)
            else:
                np.testing.assert_array_equal(x, y, err_msg=name)
        else:
            assert x == y, name
