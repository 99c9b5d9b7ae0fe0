"""Playing a lesson: scenes stepped with a presentation clicker's keys.

While a lesson plays, PgDn / → step forward and PgUp / ← step back (what clickers send),
Home / End jump to the first / last scene and Esc ends the lesson — wherever the focus is,
except that → and ← keep moving the cursor in a text box the person may type in.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtWidgets import QApplication, QLineEdit, QPlainTextEdit

from explorer.lesson_file import Lesson

FORWARD = (Qt.Key_PageDown, Qt.Key_Right, Qt.Key_Space)
BACK = (Qt.Key_PageUp, Qt.Key_Left)


class LessonPlayer(QObject):
    """Steps through a :class:`Lesson`, asking ``apply(scene)`` to show each scene.
    ``scene_changed(index)`` after each step; ``finished()`` when the lesson ends."""

    scene_changed = Signal(int)
    finished = Signal()

    def __init__(self, apply, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._apply = apply
        self.lesson: Lesson | None = None
        self.index = 0

    @property
    def playing(self) -> bool:
        return self.lesson is not None

    def start(self, lesson: Lesson, index: int = 0) -> None:
        if self.lesson is None:
            QApplication.instance().installEventFilter(self)
        self.lesson = lesson
        self.go(index)

    def stop(self) -> None:
        if self.lesson is not None:
            QApplication.instance().removeEventFilter(self)
            self.lesson = None
            self.finished.emit()

    def go(self, index: int) -> None:
        if self.lesson is None:
            return
        self.index = max(0, min(len(self.lesson.scenes) - 1, index))
        self._apply(self.lesson.scenes[self.index])
        self.scene_changed.emit(self.index)

    def step(self, by: int) -> None:
        self.go(self.index + by)

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 (Qt API)
        if event.type() != QEvent.KeyPress or self.lesson is None:
            return False
        key, focus = event.key(), QApplication.focusWidget()
        editing = isinstance(focus, (QLineEdit, QPlainTextEdit)) and not focus.isReadOnly()
        if key in (Qt.Key_Left, Qt.Key_Right, Qt.Key_Space, Qt.Key_Home, Qt.Key_End) and editing:
            return False
        if event.modifiers() & (Qt.ControlModifier | Qt.AltModifier):
            return False
        if key in FORWARD:
            self.step(+1)
        elif key in BACK:
            self.step(-1)
        elif key == Qt.Key_Home:
            self.go(0)
        elif key == Qt.Key_End:
            self.go(len(self.lesson.scenes) - 1)
        elif key == Qt.Key_Escape:
            self.stop()
        else:
            return False
        return True
