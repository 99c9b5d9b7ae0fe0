"""A/B prompts: the text on screen (A) against a second text (B), e.g. "… he" / "… she".

Per head, the mean absolute difference of the two attention patterns (when both texts have
the same number of tokens, so positions line up), the two next-token predictions side by
side, and **patching**: the selected head's output taken from A into B's run, to see how
much of the difference that one head carries. B is traced and patched on the model thread.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QT_TRANSLATE_NOOP
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget

from explorer.views import TimedView, fixed_plot, keep_readable, settle
from explorer.views.base import Panel
from explorer.views.fast_items import FastImageItem
from explorer.views.labels import token_label
from model.core.sampling import softmax_with_temperature

TOP = 5


class ABPromptsPanel(Panel):
    title = QT_TRANSLATE_NOOP("Panel", "A/B prompts")
    key = "ab"
    selection_fields = frozenset({"layer", "head"})

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.trace_b = None
        self.patch = None
        self.heading = QLabel(self.tr("A/B prompts: A is the text above, B is this one"))
        self.text_b = QLineEdit()
        self.text_b.setPlaceholderText(self.tr("Prompt B, e.g. the same sentence with 'he' for 'she'"))
        self.compare_button = QPushButton(self.tr("Compare"))
        self.patch_button = QPushButton(self.tr("Patch the selected head A → B"))
        self.summary = QLabel("")
        self.summary.setWordWrap(True)
        self.view = TimedView()
        self.plot = fixed_plot(self.view)
        self.plot.invertY(True)
        self.plot.setAspectLocked(True)
        self.plot.setTitle(self.tr("mean |pattern A − pattern B| per head"))
        self.image = FastImageItem(axisOrder="row-major")
        self.plot.addItem(self.image)
        row = QHBoxLayout()
        row.addWidget(self.text_b, 1)
        row.addWidget(self.compare_button)
        row.addWidget(self.patch_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addLayout(row)
        layout.addWidget(self.summary)
        layout.addWidget(self.view, 1)
        self.compare_button.clicked.connect(self.compare)
        self.text_b.returnPressed.connect(self.compare)
        self.patch_button.clicked.connect(self.patch_selected)

    def on_theme(self, theme) -> None:
        keep_readable(self.view, theme, 5)
        self.heading.setFont(theme.font(3, bold=True))
        self.image.setLookupTable(theme.attention_cmap.getLookupTable(nPts=256))

    def on_model_info(self, info) -> None:
        self.trace_b, self.patch = None, None

    def compare(self) -> None:
        if self.text_b.text().strip():
            self.traces_requested.emit((self.text_b.text(),))

    def patch_selected(self) -> None:
        if self.trace is None or not self.text_b.text().strip():
            return
        s = self.selection
        self.request_work("patch", text=self.text_b.text(), source=self.trace.text, heads=[(s.layer, s.head)])

    def set_batch_traces(self, texts, traces) -> None:
        if texts == (self.text_b.text(),):
            self.trace_b = traces[0]
            self.mark_dirty()
            self.refresh()

    def set_work_result(self, kind: str, result) -> None:
        if kind == "patch":
            self.patch = result
            self.mark_dirty()

    def set_work_error(self, kind: str, message: str) -> None:
        if kind == "patch":
            self.summary.setText(message)

    def _top(self, logits: np.ndarray) -> str:
        p = softmax_with_temperature(logits.astype(np.float64), 1.0)
        vocab = self.info.vocabulary if self.info is not None else None
        return ", ".join(f"{token_label(vocab[t]) if vocab else t} {p[t]:.2f}" for t in np.argsort(-p)[:TOP])

    def redraw(self) -> None:
        a, b = self.trace, self.trace_b
        if a is None or b is None:
            self.summary.setText(self.tr("Type prompt B and press Compare."))
            return
        lines = []
        if a.n_tokens == b.n_tokens and a.n_layers == b.n_layers:
            diff = np.abs(a.pattern - b.pattern).mean(axis=(-1, -2))  # (L, H)
            self.image.setImage(diff, levels=(0.0, max(float(diff.max()), 1e-6)), autoLevels=False)
            L, H = diff.shape
            self.plot.getAxis("left").setTicks([[(i + 0.5, f"L{i}") for i in range(L)]])
            self.plot.getAxis("bottom").setTicks([[(j + 0.5, f"H{j}") for j in range(H)]])
            layer, head = np.unravel_index(int(np.argmax(diff)), diff.shape)
            lines.append(self.tr("Most changed head: {l}.{h} (mean |Δ| {d:.3f}).").format(
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
