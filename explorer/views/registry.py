"""The panels the window shows as tabs, in order. A new panel is a :class:`Panel` subclass
with a ``title``; adding it here is all the window needs."""

from __future__ import annotations

from explorer.views.base import Panel


def first_tab_panel_class() -> type[Panel]:
    """The tab shown when the window opens, imported without the others (start-up builds the
    other tabs after the window is on screen)."""
    from explorer.views.head_detail import HeadDetailPanel

    return HeadDetailPanel


def tab_panel_classes() -> list[type[Panel]]:
    # The first seven are reached by name in the window (head_detail, next_token, …).
    from explorer.views.ab_prompts import ABPromptsPanel
    from explorer.views.anatomy import AnatomyPanel
    from explorer.views.drift import DriftPanel
    from explorer.views.embeddings import EmbeddingPanel
    from explorer.views.head_roles import HeadRolesPanel
    from explorer.views.lens import LensPanel
    from explorer.views.next_token import NextTokenPanel
    from explorer.views.positional import PositionalPanel
    from explorer.views.step_through import StepThroughPanel

    return [first_tab_panel_class(), NextTokenPanel, EmbeddingPanel, DriftPanel, StepThroughPanel, PositionalPanel,
            AnatomyPanel, LensPanel, HeadRolesPanel, ABPromptsPanel]
