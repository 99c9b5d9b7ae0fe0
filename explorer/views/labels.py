"""How a token string is written on screen, everywhere the app writes one."""

from __future__ import annotations

import re

from PySide6.QtCore import QT_TRANSLATE_NOOP, QCoreApplication

from model.core.paths import BUNDLED_NAME

#: what model.core.tokenizer.join_byte_pieces names a byte-level token holding part of a
#: character: the character, a space, and which part ("我 1/2")
_BYTE_PIECE = re.compile(r"^(\S+) (\d+/\d+)$")


def token_label(token: str, max_chars: int | None = None) -> str:
    """Spaces and newlines made visible (' cat' → '␣cat', '\\n' → '⏎'), an empty token as '∅',
    U+FEFF and U+FFFE named (Qt would read them as a byte-order mark at a label's start), and,
    with ``max_chars``, a long one cut with '…'. A part of a character ("我 1/2") keeps its
    space unmarked: it is no space of the text ("我␣1/2" read as one)."""
    piece = _BYTE_PIECE.match(token)
    if piece is not None:
        text = f"{token_label(piece.group(1))}\u2009{piece.group(2)}"  # a thin space: the part's number
        return text if max_chars is None or len(text) <= max_chars else text[: max_chars - 1] + "…"
    text = token.replace(" ", "␣").replace("\n", "⏎").replace("\ufeff", "⟨U+FEFF⟩").replace("\ufffe", "⟨U+FFFE⟩") or "∅"
    if max_chars is not None and len(text) > max_chars:
        return text[: max_chars - 1] + "…"
    return text


#: the bundled model's name on screen, for the translation tools (it comes from model/)
_BUNDLED = QT_TRANSLATE_NOOP("Model", "teaching model (bundled)")
assert _BUNDLED == BUNDLED_NAME


#: words model/loading.py adds to a model's name in the Model menu ("SmolLM2 (real language model)")
_NAME_NOTES = (QT_TRANSLATE_NOOP("Model", "real language model"), QT_TRANSLATE_NOOP("Model", "reads Chinese"))


def model_name(name: str) -> str:
    """A model's name in the interface language: the bundled model's is words ("teaching model
    (bundled)" stayed English in Chinese), the others are names, with their notes in brackets
    translated ("SmolLM2-135M-Instruct (real language model)")."""
    if name.casefold() == BUNDLED_NAME.casefold():  # the Model menu's entry is capitalised
        text = QCoreApplication.translate("Model", BUNDLED_NAME)
        return text[:1].upper() + text[1:] if name[:1].isupper() else text
    for note in _NAME_NOTES:
        if name.endswith(f" ({note})"):
            return f"{name[: -len(note) - 3]} ({QCoreApplication.translate('Model', note)})"
    return name
