"""One way to compare floats in this suite (see tests/README.md, "Numerical tolerances").

Float32 results move in the last bits between CPUs, thread counts and buffer alignment, and a
sum's rounding error grows with the size of what is summed, not with each element. So a
comparison states a *relative* tolerance ``rel`` and measures it against the scale of the
values: an element may differ by ``rel × scale`` where ``scale`` is the largest finite
magnitude in ``expected`` (never below ``floor``). Non-finite entries (the −∞ of a causal
mask) must sit in the same places with the same values.

Bit equality (``np.testing.assert_array_equal``) is kept for identical operations on identical
buffers only: the same tensor read twice, a loaded weight against the saved one.
"""

from __future__ import annotations

import numpy as np

# The default: float32 has a 2^-24 ≈ 6e-8 unit roundoff; a forward pass through a few layers
# accumulates a few hundred roundings, and two code paths (or two CPUs) may round differently.
REL = 1e-5


def _array(x) -> np.ndarray:
    if hasattr(x, "detach"):  # a torch tensor
        x = x.detach().cpu().float().numpy()
    return np.asarray(x, dtype=np.float64)


def scale_of(expected, floor: float = 1e-6) -> float:
    """The largest finite magnitude in ``expected`` (at least ``floor``)."""
    values = _array(expected)
    finite = values[np.isfinite(values)]
    return max(float(np.abs(finite).max()) if finite.size else 0.0, floor)


def assert_close(actual, expected, rel: float = REL, *, floor: float = 1e-6, what: str = "") -> None:
    """``actual`` equals ``expected`` to ``rel`` of the values' scale (module docstring)."""
    a, e = _array(actual), _array(expected)
    assert a.shape == e.shape, f"{what}: shape {a.shape} != {e.shape}"
    finite = np.isfinite(e)
    assert np.array_equal(finite, np.isfinite(a)), f"{what}: non-finite entries differ"
    assert np.array_equal(a[~finite], e[~finite]), f"{what}: infinite entries differ in sign"
    if not finite.any():
        return
    tol = rel * scale_of(e, floor)
    err = np.abs(a[finite] - e[finite])
    worst = float(err.max())
    assert worst <= tol, (
        f"{what}: {int((err > tol).sum())} of {err.size} values differ by up to {worst:.3g} "
        f"(allowed {tol:.3g} = {rel:g} x scale {tol / rel:.3g})"
    )
