"""What the window still has to do as it starts and after each model load, as one explicit,
Qt-free state machine (the window had eight flags for it).

Start-up, with deferred tabs (the app's way)::

    BEFORE_PAINT --painted--> LOADING --model_loaded--> FIRST_TRACE --trace_shown--> FINISHING
    FINISHING --tabs_built--> READY

Without deferred tabs (tests, embedders) the window starts in LOADING with every tab built. A
load that fails while LOADING goes to FINISHING (the tabs are built anyway; the window says
why). Each later load goes READY --model_loaded--> FIRST_TRACE --trace_shown--> READY: the
model's set-up (the torch model after a fast start, the model scan, the head badges) waits
for its first trace on screen, since what follows holds the GIL for a while.

Besides the phase, three things wait for an event of their own:

* the Model menu's scan, when a model's first trace came from the quick NumPy model: it waits
  for ``full_model_loaded`` (a second thread importing torch slowed the first);
* the tabs not built yet (``tabs_started``, then ``tabs_built``);
* a lesson scene whose model is loading (``hold_scene``): applied when that model has loaded
  (``take_scene``), dropped when the load fails (a later, unrelated load must not apply it) or
  the lesson ends.

So a fast start with a lesson waiting reads: painted, scene_waits, model_loaded, scene_applied,
trace_shown, scan_waits_for_torch, tabs_started, full_model_loaded, tabs_built.
"""

from __future__ import annotations

from enum import Enum


class Phase(Enum):
    BEFORE_PAINT = "before the window's first paint"
    LOADING = "the first model is loading"
    FIRST_TRACE = "a model loaded; its first trace is not on screen yet"
    FINISHING = "the first trace is on screen; tabs are being built"
    READY = "everything built"


#: (phase, event) -> next phase; an event not listed leaves the phase as it is.
TRANSITIONS: dict[tuple[Phase, str], Phase] = {
    (Phase.BEFORE_PAINT, "painted"): Phase.LOADING,
    (Phase.BEFORE_PAINT, "model_loaded"): Phase.FIRST_TRACE,  # not shown yet, but loaded: a test's window
    (Phase.LOADING, "model_loaded"): Phase.FIRST_TRACE,
    (Phase.LOADING, "load_failed"): Phase.FINISHING,
    (Phase.FIRST_TRACE, "trace_shown"): Phase.FINISHING,
    (Phase.FIRST_TRACE, "trace_failed"): Phase.FINISHING,
    (Phase.FIRST_TRACE, "load_failed"): Phase.FINISHING,
    (Phase.FINISHING, "tabs_built"): Phase.READY,
    (Phase.FINISHING, "model_loaded"): Phase.FIRST_TRACE,
    (Phase.READY, "model_loaded"): Phase.FIRST_TRACE,
}


class StartupState:
    """The window's start-up and per-load progress. ``defer_tabs``: the tabs are built after
    the window's first paint and its first trace (the app); else the window builds them at
    once (and says so with ``on("tabs_built")``)."""

    def __init__(self, defer_tabs: bool) -> None:
        self.phase = Phase.BEFORE_PAINT if defer_tabs else Phase.LOADING
        self.tabs_built = False
        # deferred tabs are started once (then built one per event-loop turn); without deferring,
        # the window builds them itself before anything else
        self.tabs_started = not defer_tabs
        self.scan_waits_for_torch = False
        self._scene: dict | None = None  # a lesson scene waiting for its model
        self.history: list[tuple[str, Phase]] = []  # (event, phase after it): for tests and debugging

    def on(self, event: str) -> Phase:
        """Move on ``event``; returns the new phase (the same one when the event does not apply)."""
        if event == "tabs_built":
            self.tabs_built = True
        elif event == "tabs_started":
            self.tabs_started = True
        elif event in ("load_failed", "lesson_ended") and self._scene is not None:
            self._scene = None
            self.history.append(("scene_dropped", self.phase))
        nxt = TRANSITIONS.get((self.phase, event), self.phase)
        if nxt == Phase.FINISHING and self.tabs_built:
            nxt = Phase.READY  # nothing left to build
        self.phase = nxt
        self.history.append((event, nxt))
        return nxt

    # ------------------------------------------------------------------ the model menu's scan
    def model_shown(self, full_model: bool) -> bool:
        """A model's first trace is on screen; ``full_model``: the torch model is in place (not
        the quick NumPy one). Returns whether the model menu is scanned now; else it waits for
        :meth:`full_model_loaded`."""
        self.scan_waits_for_torch = not full_model
        if not full_model:
            self.history.append(("scan_waits_for_torch", self.phase))
        return full_model

    def full_model_loaded(self) -> bool:
        """After a fast start the torch model has taken the NumPy one's place. Returns whether
        the scan that waited for it is due now (once)."""
        due, self.scan_waits_for_torch = self.scan_waits_for_torch, False
        self.history.append(("full_model_loaded", self.phase))
        return due

    # ------------------------------------------------------------------ a lesson scene's model
    def hold_scene(self, state: dict) -> None:
        """A lesson scene waits for its model, being loaded (a newer scene replaces it)."""
        self._scene = state
        self.history.append(("scene_waits", self.phase))

    @property
    def scene_waiting(self) -> bool:
        return self._scene is not None

    def take_scene(self) -> dict | None:
        """After ``model_loaded``: the scene that waited for it, to apply now (once), or None."""
        scene, self._scene = self._scene, None
        if scene is not None:
            self.history.append(("scene_applied", self.phase))
        return scene

    @property
    def waiting_for_paint(self) -> bool:
        return self.phase == Phase.BEFORE_PAINT

    @property
    def waiting_for_first_trace(self) -> bool:
        """A model loaded and its set-up waits for its first trace on screen."""
        return self.phase == Phase.FIRST_TRACE

    @property
    def tabs_to_build(self) -> bool:
        """The deferred tabs are due and not started: the first trace is on screen (or the
        load failed)."""
        return self.phase == Phase.FINISHING and not self.tabs_built and not self.tabs_started
