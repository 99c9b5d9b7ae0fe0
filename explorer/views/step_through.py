"""Inside one head: the attention computation for the selected query, one stage at a time,
in the source documents' notation and with the current trace's numbers.

→ / ← (and PgDn / PgUp, which presentation clickers send), Home and End step through
:data:`~explorer.views.base.STAGES`. Every number is recomputed by
:func:`model.analysis.stepthrough.head_steps` from the Trace and the head's weights (carried by the
ModelInfo): the view never runs the model, and a stage change recomputes nothing.

Beside it, the head's queries and keys of every token in one 2-D projection.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QT_TRANSLATE_NOOP, QCoreApplication, Qt
from PySide6.QtWidgets import QHBoxLayout, QSplitter, QWidget

from explorer.views.base import STAGES, Panel
from explorer.views.labels import model_name
from explorer.views.qk_scatter import QKScatter
from explorer.views.stage_canvas import CHIPS, MAX_LABEL, StageCanvas, formula  # noqa: F401 (re-exported)
from model.analysis.stepthrough import HeadSteps, head_steps
from model.core.info import HeadWeights, ModelInfo


class StepThroughPanel(Panel):
    """The step-through view: :class:`StageCanvas` and :class:`QKScatter` side by side."""

    title = QT_TRANSLATE_NOOP("Panel", "Step through")
    key = "step"
    selection_fields = frozenset({"layer", "head", "query", "stage"})

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFocusPolicy(Qt.StrongFocus)
        self.canvas = StageCanvas(self)
        self.scatter = QKScatter(self)
        for child in (self.canvas, self.scatter):
            child.setFocusPolicy(Qt.ClickFocus)
            child.setFocusProxy(self)  # a click anywhere gives the panel the arrow keys
        self.canvas.on_chip = self.step_to
        self.splitter = QSplitter(Qt.Horizontal, self)
        self.splitter.addWidget(self.canvas)
        self.splitter.addWidget(self.scatter)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 1)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.splitter)
        self.steps: HeadSteps | None = None
        self.message = ""
        self._cache_key: tuple | None = None
        self._bases: dict[tuple[int, int], np.ndarray] = {}
        self._split_done = False

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt API)
        super().resizeEvent(event)
        if not self._split_done and self.width() > 0:
            self._split_done = True
            self.splitter.setSizes([int(self.width() * 0.7), int(self.width() * 0.3)])

    # ------------------------------------------------------------------ contract
    def on_model_info(self, info: ModelInfo) -> None:
        self._cache_key, self.steps, self._bases = None, None, {}
        self.canvas.vocabulary = info.vocabulary
        hw = info.head_weights
        self.canvas.unembed_note = hw.unembed_note if hw is not None else ""

    def on_trace(self, trace) -> None:
        self._cache_key = None

    @property
    def stage(self) -> int:
        return self.selection.stage

    def redraw(self) -> None:
        steps, message = self._compute()
        self.steps, self.message = steps, message
        note = ""
        if self.trace is not None and self.trace.truncated:
            note = QCoreApplication.translate("StepThrough", "(the text is {total} tokens; the model sees the last {shown}, the {dropped} oldest are "
                       "dropped)").format(total=self.trace.n_input_tokens, shown=self.trace.n_tokens,
                                          dropped=self.trace.n_dropped_tokens)
        self.canvas.show_steps(steps, self.selection.stage, message, note)
        if steps is not None and self.trace is not None:
            b = self._basis(steps)
            sel = self.selection
            self.scatter.show_points(self.trace.q[sel.layer, sel.head] @ b, self.trace.k[sel.layer, sel.head] @ b,
                                     steps.tokens, steps.query, steps.weights)
        else:
            self.scatter.show_points(None, None, (), 0, None)

    def _compute(self) -> tuple[HeadSteps | None, str]:
        info, trace, sel = self.info, self.trace, self.selection
        if info is None or trace is None:
            return None, QCoreApplication.translate("StepThrough", "Type some text to trace.")
        hw: HeadWeights | None = info.head_weights
        if hw is None:
            return None, QCoreApplication.translate("StepThrough", "{model}: this model's weights cannot be read per head, so its heads cannot be stepped "
                             "through.").format(model=model_name(info.name))
        i = sel.query_index(trace.n_tokens)
        key = (trace.request_id, id(trace), sel.layer, sel.head, i)
        if key == self._cache_key and self.steps is not None:
            return self.steps, ""
        try:
            steps = head_steps(trace, hw, sel.layer, sel.head, i)
        except ValueError as exc:
            return None, QCoreApplication.translate("StepThrough", "Cannot step through this head: {error}").format(error=exc)
        self._cache_key = key
        return steps, ""

    def _basis(self, steps: HeadSteps) -> np.ndarray:
        key = (steps.layer, steps.head)
        if key not in self._bases:
            self._bases[key] = QKScatter.basis(steps.w_q, steps.w_k)
        return self._bases[key]

    # ------------------------------------------------------------------ keyboard
    def step_to(self, stage: int) -> None:
        """Show ``stage`` now and ask the window to share it."""
        stage = max(0, min(len(STAGES) - 1, stage))
        if stage == self.selection.stage:
            return
        self.selection = self.selection.with_(stage=stage)
        self.mark_dirty()
        self.refresh()
        self.request_selection(stage=stage)

    def keyPressEvent(self, event) -> None:  # noqa: N802 (Qt API)
        key, stage = event.key(), self.selection.stage
        target = {
            Qt.Key_Right: stage + 1, Qt.Key_PageDown: stage + 1, Qt.Key_Space: stage + 1,
            Qt.Key_Left: stage - 1, Qt.Key_PageUp: stage - 1, Qt.Key_Backspace: stage - 1,
            Qt.Key_Home: 0, Qt.Key_End: len(STAGES) - 1,
        }.get(key)
        if target is None or event.modifiers() & (Qt.AltModifier | Qt.ControlModifier):
            super().keyPressEvent(event)
            return
        self.step_to(target)
        event.accept()

    # ------------------------------------------------------------------ export
    def export_table(self) -> tuple[list[str], list[list]] | None:
        """One row per key for the selected layer, head and query: q·k, ÷√d, masked, weight."""
        steps, message = self._compute()
        if steps is None:
            raise ValueError(message)
        rows = [[j, steps.tokens[j], steps.dots[j], steps.scaled[j], steps.masked[j], steps.weights[j]]
                for j in range(len(steps.tokens))]
        return ["key", "token", "dot", "scaled", "masked", "weight"], rows
