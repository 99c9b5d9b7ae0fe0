"""The tokens of the current text as chips: hover for id and offsets, click to select a query."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QButtonGroup, QHBoxLayout, QPushButton, QScrollArea, QWidget

from model.trace import Trace


def chip_text(token: str) -> str:
    """Make spaces and word-piece joins visible: ' cat' → '␣cat'."""
    return token.replace(" ", "␣").replace("\n", "⏎") or "∅"


class TokenStrip(QScrollArea):
    """One checkable chip per token; ``position_selected(int)`` when a chip is clicked."""

    position_selected = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarAsNeeded)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.setFrameShape(QScrollArea.NoFrame)
        inner = QWidget()
        self._layout = QHBoxLayout(inner)
        self._layout.setContentsMargins(2, 2, 2, 2)
        self._layout.setSpacing(4)
        self._layout.addStretch(1)
        self.setWidget(inner)
        self._group = QButtonGroup(self)
        self._group.setExclusive(True)
        self._group.idClicked.connect(self._on_chip_clicked)
        self.chips: list[QPushButton] = []
        self.selected = -1

    def set_trace(self, trace: Trace) -> None:
        while len(self.chips) < trace.n_tokens:
            chip = QPushButton()
            chip.setCheckable(True)
            chip.setObjectName("tokenChip")
            chip.setFocusPolicy(Qt.NoFocus)
            self._group.addButton(chip, len(self.chips))
            self._layout.insertWidget(len(self.chips), chip)
            self.chips.append(chip)
        for i, chip in enumerate(self.chips):
            if i >= trace.n_tokens:
                chip.hide()
                continue
            start, end = trace.offsets[i]
            text = chip_text(trace.token_strings[i])
            if chip.text() != text:  # most chips are unchanged by a keystroke: skip their re-layout
                chip.setText(text)
            where = "inserted by the model" if trace.special[i] else f"characters {start}–{end}"
            chip.setToolTip(f"position {i} · id {int(trace.token_ids[i])} · {where}")
            if chip.isHidden():
                chip.show()
        self._check(self.selected % trace.n_tokens if trace.n_tokens else -1)

    def select(self, position: int) -> None:
        self.selected = position
        visible = [c for c in self.chips if c.isVisible()]
        if visible:
            self._check(position % len(visible))

    def _check(self, index: int) -> None:
        if 0 <= index < len(self.chips):
            self.chips[index].setChecked(True)
            self.ensureWidgetVisible(self.chips[index])

    def _on_chip_clicked(self, index: int) -> None:
        self.selected = index
        self.position_selected.emit(index)
