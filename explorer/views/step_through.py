"""Inside one head: the attention computation for the selected query, one stage at a time,
in the source documents' notation and with the current trace's numbers.

→ / ← (and PgDn / PgUp, which presentation clickers send), Home and End step through
:data:`~explorer.views.base.STAGES`: the head's stages, then the rest of its block for the same
token (residual add, normalisation, MLP, residual add, the next block's input; after the last
block the final norm and the unembedding), in the order the model computes them
(``BlockSteps.stages``: a post-norm model normalises after each add). The head's numbers are
recomputed by :func:`model.analysis.stepthrough.head_steps` from the Trace and the head's weights
(carried by the ModelInfo); the block's by :func:`model.analysis.block_steps.block_steps`, which
needs the MLP's weights, on the model thread (a "block" work request, made whenever the token,
layer or text changes, so the block is there before the person steps into it). The view never
runs the model, and a stage change recomputes nothing.

Beside it, the head's queries and keys of every token in one 2-D projection.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QT_TRANSLATE_NOOP, QCoreApplication, Qt
from PySide6.QtWidgets import QHBoxLayout, QSplitter, QWidget

from explorer.names import HEAD_STAGES, Stage
from explorer.views.base import STAGES, Panel
from explorer.views.labels import model_name
from explorer.views.qk_scatter import QKScatter
from explorer.views.stage_canvas import CHIPS, MAX_LABEL, StageCanvas, formula  # noqa: F401 (re-exported)
from model.analysis.stepthrough import HeadSteps, head_steps
from model.core.info import HeadWeights, ModelInfo
from model.work import requests as rq

#: Live precisions whose numbers are not float32's (model/core/int8.py)
LOWBIT = ("float16", "int8")


class StepThroughPanel(Panel):
    """The step-through view: :class:`StageCanvas` and :class:`QKScatter` side by side."""

    title = QT_TRANSLATE_NOOP("Panel", "Step through")
    key = "step"
    selection_fields = frozenset({"layer", "head", "query", "stage", "target"})

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
        self.block = None  # the last BlockResult received (model.work.probes)
        self.block_error = ""
        self._block_asked: tuple | None = None
        # under 8- or 16-bit weights: the live trace's precision and text, and float32's trace of it
        self.live_precision, self._live_text = "float32", None
        self._exact = self._exact_asked = None
        self._exact_error = ""

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt API)
        super().resizeEvent(event)
        if not self._split_done and self.width() > 0:
            self._split_done = True
            self.splitter.setSizes([int(self.width() * 0.7), int(self.width() * 0.3)])

    # ------------------------------------------------------------------ contract
    def on_model_info(self, info: ModelInfo) -> None:
        self._cache_key, self.steps, self._bases = None, None, {}
        self.block, self.block_error, self._block_asked = None, "", None
        self.canvas.vocabulary = info.vocabulary
        hw = info.head_weights
        self.canvas.unembed_note = hw.unembed_note if hw is not None else ""

    def on_trace(self, trace) -> None:
        """Under 8- or 16-bit weights the live trace is not float32's: the numbers shown come from
        float32's trace of the same text (an "exact" request), the slide's figures never differ
        from the model's float32 result by quantisation."""
        self._cache_key = None
        self.live_precision, self._live_text = trace.precision, trace.text
        if trace.precision in LOWBIT:
            exact = self._exact
            if exact is not None and exact.text == trace.text:
                self.trace = exact
            else:
                self.trace = None  # asked for when the view is drawn: hidden, it costs nothing

    @property
    def stage(self) -> int:
        return self.selection.stage

    def redraw(self) -> None:
        steps, message = self._compute()
        self.steps, self.message = steps, message
        note = ""
        if self.live_precision in LOWBIT:
            note = QCoreApplication.translate("StepThrough", "(typing runs {bits}-bit weights; these numbers are float32's)").format(
                bits=16 if self.live_precision == "float16" else 8)
        if self.trace is not None and self.trace.truncated:
            note += (" " if note else "") + QCoreApplication.translate("StepThrough", "(the text is {total} tokens; the model sees the last {shown}, the {dropped} oldest are "
                       "dropped)").format(total=self.trace.n_input_tokens, shown=self.trace.n_tokens,
                                          dropped=self.trace.n_dropped_tokens)
        block = self._block_steps()
        sequence = self.sequence(block)
        # the nearest stage this block has: "unembed" kept from the last block while another
        # layer is selected has no output to draw (its paintEvent raised, and PySide6 aborted)
        stage = self.selection.stage if block is None else sequence[self._position(sequence)]
        self.canvas.show_steps(steps, stage, message, note, block, self.block_error, sequence)
        if steps is not None and self.trace is not None:
            b = self._basis(steps)
            sel = self.selection
            self.scatter.show_points(self.trace.q[sel.layer, sel.head] @ b, self.trace.k[sel.layer, sel.head] @ b,
                                     steps.tokens, steps.query, steps.weights)
        else:
            self.scatter.show_points(None, None, (), 0, None)

    def _compute(self) -> tuple[HeadSteps | None, str]:
        info, trace, sel = self.info, self.trace, self.selection
        if info is not None and trace is None and self.live_precision in LOWBIT:
            if self._exact_asked != self._live_text:
                self._exact_asked, self._exact_error = self._live_text, ""
                self.ask(rq.Exact(self._live_text))
            return None, self._exact_error or QCoreApplication.translate(
                "StepThrough", "Computing float32's numbers for this text…")
        if info is None or trace is None:
            return None, QCoreApplication.translate("StepThrough", "Type some text to trace.")
        hw: HeadWeights | None = info.head_weights
        if hw is None and getattr(info, "generic", ""):
            return None, QCoreApplication.translate("StepThrough", "{model} is opened generically through transformers: "
                "its own modules run as they are and nnsight reads their inputs and outputs, so each head's W_Q, W_K, "
                "W_V and W_O are not read one by one and its heads cannot be stepped through. The grid, the head view, "
                "the next token, the logit lens and knock-out work.").format(model=model_name(info.name))
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

    # ------------------------------------------------------------------ the rest of the block
    def _block_key(self) -> tuple | None:
        trace, sel = self.trace, self.selection
        if trace is None or self.info is None:
            return None
        return (trace.text, sel.layer, sel.query_index(trace.n_tokens), sel.head, sel.target)

    def _block_steps(self):
        """The block steps for what is selected, asked of the model thread when missing."""
        key = self._block_key()
        if key is None:
            return None
        r = self.block
        if r is not None and (r.text, r.steps.layer, r.steps.query, r.head, r.target) == key:
            return r.steps
        if key != self._block_asked:
            self._block_asked = key
            self.block_error = ""
            self.ask(rq.Block(key[0], layer=key[1], query=key[2], head=key[3], target=key[4]))
        return None

    def set_work_result(self, request, result) -> None:
        if isinstance(request, rq.Exact):
            self._exact = result
            if (self.trace is None and self.live_precision in LOWBIT
                    and result.text == self._live_text):
                self.trace, self._cache_key = result, None
                self.mark_dirty()
        if isinstance(request, rq.Block):
            self.block, self.block_error = result, ""
            self.mark_dirty()

    def set_work_error(self, request, message: str) -> None:
        if isinstance(request, rq.Exact):
            self._exact_error = message
            self.mark_dirty()
        if isinstance(request, rq.Block):
            self.block_error = QCoreApplication.translate("StepThrough", "The rest of the block cannot be shown: {error}").format(
                error=message)
            self.mark_dirty()

    def sequence(self, block=None) -> tuple[int, ...]:
        """The stages → and ← walk, as indices into STAGES: the head's, then the block's in
        the model's order (until the block arrives, only its first stage, the residual add)."""
        names = block.stages if block is not None else (Stage.ATTN_ADD,)
        return tuple(range(len(HEAD_STAGES))) + tuple(STAGES.index(n) for n in names)

    def _position(self, sequence: tuple[int, ...]) -> int:
        """Where the selected stage is in ``sequence`` (a stage this model does not have, e.g.
        a lesson's "attn_norm" on a pre-norm model: the nearest before it)."""
        stage = self.selection.stage
        if stage in sequence:
            return sequence.index(stage)
        return max((n for n, s in enumerate(sequence) if s <= stage), default=0)

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
        sequence = self.sequence(self._block_steps())
        key, n = event.key(), self._position(sequence)
        target = {
            Qt.Key_Right: n + 1, Qt.Key_PageDown: n + 1, Qt.Key_Space: n + 1,
            Qt.Key_Left: n - 1, Qt.Key_PageUp: n - 1, Qt.Key_Backspace: n - 1,
            Qt.Key_Home: 0, Qt.Key_End: len(sequence) - 1,
        }.get(key)
        if target is None or event.modifiers() & (Qt.AltModifier | Qt.ControlModifier):
            super().keyPressEvent(event)
            return
        self.step_to(sequence[max(0, min(len(sequence) - 1, target))])
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
