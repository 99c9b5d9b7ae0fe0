"""The app's remembered settings, read once and checked: a bad value falls back to its
default with a note in the log, never a traceback at start-up.

QSettings returns whatever the file holds (a string where a number was, a number where bytes
were, 99999999999 for a font size), and Qt aborts on an int beyond 32 bits or a wrong type
passed to ``restoreState``. Every value the window reads at start goes through here.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

from PySide6.QtCore import QByteArray, QSettings

log = logging.getLogger(__name__)

MIN_POINT_SIZE, MAX_POINT_SIZE = 8, 40  # what Ctrl+= / Ctrl+- allow
DEFAULT_POINT_SIZE = 13
THEMES = ("dark", "light")
COLOUR_MAPS = ("viridis", "cividis")
LANGUAGES = ("", "en", "zh_CN")
PRECISIONS = ("auto", "float32", "float16", "int8", "bfloat16")  # model/core/precision.py
MAX_TEXT_CHARS = 1_000_000  # a remembered text longer than this is a broken file, not a sentence


@dataclass(frozen=True)
class AppSettings:
    theme: str = "dark"
    font_size: int = DEFAULT_POINT_SIZE
    colour_map: str = "viridis"
    language: str = ""
    precision: str = "auto"
    text: str | None = None
    geometry: QByteArray | None = None
    window_state: QByteArray | None = None


def _note(key: str, value, default) -> None:
    shown = repr(value)
    log.warning("setting %s = %s is not usable; using %r", key, shown[:80] + ("…" if len(shown) > 80 else ""), default)


def _choice(settings: QSettings, key: str, choices: tuple[str, ...], default: str) -> str:
    value = settings.value(key, default)
    if isinstance(value, str) and value in choices:
        return value
    if value is not None and value != default:
        _note(key, value, default)
    return default


def font_size(value) -> int:
    """A point size from a setting: a finite number, rounded and clamped to what the app allows."""
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"not a number: {value!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"not finite: {value!r}")
    return int(max(MIN_POINT_SIZE, min(MAX_POINT_SIZE, round(number))))


def _bytes(settings: QSettings, key: str) -> QByteArray | None:
    value = settings.value(key)
    if value is None:
        return None
    if isinstance(value, QByteArray):
        return value
    if isinstance(value, (bytes, bytearray)):
        return QByteArray(bytes(value))
    _note(key, value, None)
    return None


def read(settings: QSettings) -> AppSettings:
    """Every start-up setting, checked (see the module docstring)."""
    size = settings.value("font_size", DEFAULT_POINT_SIZE)
    try:
        checked_size = font_size(size)
        if checked_size != size and str(checked_size) != str(size):
            _note("font_size", size, checked_size)
    except ValueError:
        _note("font_size", size, DEFAULT_POINT_SIZE)
        checked_size = DEFAULT_POINT_SIZE
    text = settings.value("text")
    if text is not None and (not isinstance(text, str) or len(text) > MAX_TEXT_CHARS):
        _note("text", text, None)
        text = None
    return AppSettings(
        theme=_choice(settings, "theme", THEMES, "dark"),
        font_size=checked_size,
        colour_map=_choice(settings, "colour_map", COLOUR_MAPS, "viridis"),
        language=_choice(settings, "language", LANGUAGES, ""),
        precision=_choice(settings, "precision", PRECISIONS, "auto"),
        text=text,
        geometry=_bytes(settings, "geometry"),
        window_state=_bytes(settings, "window_state"),
    )
