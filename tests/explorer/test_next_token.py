from __future__ import annotations

import dataclasses

import numpy as np
import pyqtgraph as pg
import pytest

from explorer.views.base import Selection
from explorer.views.next_token import NextTokenPanel, slider_to_temperature, temperature_to_slider
from model.core.sampling import next_token_distribution
from model.work.requests import Character
from tests.model.conftest import SENTENCES  # noqa: F401  (the tiny tokenizer's training text)
from tests.numerics import assert_close, assert_differ

LOGITS = np.full(200, -np.inf)
LOGITS[[10, 11, 12, 13, 14, 15]] = [3.0, 2.0, 1.5, 1.0, 0.0, -1.0]


@pytest.fixture
def panel(qtbot, tracing_model):
    p = NextTokenPanel()
    qtbot.addWidget(p)
    p.set_model_info(tracing_model.info())
    p.resize(900, 700)  # a tab's room: the chart asks for little of its own (docs/layout.md)
    p.show()
    return p


def present(panel, trace=None, selection=None):
    """What the window does: broadcast, then refresh once."""
    if trace is not None:
        panel.set_trace(trace)
    if selection is not None:
        panel.set_selection(selection)
    panel.refresh()


def with_logits(trace, logits):
    probs = np.exp(logits - logits[np.isfinite(logits)].max())
    probs /= probs.sum()
    return dataclasses.replace(trace, logits=logits[None].astype(np.float32), probs=probs[None].astype(np.float32))


@pytest.fixture
def hand_trace(tracing_model):
    return with_logits(tracing_model.trace("the king and the queen"), LOGITS)


def drawn(panel):
    return np.asarray(panel.bars.opts["width"])


def test_temperature_zero_draws_one_hot_on_the_argmax(panel, hand_trace):
    present(panel, hand_trace)
    panel.set_temperature(0.0)
    assert panel.rows[0] == 10
    np.testing.assert_array_equal(drawn(panel)[:6], [1, 0, 0, 0, 0, 0])  # one-hot by construction, no rounding


@pytest.mark.parametrize("t", [0.0, 0.3, 1.0, 1.7, 2.5])
def test_probabilities_sum_to_one_at_every_temperature(panel, hand_trace, t):
    present(panel, hand_trace)
    panel.set_temperature(t)
    assert_close(panel.distribution.tempered.sum(), 1.0, what="tempered")
    assert drawn(panel).sum() <= 1.0 + 1e-9
    assert_close(drawn(panel).sum(), 1.0, what="bars")  # all 6 possible tokens are on screen


def test_top_k_and_top_p_grey_out_exactly_the_cut_tokens(panel, hand_trace):
    present(panel, hand_trace)
    panel.top_k_box.setValue(3)
    assert [bool(panel.distribution.kept[t]) for t in panel.rows[:6]] == [True, True, True, False, False, False]
    cut = panel.theme.colour("cut").name()
    greys = [pg.mkBrush(b).color().name() == cut for b in panel.bars.opts["brushes"][:6]]
    assert greys == [False, False, False, True, True, True]
    panel.top_k_box.setValue(0)
    panel.top_p_box.setValue(0.8)
    expected = next_token_distribution(LOGITS, 1.0, None, 0.8).kept
    np.testing.assert_array_equal(panel.distribution.kept, expected)
    assert f"kept mass {panel.distribution.kept_mass:.3f}" in panel.stats.text()
    assert_close(panel.distribution.kept_mass, panel.distribution.tempered[expected].sum(), what="kept mass")


def test_moving_the_slider_never_runs_the_model(panel, tracing_model, monkeypatch):
    calls = []
    real = tracing_model.trace
    monkeypatch.setattr(tracing_model, "trace", lambda *a, **k: calls.append(a) or real(*a, **k))
    present(panel, tracing_model.trace("one mole of carbon dioxide"))
    before = panel.redraw_count
    for value in range(50, 1001, 50):
        panel.slider.setValue(value)
    assert len(calls) == 1
    assert panel.redraw_count - before == 20  # every move redrew the bars from the cached logits


def test_slider_mapping_is_fine_near_zero_and_one_and_round_trips():
    assert slider_to_temperature(0) == 0 and slider_to_temperature(1000) == 2.5
    assert_close(slider_to_temperature(temperature_to_slider(1.0)), 1.0, what="t = 1")
    assert slider_to_temperature(1) - slider_to_temperature(0) <= 0.00125
    for t in (0.0, 0.1, 0.5, 0.95, 1.0, 1.3, 2.0):
        # the slider's resolution, not rounding: 0.005 of temperature at most, 0.002 of its range 0-2.5
        assert_close(slider_to_temperature(temperature_to_slider(t)), t, 0.002, scale=2.5, what=f"t = {t}")


def test_sampling_with_a_fixed_seed_is_reproducible(qtbot, tracing_model, hand_trace):
    def draws(seed):
        p = NextTokenPanel()
        qtbot.addWidget(p)
        p.set_model_info(tracing_model.info())
        p.show()
        present(p, hand_trace)
        p.seed_box.setValue(seed)
        p.rng = np.random.default_rng(seed)
        return [p.sample_next() for _ in range(30)]

    assert draws(7) == draws(7)
    assert draws(7) != draws(8)


def test_selecting_another_position_shows_that_positions_prediction(panel, tracing_model):
    trace = tracing_model.trace("the king and the queen", logit_positions=[2, -1])
    present(panel, trace)
    last = panel.distribution.tempered.copy()
    present(panel, selection=Selection(query=2))
    assert "position 2" in panel.heading.text()
    assert_close(panel.distribution.tempered, trace.probs_at(2), what="position 2")
    assert_differ(panel.distribution.tempered, last, what="position 2 vs the last")
    present(panel, selection=Selection(query=3))  # not computed yet: says so instead of failing
    assert "computing" in panel.message.text()


def test_a_model_without_a_language_model_head_says_so(panel, tracing_model):
    info = dataclasses.replace(tracing_model.info(), has_lm_head=False)
    panel.set_model_info(info)
    panel.show()
    present(panel, tracing_model.trace("the mole"))
    assert "no language-model head" in panel.no_head_note.text() and panel.no_head_note.isVisible()
    assert not panel.view.isVisible() and not panel.sample_button.isVisible()  # nothing to show or sample
    assert panel.sample_next() is None
    panel.set_model_info(tracing_model.info())
    present(panel, tracing_model.trace("the mole"))
    assert panel.view.isVisible() and not panel.no_head_note.isVisible()


def test_generate_n_appends_n_tokens_and_stop_stops(qtbot, panel, tracing_model):
    texts = []

    def host(old_text, new_text):
        assert old_text == panel.trace.text  # the token goes onto the text it was sampled from
        texts.append(new_text)
        present(panel, tracing_model.trace(new_text))

    panel.text_change_requested.connect(host)
    present(panel, tracing_model.trace("the king"))
    panel.generate(3)
    qtbot.waitUntil(lambda: len(texts) == 3 and panel.generating == 0, timeout=10000)
    qtbot.wait(300)
    assert len(texts) == 3 and texts[0].startswith("the king")
    panel.generate(50)
    qtbot.waitUntil(lambda: len(texts) >= 4, timeout=10000)
    panel.stop()
    count = len(texts)
    qtbot.wait(600)
    assert len(texts) == count  # Stop means stop: not even the token already highlighted lands


def test_stop_right_after_sample_appends_nothing(qtbot, panel, tracing_model):
    texts = []
    panel.text_change_requested.connect(lambda old, new: texts.append(new))
    present(panel, tracing_model.trace("the king"))
    assert panel.sample_next() is not None
    qtbot.wait(50)
    panel.stop()
    qtbot.wait(600)
    assert texts == [] and panel.sampled is None


def test_samples_through_the_panel_match_the_softmax(panel, hand_trace):
    present(panel, hand_trace)
    panel.rng = np.random.default_rng(11)
    probs = panel.distribution.probs
    n = 5000
    draws = [panel.distribution.sample(panel.rng) for _ in range(n)]
    ids = [10, 11, 12, 13, 14, 15]
    counts = np.array([draws.count(i) for i in ids])
    expected = probs[ids] * n
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    assert chi2 < 20.52  # 99.9th percentile, 5 degrees of freedom


def test_the_window_wires_sampling_to_the_text_box(qtbot, make_window):
    window = make_window(text="the king")
    window.show_tab(window.next_token)  # the Sample button lives on this tab
    window.next_token.seed_box.setValue(3)
    window.next_token.sample_next()
    qtbot.waitUntil(lambda: window.text_box.text() != "the king", timeout=5000)
    qtbot.waitUntil(lambda: window.trace.text == window.text_box.text(), timeout=10000)
    assert window.text_box.text().startswith("the king")


def test_typing_right_after_sample_keeps_every_typed_character(qtbot, make_window):
    """Press Sample and type within the highlight: the typed words stay, the token is dropped."""
    window = make_window(text="the king and the queen")
    window.show_tab(window.next_token)
    window.next_token.sample_next()
    qtbot.wait(30)
    window.text_box.setText("the king and the queen were happy")
    qtbot.wait(800)  # well past the highlight: the sampled token would have landed by now
    assert window.text_box.text() == "the king and the queen were happy"
    qtbot.waitUntil(lambda: window.trace.text == "the king and the queen were happy", timeout=10000)


def test_typing_during_generation_stops_it_and_keeps_the_typed_text(qtbot, make_window):
    window = make_window(text="once upon a time")
    window.show_tab(window.next_token)
    window.next_token.generate(50)
    qtbot.waitUntil(lambda: window.text_box.text() != "once upon a time", timeout=10000)
    typed = window.text_box.text() + " my own words"
    window.text_box.setText(typed)
    qtbot.wait(1500)
    assert window.text_box.text() == typed and window.next_token.generating == 0


def test_nan_logits_are_a_message_not_an_exception(panel, hand_trace):
    nan = np.full((1, 200), np.nan, dtype=np.float32)
    broken = dataclasses.replace(hand_trace, logits=nan, probs=nan)
    present(panel, broken)
    assert "NaN" in panel.message.text() and panel.message.isVisible()
    assert panel.sample_next() is None


# ---------------------------------------------------------------------------- byte tokens
@pytest.fixture
def byte_model():
    """A tiny random model over GPT-2's byte alphabet without merges: 中 is three tokens."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    from model.core.tokenizer import TextTokenizer
    from model.core.transformer import Transformer
    from model.tracer.runner import TracingModel
    from tests.model.conftest import tiny_config

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    tok = Tokenizer(models.BPE(vocab={c: i for i, c in enumerate(alphabet)}, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    torch.manual_seed(0)
    return TracingModel(Transformer(tiny_config(vocab_size=256, n_ctx=64)), TextTokenizer(tok))


def test_a_token_that_starts_a_character_is_finished_on_the_model_thread(qtbot, byte_model):
    """Half of 中 is not text: the panel appends nothing yet and asks the model thread to
    sample on from the token ids; the finished character then lands in one step."""
    from model.tracer.generation import FinishedCharacter

    panel = NextTokenPanel()
    qtbot.addWidget(panel)
    panel.set_model_info(byte_model.info())
    panel.show()
    lead, second, third = byte_model.tokenizer.encode("中").ids
    logits = np.full(256, -np.inf)
    logits[lead] = 0.0  # the only token the panel can draw
    present(panel, with_logits(byte_model.trace("ab"), logits))
    asked, texts = [], []
    panel.work_requested.connect(lambda request, _everyone: asked.append(request))
    panel.text_change_requested.connect(lambda old, new: texts.append((old, new)))
    assert panel.sample_next() == lead
    qtbot.wait(400)
    assert texts == []  # nothing appended: "ab" + half a character would be U+FFFD
    assert [type(r).__name__ for r in asked] == ["Character"] and asked[0].tokens == (lead,)
    assert asked[0].text == "ab"
    panel.set_work_result(asked[0], FinishedCharacter("zz", (lead, second, third), "zz中"))  # stale: ignored
    panel.set_work_result(asked[0], FinishedCharacter("ab", (lead, second, third), "ab中"))
    qtbot.waitUntil(lambda: texts == [("ab", "ab中")], timeout=3000)


def test_stop_drops_a_character_being_finished(qtbot, byte_model):
    from model.tracer.generation import FinishedCharacter

    panel = NextTokenPanel()
    qtbot.addWidget(panel)
    panel.set_model_info(byte_model.info())
    lead = byte_model.tokenizer.encode("中").ids[0]
    logits = np.full(256, -np.inf)
    logits[lead] = 0.0
    present(panel, with_logits(byte_model.trace("ab"), logits))
    texts = []
    panel.text_change_requested.connect(lambda old, new: texts.append(new))
    panel.generate(5)
    panel.stop()
    panel.set_work_result(Character("ab", tokens=(lead,)), FinishedCharacter("ab", (lead, 1, 2), "ab中"))
    qtbot.wait(400)
    assert texts == [] and panel.generating == 0


def test_generating_after_chinese_on_a_byte_model_goes_on_in_whole_characters(qtbot, byte_model):
    """The panel, hosted as the window hosts it (traces and model-thread work run here):
    twelve draws from a random byte model finish, and every text is whole characters."""
    from model.work import probes

    panel = NextTokenPanel()
    qtbot.addWidget(panel)
    panel.set_model_info(byte_model.info())
    panel.rng = np.random.default_rng(3)
    panel.set_temperature(1.5)
    texts = ["中文"]

    def change(old, new):
        assert old == panel.trace.text
        texts.append(new)
        present(panel, byte_model.trace(new))

    def work(request, _everyone):
        panel.set_work_result(request, probes.run(byte_model, request))

    panel.text_change_requested.connect(change)
    panel.work_requested.connect(work)
    present(panel, byte_model.trace("中文"))
    panel.generate(12)
    qtbot.waitUntil(lambda: panel.generating == 0, timeout=20000)
    assert len(texts) == 13
    for before, after in zip(texts, texts[1:], strict=False):
        assert after.startswith(before) and after != before  # every draw lands, as whole characters


def test_after_top_k_the_kept_bars_are_renormalised_as_the_lesson_says(panel, hand_trace):
    """Lesson 2, scene 5: "the grey ones are cut and the rest renormalised"."""
    present(panel, hand_trace)
    panel.top_k_box.setValue(3)
    widths = drawn(panel)[:3]
    kept = panel.distribution.tempered[panel.rows[:3]]
    assert_close(widths, kept / kept.sum(), what="kept bars")
    assert_close(widths.sum(), 1.0, what="kept bars sum")
    assert "renormalised" in panel.stats.text()  # said on screen, beside the bars
    panel.top_k_box.setValue(0)
    assert_close(drawn(panel).sum(), 1.0, what="bars without cuts")


def test_entropy_at_t0_is_never_minus_zero(panel, hand_trace):
    present(panel, hand_trace)
    panel.set_temperature(0.0)
    assert "entropy 0.00 bits" in panel.stats.text() and "−0.00" not in panel.stats.text()
    assert "-0.00" not in panel.stats.text()


def test_every_bar_keeps_its_token_label_however_long(qtbot, make_window):
    """pyqtgraph drops a tick label wider than its axis: SmolLM2's tenth bar after "gave a
    drink to" (' everyone') had no name. The axis is as wide as the widest label."""
    from PySide6.QtGui import QPainter, QPicture

    window = make_window(text="the king")
    window.resize(1280, 720)
    window.show_tab(window.next_token)
    panel = window.next_token
    panel.refresh(force=True)
    labels = ["␣a", "␣everyone", "␣Elizabeth", "the"]
    from explorer.views.room import label_rows

    axis = panel.plot.getAxis("left")
    label_rows(axis, labels, panel.view.width(), panel.theme.font(-1))
    axis.resize(axis.width(), 400)
    picture = QPicture()
    painter = QPainter(picture)
    try:
        _, _, texts = axis.generateDrawSpecs(painter)
    finally:
        painter.end()
    assert sorted(text for _, _, text in texts) == sorted(labels)
