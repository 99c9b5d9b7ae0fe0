"""What a lesson scene may say, as data (Qt-free).

A :class:`SceneKey` gives one scene key's accepted types, a check of its value and what it
means. The window's own keys (model, text, tab, the selection, captions) are
:data:`explorer.lesson_file.WINDOW_KEYS`; each panel's are its entry's ``scene`` in
:mod:`explorer.views.registry`. Lesson validation, Ctrl+S and ``attention-explorer export``
all read them from there.

A check returns ``None`` (the value is fine), a message, or ``(message, params)``; messages are
English templates marked for translation (the window shows them in the reader's language).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Union

# Integers reach Qt widgets (spin boxes hold a C int): a lesson's numbers are checked against
# what they can hold before a scene is applied (a seed of 2**31 crashed the app).
MAX_INDEX = 4095  # layer, head
MAX_POSITION = 1_000_000  # query
MAX_TOP_K = 1000  # the Next-token tab's top-k box
MAX_SEED = 2**31 - 1  # the seed box

Problem = Union[str, tuple[str, dict], None]  # noqa: UP007 (a runtime alias: Python 3.10 has no str | tuple[...])


def QT_TRANSLATE_NOOP(context: str, text: str) -> str:  # noqa: N802 (the name pyside6-lupdate looks for)
    """Marks ``text`` for translation (``python -m explorer.i18n update`` collects it) without
    importing Qt here; the window translates it when it shows the message."""
    return text


@dataclass(frozen=True)
class SceneKey:
    """One key a lesson scene may hold.

    ``clears``: keys that a scene giving this key (and not them) drops from what it inherits —
    a context-drift preset replaces the sentences an earlier scene typed in."""

    types: tuple[type, ...]
    meaning: str
    check: Callable[[Any], Problem] | None = None
    clears: tuple[str, ...] = ()


def one_of(choices: Iterable[str], template: str) -> Callable[[Any], Problem]:
    """A check that the value is one of ``choices``; ``template`` may use ``{choices}``."""
    choices = tuple(str(c) for c in choices)
    return lambda value: None if value in choices else (template, {"choices": ", ".join(choices)})


def texts(template: str, count: int | None = None) -> Callable[[Any], Problem]:
    """A check that the value is a list of texts (exactly ``count`` of them, if given). Empty
    texts pass: Ctrl+S saves what the boxes hold, and a scene that cannot be saved is worse
    than one whose panel says what is missing."""
    return lambda value: None if all(isinstance(w, str) for w in value) and (
        count is None or len(value) == count) else template
