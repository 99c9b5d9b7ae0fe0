"""The tokens of the current text as chips: hover for id and offsets, click to select a query."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QButtonGroup, QHBoxLayout, QPushButton, QScrollArea, QVBoxLayout, QWidget

from explorer.views.base import Panel
from explorer.views.labels import token_label


class TokenStrip(Panel):
    """One checkable chip per token; clicking a chip selects that token as the query."""

    selection_fields = frozenset({"query"})

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAsNeeded)
        self.scroll.setVerticalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.scroll.setFrameShape(QScrollArea.NoFrame)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self.scroll)
        inner = QWidget()
        self._layout = QHBoxLayout(inner)
        self._layout.setContentsMargins(2, 2, 2, 2)
        self._layout.setSpacing(4)
        self._layout.addStretch(1)
        self.scroll.setWidget(inner)
        self._group = QButtonGroup(self)
        self._group.setExclusive(True)
        self._group.idClicked.connect(self._on_chip_clicked)
        self.chips: list[QPushButton] = []

    def sizeHint(self):  # noqa: N802 (Qt API)
        return self.scroll.sizeHint()

    def redraw(self) -> None:
        trace = self.trace
        if trace is None:
            return
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
            text = token_label(trace.token_strings[i])
            if chip.text() != text:  # most chips are unchanged by a keystroke: skip their re-layout
                chip.setText(text)
            where = "inserted by the model" if trace.special[i] else f"characters {start}–{end}"
            chip.setToolTip(f"position {i} · id {int(trace.token_ids[i])} · {where}")
            if chip.isHidden():
                chip.show()
        index = self.selection.query_index(trace.n_tokens)
        self.chips[index].setChecked(True)
        self.scroll.ensureWidgetVisible(self.chips[index])

    def _on_chip_clicked(self, index: int) -> None:
        self.request_selection(query=index)
