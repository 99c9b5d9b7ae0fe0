"""The panels the window shows as tabs, in order, from the one registry in
:data:`explorer.names.TABS` (key, class, headless export view). A new panel is a
:class:`Panel` subclass with a ``title`` and a ``key``; one :class:`~explorer.names.Tab`
line there is all the window, lesson files and the headless export need."""

from __future__ import annotations

from typing import TYPE_CHECKING

from explorer.names import TABS, tab

if TYPE_CHECKING:
    from explorer.views.base import Panel


def first_tab_panel_class() -> type[Panel]:
    """The tab shown when the window opens, imported without the others (start-up builds the
    other tabs after the window is on screen)."""
    return TABS[0].panel_class()


def tab_panel_classes() -> list[type[Panel]]:
    return [t.panel_class() for t in TABS]


def panel_class(key: str) -> type[Panel]:
    return tab(key).panel_class()
