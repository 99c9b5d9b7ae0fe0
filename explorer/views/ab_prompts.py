"""A/B prompts: the text on screen (A) against a second text (B), e.g. "… he" / "… she".

Per head, the mean absolute difference of the two attention patterns (when both texts have
the same number of tokens, so positions line up), the two next-token predictions side by
side, and **patching**: the selected head's output taken from A into B's run, to see how
much of the difference that one head carries. B is traced and patched on the model thread.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QT_TRANSLATE_NOOP
from PySide6.QtGui import QFontMetricsF
from PySide6.QtWidgets import QLabel, QLineEdit, QPushButton, QSizePolicy, QVBoxLayout, QWidget

from explorer.elided_label import ElidedLabel
from explorer.views import TimedView, fixed_plot, settle
from explorer.views.base import Panel
from explorer.views.fast_items import FastImageItem
from explorer.views.flow import FlowLayout
from explorer.views.labels import token_label
from explorer.views.room import keep_readable
from model.core.sampling import softmax_with_temperature
from model.work import requests as rq

TOP = 5


class ABPromptsPanel(Panel):
    title = QT_TRANSLATE_NOOP("Panel", "A/B prompts")
    key = "ab"
    selection_fields = frozenset({"layer", "head"})

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.trace_b = None
        self.patch = None
        self.heading = ElidedLabel()  # one line (the whole in its tooltip): the plot keeps the height
        self._compare_when_shown = False  # a scene set prompt B while the tab was hidden
        self.text_b = QLineEdit()
        self.text_b.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.text_b.setMinimumWidth(160)
        self.compare_button = QPushButton()
        self.patch_button = QPushButton()
        self.summary = QLabel("")
        self.summary.setWordWrap(True)
        self._summary_parts: list[tuple] = []  # what the summary says, composed again in a new language
        self.view = TimedView()
        self.plot = fixed_plot(self.view)
        self.plot.invertY(True)
        self.plot.setAspectLocked(True)
        self.image = FastImageItem(axisOrder="row-major")
        self.plot.addItem(self.image)
        # the colours in numbers, beside the map (the square cells leave room there)
        self.colorbar = pg.ColorBarItem(values=(0, 1), colorMap=self.theme.attention_cmap, interactive=False, width=14)
        self.colorbar.setImageItem(self.image, insert_in=self.plot)
        self.colorbar.axis.enableAutoSIPrefix(False)
        row = FlowLayout()  # wraps rather than scroll sideways (docs/layout.md)
        row.addWidget(self.text_b)
        row.addWidget(self.compare_button)
        row.addWidget(self.patch_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.heading)
        layout.addLayout(row)
        layout.addWidget(self.summary)
        layout.addWidget(self.view, 1)
        self.plot.vb.sigResized.connect(self._label_axes)
        self._heads: tuple[int, int] = (0, 0)
        self.retranslate()

    def retranslate(self) -> None:
        """Every text in the interface language (they stayed English until a restart)."""
        self.heading.setText(self.tr("A/B prompts: A is the text above, B is this one"))
        self.text_b.setPlaceholderText(self.tr("Prompt B, e.g. the same sentence with 'he' for 'she'"))
        self.compare_button.setText(self.tr("Compare"))
        self.patch_button.setText(self.tr("Patch the selected head A → B"))
        super().retranslate()
        self.compare_button.clicked.connect(self.compare)
        self.text_b.returnPressed.connect(self.compare)
        self.patch_button.clicked.connect(self.patch_selected)

    def _label_axes(self, *_args) -> None:
        """H0 … and L0 …, every n-th where the cells are smaller than the labels (they overlapped)."""
        L, H = self._heads
        if not L:
            return
        metrics = QFontMetricsF(self.plot.getAxis("bottom").style["tickFont"] or self.theme.font(-1))
        per_x, per_y = self.plot.vb.viewPixelSize()  # data units per pixel (the cells are square)
        cell_w, cell_h = 1.0 / max(per_x, 1e-9), 1.0 / max(per_y, 1e-9)
        every_x = max(1, math.ceil((metrics.horizontalAdvance(f"H{H - 1}") + 8) / cell_w))
        every_y = max(1, math.ceil(metrics.height() * 0.9 / cell_h))
        self.plot.getAxis("left").setTicks([[(i + 0.5, f"L{i}") for i in range(0, L, every_y)]])
        self.plot.getAxis("bottom").setTicks([[(j + 0.5, f"H{j}") for j in range(0, H, every_x)]])

    def on_theme(self, theme) -> None:
        tick = QFontMetricsF(theme.font(-1))  # room for "L11" now: the axis grows only after cutting it
        self.plot.getAxis("left").setWidth(int(tick.horizontalAdvance("L00") + 14))
        self.summary.setFont(theme.font(-1))
        self.colorbar.setColorMap(theme.attention_cmap)
        self.colorbar.axis.setTickFont(theme.font(-2))
        self.colorbar.axis.setTextPen(theme.fg)
        self.colorbar.axis.setPen(theme.fg)
        keep_readable(self.view, theme, 5)
        self.heading.setFont(theme.font(3, bold=True))
        self.image.setLookupTable(theme.attention_cmap.getLookupTable(nPts=256))

    def on_model_info(self, info) -> None:
        self.trace_b, self.patch = None, None

    def apply_scene(self, state: dict) -> list[str]:
        """``prompt_b``: the second prompt; compared once the tab shows."""
        if "prompt_b" in state and state["prompt_b"] != self.text_b.text():
            self.text_b.setText(state["prompt_b"])
            self.trace_b = self.patch = None  # they were of the old prompt B
            self._compare_when_shown = True
            self.mark_dirty()
            self.refresh()
        return []

    def scene_values(self) -> dict:
        return {"prompt_b": self.text_b.text()}

    def compare(self) -> None:
        if self.text_b.text().strip():
            self.traces_requested.emit((self.text_b.text(),))

    def patch_selected(self) -> None:
        if self.trace is None or not self.text_b.text().strip():
            return
        s = self.selection
        self.ask(rq.Patch(self.text_b.text(), source=self.trace.text, heads=((s.layer, s.head),)))

    def set_batch_traces(self, texts, traces) -> None:
        if texts == (self.text_b.text(),):
            self.trace_b = traces[0]
            self.mark_dirty()
            self.refresh()

    def set_work_result(self, request, result) -> None:
        if isinstance(request, rq.Patch):
            self.patch = result
            self.mark_dirty()

    def set_work_error(self, request, message: str) -> None:
        if isinstance(request, rq.Patch):
            self.summary.setText(message)

    def _top(self, logits: np.ndarray) -> str:
        p = softmax_with_temperature(logits.astype(np.float64), 1.0)
        vocab = self.info.vocabulary if self.info is not None else None
        return ", ".join(f"{token_label(vocab[t]) if vocab else t} {p[t]:.2f}" for t in np.argsort(-p)[:TOP])

    def redraw(self) -> None:
        if self._compare_when_shown:
            self._compare_when_shown = False
            self.compare()
        a, b = self.trace, self.trace_b
        if a is None or b is None:
            self.summary.setText(self.tr("Type prompt B and press Compare."))
            return
        lines = []
        if a.n_tokens == b.n_tokens and a.n_layers == b.n_layers:
            diff = np.abs(a.pattern - b.pattern).mean(axis=(-1, -2))  # (L, H)
            self.image.setImage(diff, levels=(0.0, max(float(diff.max()), 1e-6)), autoLevels=False)
            L, H = diff.shape
            self._heads = (L, H)
            self.plot.autoRange(padding=0.02)
            self._label_axes()
            self.colorbar.setLevels((0.0, max(float(diff.max()), 1e-6)))
            layer, head = np.unravel_index(int(np.argmax(diff)), diff.shape)
            lines.append(self.tr("Colours: mean |pattern A − pattern B| per head. Most changed head: {l}.{h} "
                                 "(mean |Δ| {d:.3f}).").format(
                l=layer, h=head, d=float(diff[layer, head])))
        else:
            self.image.clear()
            lines.append(self.tr("A has {a} tokens and B {b}: patterns are compared only when the token counts "
                                 "match.").format(a=a.n_tokens, b=b.n_tokens))
        if a.has_logits_at(-1) and b.has_logits_at(-1):
            lines.append(self.tr("Next token after A: ") + self._top(a.logits_at(-1)))
            lines.append(self.tr("Next token after B: ") + self._top(b.logits_at(-1)))
        p = self.patch
        if p is not None and p.text_a == a.text and p.text_b == b.text:
            heads = ", ".join(f"{layer}.{head}" for layer, head in p.heads)
            lines.append(self.tr("B with head {h} patched from A: ").format(h=heads) + self._top(p.logits_patched))
        self.summary.setText("\n".join(lines))
        settle(self.view)

    def export_table(self) -> tuple[list[str], list[list]] | None:
        a, b = self.trace, self.trace_b
        if a is None or b is None:
            raise ValueError("compare two prompts first")
        if a.n_tokens != b.n_tokens:
            raise ValueError("the prompts have different token counts")
        diff = np.abs(a.pattern - b.pattern).mean(axis=(-1, -2))
        return ["layer", "head", "mean_abs_pattern_difference"], [
            [layer, head, float(diff[layer, head])] for layer in range(diff.shape[0]) for head in range(diff.shape[1])]
