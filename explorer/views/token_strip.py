"""The tokens of the current text as chips: hover for id and offsets, click to select a query.
A token the vocabulary does not have ([UNK]: most Chinese characters in a word-piece model
trained on English) is drawn distinctly, with the characters it stands for."""

from __future__ import annotations

import re

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QButtonGroup, QHBoxLayout, QPushButton, QScrollArea, QVBoxLayout, QWidget

from explorer.views.base import Panel
from explorer.views.labels import token_label
from model.core.trace import Trace
from model.work import requests as rq

#: what tokenizers call the token for text outside their vocabulary
UNKNOWN_TOKENS = frozenset({"[UNK]", "<unk>", "<|unk|>", "<UNK>"})


def unknown_positions(trace: Trace) -> list[int]:
    """Positions of [UNK] tokens: text the model cannot tell apart from any other unknown text."""
    return [i for i, token in enumerate(trace.token_strings) if token in UNKNOWN_TOKENS and not trace.special[i]]


def unknown_characters(trace: Trace) -> int:
    """How many characters of the text became [UNK]."""
    return sum(max(1, trace.offsets[i][1] - trace.offsets[i][0]) for i in unknown_positions(trace))


def is_cjk(character: str) -> bool:
    """A Chinese character (CJK unified ideographs, extension A, compatibility ideographs)."""
    return "\u3400" <= character <= "\u9fff" or "\uf900" <= character <= "\ufaff" or "\U00020000" <= character <= "\U0003134f"


#: model.core.tokenizer.join_byte_pieces' name for a token holding part of a character ("我 1/2")
_PART = re.compile(r"^\S+ \d+/\d+$")


def unreadable_chinese(trace: Trace) -> tuple[int, int, int]:
    """(Chinese characters in the text, how many of them the model sees as [UNK] or only as
    byte pieces of a character, letters and characters in the text that are not spaces)."""
    text = trace.text
    chinese = sum(is_cjk(c) for c in text)
    unreadable = set()
    for i, token in enumerate(trace.token_strings):
        if trace.special[i]:
            continue
        if token in UNKNOWN_TOKENS or _PART.match(token):
            a, b = trace.offsets[i]
            unreadable.update(k for k in range(a, b) if k < len(text) and is_cjk(text[k]))
    return chinese, len(unreadable), sum(not c.isspace() for c in text)


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
        self._drawn: tuple | None = None  # (token ids, offsets, text) of the trace shown
        self.saliency = None  # model.work.probes.SaliencyResult: shading, while it matches the text

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
        first = self._first_changed(trace)
        for i in range(first, len(self.chips)):
            chip = self.chips[i]
            if i >= trace.n_tokens:
                if not chip.isHidden():
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
        self._drawn = (trace.token_ids, trace.offsets, trace.text)
        self._shade()
        index = self.selection.query_index(trace.n_tokens)
        self.chips[index].setChecked(True)
        self.scroll.ensureWidgetVisible(self.chips[index])

    # ------------------------------------------------------------------ saliency
    def set_work_result(self, request, result) -> None:
        if isinstance(request, rq.Saliency):
            self.saliency = result
            self._shade()

    def _scores(self):
        r, trace = self.saliency, self.trace
        if r is None or r.saliency is None or trace is None or r.text != trace.text:
            return None
        scores = r.saliency.integrated_gradients
        return scores if len(scores) == trace.n_tokens else None

    def _shade(self) -> None:
        """A bar under each chip: vermillion where the token pushes the target up, blue where it
        pushes it down, as strong as its share of the largest score (integrated gradients)."""
        scores = self._scores()
        lim = float(np.abs(scores).max()) if scores is not None and len(scores) else 0.0
        for i, chip in enumerate(self.chips):
            style = ""
            if scores is not None and lim > 0 and i < len(scores):
                v = float(scores[i]) / lim
                r, g, b = (213, 94, 0) if v > 0 else (0, 114, 178)  # Okabe–Ito, apart for colour-blind eyes
                # a border on one side only is not drawn on a natively styled button: all four, then the bar
                style = (f"QPushButton#tokenChip {{ border: 1px solid palette(mid); border-radius: 3px; "
                         f"padding: 2px 6px; border-bottom: 6px solid rgba({r},{g},{b},{int(40 + 215 * abs(v))}); }}")
            if chip.styleSheet() != style:
                chip.setStyleSheet(style)

    def export_table(self) -> tuple[list[str], list[list]] | None:
        """The tokens with their saliency scores (after ``--view saliency`` or the toggle)."""
        r, trace = self.saliency, self.trace
        if self._scores() is None:
            raise ValueError("no saliency computed for this text")
        s = r.saliency
        return (["position", "token", "grad_x_input", "integrated_gradients"],
                [[i, trace.token_strings[i], float(s.grad_x_input[i]), float(s.integrated_gradients[i])]
                 for i in range(trace.n_tokens)])

    def _first_changed(self, trace) -> int:
        """The first chip this trace can change. Typing at the end of 256 tokens changes the
        last one or two; looking at every chip's key cost 1.5 ms a keystroke."""
        if self._drawn is None:
            return 0
        ids, offsets, text = self._drawn
        n = min(len(ids), len(trace.token_ids))
        differ = np.flatnonzero(ids[:n] != trace.token_ids[:n])
        first = int(differ[0]) if len(differ) else n
        # a chip's text and tooltip also read its characters and offsets: stop at the first
        # chip whose offsets moved or whose characters are not in the text both share
        same_text = _common_prefix_length(text, trace.text)
        for i in range(first):
            if offsets[i] != trace.offsets[i] or offsets[i][1] > same_text:
                return i
        return first

    def on_model_info(self, info) -> None:
        self._drawn = None  # the same ids are other tokens in another model

    def retranslate(self) -> None:
        self._chip_keys = [None] * len(self.chips)  # the tooltips are composed again
        self._drawn = None
        super().retranslate()

    def _on_chip_clicked(self, index: int) -> None:
        self.request_selection(query=index)


def _common_prefix_length(a: str, b: str) -> int:
    """Characters ``a`` and ``b`` share at the start (binary search on slices: C compares)."""
    lo, hi = 0, min(len(a), len(b))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo
