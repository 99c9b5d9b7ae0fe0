"""Names the app uses in more than one place, defined once (Qt-free).

* :data:`TABS` — the panel registry: every tab's key (what lesson scenes and Ctrl+S write),
  the class that draws it (imported only when the tab is built), and the headless export
  view that shows the same panel (``attention-explorer export --view …``). The window's
  tabs, lesson validation and the headless export all read it.
* :data:`STAGES` — the step-through's stages, in order.
* :data:`HEAD_MODES` — what the Head tab can show; :data:`SCENE_HEAD_MODES` the ones a
  lesson scene may set.
* :data:`USER_LESSON_FILE` — where Ctrl+S writes scenes (in the app's data folder).

File names of a model folder live in :mod:`model.core.paths`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Tab:
    """One tab: ``key`` in lesson files, the panel class by module and name, and the headless
    export view name (``None``: the tab has no headless picture)."""

    key: str
    module: str
    class_name: str
    export_view: str | None = None

    def panel_class(self):
        from importlib import import_module

        return getattr(import_module(self.module), self.class_name)


#: Every tab, in the order the window shows them; the first is built before the others.
TABS: tuple[Tab, ...] = (
    Tab("head", "explorer.views.head_detail", "HeadDetailPanel", "head"),
    Tab("next", "explorer.views.next_token", "NextTokenPanel", "next"),
    Tab("embeddings", "explorer.views.embeddings", "EmbeddingPanel", "embeddings"),
    Tab("drift", "explorer.views.drift", "DriftPanel", "drift"),
    Tab("step", "explorer.views.step_through", "StepThroughPanel", "step"),
    Tab("positions", "explorer.views.positional", "PositionalPanel", "positions"),
    Tab("anatomy", "explorer.views.anatomy", "AnatomyPanel", "anatomy"),
    Tab("lens", "explorer.views.lens", "LensPanel", "lens"),
    Tab("roles", "explorer.views.head_roles", "HeadRolesPanel", "roles"),
    Tab("ab", "explorer.views.ab_prompts", "ABPromptsPanel", "ab"),
    Tab("dla", "explorer.views.dla", "DlaPanel", "dla"),
    Tab("graph", "explorer.views.graph", "GraphPanel", "graph"),
)
TAB_KEYS: tuple[str, ...] = tuple(t.key for t in TABS)


def tab(key: str) -> Tab:
    for t in TABS:
        if t.key == key:
            return t
    raise KeyError(f"no tab {key!r}: one of {', '.join(TAB_KEYS)}")


#: The stages of one head's computation the step-through view walks, in order.
STAGES: tuple[str, ...] = ("input", "qk", "dot", "scale", "mask", "softmax", "values", "output")

#: The head view's modes; a lesson scene may set the first three (rollout is a tool, not a scene).
HEAD_MODES: tuple[str, ...] = ("pattern", "scores", "masked", "rollout")
SCENE_HEAD_MODES: tuple[str, ...] = HEAD_MODES[:3]

USER_LESSON_FILE = "my-lesson.toml"
