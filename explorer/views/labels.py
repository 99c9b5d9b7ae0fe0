"""How a token string is written on screen, everywhere the app writes one."""

from __future__ import annotations


def token_label(token: str, max_chars: int | None = None) -> str:
    """Spaces and newlines made visible (' cat' → '␣cat', '\\n' → '⏎'), an empty token as '∅',
    U+FEFF and U+FFFE named (Qt would read them as a byte-order mark at a label's start), and,
    with ``max_chars``, a long one cut with '…'."""
    text = token.replace(" ", "␣").replace("\n", "⏎").replace("\ufeff", "⟨U+FEFF⟩").replace("\ufffe", "⟨U+FFFE⟩") or "∅"
    if max_chars is not None and len(text) > max_chars:
        return text[: max_chars - 1] + "…"
    return text
