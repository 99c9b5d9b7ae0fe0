"""One way to compare floats in this suite (see tests/README.md, "Numerical tolerances").

Float32 results move in the last bits between CPUs, thread counts and buffer alignment, and a
sum's rounding error grows with the size of what is summed, not with each element. So a
comparison states a *relative* tolerance ``rel`` and measures it against the scale of the
values: an element may differ by ``rel × scale`` where ``scale`` is the largest finite
magnitude in ``expected`` (never below ``floor``), or the ``scale`` given when ``expected``
does not show it (a sum compared with 0 or 1, say). Non-finite entries (the −∞ of a causal
mask) must sit in the same places with the same values.

Bit equality (``np.testing.assert_array_equal``) is kept for identical operations on identical
buffers only: the same tensor read twice, a loaded weight against the saved one.

``ATTENTION_EXPLORER_TOLERANCE_LOG=path`` appends one tab-separated line per comparison (kind,
the worst error as a fraction of the scale, the ``rel`` allowed, the test, ``what``): how much
room each tolerance leaves.
"""

from __future__ import annotations

import os

import numpy as np

# The default, for float32 computations that do the same arithmetic, perhaps in another order
# (threads, SIMD width, another code path): float32's unit roundoff is 2^-24 ≈ 6e-8, a forward
# pass through a few layers accumulates a few hundred roundings, each relative to the largest
# values summed.
REL = 1e-5

# Float64 throughout (the n-gram model, PCA, the lessons' hand-computed examples): unit
# roundoff 1.1e-16, so 1e-12 leaves four orders of magnitude for summation order.
REL64 = 1e-12

LOG_ENV = "ATTENTION_EXPLORER_TOLERANCE_LOG"


def _array(x) -> np.ndarray:
    if hasattr(x, "detach"):  # a torch tensor
        x = x.detach().cpu().double().numpy()
    return np.asarray(x, dtype=np.float64)


def scale_of(expected, floor: float = 1e-6) -> float:
    """The largest finite magnitude in ``expected`` (at least ``floor``)."""
    values = _array(expected)
    finite = values[np.isfinite(values)]
    return max(float(np.abs(finite).max()) if finite.size else 0.0, floor)


def _compare(actual, expected, floor: float, scale: float | None, what: str):
    """(absolute errors of the finite entries, the scale, those entries of ``expected``),
    after the non-finite checks."""
    a, e = _array(actual), _array(expected)
    if e.ndim == 0 and a.ndim > 0:  # every entry against one value: a sum against 1
        e = np.broadcast_to(e, a.shape)
    assert a.shape == e.shape, f"{what}: shape {a.shape} != {e.shape}"
    finite = np.isfinite(e)
    assert np.array_equal(finite, np.isfinite(a)), f"{what}: non-finite entries differ"
    assert np.array_equal(a[~finite], e[~finite]), f"{what}: infinite entries differ in sign"
    s = max(float(scale), floor) if scale is not None else scale_of(e, floor)
    return np.abs(a[finite] - e[finite]), s, e[finite]


def _log(what: str, kind: str, worst: float, scale: float, rel: float) -> None:
    path = os.environ.get(LOG_ENV)
    if path:
        with open(path, "a") as f:
            f.write(f"{kind}\t{worst / scale:.3g}\t{rel:g}\t{os.environ.get('PYTEST_CURRENT_TEST', '')}\t{what}\n")


def assert_close(actual, expected, rel: float = REL, *, floor: float = 1e-6, scale: float | None = None,
                 rel_each: float = 0.0, what: str = "") -> None:
    """``actual`` equals ``expected`` to ``rel`` of the values' scale (module docstring).

    ``expected`` may be a single value that every entry of ``actual`` is compared with.
    ``rel_each`` adds that fraction of each element's own magnitude: for a rounding step of
    a low-precision format (bfloat16), which scales with the element, not with the tensor.
    """
    err, s, e = _compare(actual, expected, floor, scale, what)
    if not err.size:
        return
    tol = rel * s + rel_each * np.abs(e)
    excess = err - tol
    worst = float(err.max())
    _log(what, "close", float((err / tol).max()) * rel, 1.0, rel)
    assert (excess <= 0).all(), (
        f"{what}: {int((excess > 0).sum())} of {err.size} values differ by up to {worst:.3g} "
        f"(allowed {rel:g} x scale {s:.3g} = {rel * s:.3g}" + (f" + {rel_each:g} x each value)" if rel_each else ")")
    )


def assert_printed(actual, printed, *, places: int | None = None, figures: int | None = None,
                   what: str = "") -> None:
    """``actual`` shows as ``printed`` (a number copied from a document) to its printed
    precision: ``places`` decimal places, or ``figures`` significant figures. The tolerance is
    half a unit of the last printed digit, so it is set by the printing, not by float rounding;
    :data:`REL` of the values' scale is added so that a value on a rounding boundary (0.95435)
    shows the same on every CPU."""
    assert (places is None) != (figures is None), "give places or figures"
    p = _array(printed)
    if places is not None:
        half_unit = np.full(p.shape, 0.5 * 10.0**-places)
    else:
        exponent = np.floor(np.log10(np.where(p == 0, 1.0, np.abs(p))))
        half_unit = 0.5 * 10.0 ** (exponent - figures + 1)
    err, s, _ = _compare(actual, p, 1e-6, None, what)
    allowed = half_unit[np.isfinite(p)] + REL * s
    _log(what, "printed", float((err / allowed).max()) if err.size else 0.0, 1.0, 1.0)
    assert (err <= allowed).all(), (
        f"{what}: {int((err > allowed).sum())} of {err.size} values differ from the printed ones by more "
        f"than half a unit of the last printed digit (worst {float(err.max()):.3g})"
    )


def assert_differ(actual, expected, rel: float = 1e-3, *, floor: float = 1e-6, scale: float | None = None,
                  what: str = "") -> None:
    """Some entry of ``actual`` differs from ``expected`` by more than ``rel`` of the values'
    scale: a change far above rounding (the default is a hundred times :data:`REL`), so a
    change that was not made cannot pass for one made on another CPU."""
    err, s, _ = _compare(actual, expected, floor, scale, what)
    worst = float(err.max()) if err.size else 0.0
    _log(what, "differ", worst, s, rel)
    assert worst > rel * s, f"{what}: the values differ by at most {worst:.3g}, not more than {rel * s:.3g}"
