"""Who wrote the answer: each head's and each MLP's direct contribution to the predicted token.

A layers × (heads + MLP) heat map of direct logit attribution at the selected position
(:mod:`model.analysis.dla`, computed on the model thread from the trace's own head outputs),
in a diverging map centred at 0 (blue pushes the token down, red up), with the largest
contributors listed beside it. The target is the top prediction, or the token clicked in the
Next-token bars; type a second token to see the contrast target − it (" Mary" − " John").
Click a head's cell to select that head.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QT_TRANSLATE_NOOP, Qt
from PySide6.QtGui import QFontMetricsF
from PySide6.QtWidgets import QBoxLayout, QCheckBox, QHBoxLayout, QLabel, QLineEdit, QVBoxLayout, QWidget

from explorer.elided_label import ElidedLabel
from explorer.views import TimedView, fixed_plot, settle
from explorer.views.base import Panel
from explorer.views.fast_items import FastImageItem
from explorer.views.flow import FlowLayout
from explorer.views.labels import model_name, token_label
from explorer.views.matrix_labels import MatrixLabels, light_text_wanted
from explorer.views.room import keep_readable
from model.work import requests as rq

if TYPE_CHECKING:  # model.work.probes imports torch, which loads after the window shows
    from model.work.probes import DlaResult

TOP = 6


class DlaPanel(Panel):
    title = QT_TRANSLATE_NOOP("Panel", "Who wrote it")
    key = "dla"
    selection_fields = frozenset({"query", "target", "layer", "head"})

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.result: DlaResult | None = None
        self._asked: tuple | None = None
        # one line each: a word-wrapped label asks the tab's scroll area for more height than it
        # shows (Qt's height-for-width), and the map's bottom row went below the fold
        self.heading = ElidedLabel("")
        self.contrast = QLineEdit()
        self.contrast_label = QLabel("")
        self.shade = QCheckBox()
        self._saliency_asked: tuple | None = None
        self.note = ElidedLabel("")
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.message.hide()
        self.top = QLabel("")
        self.top.setTextFormat(Qt.PlainText)
        self.top.setAlignment(Qt.AlignTop | Qt.AlignLeft)
        self.view = TimedView()
        self.view.setMinimumHeight(120)
        self.plot = fixed_plot(self.view)
        self.plot.invertY(True)
        self.image = FastImageItem(axisOrder="row-major")
        self.plot.addItem(self.image)
        self.labels = MatrixLabels(self.theme.font(-3), self.theme.font(0))
        self.plot.addItem(self.labels)
        row = FlowLayout()  # wraps rather than scroll sideways (docs/layout.md)
        contrast = QWidget()
        contrast_row = QHBoxLayout(contrast)
        contrast_row.setContentsMargins(0, 0, 0, 0)
        contrast_row.addWidget(self.contrast_label)
        contrast_row.addWidget(self.contrast, 1)
        row.addWidget(contrast)
        row.addWidget(self.shade)
        # the list beside the map where both fit, under it where they do not
        body = QBoxLayout(QBoxLayout.Direction.LeftToRight)
        self.body = body
        body.addWidget(self.view, 3)
        body.addWidget(self.top, 0)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.heading)
        layout.addLayout(row)
        layout.addWidget(self.message)
        layout.addLayout(body, 1)
        layout.addWidget(self.note)
        self.contrast.editingFinished.connect(self._on_contrast_changed)
        self.shade.toggled.connect(self._on_shade_toggled)
        self.view.scene().sigMouseClicked.connect(self._on_mouse_clicked)
        self.plot.vb.sigResized.connect(self._label_columns)
        self._heads = (0, 0)
        self.retranslate()

    def retranslate(self) -> None:
        self.contrast_label.setText(self.tr("minus (optional):"))
        self.shade.setText(self.tr("shade the tokens"))  # short: it must fit a 1024-pixel projector at 2×
        self.shade.setToolTip(self.tr("Each token's share of the target's logit through its input embedding: "
                                      "integrated gradients from a zero (or pad) embedding, 32 steps, on the model thread"))
        self.contrast.setPlaceholderText(self.tr("a second token, e.g. ' John', to see target − it"))
        explained = self.tr(
            "Each cell: a head's (or MLP's) output, projected through the final norm — its scale frozen at "
            "the value the forward pass used, as TransformerLens does — onto the target's unembedding. "
            "Red pushes the token up, blue down; the parts sum to the logit.")
        self.note.setText(self.tr("Final norm's scale frozen at the forward pass's value (TransformerLens). "
                                  "Red: pushes the token up; blue: down."))
        self.note.setToolTip(explained)
        self.view.setToolTip(explained)
        super().retranslate()

    # ------------------------------------------------------------------ contract
    def on_theme(self, theme) -> None:
        keep_readable(self.view, theme, 5)
        self.heading.setFont(theme.font(1, bold=True))
        self.note.setFont(theme.font(-2))
        self.top.setFont(theme.font(-2))
        self.contrast.setMinimumWidth(int(QFontMetricsF(theme.font(0)).horizontalAdvance("M" * 9)))
        self.image.setLookupTable(theme.score_cmap.getLookupTable(nPts=256))
        self.labels.set_fonts(theme.font(-3), theme.font(0), theme.fg)

    def on_model_info(self, info) -> None:
        self.result, self._asked = None, None

    def set_work_result(self, request, result) -> None:
        if isinstance(request, rq.Dla):
            self.result = result
            self._say("")
            self.mark_dirty()

    def set_work_error(self, request, message: str) -> None:
        if isinstance(request, rq.Dla):
            self._say(message)

    def _say(self, text: str) -> None:
        self.message.setText(text)
        self.message.setVisible(bool(text))

    def apply_scene(self, state: dict) -> list[str]:
        if "contrast" in state:
            self.contrast.setText(str(state["contrast"]))
            self.mark_dirty()
        return []

    def scene_values(self) -> dict:
        # an empty box too: a scene without the key would keep an earlier scene's contrast
        return {"contrast": self.contrast.text()}

    def _on_shade_toggled(self, on: bool) -> None:
        self._saliency_asked = None
        if not on and self.trace is not None:
            self.work_cancelled.emit(rq.Saliency)
            self.ask(rq.Saliency(self.trace.text, clear=True), everyone=True)  # the token strip shades
        self.mark_dirty()
        self.refresh()

    def _ask_saliency(self) -> None:
        """While the toggle is on: integrated gradients of what the map attributes."""
        if not self.shade.isChecked() or self.trace is None or self.result is None:
            return
        r = self.result
        wanted = (r.text, r.position, r.target, r.contrast_text)
        if wanted != self._saliency_asked:
            self._saliency_asked = wanted
            self.ask(rq.Saliency(r.text, position=r.position, target=r.target, contrast=r.contrast_text), everyone=True)

    def _on_contrast_changed(self) -> None:
        self.mark_dirty()
        self.refresh()

    def _wanted(self) -> tuple:
        s = self.selection
        return (self.trace.text, s.query_index(self.trace.n_tokens), s.target, self.contrast.text())

    def _matches(self) -> bool:
        r = self.result
        if r is None or self.trace is None:
            return False
        s = self.selection
        return (r.text == self.trace.text and r.position == s.query_index(self.trace.n_tokens)
                and (s.target is None or r.target == s.target) and r.contrast_text == self.contrast.text())

    # ------------------------------------------------------------------ drawing
    def redraw(self) -> None:
        info, trace = self.info, self.trace
        if info is not None and not info.has_lm_head:
            self.heading.setText(self.tr("{name} has no language-model head: no token to attribute").format(
                name=model_name(info.name)))
            self.image.clear()
            return
        if trace is None:
            return
        if not self._matches():
            wanted = self._wanted()
            if wanted != self._asked:
                self._asked = wanted
                self.ask(rq.Dla(trace.text, position=wanted[1], target=wanted[2], contrast=wanted[3]))
            if self.result is None or self.result.text != trace.text:
                self._say(self.tr("computing who wrote the answer…"))
                return
        self._draw()
        self._ask_saliency()
        settle(self.view)

    def _token(self, token_id: int | None) -> str:
        vocab = self.info.vocabulary if self.info is not None else None
        if token_id is None:
            return ""
        return token_label(vocab[token_id]) if vocab and 0 <= token_id < len(vocab) else str(token_id)

    def _draw(self) -> None:
        r = self.result
        a = r.attribution
        L, H = a.heads.shape
        values = np.concatenate([a.heads, a.mlp[:, None]], axis=1)  # (L, H + 1)
        lim = max(float(np.abs(values).max()), 1e-9)
        self.image.setImage(values.astype(np.float32), levels=(-lim, lim), autoLevels=False)
        self.image.setLookupTable(self.theme.score_cmap.getLookupTable(nPts=256))
        # the value in each cell only where it fits (the list beside the map has the largest ones)
        metrics = QFontMetricsF(self.theme.font(-3))
        cell = self.view.width() * 0.7 / (H + 1)
        fits = metrics.horizontalAdvance("+0.00") + 4 <= cell
        texts = [f"{v:+.2f}" for v in values.ravel().tolist()] if fits else []
        self.labels.set_cells(texts, light_text_wanted((values + lim) / (2 * lim), self.theme.score_cmap))
        left = self.plot.getAxis("left")
        # wide enough for "L99" in the axis font at any text size (it does not grow by itself in one paint)
        left.setWidth(int(QFontMetricsF(self.theme.font(0)).horizontalAdvance(f"L{L - 1}") + 14))
        self._heads = (L, H)
        self._label_columns()
        self.plot.setXRange(0, H + 1, padding=0.01)
        self.plot.setYRange(0, L, padding=0.01)
        target = self._token(r.target)
        what = (f"“{target}” − “{self._token(r.contrast)}”" if r.contrast is not None else f"“{target}”")
        tokens = self.trace.token_strings
        self.heading.setText(self.tr("{what} after “{token}” (position {p}): logit {logit:+.3f}").format(
            what=what, token=token_label(tokens[r.position]) if r.position < len(tokens) else "", p=r.position,
            logit=a.logit))
        names = {"embed": self.tr("token embedding"), "attn_bias": self.tr("attention bias"), "mlp": "MLP",
                 "final": self.tr("final norm + bias")}
        lines = [self.tr("Largest contributions:")]
        for layer, component, head, value in a.top(TOP):
            label = (f"L{layer} H{head}" if component == "head" else
                     f"L{layer} {names[component]}" if layer >= 0 else names[component])
            lines.append(f"{value:+8.3f}  {label}")
        lines.append(self.tr("sum {total:+.3f} = logit {logit:+.3f}").format(total=a.total, logit=a.logit))
        self.top.setText("\n".join(lines))

    def _label_columns(self, *_args) -> None:
        """H0 … and MLP, every n-th head where the cells are narrower than the labels (they
        overlapped), MLP always; L0 … every n-th layer where the rows are thinner."""
        L, H = self._heads
        if not H:
            return
        metrics = QFontMetricsF(self.plot.getAxis("bottom").style["tickFont"] or self.theme.font(-1))
        cell = max(self.plot.vb.width(), 1.0) / (H + 1) / 1.02
        every = max(1, math.ceil((metrics.horizontalAdvance(f"H{H - 1}") + 8) / cell))
        ticks = [(j + 0.5, f"H{j}") for j in range(0, H, every) if H - j >= every or j == 0]
        self.plot.getAxis("bottom").setTicks([ticks + [(H + 0.5, "MLP")]])
        # layers: every n-th where the rows are thinner than a line (SmolLM2's 30 ran together)
        row = max(self.plot.vb.height(), 1.0) / L / 1.02
        every_y = max(1, math.ceil(metrics.height() * 0.9 / row))
        self.plot.getAxis("left").setTicks([[(i + 0.5, f"L{i}") for i in range(0, L, every_y)]])

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt API)
        super().resizeEvent(event)
        wide = self.width() >= self.top.sizeHint().width() + 320
        direction = QBoxLayout.Direction.LeftToRight if wide else QBoxLayout.Direction.TopToBottom
        if self.body.direction() != direction:
            self.body.setDirection(direction)

    def _on_mouse_clicked(self, event) -> None:
        if self.result is None:
            return
        point = self.plot.vb.mapSceneToView(event.scenePos())
        L, H = self.result.attribution.heads.shape
        col, row = int(np.floor(point.x())), int(np.floor(point.y()))
        if 0 <= row < L and 0 <= col < H:
            self.request_selection(layer=row, head=col)

    def export_table(self) -> tuple[list[str], list[list]] | None:
        if self.result is None:
            raise ValueError("no attribution yet")
        rows = [[layer, component, "" if head is None else head, value]
                for layer, component, head, value in self.result.attribution.rows()]
        return ["layer", "component", "head", "contribution"], rows
