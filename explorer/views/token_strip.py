"""The tokens of the current text as chips: hover for id and offsets, click to select a query.
A token the vocabulary does not have ([UNK]: most Chinese characters in a word-piece model
trained on English) is drawn distinctly, with the characters it stands for."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QButtonGroup, QHBoxLayout, QPushButton, QScrollArea, QVBoxLayout, QWidget

from explorer.views.base import Panel
from explorer.views.labels import token_label
from model.trace import Trace

#: what tokenizers call the token for text outside their vocabulary
UNKNOWN_TOKENS = frozenset({"[UNK]", "<unk>", "<|unk|>", "<UNK>"})


def unknown_positions(trace: Trace) -> list[int]:
    """Positions of [UNK] tokens: text the model cannot tell apart from any other unknown text."""
    return [i for i, token in enumerate(trace.token_strings) if token in UNKNOWN_TOKENS and not trace.special[i]]


def unknown_characters(trace: Trace) -> int:
    """How many characters of the text became [UNK]."""
    return sum(max(1, trace.offsets[i][1] - trace.offsets[i][0]) for i in unknown_positions(trace))


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
        self._chip_keys: list[tuple | None] = []  # what each chip shows, to skip unchanged ones

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
            self._chip_keys.append(None)
        for i, chip in enumerate(self.chips):
            if i >= trace.n_tokens:
                chip.hide()
                continue
            start, end = trace.offsets[i]
            # Typing at the end changes the last chip or two: the others keep their text and
            # tooltip (composing 256 tooltips took 7 ms of every keystroke at 256 tokens).
            key = (trace.token_strings[i], int(trace.token_ids[i]), start, end, bool(trace.special[i]),
                   trace.text[start:end])
            if self._chip_keys[i] == key:
                if chip.isHidden():
                    chip.show()
                continue
            self._chip_keys[i] = key
            unknown = trace.token_strings[i] in UNKNOWN_TOKENS and not trace.special[i]
            text = token_label(trace.token_strings[i])
            if unknown:  # the characters the model could not read, then what it got instead
                text = f"{trace.text[start:end]}→{text}"
            if chip.text() != text:  # most chips are unchanged by a keystroke: skip their re-layout
                chip.setText(text)
            if bool(chip.property("unknown")) != unknown:
                chip.setProperty("unknown", unknown)
                chip.style().polish(chip)  # picks the QPushButton#tokenChip[unknown="true"] rule
            if trace.special[i]:
                where = self.tr("inserted by the model")
            elif unknown:
                where = self.tr("characters {start}–{end}: not in this model's vocabulary, read as {token}").format(
                    start=start, end=end, token=trace.token_strings[i])
            else:
                where = self.tr("characters {start}–{end}").format(start=start, end=end)
            chip.setToolTip(self.tr("position {i} · id {id} · {where}").format(
                i=i, id=int(trace.token_ids[i]), where=where))
            if chip.isHidden():
                chip.show()
        index = self.selection.query_index(trace.n_tokens)
        self.chips[index].setChecked(True)
        self.scroll.ensureWidgetVisible(self.chips[index])

    def retranslate(self) -> None:
        self._chip_keys = [None] * len(self.chips)  # the tooltips are composed again
        super().retranslate()

    def _on_chip_clicked(self, index: int) -> None:
        self.request_selection(query=index)
