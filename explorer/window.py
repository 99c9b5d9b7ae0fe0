"""The main window: a text box, the token strip, the all-heads grid, and tabs of panels."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from PySide6.QtCore import QCoreApplication, QEvent, QSettings, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QApplication,
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
from explorer import settings as app_settings
from explorer.elided_label import ElidedLabel
from explorer.lesson_playback import LessonPlayback
from explorer.look import Look
from explorer.menus import Menus
from explorer.model_menu import ModelMenu, model_menu_label  # noqa: F401 (re-exported)
from explorer.names import CHINESE_SEED_SENTENCE, SEED_SENTENCE  # noqa: F401 (re-exported)
from explorer.presenter import LessonPlayer
from explorer.qtext import for_qt
from explorer.session import Session
from explorer.startup_state import StartupState
from explorer.status_line import StatusLine
from explorer.throttle import Throttled
from explorer.trace_worker import ModelWorker
from explorer.undo_limit import UndoLimit
from explorer.window_export import Exports
from explorer.work_answers import WorkAnswers
from model.core.paths import BUNDLED
from model.work.requests import Badges

if TYPE_CHECKING:  # the panels (pyqtgraph, NumPy: half the time to a shown window) come after it shows
    from explorer.views.base import Panel, Selection
    from model.core.info import ModelInfo
    from model.core.trace import Trace


class MainWindow(Menus, ModelMenu, LessonPlayback, Look, Exports, StatusLine, WorkAnswers, QMainWindow):
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
        remembered = app_settings.read(self.settings)  # checked: a broken value falls back to its default
        self.theme = palette.make_theme(remembered.theme, remembered.font_size, remembered.colour_map)
        palette.apply_palette(QApplication.instance(), self.theme)  # pyqtgraph's part with the panels
        # Before any widget exists, so every tr() below already answers in this language.
        self.language = i18n.install_translator(
            QApplication.instance(), remembered.language or i18n.system_language())
        self._menu_actions: list[QAction] = []  # the menus' actions, removed when the menus are rebuilt
        self._presenting: tuple | None = None  # what F11 changed, to put back
        # The model info, the latest trace and the selection: set through the session, which
        # broadcasts each change once to every panel (the properties below read it).
        self.session = Session()
        self.session.subscribe("model_info", self._broadcast_model_info)
        self.session.subscribe("trace", self._broadcast_trace)
        self.session.subscribe("selection", self._broadcast_selection)
        self._requested_source: str | None = None
        self.update_ms = 0.0  # time the last trace took to reach every visible panel
        self.panels: list[Panel] = []
        self.setWindowTitle(self.tr("Attention Explorer"))

        self.worker = ModelWorker(self)
        self._models_scanned.connect(self._on_models_scanned)
        w = self.worker
        for signal, slot in ((w.trace_ready, self._on_trace_ready), (w.batch_ready, self._on_batch_ready),
                             (w.batch_failed, self._on_batch_failed),
                             (w.model_loaded, self._on_model_loaded), (w.error, self._on_worker_error),
                             (w.busy_changed, self._on_busy_changed), (w.work_ready, self._on_work_ready),
                             (w.work_progress, self._on_work_progress), (w.work_failed, self._on_work_failed),
                             (w.full_model_ready, self._on_full_model_ready),
                             (w.precision_ready, self._on_precision_ready)):
            signal.connect(slot)

        self.text_box = QLineEdit(objectName="textBox", clearButtonEnabled=True)
        self.text_box.setPlaceholderText(self.tr("Type a sentence…"))
        # QLineEdit keeps only the first 32,767 characters of a paste by default, while the
        # model keeps the last tokens: the box takes everything, the banner says what is dropped.
        self.text_box.setMaxLength(2**31 - 1)
        self._undo_limit = UndoLimit(self.text_box)  # its undo history kept every character pasted
        self.banner = QLabel("")
        self.banner.setObjectName("banner")
        self.banner.setWordWrap(True)
        self.banner.setTextFormat(Qt.RichText)  # plain messages are escaped; a link offers a model
        self.banner.linkActivated.connect(self._on_banner_link)
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

        self._place_on_screen(remembered.geometry)
        if remembered.window_state is not None:
            self.restoreState(remembered.window_state)
        text = initial_text if initial_text is not None else (remembered.text if remembered.text is not None
                                                              else SEED_SENTENCE)
        if initial_text is None and str(source).startswith("lesson:"):
            # a worked example knows only its own words: start on its sentence, not the last one typed
            from model.teaching.lesson_models import lesson

            try:
                text = lesson(str(source).split(":", 1)[1]).text
            except KeyError:
                pass  # the load will say the lesson does not exist
        self.text_box.setText(for_qt(str(text)))
        # a first sentence the window chose (not typed, not --text) follows the model's language
        self._default_text = initial_text is None and text in (SEED_SENTENCE, CHINESE_SEED_SENTENCE)
        self.text_box.textEdited.connect(lambda _text: setattr(self, "_default_text", False))
        self.status_model.setText(self.tr("loading {source}…").format(source=source))
        self.startup = StartupState(defer_tabs)  # what waits for the first paint, a model's first trace, the tabs
        self._early_trace: tuple | None = None  # the first trace, asked for with the first load
        # What waits for the window's first paint (show() paints nothing: the window system
        # exposes the window in a later event-loop turn, and the panels built before that
        # kept the window blank until they were done).
        # The model thread starts then too: while it works, every virtual call PySide makes into
        # this window waits for the GIL, and the first paint came 0.2 s later.
        self._after_first_paint = lambda: self._load_first_model(source, then_build=True)
        if defer_tabs:
            QTimer.singleShot(0, self._unless_shown)
        else:
            self.finish_building()
            QTimer.singleShot(0, lambda: self._load_first_model(source))

    # ------------------------------------------------------------------ the session
    @property
    def model_info(self) -> ModelInfo | None:
        return self.session.model_info

    @property
    def trace(self) -> Trace | None:
        return self.session.trace

    @property
    def selection(self) -> Selection | None:
        return self.session.selection

    @property
    def current_source(self) -> str | None:
        """The source of the model on screen."""
        return self.session.source

    @current_source.setter
    def current_source(self, source: str | None) -> None:
        self.session.source = source

    def _broadcast_model_info(self, info: ModelInfo) -> None:
        for panel in self.panels:
            panel.set_model_info(info)

    def _broadcast_trace(self, trace: Trace) -> None:
        for panel in self.panels:
            panel.set_trace(trace)

    def _broadcast_selection(self, selection: Selection) -> None:
        for panel in self.panels:
            panel.set_selection(selection)

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
        if self.startup.waiting_for_paint:  # once: the window and its "loading" status are up
            self.startup.on("painted")
            QTimer.singleShot(0, self._after_first_paint)

    def _unless_shown(self) -> None:
        """A window that is not shown by the first event-loop turn does not wait for a paint."""
        if not self.isVisible() and self.startup.waiting_for_paint:
            self.startup.on("painted")
            self._after_first_paint()

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
        self.session.set_selection(Selection())
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
        return self.startup.tabs_built

    def finish_building(self) -> None:
        """Build every panel and tab not built yet, now (what a lesson scene or a test needs)."""
        self._build_panels()
        if not self.startup.tabs_built:
            from explorer.views.registry import tab_panel_classes

            for cls in tab_panel_classes():
                if cls not in self.tab_panels:
                    self._add_tab_panel(cls)
            self._tabs_built()

    def _build_deferred_tabs(self) -> None:
        if self.startup.tabs_to_build:
            self.startup.on("tabs_started")
            QTimer.singleShot(0, self._build_next_tab)

    def _build_next_tab(self) -> None:
        """One deferred tab per event-loop turn, so the window keeps painting and reacting
        (each panel takes 10-80 ms to build) while the model thread loads torch."""
        if self.startup.tabs_built:
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
        self.startup.on("tabs_built")
        # The panels the window talks to directly, reached by their registry keys (explorer.views.registry).
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
        panel.traces_requested.connect(lambda texts, p=panel: self.worker.request_batch(tuple(texts), p))
        panel.work_requested.connect(lambda request, everyone, p=panel: self.worker.ask(request, None if everyone else p))
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


    def request_trace(self) -> None:
        self._build_panels()
        query = self.selection.query
        positions = (query, -1) if query != -1 else (-1,)
        if self._early_trace == (self.text_box.text(), positions):
            self._early_trace = None  # asked for with the load: on its way
            return
        self._early_trace = None
        self.worker.request_trace(self.text_box.text(), positions)

    @Slot(str)
    def _on_text_changed(self, _text: str) -> None:
        if self.model_info is not None:
            self.request_trace()

    @Slot(str, str)
    def _on_text_change_requested(self, old: str, new: str) -> None:
        """A panel's edit (a sampled token) lands only on the text it was made from: what
        the person typed meanwhile is never overwritten."""
        if self.text_box.text() == old:
            self.text_box.setText(for_qt(new))

    # ------------------------------------------------------------------ selection
    def set_selection(self, selection: Selection) -> None:
        """Broadcast a new selection: each visible panel that draws a changed field redraws once."""
        self._build_panels()
        if self.model_info is not None:
            selection = selection.clamped(self.model_info.n_layers, self.model_info.n_heads)
        if not self.session.set_selection(selection):
            return
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
        self.current_source = self._requested_source
        self.session.set_model_info(info)
        self._show_model_status()
        self.session.set_selection(self.selection.clamped(info.n_layers, info.n_heads).with_(target=None))  # another vocabulary
        for panel in self.panels:  # a panel clamps its own selection to the new model
            panel.set_selection(self.selection)
        self._show_banner("")
        self._follow_default_sentence(info)
        self.request_trace()
        self.worker.ask(Badges())  # for every panel, scored in the background after the trace; a new load cancels it
        # The rest waits until this model's first trace is on screen: the model list scans
        # files for 0.5 s, and the collection before the freeze takes 0.14 s, both on the GUI
        # thread; before the trace they delayed it by that much.
        self.startup.on("model_loaded")
        scene = self.startup.take_scene()  # a lesson scene that waited for this model
        if scene is not None:
            self._apply_scene_state(scene)

    @Slot(object)
    def _on_trace_ready(self, trace: Trace) -> None:
        self._build_panels()
        start = time.perf_counter()
        self.session.set_trace(trace)
        self._refresh_panels()  # hidden tabs stay out of date until shown: typing stays fast
        self.update_ms = (time.perf_counter() - start) * 1000.0
        self._show_trace_status(trace)
        self._show_timings_soon()
        if self.startup.waiting_for_first_trace:
            self.startup.on("trace_shown")
            QTimer.singleShot(0, self._after_model_shown)

    def _after_model_shown(self) -> None:
        """What a newly loaded model needs once its first trace is on screen: painted first
        (Qt may paint only after this runs), since what follows holds the GIL for a while;
        panels built this turn are laid out first, or they would not be painted here."""
        if self.isVisible():
            QCoreApplication.sendPostedEvents(None, QEvent.Type.LayoutRequest)
            self.repaint()
        self.worker.load_full_model()  # after a fast start: torch now, on a thread of its own
        # after a fast start the scan waits for torch: a second thread importing it meanwhile slowed this one more
        if self.startup.model_shown(self.worker.full_model_loaded):
            self._scan_models_in_background()
            runtime.after_model_load()
        self._build_deferred_tabs()

    @Slot()
    def _on_full_model_ready(self) -> None:
        """After a fast start the torch model has replaced the NumPy one, unseen: what it
        brought along (torch's modules, the model) leaves the garbage collections too, and the
        model menu is filled (listing the models imports torch)."""
        runtime.after_model_load()
        if self.startup.full_model_loaded():
            self._scan_models_in_background()


    @Slot(str, str)
    def _on_worker_error(self, kind: str, message: str) -> None:
        if kind == "load":
            self._requested_source = self.current_source
            keep = self.tr(" Still showing {model}.").format(model=self.model_info.name) if self.model_info else ""
            self._show_banner(self.tr("Could not load the model: {message}.").format(message=message) + keep, error=True)
            self.status_model.setText(self.model_info.name if self.model_info else self.tr("no model"))
            runtime.after_model_load()
            self.startup.on("load_failed")
            self._build_deferred_tabs()
        elif kind == "trace" and self.model_info is None:
            self._early_trace = None  # the early trace of a load that failed: the load says why
        else:
            self._show_banner(message, error=True)
            if kind == "trace" and self.startup.waiting_for_first_trace:
                self.startup.on("trace_failed")
                QTimer.singleShot(0, self._after_model_shown)


    def _step_selection(self, step: int) -> None:
        if self.trace is None:
            return
        current = self.selection.query_index(self.trace.n_tokens)
        self.select_position(max(0, min(self.trace.n_tokens - 1, current + step)))


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


