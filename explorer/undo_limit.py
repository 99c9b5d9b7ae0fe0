"""A text box's undo history, kept to a size.

QLineEdit records every character typed, pasted or deleted for Ctrl+Z and never lets go of
them: only ``setText()`` empties the history (``clear()`` and select-all-delete add to it).
Measured (issue #31): a box given 3,000 edits with 2,000–40,000-character pastes held 24 MB
more after them, 8 MB per 1,000 edits, and none of it came back when the box was emptied;
with the history reset every 100 edits it stayed within 2.5 MB.

:class:`UndoLimit` counts the characters the history has recorded since it was last reset;
past ``max_chars`` (about 16 bytes each) it resets it, keeping the text, the cursor and the
selection. Typing by hand never gets there; after long pastes Ctrl+Z no longer reaches back
before the reset.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QSignalBlocker
from PySide6.QtWidgets import QLineEdit

MAX_UNDO_CHARS = 200_000  # characters recorded before the history is reset (about 3 MB)


class UndoLimit(QObject):
    def __init__(self, box: QLineEdit, max_chars: int = MAX_UNDO_CHARS) -> None:
        super().__init__(box)
        self.box, self.max_chars = box, max_chars
        self.recorded = 0
        self._length = len(box.text())
        box.textEdited.connect(self._on_edited)

    def _on_edited(self, text: str) -> None:
        # an insertion records what it adds, a deletion what it removes, a replacement both
        self.recorded += max(1, abs(len(text) - self._length))
        self._length = len(text)
        if self.recorded > self.max_chars:
            self.reset()

    def reset(self) -> None:
        """Empty the history; the text, cursor and selection stay as they are."""
        box = self.box
        start, selected, cursor = box.selectionStart(), len(box.selectedText()), box.cursorPosition()
        with QSignalBlocker(box):  # the same text: nothing to tell anyone
            box.setText(box.text())
        if start >= 0 and selected:
            if cursor <= start:  # selected leftwards: the cursor at the selection's start
                box.setSelection(start + selected, -selected)
            else:
                box.setSelection(start, selected)
        else:
            box.setCursorPosition(cursor)
        self.recorded = 0
