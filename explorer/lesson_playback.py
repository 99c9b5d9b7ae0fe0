"""Lessons: the Lessons menu, playing a lesson's scenes (with explorer.presenter.LessonPlayer), applying a scene to the window, and saving the view as a scene (Ctrl+S)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QCoreApplication
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QFileDialog,
)

from explorer.lesson_file import LessonError, append_scene, load_lesson, shipped_lessons
from explorer.names import USER_LESSON_FILE, USER_LESSONS_FOLDER
from explorer.qtext import for_qt
from explorer.views.registry import panel_scene_keys

#: The scene keys that are a panel's own controls (not the text, model, selection or tab).
PANEL_STATE = tuple(panel_scene_keys())


class LessonPlayback:
    """Part of :class:`explorer.window.MainWindow` (a mixin: it reads and sets the window's own
    attributes). Lessons."""

    # ------------------------------------------------------------------ lessons
    def _populate_lessons_menu(self) -> None:
        """Rebuilt when it opens: the shipped lessons, the person's own, and Open…"""
        for action in list(self.lessons_menu.actions()):
            if action.property("lesson_entry"):
                self.lessons_menu.removeAction(action)
                # removed is not deleted: the menu owns it, and each opening added ~15 (issue #31)
                action.deleteLater()
        first = self.lessons_menu.actions()[0] if self.lessons_menu.actions() else None
        entries = [(path, None) for path in shipped_lessons()]
        if self.user_lesson_path().is_file():
            entries.append((self.user_lesson_path(), QCoreApplication.translate("MainWindow", "My lesson (Ctrl+S adds scenes)")))
        for path, label in entries:
            try:
                title = label or load_lesson(path).display_title(self.language)
            except LessonError:
                title = QCoreApplication.translate("MainWindow", "{file} (cannot be read)").format(file=path.name)
            action = QAction(title, self.lessons_menu)
            action.setProperty("lesson_entry", True)
            action.triggered.connect(lambda _c=False, p=path: self.start_lesson(p))
            self.lessons_menu.insertAction(first, action)
        # The worked-example models are known once the model menu has been filled (after the
        # first load): listing them earlier would import torch before the window shows.
        for choice in self._lesson_models:
            action = QAction(QCoreApplication.translate("MainWindow", "Worked example: {name}").format(name=choice.name.removeprefix("Lesson: ")),
                             self.lessons_menu)
            action.setProperty("lesson_entry", True)
            action.triggered.connect(lambda _c=False, source=choice.source: self.load_model(source))
            self.lessons_menu.insertAction(first, action)
        for text, slot in ((QCoreApplication.translate("MainWindow", "Open lesson file…"), self._on_open_lesson),
                           (QCoreApplication.translate("MainWindow", "End the lesson (Esc)"), self.player.stop)):
            action = QAction(text, self.lessons_menu)
            action.setProperty("lesson_entry", True)
            action.triggered.connect(slot)
            self.lessons_menu.insertAction(first, action)
        separator = self.lessons_menu.insertSeparator(first)
        separator.setProperty("lesson_entry", True)

    def _on_open_lesson(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, QCoreApplication.translate("MainWindow", "Open a lesson"), str(shipped_lessons()[0].parent)
                                              if shipped_lessons() else "", QCoreApplication.translate("MainWindow", "Lessons (*.toml)"))
        if path:
            self.start_lesson(path)

    def start_lesson(self, path) -> bool:
        """Load a lesson file and show its first scene; a bad file is a message naming it."""
        try:
            lesson = load_lesson(path)
        except LessonError as exc:
            self._show_banner(exc.message(QCoreApplication.translate), error=True)  # in the interface's language
            return False
        if not self.player.playing:  # the panels' own controls as they were, to put back at the end
            self._before_lesson = {k: v for k, v in self.current_scene_values().items() if k in PANEL_STATE}
        self.player.start(lesson)
        return True

    def user_lesson_path(self):

        from PySide6.QtCore import QStandardPaths

        folder = QStandardPaths.writableLocation(QStandardPaths.AppDataLocation) or str(Path.home() / ".attention-explorer")
        return Path(folder) / USER_LESSONS_FOLDER / USER_LESSON_FILE

    def current_scene_values(self) -> dict:
        """The state on screen as scene keys (what Ctrl+S saves)."""
        self.finish_building()
        values = {"model": self.current_source or "bundled", "text": self.text_box.text(),
                  "layer": self.selection.layer, "head": self.selection.head, "query": self.selection.query,
                  "stage": self.selection.stage, "knocked_out": [list(h) for h in sorted(self.selection.ablated)]}
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
            self._show_banner(QCoreApplication.translate("MainWindow", "Could not save the scene to {path}: {error}").format(path=path, error=error),
                              error=True)
            return
        self._show_banner(QCoreApplication.translate("MainWindow", "Saved as scene {n} of {path}").format(n=len(lesson.scenes), path=path), error=False)

    def apply_scene(self, scene) -> list[str]:
        """Show a lesson scene. A different model is loaded first and the rest applied
        when it arrives. Returns problems worth telling the teacher (also shown in the banner)."""
        state = scene.state
        self.caption.setText(scene.caption(self.language))
        self.caption.setVisible(bool(self.caption.text()))
        model = state.get("model", "bundled")
        # a lesson's figures are float32's: a model typing at 8 or 16 bits is loaded again in float32
        rounded = (model == self.current_source and getattr(self.model_info, "precision", "float32") != "float32"
                   and not self.startup.scene_waiting)  # (not while that load is on its way)
        if model not in (self.current_source, self._requested_source) or rounded:
            self.startup.hold_scene(state)
            self.load_model(model, "float32")
            return []
        if model == self._requested_source and model != self.current_source:
            self.startup.hold_scene(state)  # still loading
            return []
        return self._apply_scene_state(state)

    def _apply_scene_state(self, state: dict) -> list[str]:
        self.finish_building()
        problems = []
        self.text_box.setReadOnly(bool(state.get("freeze", False)))
        if "text" in state and state["text"] != self.text_box.text():
            self.text_box.setText(for_qt(state["text"]))
        for panel in self.tab_panels.values():
            problems += panel.apply_scene(state)
        selection = self.selection.with_(**{k: state[k] for k in ("layer", "head", "query", "stage") if k in state})
        if "knocked_out" in state:
            selection = selection.with_(ablated=frozenset((int(layer), int(head)) for layer, head in state["knocked_out"]))
            if self.model_info is not None and any(layer >= self.model_info.n_layers or head >= self.model_info.n_heads
                                                   for layer, head in selection.ablated):
                problems.append(QCoreApplication.translate("MainWindow", "a knocked-out head is not in {model}").format(
                    model=self.model_info.name))
                selection = selection.with_(ablated=frozenset(
                    h for h in selection.ablated if h[0] < self.model_info.n_layers and h[1] < self.model_info.n_heads))
        if self.model_info is not None and (selection.layer >= self.model_info.n_layers
                                            or selection.head >= self.model_info.n_heads):
            problems.append(QCoreApplication.translate("MainWindow", "layer {layer}, head {head} is not in {model}").format(
                layer=selection.layer, head=selection.head, model=self.model_info.name))
        self.set_selection(selection)
        if "tab" in state:
            panel = next((p for p in self.tab_panels.values() if p.key == state["tab"]), None)
            if panel is None:
                problems.append(QCoreApplication.translate("MainWindow", "this version has no {tab!r} tab").format(tab=state["tab"]))
            else:
                self.show_tab(panel)
        if problems:
            self._show_banner(QCoreApplication.translate("MainWindow", "Lesson: {problems}").format(problems=QCoreApplication.translate("MainWindow", "; ").join(problems)), error=True)
        return problems

    def _on_scene_changed(self, index: int) -> None:
        lesson = self.player.lesson
        self.status_tokens.setText(QCoreApplication.translate("MainWindow", "{lesson} · scene {n} of {total}").format(
            lesson=lesson.display_title(self.language), n=index + 1, total=len(lesson.scenes)))

    def _on_lesson_finished(self) -> None:
        self.caption.hide()
        self.text_box.setReadOnly(False)
        self.startup.on("lesson_ended")
        before = getattr(self, "_before_lesson", None)
        if before:  # a scene's "hide first token" or temperature is the lesson's, not the teacher's
            for panel in self.tab_panels.values():
                panel.apply_scene(before)
            self._before_lesson = None
        if self.trace is not None:
            self._show_trace_status(self.trace)  # not "scene 11 of 11" after the lesson
        else:
            self.status_tokens.setText("")
