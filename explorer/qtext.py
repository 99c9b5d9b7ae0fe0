"""Python text handed to Qt exactly as it is.

PySide6 converts a Python string that *starts* with U+FEFF or U+FFFE as if that character were
a byte-order mark: '\\ufeffabc' reaches a QLineEdit as 'abc' and '\\ufffeabc' as '愀戀挀' (every
character byte-swapped). A real byte-order mark put in front is the one consumed, and the text
after it arrives whole.
"""

from __future__ import annotations

BYTE_ORDER_MARKS = ("\ufeff", "\ufffe")


def for_qt(text: str) -> str:
    """``text`` as it must be passed to a Qt setter to arrive unchanged."""
    return "\ufeff" + text if text.startswith(BYTE_ORDER_MARKS) else text
