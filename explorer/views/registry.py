"""The panel registry: the one place that names every panel the app shows (Qt-free).

Each :class:`PanelEntry` gives

* ``key`` — the name lesson scenes use (``tab = "lens"``) and Ctrl+S writes;
* the panel class, by module and name, imported only when it is built (the first tab is built
  before the window's first trace, the others after it);
* ``scene`` — the lesson-scene keys the panel's own controls understand and their types
  (:class:`~explorer.scene_schema.SceneKey`): what :meth:`Panel.apply_scene` reads and
  :meth:`Panel.scene_values` writes;
* ``exports`` — its ``attention-explorer export --view …`` views: the numbers after the colon,
  the command's options the view reads and the scene state those options set on the panel
  (through the panel's own ``apply_scene``, as a lesson sets it).

From it come the window's tabs (:func:`tab_panel_classes`), lesson validation
(:data:`explorer.lesson_file.SCENE_KEYS`) and the headless export's views
(:data:`explorer.headless.VIEWS`). Adding a panel is one entry here; how the export computes a
view's data (the model calls) is :mod:`explorer.headless`'s ``FEEDS``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import import_module
from typing import TYPE_CHECKING

from explorer.names import HEAD_MODES, STAGES
from explorer.scene_schema import MAX_SEED, MAX_TOP_K, QT_TRANSLATE_NOOP, SceneKey, one_of, texts

if TYPE_CHECKING:
    from explorer.views.base import Panel


@dataclass(frozen=True)
class ExportView:
    """One ``attention-explorer export --view NAME[:numbers]``.

    ``arguments`` name the numbers after the colon (``head:1.2`` → layer 1, head 2);
    ``options`` are the command's options (argparse names) this view reads beyond the common
    ones (--text, --query, the look); ``scene`` turns the options into the panel's scene state,
    raising ``ValueError`` with a sentence when they cannot make one; ``prompts``: ``--text``
    holds several prompts separated by '|', which the view traces itself."""

    name: str
    help: str
    arguments: tuple[str, ...] = ()
    options: tuple[str, ...] = ()
    scene: Callable[[argparse.Namespace], dict] = field(default=lambda args: {})
    prompts: bool = False

    @property
    def usage(self) -> str:
        short = {"layer": "L", "head": "H", "query": "P"}
        return self.name + (":" + ".".join(short.get(a, a.upper()) for a in self.arguments) if self.arguments else "")


@dataclass(frozen=True)
class PanelEntry:
    """One panel: a tab (``tab=True``) or a part of the window around the tabs (the heads grid,
    the token strip), which has export views but no scene keys of its own."""

    key: str
    module: str
    class_name: str
    scene: dict[str, SceneKey] = field(default_factory=dict)
    exports: tuple[ExportView, ...] = ()
    tab: bool = True

    def panel_class(self) -> type[Panel]:
        cls = getattr(import_module(self.module), self.class_name)
        if self.tab and cls.key != self.key:  # the class says its key too (panel.key): they must agree
            raise TypeError(f"{self.module}.{self.class_name}.key is {cls.key!r}, the registry says {self.key!r}")
        return cls


def split_prompts(text: str) -> tuple[str, ...]:
    """``"one | two"`` (or one per line) -> ``("one", "two")``: the prompts of a view that
    compares several (``--text`` of the drift and ab views)."""
    return tuple(s.strip() for s in text.replace("\n", "|").split("|") if s.strip())


def _drift_scene(args: argparse.Namespace) -> dict:
    sentences = split_prompts(args.text)
    if len(sentences) < 2:
        raise ValueError("the drift view needs at least two sentences in --text, separated by '|'")
    word = (args.word or "").strip()
    if not word:
        raise ValueError("the drift view needs --word: the word the sentences share")
    return {"drift_word": word, "drift_sentences": list(sentences)}


def _ab_scene(args: argparse.Namespace) -> dict:
    prompts = split_prompts(args.text)
    if len(prompts) != 2:
        raise ValueError("the ab view needs two prompts in --text, separated by '|': 'prompt A | prompt B'")
    return {"prompt_b": prompts[1]}


def _graph_scene(args: argparse.Namespace) -> dict:
    return {} if args.threshold is None else {"threshold": args.threshold}


_ABLATION = ("ablate", "ablation_mode")

# Every panel, tabs in the order the window shows them (the first is built before the others).
PANELS: tuple[PanelEntry, ...] = (
    PanelEntry(
        "head", "explorer.views.head_detail", "HeadDetailPanel",
        scene={
            "mode": SceneKey((str,), "head view mode",
                             one_of(HEAD_MODES, QT_TRANSLATE_NOOP("LessonFile", "mode must be one of {choices}"))),
            "layout_3b1b": SceneKey((bool,), "keys as rows, one column per query"),
            "hide_first": SceneKey((bool,), "drop the first token's column and renormalise"),
        },
        exports=(ExportView(
            "head", "one head enlarged (--mode, --3b1b, --hide-first, --query)", arguments=("layer", "head"),
            options=("mode", "three_blue_one_brown", "hide_first"),
            scene=lambda args: {"mode": args.mode, "layout_3b1b": args.three_blue_one_brown,
                                "hide_first": args.hide_first}),)),
    PanelEntry(
        "next", "explorer.views.next_token", "NextTokenPanel",
        scene={
            "temperature": SceneKey((int, float), "T", lambda v: None if 0 <= v <= 2.5 else QT_TRANSLATE_NOOP(
                "LessonFile", "temperature must be in 0–2.5")),
            "top_k": SceneKey((int,), "top-k", lambda v: None if 0 <= v <= MAX_TOP_K else (QT_TRANSLATE_NOOP(
                "LessonFile", "top_k must be 0–{max} (0 = off)"), {"max": MAX_TOP_K})),
            "top_p": SceneKey((int, float), "top-p", lambda v: None if 0 < v <= 1 else QT_TRANSLATE_NOOP(
                "LessonFile", "top_p must be in (0, 1]")),
            "seed": SceneKey((int,), "sampling seed", lambda v: None if 0 <= v <= MAX_SEED else (QT_TRANSLATE_NOOP(
                "LessonFile", "seed must be 0–{max}"), {"max": MAX_SEED})),
        },
        exports=(ExportView(
            "next", "next-token probabilities after --query (--temperature, --top-k, --top-p, --ablate)",
            options=("temperature", "top_k", "top_p", *_ABLATION),
            scene=lambda args: {"temperature": args.temperature, "top_k": args.top_k, "top_p": args.top_p}),)),
    PanelEntry(
        "embeddings", "explorer.views.embeddings", "EmbeddingPanel",
        scene={
            "words": SceneKey((str,), "embedding word set (a preset's name)"),
            "extra_words": SceneKey((str,), "words added to the embedding plot"),
            "analogy": SceneKey((list,), "a : b :: c : ?", texts(QT_TRANSLATE_NOOP(
                "LessonFile", "analogy must be three words [a, b, c]"), count=3)),
        },
        exports=(ExportView("embeddings", "the embedding table's word set and the man : woman :: king analogy"),)),
    PanelEntry(
        "drift", "explorer.views.drift", "DriftPanel",
        scene={
            "drift": SceneKey((str,), "context-drift preset's name (sets the word and the sentences)",
                              clears=("drift_word", "drift_sentences")),
            "drift_word": SceneKey((str,), "context drift: the word the sentences share"),
            "drift_sentences": SceneKey((list,), "context drift: the sentences", texts(QT_TRANSLATE_NOOP(
                "LessonFile", "drift_sentences must be a list of sentences"))),
        },
        exports=(ExportView("drift", "one --word through the layers in several sentences: --text 'one | two | three'",
                            options=("word",), scene=_drift_scene, prompts=True),)),
    PanelEntry(
        "step", "explorer.views.step_through", "StepThroughPanel",
        exports=(ExportView(
            "step", "one head's computation for query position P (negative counts from the end), --stage",
            arguments=("layer", "head", "query"), options=("stage",),
            scene=lambda args: {"stage": STAGES.index(args.stage)}),)),
    PanelEntry("positions", "explorer.views.positional", "PositionalPanel",
               exports=(ExportView("positions", "the position table (sinusoidal or learned) and the cosine between "
                                                "positions"),)),
    PanelEntry("anatomy", "explorer.views.anatomy", "AnatomyPanel",
               exports=(ExportView("anatomy", "the model's parameters by kind beside GPT-3's accounting"),)),
    PanelEntry("lens", "explorer.views.lens", "LensPanel",
               exports=(ExportView("lens", "the logit lens: top next token after every layer at every position "
                                           "(--ablate)", options=_ABLATION),)),
    PanelEntry("roles", "explorer.views.head_roles", "HeadRolesPanel",
               exports=(ExportView("roles", "every head's previous-token, first-token, induction and duplicate-token "
                                            "scores"),)),
    PanelEntry(
        "ab", "explorer.views.ab_prompts", "ABPromptsPanel",
        scene={"prompt_b": SceneKey((str,), "A/B prompts: prompt B (A is the text)")},
        exports=(ExportView("ab", "two prompts compared head by head: --text 'prompt A | prompt B'",
                            scene=_ab_scene, prompts=True),)),
    PanelEntry(
        "dla", "explorer.views.dla", "DlaPanel",
        scene={"contrast": SceneKey((str,), "Who wrote it: a second token, to attribute target − it")},
        exports=(ExportView("dla", "who wrote the answer: each head's and MLP's direct contribution to --target "
                                   "(default: the top token) after --query, or to --target − --contrast",
                            options=("target", "contrast"), scene=lambda args: {"contrast": args.contrast or ""}),)),
    PanelEntry(
        "graph", "explorer.views.graph", "GraphPanel",
        scene={
            "threshold": SceneKey((int, float), "contribution graph: the smallest edge shown",
                                  lambda v: None if 0.01 <= v <= 0.5 else QT_TRANSLATE_NOOP(
                                      "LessonFile", "threshold must be in 0.01–0.5")),
            "whole_graph": SceneKey((bool,), "contribution graph: every edge, not only those leading to the query"),
        },
        exports=(ExportView("graph", "the contribution graph traced back from --query, edges above --threshold",
                            options=("threshold",), scene=_graph_scene),)),
    # Around the tabs: no tab, no scene keys of their own; pictures all the same.
    PanelEntry("grid", "explorer.views.heads_grid", "HeadsGridPanel", tab=False,
               exports=(ExportView("grid", "every head of every layer"),)),
    PanelEntry("strip", "explorer.views.token_strip", "TokenStrip", tab=False,
               exports=(ExportView("saliency", "the token strip shaded by integrated gradients of --target (minus "
                                               "--contrast) after --query, --steps points",
                                   options=("target", "contrast", "steps")),)),
)

#: The tabs, in the order the window shows them.
TABS: tuple[PanelEntry, ...] = tuple(p for p in PANELS if p.tab)
TAB_KEYS: tuple[str, ...] = tuple(t.key for t in TABS)


def entry(key: str) -> PanelEntry:
    for p in PANELS:
        if p.key == key:
            return p
    raise KeyError(f"no panel {key!r}: one of {', '.join(p.key for p in PANELS)}")


def tab(key: str) -> PanelEntry:
    found = entry(key)
    if not found.tab:
        raise KeyError(f"{key!r} is not a tab: one of {', '.join(TAB_KEYS)}")
    return found


def panel_scene_keys() -> dict[str, SceneKey]:
    """Every panel's own scene keys, in tab order (each key belongs to one panel)."""
    keys: dict[str, SceneKey] = {}
    for p in PANELS:
        for name, key in p.scene.items():
            if name in keys:
                raise ValueError(f"scene key {name!r} belongs to two panels")
            keys[name] = key
    return keys


def export_views() -> dict[str, tuple[PanelEntry, ExportView]]:
    """Every ``--view``, by name: the panel that draws it and the view."""
    views: dict[str, tuple[PanelEntry, ExportView]] = {}
    for p in PANELS:
        for view in p.exports:
            if view.name in views:
                raise ValueError(f"export view {view.name!r} belongs to two panels")
            views[view.name] = (p, view)
    return views


def first_tab_panel_class() -> type[Panel]:
    """The tab shown when the window opens, imported without the others (start-up builds the
    other tabs after the window is on screen)."""
    return TABS[0].panel_class()


def tab_panel_classes() -> list[type[Panel]]:
    return [t.panel_class() for t in TABS]


def panel_class(key: str) -> type[Panel]:
    return entry(key).panel_class()
