"""The Model menu: what is on this machine (scanned off the GUI thread), choosing one, opening a folder or a GGUF file, and the precision setting."""

from __future__ import annotations

import threading
import traceback
from typing import TYPE_CHECKING

import shiboken6
from PySide6.QtCore import QCoreApplication, QSignalBlocker, Slot
from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import (
    QFileDialog,
)

from explorer import runtime
from explorer.names import CHINESE_SEED_SENTENCE, SEED_SENTENCE
from explorer.settings import PRECISIONS

if TYPE_CHECKING:  # the panels (pyqtgraph, NumPy: half the time to a shown window) come after it shows
    from model.loading import ModelChoice


def model_menu_label(choice) -> str:
    """'SmolLM2-135M-Instruct (real language model) — 98 MB, 135 M parameters'."""
    facts = []
    if choice.size_bytes:
        facts.append(QCoreApplication.translate("MainWindow", "{mb} MB").format(mb=f"{choice.size_bytes / 2**20:,.0f}"))
    if choice.n_params:
        facts.append(QCoreApplication.translate("MainWindow", "{m} M parameters").format(m=f"{choice.n_params / 1e6:,.0f}"))
    if choice.note.startswith("not installed"):
        facts.append(QCoreApplication.translate("MainWindow", "not installed: {command}").format(
            command=choice.note.split(": ", 1)[-1]))  # the install command model/loading.py gives
    from explorer.views.labels import model_name

    return model_name(choice.name) + (" — " + ", ".join(facts) if facts else "")


def _scan_models(folders: tuple[str, ...]) -> list[ModelChoice]:
    from model.loading import available_models  # not at start-up: it imports torch

    try:
        return available_models(extra_folders=folders)
    except OSError:  # an unreadable cache or folder must not take the menu down
        return available_models(include_cache=False)


class ModelMenu:
    """Part of :class:`explorer.window.MainWindow` (a mixin: it reads and sets the window's own
    attributes). The Model menu."""

    # ------------------------------------------------------------------ model and requests
    @property
    def precision(self) -> str:
        """The "precision" setting: "auto" (the default: 16-bit weights for a model of at least
        50 M parameters when they are faster on this machine), "float32" (exact), "float16",
        "int8" (model/core/int8.py), or "bfloat16" (not in the Model menu: measured in the app
        on this 2-core CPU it was no faster than float32, docs/benchmarks.md)."""
        value = str(self.settings.value("precision", "auto"))
        return value if value in PRECISIONS else "auto"

    def set_precision(self, precision: str) -> None:
        """Remember the choice and load the model on screen again with it."""
        if precision != self.precision:
            self.settings.setValue("precision", precision)
            if self.current_source:
                self.load_model(self.current_source)

    @Slot(object)
    def _on_precision_ready(self, info) -> None:
        """The model on screen now runs 8- or 16-bit weights (or "auto" kept float32): the same
        model, so no panel is set up again — each trace carries its precision, and the text is
        traced again at the new one."""
        if self.model_info is None or info.name != self.model_info.name:
            return
        self.session.model_info = info  # not broadcast: nothing a panel lays out depends on it,
        for panel in self.panels:  # but every panel holds the model's current facts
            panel.info = info
        self._show_model_status()
        self.request_trace()

    def _add_precision_actions(self) -> None:
        """The weights' precision, at the end of the Model menu."""
        section = self.model_menu.addMenu(QCoreApplication.translate("MainWindow", "Weights"))
        group = QActionGroup(section)
        for precision, label, tip in (
            ("auto", QCoreApplication.translate("MainWindow", "Automatic"), QCoreApplication.translate("MainWindow",
                "16-bit weights for models of 50 M parameters or more when they are faster on this "
                "computer (measured at load); float32 otherwise")),
            ("float32", QCoreApplication.translate("MainWindow", "float32 (exact)"), QCoreApplication.translate("MainWindow", "Every number is float32's")),
            ("float16", QCoreApplication.translate("MainWindow", "16-bit weights"), QCoreApplication.translate("MainWindow",
                "Half the bytes to read per token; the step-through, direct contributions and exports stay float32")),
            ("int8", QCoreApplication.translate("MainWindow", "8-bit weights"), QCoreApplication.translate("MainWindow",
                "A quarter of the bytes to read per token, with measured loss: the status line shows how often "
                "the top prediction still agrees with float32")),
        ):
            action = QAction(label, section, checkable=True)
            action.setToolTip(tip)
            action.setChecked(precision == self.precision)
            action.triggered.connect(lambda _checked=False, p=precision: self.set_precision(p))
            group.addAction(action)
            section.addAction(action)
        section.setToolTipsVisible(True)

    def load_model(self, source: str, precision: str | None = None) -> None:
        """Load on the worker thread; the model on screen stays until the new one is ready.
        ``precision``: this load's (a lesson's float32), else the setting's."""
        self._requested_source = str(source)
        self.status_model.setText(QCoreApplication.translate("MainWindow", "loading {source}…").format(source=source))
        runtime.before_model_load()
        self.worker.load_model(str(source), precision or self.precision)

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
        open_folder = QAction(QCoreApplication.translate("MainWindow", "Open model folder…"), self.model_menu)
        open_folder.triggered.connect(self._on_open_folder)
        self.model_menu.addAction(open_folder)
        open_file = QAction(QCoreApplication.translate("MainWindow", "Open GGUF file…"), self.model_menu)
        open_file.triggered.connect(self._on_open_gguf)
        self.model_menu.addAction(open_file)
        self.model_menu.addSeparator()
        self._add_precision_actions()

    def _on_open_gguf(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, QCoreApplication.translate("MainWindow", "Open a GGUF model file"), "",
                                              QCoreApplication.translate("MainWindow", "GGUF models (*.gguf);;All files (*)"))
        if path:
            self.load_model(path)

    def _on_open_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, QCoreApplication.translate("MainWindow", "Open a model folder"))
        if folder:
            self._remember_model_folder(folder)
            self.load_model(folder)

    def _follow_default_sentence(self, info) -> None:
        """The first sentence in the reader's language where the model reads it: with the
        Chinese interface a model that holds Chinese characters as tokens (Gemma 3) starts on
        a Chinese sentence, and one that does not (the bundled model, SmolLM2) on the English
        one. Only while the text box holds the sentence the window chose: a typed text, or one
        given with --text, stays."""
        from model.analysis.tokens import whole_character_share

        if not self._default_text or self.text_box.text() not in (SEED_SENTENCE, CHINESE_SEED_SENTENCE) \
                or self.player.playing:
            return
        reads = whole_character_share(info.vocabulary, CHINESE_SEED_SENTENCE) >= 0.9
        wanted = CHINESE_SEED_SENTENCE if reads and self.language == "zh_CN" else SEED_SENTENCE
        if self.text_box.text() != wanted:
            with QSignalBlocker(self.text_box):  # the trace asked for right after is of this text
                self.text_box.setText(wanted)
