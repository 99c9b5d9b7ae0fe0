"""The one contract every panel is written against.

The window owns two things and broadcasts each once per change:

* the :class:`~model.core.info.ModelInfo` of the loaded model (``set_model_info``), and
* for every forward pass, one immutable :class:`~model.core.trace.Trace` (``set_trace``) together
  with one frozen :class:`Selection` (``set_selection``): layer, head, query position and
  step-through stage.

Setting either only records it and marks the panel out of date; the window then calls
:meth:`Panel.refresh`, which redraws a *visible* out-of-date panel exactly once. So "select a
token, then type a key" costs each visible panel one redraw, and a panel in a hidden tab
costs nothing until it is shown (``showEvent`` refreshes it).

Panels talk back only through the signals declared here: they never reach into the window
or call the model.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import ClassVar

import pyqtgraph as pg
from PySide6.QtCore import QCoreApplication, Signal
from PySide6.QtWidgets import QWidget

from explorer.names import STAGES  # noqa: F401 (re-exported: Selection.stage indexes it)
from explorer.theme import Theme, make_theme, style_plot
from explorer.views import TimedView
from model.core.info import ModelInfo
from model.core.trace import Trace


@dataclass(frozen=True)
class Selection:
    """What the person has picked, shared by every panel.

    ``query`` is a token position; negative counts from the end (``-1``: the last token,
    which follows the text as it grows). ``stage`` indexes :data:`STAGES`. ``ablated``: the
    heads (layer, head) knocked out, zeroed or replaced by their reference mean (``ablation_mode``).
    ``target``: the token id a knock-out and a sweep measure, picked by clicking its bar in
    the Next token tab (``None``: the top token).
    """

    layer: int = 0
    head: int = 0
    query: int = -1
    stage: int = 0
    ablated: frozenset[tuple[int, int]] = frozenset()
    ablation_mode: str = "zero"
    target: int | None = None

    def with_(self, **changes) -> Selection:
        return replace(self, **changes)

    def clamped(self, n_layers: int, n_heads: int) -> Selection:
        """The same selection with layer and head kept inside a model of this shape."""
        return replace(self, layer=max(0, min(self.layer, n_layers - 1)),
                       head=max(0, min(self.head, n_heads - 1)),
                       stage=max(0, min(self.stage, len(STAGES) - 1)),
                       ablated=frozenset(h for h in self.ablated if h[0] < n_layers and h[1] < n_heads))

    def query_index(self, n_tokens: int) -> int:
        """``query`` as a position in ``range(n_tokens)``."""
        return max(0, min(n_tokens - 1, self.query % n_tokens if self.query < 0 else self.query))


class Panel(QWidget):
    """Base class of every panel (a tab, the heads grid, the token strip).

    Subclasses set ``title`` (the tab's name, marked ``QT_TRANSLATE_NOOP("Panel", "…")``;
    :meth:`tab_title` is it in the interface language), ``selection_fields`` (the :class:`Selection`
    fields their drawing depends on: a change of any other field does not redraw them),
    and override :meth:`redraw` (draw ``self.trace`` / ``self.selection``; called only when
    visible and out of date) and, when they keep per-model state, :meth:`on_model_info`.
    A panel drawing a pyqtgraph view sets ``self.view`` to its :class:`TimedView`, so the
    window can time and theme it.
    """

    title: ClassVar[str] = ""
    #: the name lessons use for this panel's tab (``tab = "head"``); its registry entry's key
    key: ClassVar[str] = ""
    selection_fields: ClassVar[frozenset[str]] = frozenset()

    #: the panel asks for a selection change: a dict of :class:`Selection` fields.
    selection_requested = Signal(object)
    #: the panel asks for the text to change from ``old`` to ``new`` (e.g. a sampled token
    #: appended); the window applies it only if the text is still ``old``.
    text_change_requested = Signal(str, str)
    #: the panel wants several texts traced; it receives :meth:`set_batch_traces`.
    traces_requested = Signal(object)
    #: the panel wants an analysis run on the model thread (:meth:`ask`): ``(request,
    #: everyone)``, a :mod:`model.work.requests` dataclass; the answer comes back to this panel
    #: (or to every panel when ``everyone``) through :meth:`set_work_result`, and progress and
    #: errors through the methods beside it.
    work_requested = Signal(object, bool)
    #: the panel asks for a running sweep or badge job to stop (its request type).
    work_cancelled = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.info: ModelInfo | None = None
        self.trace: Trace | None = None
        self.selection = Selection()
        self.theme: Theme = make_theme()
        self.view: TimedView | None = None
        self._dirty = False
        #: redraws so far and the duration of the last, for tests, the status line and the bench.
        self.redraw_count = 0
        self.redraw_ms = 0.0

    # ------------------------------------------------------------------ the contract
    def set_model_info(self, info: ModelInfo) -> None:
        self.info = info
        self.selection = self.selection.clamped(info.n_layers, info.n_heads)
        self.on_model_info(info)
        self._dirty = True

    def set_trace(self, trace: Trace) -> None:
        self.trace = trace
        self.on_trace(trace)
        self._dirty = True

    def set_selection(self, selection: Selection) -> None:
        old, self.selection = self.selection, selection
        if any(getattr(old, f) != getattr(selection, f) for f in self.selection_fields):
            self._dirty = True

    def set_batch_traces(self, texts: tuple[str, ...], traces: tuple[Trace, ...]) -> None:
        """The traces a ``traces_requested`` asked for (default: ignored)."""

    def set_batch_error(self, message: str) -> None:
        """The traces a ``traces_requested`` asked for could not be computed."""

    def set_work_result(self, request, result) -> None:
        """The ``result`` of ``request`` (a :mod:`model.work.requests` dataclass): one this panel
        asked for, or one asked for everyone (default: ignored)."""

    def set_work_progress(self, request, done: int, total: int) -> None:
        """A long analysis (sweep, badges) made progress."""

    def set_work_error(self, request, message: str) -> None:
        """An analysis failed; ``message`` is for the person."""

    def ask(self, request, everyone: bool = False) -> None:
        """Run ``request`` (a :mod:`model.work.requests` dataclass) on the model thread; the
        answer comes back to this panel, or to every panel when ``everyone``."""
        self.work_requested.emit(request, everyone)

    def apply_theme(self, theme: Theme) -> None:
        """Recolour and resize everything the panel draws: background, every plot's axes and
        title (:func:`~explorer.theme.style_plot`), then the panel's own items (:meth:`on_theme`)."""
        self.theme = theme
        if self.view is not None:
            self.view.setBackground(theme.bg)
            for item in self.view.ci.items:
                if isinstance(item, pg.PlotItem):
                    style_plot(item, theme)
        self.on_theme(theme)
        self._dirty = True
        self.refresh()

    def refresh(self, force: bool = False) -> None:
        """Redraw once if out of date (or ``force``) and visible; otherwise wait to be shown."""
        if not (self._dirty or force) or not self.isVisible():
            return
        self._dirty = False
        start = time.perf_counter()
        self.redraw()
        self.redraw_ms = (time.perf_counter() - start) * 1000.0
        self.redraw_count += 1

    def tab_title(self) -> str:
        """``title`` in the interface language."""
        return QCoreApplication.translate("Panel", self.title)

    def retranslate(self) -> None:
        """The interface language changed: set the panel's fixed texts again and redraw the
        ones it composes. A panel with fixed texts (labels, tooltips, combo-box entries)
        overrides it, sets them there with ``self.tr("…")``, calls it at the end of
        ``__init__`` and ends with ``super().retranslate()``."""
        self._dirty = True
        self.refresh()

    def mark_dirty(self) -> None:
        """Something the panel draws changed (its own controls, the theme)."""
        self._dirty = True

    @property
    def is_dirty(self) -> bool:
        return self._dirty

    # ------------------------------------------------------------------ for subclasses
    def on_model_info(self, info: ModelInfo) -> None:
        """A model was loaded (before its first trace)."""

    def on_theme(self, theme: Theme) -> None:
        """Restyle the panel's own items (headings, marks, text items) for ``theme``."""

    def on_trace(self, trace: Trace) -> None:
        """A new trace arrived (bookkeeping only; drawing happens in :meth:`redraw`)."""

    def redraw(self) -> None:
        """Draw ``self.trace`` and ``self.selection``."""

    def apply_scene(self, state: dict) -> list[str]:
        """Set the panel's own controls from a lesson scene's state (the keys its entry in
        :mod:`explorer.views.registry` names, checked there; others are ignored). Lessons, the
        end of a lesson and ``attention-explorer export`` set a panel's state only through this.
        Returns problems a teacher should hear about (e.g. an unknown preset)."""
        return []

    def scene_values(self) -> dict:
        """The panel's controls as scene keys, for saving the current state as a scene (Ctrl+S):
        every key its registry entry names, so a scene never inherits an earlier scene's value."""
        return {}

    def showEvent(self, event) -> None:  # noqa: N802 (Qt API)
        super().showEvent(event)
        self.refresh()

    def request_selection(self, **changes) -> None:
        self.selection_requested.emit(changes)

    # ------------------------------------------------------------------ export
    def export_table(self) -> tuple[list[str], list[list]] | None:
        """The numbers this panel draws, for a CSV: a header and one list per row, values
        as the Trace holds them (not rounded for display). ``None`` (the default) means the
        panel has nothing to export; raise ``ValueError`` with a sentence when it has
        nothing *yet* (e.g. "run it first"). Pictures need nothing more: they are made of
        ``self.view``, or of the whole panel when it has no view (:mod:`explorer.export`)."""
        return None
