"""The Logit lens tab's two more questions (issue #26): a typed token's rank (and probability,
logit) across the layers, and two typed tokens compared layer by layer (" is" vs " are");
a text that is not one token gets one line saying how the tokenizer splits it."""

from __future__ import annotations

import numpy as np
import pytest

from explorer.views.base import Selection
from explorer.views.lens import LensPanel
from model.analysis.lens import token_lens
from model.analysis.tokens import single_token
from model.core.paths import BUNDLED
from model.loading import load_tracing_model
from tests.numerics import assert_close

TEXT = "the keys to the cabinet"


@pytest.fixture(scope="module")
def bundled():
    model = load_tracing_model(BUNDLED)
    return model, model.trace(TEXT)


def answering_panel(qtbot, model, trace):
    from model.work import probes

    panel = LensPanel()
    qtbot.addWidget(panel)
    errors = []

    def answer(request, _everyone):
        try:
            panel.set_work_result(request, probes.run(model, request, trace))
        except ValueError as exc:  # as the model thread reports it
            errors.append(str(exc))
            panel.set_work_error(request, str(exc))

    panel.work_requested.connect(answer)
    panel.errors = errors
    panel.resize(1000, 700)
    panel.set_model_info(model.info())
    panel.set_trace(trace)
    panel.set_selection(Selection(0, 0, -1, 0))
    panel.show()
    panel.refresh()
    panel.refresh()
    return panel


def _type(panel, first: str, second: str = "", measure: str = "probability") -> None:
    panel.first.setText(first)
    panel.second.setText(second)
    panel.measure.setCurrentIndex(panel.measure.findData(measure))
    panel._on_follow_changed()
    panel.refresh()


def test_two_typed_tokens_compared_layer_by_layer(qtbot, bundled):
    model, trace = bundled
    panel = answering_panel(qtbot, model, trace)
    _type(panel, " is", " are", "logit")
    ids = [single_token(model.tokenizer, w) for w in (" is", " are")]
    expected = token_lens(model.module, trace.resid_post, -1, ids)
    assert panel.follow is not None and panel.follow.words == (" is", " are")
    lines = [item.getData()[1] for item in panel.lines]
    assert len(lines) == 3  # each token's logit and their difference
    assert_close(lines[0], expected.logits[:, 0], 1e-6, what="' is' logit per layer")
    assert_close(lines[1], expected.logits[:, 1], 1e-6, what="' are' logit per layer")
    assert_close(lines[2], expected.logits[:, 0] - expected.logits[:, 1], 1e-6, what="' is' − ' are'")
    _type(panel, " is", " are", "probability")
    assert_close(panel.lines[1].getData()[1], np.exp(expected.log_probs[:, 1]), 1e-6, what="p(' are')")


def test_one_typed_tokens_rank_across_layers(qtbot, bundled):
    model, trace = bundled
    panel = answering_panel(qtbot, model, trace)
    _type(panel, " is", measure="rank")
    expected = token_lens(model.module, trace.resid_post, -1, [single_token(model.tokenizer, " is")])
    (line,) = panel.lines
    assert panel.line_plot.ctrl.logYCheck.isChecked()  # ranks on a log scale (the data come back as log10)
    assert_close(10 ** line.getData()[1], expected.ranks[:, 0].astype(float), 1e-9, what="rank per layer")


def test_a_text_that_is_not_one_token_says_how_it_splits(qtbot, bundled):
    model, trace = bundled
    panel = answering_panel(qtbot, model, trace)
    _type(panel, " cabinetmakers")
    assert panel.errors and "not one token" in panel.errors[-1]
    assert "not one token" in panel.follow_message.text() and "\n" not in panel.follow_message.text()
    assert panel.follow is None and not panel.lines
