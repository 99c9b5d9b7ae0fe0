"""Next-token probabilities under a temperature slider, with top-k, top-p and sampling.

Everything re-normalises from the logits already in the Trace: moving a slider never
re-runs the model.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QT_TRANSLATE_NOOP, Qt, QTimer
from PySide6.QtGui import QColor, QFontMetrics, QFontMetricsF, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from explorer import theme
from explorer.elided_label import ElidedLabel
from explorer.theme import style_text
from explorer.views import TimedView, fixed_plot, settle
from explorer.views.base import Panel
from explorer.views.flow import FlowLayout, group
from explorer.views.labels import model_name, token_label
from explorer.views.room import keep_readable, label_rows
from explorer.views.temperature import (  # noqa: E402,F401 (re-exported)
    SLIDER_STEPS,
    _is_normalised,
    slider_to_temperature,
    temperature_to_slider,
)
from model.core.info import ModelInfo
from model.core.sampling import entropy_bits, next_token_distribution, softmax_with_temperature
from model.core.tokenizer import append_bytes, append_token
from model.core.trace import Trace
from model.work import requests as rq

HIGHLIGHT_MS = 350

MAX_TOKEN_LABEL = 16  # characters of a bar's token; a longer one ends in "…"



class NextTokenPanel(Panel):
    """Bars for the most likely next tokens after the selected position.

    Sampling asks for the text to change with ``text_change_requested(old, new)``: the window
    appends only if the text is still the one the token was sampled from, so a token never
    overwrites what the person typed meanwhile, and Stop cancels a token not yet appended.
    """

    title = QT_TRANSLATE_NOOP("Panel", "Next token")
    key = "next"
    selection_fields = frozenset({"query", "ablated", "ablation_mode", "target"})

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.rows: np.ndarray = np.zeros(0, dtype=np.int64)  # token ids shown, best first
        self.ablation = None  # model.work.probes.AblationResult: the prediction with heads knocked out
        self._asked_ablation: tuple | None = None
        self.distribution = None
        self.rng = np.random.default_rng(0)
        self.generating = 0
        self.expected_text: str | None = None
        self.sampled: int | None = None
        # Timers owned by the panel die with it: a lambda in QTimer.singleShot could fire
        # after the panel was deleted and emit from a dead object.
        self._pending: tuple[str, str] | None = None  # (text sampled from, text with the token)
        # (text sampled from, token drawn): a byte token that left a character incomplete, being
        # finished on the model thread (model/tracer/generation.py) before anything is appended
        self._finishing: tuple[str, int] | None = None
        self._append_timer = QTimer(self)
        self._append_timer.setSingleShot(True)
        self._append_timer.setInterval(HIGHLIGHT_MS)
        self._append_timer.timeout.connect(self._on_append_due)
        self._next_sample_timer = QTimer(self)
        self._next_sample_timer.setSingleShot(True)
        self._next_sample_timer.setInterval(120)
        self._next_sample_timer.timeout.connect(self.sample_next)

        self.heading = ElidedLabel()  # one line (the whole in its tooltip): the bars keep the height
        self.heading.setFont(theme.label_font(theme.DEFAULT_POINT_SIZE + 1, bold=True))
        self.stats = QLabel("")
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.message.hide()

        self.slider = QSlider(Qt.Horizontal)
        self.slider.setRange(0, SLIDER_STEPS)
        self.slider.setValue(temperature_to_slider(1.0))
        self.temperature_box = QDoubleSpinBox()
        self.temperature_box.setRange(0.0, 2.5)
        self.temperature_box.setDecimals(2)
        self.temperature_box.setSingleStep(0.05)
        self.temperature_box.setValue(1.0)
        self.shown_box = QSpinBox()
        self.shown_box.setRange(3, 40)
        self.shown_box.setValue(15)
        self.top_k_box = QSpinBox()
        self.top_k_box.setRange(0, 1000)
        self.top_p_box = QDoubleSpinBox()
        self.top_p_box.setRange(0.01, 1.0)
        self.top_p_box.setSingleStep(0.05)
        self.top_p_box.setValue(1.0)
        self.logits_box = QCheckBox()
        self.seed_box = QSpinBox()
        self.seed_box.setRange(0, 2**31 - 1)
        self.sample_button = QPushButton()
        self.generate_count = QSpinBox()
        self.generate_count.setRange(1, 200)
        self.generate_count.setValue(10)
        self.generate_button = QPushButton()
        self.stop_button = QPushButton()
        self.stop_button.setEnabled(False)

        self.view = TimedView()
        self._fit_drawn: int | None = None  # bars that fitted when last drawn
        self.plot = fixed_plot(self.view)
        self.plot.vb.sigResized.connect(self._on_plot_resized)  # how many bars fit depends on it
        self.plot.invertY(True)
        self.plot.getAxis("bottom").enableAutoSIPrefix(False)
        self.ghost = pg.BarGraphItem(x0=[], y=[], height=0.75, width=[], brush=QColor(255, 255, 255, 40),
                                     pen=QColor(255, 255, 255, 90))
        self.bars = pg.BarGraphItem(x0=[], y=[], height=0.55, width=[], brush=theme.HIGHLIGHT)
        self.plot.addItem(self.ghost)
        self.plot.addItem(self.bars)
        self.value_texts: list[pg.TextItem] = []

        self.temperature_label, self.bars_label, self.seed_label = QLabel(), QLabel(), QLabel()
        self.stats.setWordWrap(True)
        # The controls flow onto as many lines as the width needs (docs/layout.md): a label
        # stays with its box, the temperature slider takes what is left of its line.
        temperature = group(self.temperature_label, self.slider, self.temperature_box)
        temperature.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.slider.setMinimumWidth(80)
        flow = FlowLayout()
        for widget in (temperature, group(self.bars_label, self.shown_box), group(QLabel("top-k"), self.top_k_box),
                       group(QLabel("top-p"), self.top_p_box), self.logits_box,
                       group(self.seed_label, self.seed_box), self.sample_button,
                       group(self.generate_count, self.generate_button), self.stop_button):
            flow.addWidget(widget)
        self.controls = QWidget()  # hidden with the bars for a model that predicts nothing
        controls = QVBoxLayout(self.controls)
        controls.setContentsMargins(0, 0, 0, 0)
        controls.addLayout(flow)
        controls.addWidget(self.stats)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.heading)
        layout.addWidget(self.controls)
        layout.addWidget(self.message)
        layout.addWidget(self.view, 1)
        self.no_head_note = QLabel("")
        self.no_head_note.setWordWrap(True)
        self.no_head_note.setAlignment(Qt.AlignCenter)
        self.no_head_note.setFont(theme.label_font(theme.DEFAULT_POINT_SIZE + 3))
        self.no_head_note.hide()
        layout.addWidget(self.no_head_note, 1)

        self.slider.valueChanged.connect(self._on_slider_changed)
        self.temperature_box.valueChanged.connect(self._on_temperature_typed)
        for box in (self.shown_box, self.top_k_box, self.top_p_box):
            box.valueChanged.connect(self._on_options_changed)
        self.logits_box.toggled.connect(self._on_options_changed)
        self.seed_box.valueChanged.connect(self._on_seed_changed)
        self.sample_button.clicked.connect(self.sample_next)
        self.generate_button.clicked.connect(lambda: self.generate(self.generate_count.value()))
        self.stop_button.clicked.connect(self.stop)
        self.view.scene().sigMouseClicked.connect(self._on_mouse_clicked)
        QShortcut(QKeySequence("Ctrl+Return"), self, self.sample_next)
        QShortcut(QKeySequence("Ctrl+Shift+Return"), self, lambda: self.generate(self.generate_count.value()))
        QShortcut(QKeySequence("Escape"), self, self.stop)
        self.retranslate()

    def retranslate(self) -> None:
        self.heading.setText(self.tr("Next token"))
        self.slider.setToolTip(self.tr("Temperature: 0 always picks the top token; higher flattens "
                                       "(keys: ←/→, PgUp/PgDn)"))
        self.top_k_box.setSpecialValueText(self.tr("off"))
        self.top_p_box.setToolTip(self.tr("top-p (1.00 = off)"))
        self.logits_box.setText(self.tr("show logits"))
        self.sample_button.setText(self.tr("Sample next"))
        self.sample_button.setToolTip(self.tr("Draw one token and append it (Ctrl+Enter)"))
        self.generate_button.setText(self.tr("Generate"))
        self.generate_button.setToolTip(self.tr("Sample this many tokens one after another (Ctrl+Shift+Enter)"))
        self.stop_button.setText(self.tr("Stop"))
        self.stop_button.setToolTip(self.tr("Stop generating (Esc)"))
        self.view.setToolTip(self.tr("Click a bar to choose the token that a knock-out and a sweep measure; "
                                     "click it again for the top token"))
        self.temperature_label.setText(self.tr("temperature T"))
        self.bars_label.setText(self.tr("bars"))
        self.seed_label.setText(self.tr("seed"))
        super().retranslate()

    # ------------------------------------------------------------------ panel API
    def on_theme(self, theme) -> None:
        keep_readable(self.view, theme, 5.6)  # three bars and the axis, at least
        self.heading.setFont(theme.font(1, bold=True))
        self.no_head_note.setFont(theme.font(3))
        # number boxes as wide as the numbers they hold, not as their range (a seed box sized
        # for 2147483647 took a line of its own at large text)
        digits = QFontMetricsF(theme.font())
        for box, sample in ((self.seed_box, "000"), (self.shown_box, "00"), (self.top_k_box, "000"),
                            (self.generate_count, "000"), (self.temperature_box, "0.00"), (self.top_p_box, "0.00")):
            box.setMaximumWidth(int(digits.horizontalAdvance(sample) + 1.9 * digits.height()))
        self.stats.setFont(theme.font(-2))
        # faint: an outline in the muted colour over an almost clear fill, so the real bars stay
        # the brightest marks whatever the temperature (at T = 2 the T = 1 ghosts outshone them)
        ghost = QColor(theme.colour("muted"))
        ghost.setAlpha(35)
        self.ghost.setOpts(brush=ghost, pen=pg.mkPen(theme.colour("muted"), width=1.5, style=Qt.DashLine))
        for item in self.value_texts:
            style_text(item, theme, -1)

    def on_model_info(self, info: ModelInfo) -> None:
        self.stop()

    def on_trace(self, trace: Trace) -> None:
        # Bookkeeping happens even in a hidden tab: generation goes on while another tab shows.
        if self._finishing is not None:
            if trace.text != self._finishing[0]:
                self.stop()  # the person edited the text while a character was being finished
        elif self._pending is not None and trace.text != self._pending[0]:
            self.stop()  # the person edited the text before the token was appended
        elif self.generating and self._pending is None:
            if trace.text == self.expected_text:
                self._next_sample_timer.start()
            else:
                self.stop()  # the person edited the text

    def apply_scene(self, state: dict) -> list[str]:
        if "temperature" in state:
            self.set_temperature(float(state["temperature"]))
        if "top_k" in state:
            self.top_k_box.setValue(int(state["top_k"]))
        if "top_p" in state:
            self.top_p_box.setValue(float(state["top_p"]))
        if "seed" in state:
            self.seed_box.setValue(int(state["seed"]))
            self.rng = np.random.default_rng(int(state["seed"]))
        return []

    def scene_values(self) -> dict:
        return {"temperature": self.temperature, "top_k": self.top_k_box.value(),
                "top_p": round(self.top_p_box.value(), 2), "seed": self.seed_box.value()}

    @property
    def temperature(self) -> float:
        return float(self.temperature_box.value())

    def set_temperature(self, t: float) -> None:
        self.temperature_box.setValue(t)

    # ------------------------------------------------------------------ controls
    def _on_slider_changed(self, value: int) -> None:
        t = round(slider_to_temperature(value), 2)
        if abs(t - self.temperature_box.value()) > 1e-9:
            self.temperature_box.blockSignals(True)
            self.temperature_box.setValue(t)
            self.temperature_box.blockSignals(False)
        self._on_options_changed()

    def _on_temperature_typed(self, value: float) -> None:
        self.slider.blockSignals(True)
        self.slider.setValue(temperature_to_slider(value))
        self.slider.blockSignals(False)
        self._on_options_changed()

    def _on_options_changed(self, *_args) -> None:
        self.mark_dirty()
        self.refresh()

    def _on_seed_changed(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)

    # ------------------------------------------------------------------ sampling
    def sample_next(self) -> int | None:
        """Draw one token after the LAST position, highlight it, then ask for it to be appended."""
        trace = self.trace
        if trace is None or self.info is None or not self.info.has_lm_head or not trace.has_logits_at(-1):
            return None
        if self.selection.query != -1:
            self.request_selection(query=-1)
        logits = trace.logits_at(-1)
        if np.isnan(logits).any() or not np.isfinite(logits).any():
            self.stop()  # nothing to sample from; the bars say why
            return None
        dist = next_token_distribution(logits, self.temperature, self._top_k(), self._top_p())
        token = dist.sample(self.rng)
        self.sampled = token
        self.mark_dirty()
        self.refresh()
        new_text, complete = self._appended(trace.text, token)
        if not complete:
            # Half a character is not text: the model thread samples on from the token ids
            # until the bytes make whole characters, with the same settings and a seed drawn here.
            self._finishing = (trace.text, token)
            self.ask(rq.Character(trace.text, tokens=(token,), temperature=self.temperature, top_k=self._top_k(),
                                  top_p=self._top_p(), seed=int(self.rng.integers(2**31))))
            return token
        self._queue_append(trace.text, new_text)
        return token

    def _queue_append(self, old: str, new: str) -> None:
        self.expected_text = new
        self._pending = (old, new)
        self._append_timer.start()

    def _appended(self, text: str, token: int) -> tuple[str, bool]:
        """``text`` with the sampled token, and whether it ends on a whole character (a
        byte-level token can be part of é, an emoji or a Chinese character)."""
        table = self.info.token_bytes
        if table is None:
            return append_token(text, self.info.vocabulary[token], self.info.tokenizer_kind), True
        new_text, tail = append_bytes(text, b"", table[token])
        return new_text, not tail

    def _on_append_due(self) -> None:
        if self._pending is None:
            return
        old, new = self._pending
        self._pending = None
        self.sampled = None
        if self.generating:
            self.generating -= 1
            if self.generating == 0:
                self._set_generating(False)
        self.text_change_requested.emit(old, new)

    def generate(self, n: int) -> None:
        self.generating = n
        self._set_generating(True)
        if self.sample_next() is None:
            self.stop()

    def stop(self) -> None:
        """Stop means stop: no further sample, and a token drawn but not yet appended is dropped."""
        self.generating = 0
        self._next_sample_timer.stop()
        self._append_timer.stop()
        self._finishing = None  # a character being finished on the model thread is dropped too
        if self._pending is not None or self.sampled is not None:
            self._pending, self.sampled = None, None
            self.mark_dirty()
            self.refresh()
        self._set_generating(False)

    def _set_generating(self, on: bool) -> None:
        self.stop_button.setEnabled(on)
        self.generate_button.setEnabled(not on)
        self.sample_button.setEnabled(not on)

    def _top_k(self) -> int | None:
        return self.top_k_box.value() or None

    def _top_p(self) -> float | None:
        return None if self.top_p_box.value() >= 1.0 else self.top_p_box.value()

    # ------------------------------------------------------------------ drawing
    def _show_message(self, text: str) -> None:
        self.message.setText(text)
        self.message.setVisible(bool(text))

    def _on_plot_resized(self, *_args) -> None:
        fit = self._bars_that_fit()
        if fit != self._fit_drawn:
            self._fit_drawn = fit
            self.mark_dirty()
            self.refresh()

    def _bars_that_fit(self) -> int:
        """Bars whose token and value labels do not run into each other at this text size
        (at 20-point text on a 720-pixel screen, 15 bars overlapped); at least 3."""
        height = self.plot.vb.height()
        if height <= 0:  # not laid out yet
            return self.shown_box.maximum()
        line = QFontMetrics(self.theme.font(-1)).height() * 1.1  # the axis's tick labels (style_plot)
        return max(3, int(height // line))

    def redraw(self) -> None:
        trace, info = self.trace, self.info
        no_head = info is not None and not info.has_lm_head
        self.controls.setVisible(not no_head)
        self.view.setVisible(not no_head)
        self.no_head_note.setVisible(no_head)
        if no_head:
            self.no_head_note.setText(self.tr(
                "{model} has no language-model head: it was trained to produce "
                "vectors for whole sentences, not to predict a next token. There is no "
                "distribution to show.\n\nIts attention heads (it looks both ways: no causal mask) and "
                "its embedding table are in the other tabs.").format(model=model_name(info.name)))
            return
        if trace is None:
            return
        position = self.selection.query_index(trace.n_tokens)
        if not trace.has_logits_at(position):
            self._show_message(self.tr("computing the prediction after position {position}…").format(position=position))
            return
        logits = trace.logits_at(position).astype(np.float64)
        if np.isnan(logits).any() or not np.isfinite(logits).any():
            self._show_message(self.tr("The model's prediction after position {position} is not a number (NaN) or −∞ "
                                       "for every token: there is no distribution to show. The model's weights are "
                                       "probably broken.").format(position=position))
            self.bars.setOpts(x0=[], y=[], width=[])
            self.ghost.setOpts(x0=[], y=[], width=[])
            for item in self.value_texts:
                item.setVisible(False)
            return
        self._show_message("")
        original, logits = logits, self._knocked_out_logits(trace, position, logits)
        dist = next_token_distribution(logits, self.temperature, self._top_k(), self._top_p())
        self.distribution = dist
        at_one = softmax_with_temperature(logits, 1.0)
        knocked = logits is not original
        if knocked:  # ghosts: every head in, at the same temperature
            at_one = softmax_with_temperature(original, self.temperature)
        n = min(self.shown_box.value(), int(np.isfinite(logits).sum()), self._bars_that_fit())
        order = np.argsort(-logits, kind="stable")[:n]  # ranking by logit does not change with T
        self.rows = order
        token = trace.token_strings[position]
        self.heading.setText(self.tr("Next token after '{token}' (position {position})").format(
            token=token_label(token), position=position))
        cut = bool((~dist.kept & (dist.tempered > 0)).any())
        self.stats.setText(self.tr(
            "T = {t:.2f}   entropy {entropy:.2f} bits (T = 1: {entropy_one:.2f} bits)   kept mass {kept:.3f}").format(
            t=self.temperature, entropy=entropy_bits(dist.tempered),
            entropy_one=entropy_bits(softmax_with_temperature(logits, 1.0)), kept=dist.kept_mass)
            + "   " + (self.tr("grey bars: cut; the kept ones renormalised to sum to 1") if cut else
                      self.tr("faint outlines: every head in") if knocked else self.tr("faint outlines: T = 1"))
            + (self._knockout_summary(original, logits) if knocked else "")
            + (self.tr("   ({n} bars fit)").format(n=n) if n < min(self.shown_box.value(), np.isfinite(logits).sum())
               else ""))
        y = np.arange(n)
        show_logits = self.logits_box.isChecked()
        # after top-k / top-p the kept tokens are renormalised (what sampling draws from); a cut
        # token keeps its bar, greyed, at the probability it had before the cut
        shown = np.where(dist.kept, dist.probs, dist.tempered) if cut else dist.tempered
        values = logits[order] if show_logits else shown[order]
        colours = {key: self.theme.colour(key) for key in ("selected", "bars", "cut")}
        brushes = [
            colours["selected"] if token_id == self.sampled else (colours["bars"] if dist.kept[token_id] else colours["cut"])
            for token_id in order
        ]
        chosen = pg.mkPen(self.theme.colour("selected"), width=3)
        pens = [chosen if token_id == self.selection.target else pg.mkPen(None) for token_id in order]
        texts = [f"{v:.2f}" if show_logits else f"{v:.3f}" for v in values.tolist()]
        # the value labels go right of the bar and of its ghost (on a bar's end they covered
        # it and the ghost), inside the view: the range leaves room for the widest
        metrics = QFontMetricsF(self.theme.font(-1))
        room = max((metrics.horizontalAdvance(t) for t in texts), default=0.0) + 14
        width_px = max(self.plot.vb.width(), 1.0)
        if show_logits:
            base = float(values.min()) - 1.0
            ends = values
            self.bars.setOpts(x0=np.full(n, base), y=y, width=values - base, brushes=brushes, pens=pens, height=0.55)
            self.ghost.setOpts(x0=[], y=[], width=[])
            self.plot.getAxis("bottom").setLabel(self.tr("logit (log-probability)") if _is_normalised(logits)
                                                 else self.tr("logit"))
        else:
            base = 0.0
            ends = np.maximum(values, at_one[order])
            self.bars.setOpts(x0=np.zeros(n), y=y, width=values, brushes=brushes, pens=pens, height=0.55)
            self.ghost.setOpts(x0=np.zeros(n), y=y, width=at_one[order], height=0.75)
            self.plot.getAxis("bottom").setLabel(self.tr("probability"))
        reach = float(ends.max() - base) if n else 1.0
        self.plot.setXRange(base, base + (reach * width_px / max(width_px - room, 0.3 * width_px) or 1.0), padding=0)
        self.plot.setYRange(-0.6, n - 0.4, padding=0)
        label_rows(self.plot.getAxis("left"), [token_label(info.vocabulary[t], MAX_TOKEN_LABEL) if info else str(t)
                                               for t in order], self.view.width(), self.theme.font(-1))
        while len(self.value_texts) < n:
            item = pg.TextItem(anchor=(0, 0.5))
            style_text(item, self.theme, -1)
            self.plot.addItem(item)
            self.value_texts.append(item)
        for i, item in enumerate(self.value_texts):
            item.setVisible(i < n)
            if i < n:
                item.setText(texts[i])
                item.setPos(float(ends[i]), i)
        settle(self.view)

    # ------------------------------------------------------------------ knock-out
    def set_work_result(self, request, result) -> None:
        if isinstance(request, rq.Ablate):
            self.ablation = result
            self.mark_dirty()
        elif isinstance(request, rq.Character):
            wanted = self._finishing
            if wanted is None or (result.text, result.tokens[:1]) != (wanted[0], (wanted[1],)):
                return  # stopped, or another draw since
            self._finishing = None
            if self.trace is None or self.trace.text != result.text:
                self.stop()  # the person edited the text meanwhile
                return
            self._queue_append(result.text, result.new_text)

    def set_work_error(self, request, message: str) -> None:
        if isinstance(request, rq.Ablate):
            self._show_message(message)
        elif isinstance(request, rq.Character) and self._finishing is not None:
            self.stop()
            self._show_message(message)

    def _knocked_out_logits(self, trace: Trace, position: int, logits: np.ndarray) -> np.ndarray:
        """The logits with the selection's heads knocked out (asked of the model thread
        once); ``logits`` itself while nothing is knocked out or the answer is on its way."""
        s = self.selection
        if not s.ablated:
            return logits
        wanted = (trace.text, tuple(sorted(s.ablated)), s.ablation_mode, position)
        r = self.ablation
        if r is not None and (r.text, r.heads, r.mode, r.position) == wanted:
            return r.logits.astype(np.float64)
        if wanted != self._asked_ablation:
            self._asked_ablation = wanted
            self.ask(rq.Ablate(trace.text, heads=tuple(s.ablated), mode=s.ablation_mode, position=position))
        self._show_message(self.tr("computing the prediction with {n} head(s) knocked out…").format(n=len(s.ablated)))
        return logits

    def _on_mouse_clicked(self, event) -> None:
        """A click on a bar chooses its token (``Selection.target``); on the chosen one, unchooses it."""
        if self.trace is None or not len(self.rows) or event.button() != Qt.MouseButton.LeftButton:
            return  # the right button opens the plot's menu
        p = self.plot.vb.mapSceneToView(event.scenePos())
        row = int(round(p.y()))
        if not 0 <= row < len(self.rows) or p.x() < self.plot.vb.viewRange()[0][0]:
            return
        token = int(self.rows[row])
        self.request_selection(target=None if token == self.selection.target else token)

    def _measured_token(self, original: np.ndarray) -> int:
        """The chosen token if it can be predicted here, else the top one."""
        target = self.selection.target
        if target is not None and 0 <= target < len(original) and np.isfinite(original[target]):
            return int(target)
        return int(np.argmax(original))

    def _knockout_summary(self, original: np.ndarray, knocked: np.ndarray) -> str:
        top = self._measured_token(original)
        before = float(np.log(softmax_with_temperature(original, 1.0)[top]))
        after = float(np.log(max(softmax_with_temperature(knocked, 1.0)[top], 1e-300)))
        heads = ", ".join(f"{layer}.{head}" for layer, head in sorted(self.selection.ablated))
        name = token_label(self.info.vocabulary[top]) if self.info else str(top)
        return "\n" + self.tr("knocked out ({mode}): {heads}   log p('{t}') {a:.2f} → {b:.2f} (Δ {d:+.2f})").format(
            mode=self.selection.ablation_mode, heads=heads, t=name, a=before, b=after, d=after - before)

    def knockout_table(self) -> tuple[list[str], list[list]] | None:
        """With heads knocked out: every shown token's probability before and after."""
        trace = self.trace
        if trace is None or not self.selection.ablated:
            return None
        position = self.selection.query_index(trace.n_tokens)
        original = trace.logits_at(position).astype(np.float64)
        knocked = self._knocked_out_logits(trace, position, original)
        if knocked is original:
            raise ValueError("the knock-out is still being computed")
        p0, p1 = softmax_with_temperature(original, 1.0), softmax_with_temperature(knocked, 1.0)
        n = min(self.shown_box.value(), int(np.isfinite(knocked).sum()))
        order = np.argsort(-knocked, kind="stable")[:n]
        vocabulary = self.info.vocabulary if self.info is not None else None
        rows = [[rank, int(t), vocabulary[t] if vocabulary else "", p1[t], p0[t],
                 float(np.log(max(p1[t], 1e-300)) - np.log(max(p0[t], 1e-300)))]
                for rank, t in enumerate(order.tolist(), start=1)]
        return ["rank", "token_id", "token", "probability", "probability_all_heads", "delta_logprob"], rows

    # ------------------------------------------------------------------ export
    def export_table(self) -> tuple[list[str], list[list]] | None:
        """The bars shown, best first: ``probability`` is the chance of being sampled at the
        current T, top-k and top-p (0 for a token the cuts removed); ``before_cuts`` is
        softmax(logits / T), the bar's length."""
        trace, info = self.trace, self.info
        if info is not None and not info.has_lm_head:
            raise ValueError(self.tr("{model} has no language-model head: there are no next-token numbers").format(
                model=model_name(info.name)))
        if trace is None:
            return None
        if self.selection.ablated:
            return self.knockout_table()
        position = self.selection.query_index(trace.n_tokens)
        if not trace.has_logits_at(position):
            raise ValueError(self.tr("the prediction after position {position} is still being computed").format(
                position=position))
        logits = trace.logits_at(position)
        if np.isnan(logits).any() or not np.isfinite(logits).any():
            raise ValueError(self.tr("the prediction after position {position} is not a number (NaN)").format(
                position=position))
        dist = next_token_distribution(logits.astype(np.float64), self.temperature, self._top_k(), self._top_p())
        n = min(self.shown_box.value(), int(np.isfinite(logits).sum()))
        order = np.argsort(-logits, kind="stable")[:n]
        vocabulary = info.vocabulary if info is not None else None
        rows = [[rank, int(t), vocabulary[t] if vocabulary else "", logits[t], dist.probs[t], dist.tempered[t]]
                for rank, t in enumerate(order.tolist(), start=1)]
        return ["rank", "token_id", "token", "logit", "probability", "before_cuts"], rows
