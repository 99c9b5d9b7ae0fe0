"""The temperature slider's scale and what the Next-token axis calls its numbers (Qt-free)."""

from __future__ import annotations

import numpy as np

SLIDER_STEPS = 1000


def slider_to_temperature(x: int) -> float:
    """Piecewise-linear so steps are fine near 0 and around 1: 0–400 → 0–0.5, 400–800 → 0.5–1.5,
    800–1000 → 1.5–2.5."""
    if x <= 400:
        return 0.5 * x / 400
    if x <= 800:
        return 0.5 + (x - 400) / 400
    return 1.5 + (x - 800) / 200


def temperature_to_slider(t: float) -> int:
    if t <= 0.5:
        return round(t / 0.5 * 400)
    if t <= 1.5:
        return round(400 + (t - 0.5) * 400)
    return round(min(1000, 800 + (t - 1.5) * 200))


def _is_normalised(logits: np.ndarray) -> bool:
    finite = logits[np.isfinite(logits)]
    return bool(finite.size) and abs(float(np.exp(finite).sum()) - 1.0) < 1e-3
