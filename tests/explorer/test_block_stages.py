"""The step-through continues after ΔE through the whole block (issue #26): the numbers each
block stage paints are those of model.analysis.block_steps for the selected token (computed on
the model thread; here the panel's work request is answered the same way, synchronously),
the keyboard walks the stages in the model's order up to the next token's logit, and a
post-norm model (BERT) shows its Add & Norm order."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from explorer.names import HEAD_STAGES, STAGES, Stage
from explorer.views.base import Selection
from explorer.views.step_through import StepThroughPanel
from model.analysis.block_steps import block_steps
from model.core.paths import BUNDLED
from model.loading import load_tracing_model
from model.work import probes
from model.work.requests import Block
from tests.numerics import assert_close

TEXT = "a fluffy blue creature roamed the verdant forest"
REL = 1e-9  # the panel shows what block_steps computed: the same float64 operations


@pytest.fixture(scope="module")
def bundled():
    model = load_tracing_model(BUNDLED)
    return model, model.trace(TEXT)


def answering_panel(qtbot, model, trace, selection: Selection) -> StepThroughPanel:
    """A step-through whose work requests are answered by model.work.probes, as the model
    thread answers them."""
    panel = StepThroughPanel()
    qtbot.addWidget(panel)
    asked = []

    def answer(request, _everyone):
        asked.append(request)
        panel.set_work_result(request, probes.run(model, request, trace))  # drawn by the next refresh

    panel.work_requested.connect(answer)
    panel.asked = asked
    panel.resize(1280, 720)
    panel.set_model_info(model.info())
    panel.set_trace(trace)
    panel.set_selection(selection)
    panel.show()
    panel.refresh()  # asks for the block
    panel.refresh()  # draws it
    return panel


def _show(panel, stage: Stage, qtbot) -> dict:
    panel.set_selection(panel.selection.with_(stage=STAGES.index(stage)))
    panel.refresh()
    assert not panel.canvas.grab().isNull()  # paints it
    assert panel.canvas.stage == STAGES.index(stage)
    return dict(panel.canvas.shown)


def test_every_block_stage_shows_the_numbers_block_steps_computes(qtbot, bundled):
    model, trace = bundled
    layer, query = trace.n_layers - 1, 4
    panel = answering_panel(qtbot, model, trace, Selection(layer, 1, query, 0))
    expected = block_steps(model.module, trace, layer, query, head=1)
    assert [type(request).__name__ for request in panel.asked] == ["Block"]
    shown = {name: _show(panel, Stage(name), qtbot) for name in expected.stages}
    assert_close(shown["attn_add"]["norm_out"], np.linalg.norm(expected.attn_sum), REL, what="‖x + attention‖")
    assert_close(shown["attn_add"]["norm_added"], np.linalg.norm(expected.attn_out), REL, what="‖Σ ΔE + b_O‖")
    norm = expected.norm_mlp
    assert_close(shown["mlp_norm"]["mean"], norm.mean, REL, what="μ")
    assert_close(shown["mlp_norm"]["variance"], norm.variance, REL, what="σ²")
    assert_close(shown["mlp_norm"]["scale"], norm.scale, REL, what="√(σ² + ε)")
    assert_close(shown["mlp_up"]["up_max"], expected.mlp.up.max(), REL, what="max u")
    assert shown["mlp_neurons"]["neurons"] == expected.mlp.top_neurons.tolist()
    assert_close(np.array(shown["mlp_neurons"]["neuron_h"]), expected.mlp.top_hidden, REL, what="h_n")
    assert_close(np.array(shown["mlp_neurons"]["neuron_logit"]), expected.mlp.top_logit, REL, what="Δ logit")
    assert_close(shown["mlp_down"]["norm_mlp"], np.linalg.norm(expected.mlp_out), REL, what="‖MLP(x)‖")
    assert_close(shown["mlp_add"]["norm_out"], np.linalg.norm(expected.mlp_sum), REL, what="‖x_mid + MLP‖")
    assert_close(shown["final_norm"]["scale"], expected.output.norm.scale, REL, what="final σ")
    out = shown["unembed"]
    assert out["target"] == expected.output.target == int(np.argmax(model.trace(TEXT, logit_positions=[query]).logits[0]))
    assert_close(out["logit"], expected.output.logit, REL, what="the next token's score")
    assert out["top_ids"][0] == expected.output.target
    # and block_steps is the forward pass (tests/model/test_block_steps.py): the foot says how close
    assert out["worst_check"] <= 1e-4


def test_the_keyboard_walks_from_the_input_to_the_next_tokens_logit(qtbot, bundled):
    model, trace = bundled
    last = trace.n_layers - 1
    panel = answering_panel(qtbot, model, trace, Selection(last, 0, 4, 0))
    seen = []
    for _ in range(40):
        seen.append(STAGES[panel.selection.stage])
        qtbot.keyClick(panel, Qt.Key_Right)
    seen.append(STAGES[panel.selection.stage])
    order = list(dict.fromkeys(seen))
    assert order == [*HEAD_STAGES, "attn_add", "mlp_norm", "mlp_up", "mlp_activation", "mlp_neurons",
                     "mlp_down", "mlp_add", "final_norm", "unembed"]
    assert seen[-1] == Stage.UNEMBED  # → at the end stays there
    qtbot.keyClick(panel, Qt.Key_Left)
    assert STAGES[panel.selection.stage] == Stage.FINAL_NORM
    qtbot.keyClick(panel, Qt.Key_Home)
    assert panel.selection.stage == 0
    qtbot.keyClick(panel, Qt.Key_End)
    assert STAGES[panel.selection.stage] == Stage.UNEMBED
    # an earlier block ends in the next block's input, not in the unembedding
    panel.set_selection(Selection(0, 0, 4, STAGES.index(Stage.OUTPUT)))
    panel.refresh()
    qtbot.keyClick(panel, Qt.Key_End)
    assert STAGES[panel.selection.stage] == Stage.NEXT_BLOCK
    assert panel.canvas.block.layer == 0 and panel.canvas.block.next_layer == 1


def test_a_post_norm_model_shows_add_and_norm_after_attention_and_after_the_mlp(qtbot, tmp_path):
    from tests.model.test_hf_bert import make_bert

    make_bert(tmp_path / "bert")
    model = load_tracing_model(tmp_path / "bert")
    trace = model.trace("the cat sat")
    panel = answering_panel(qtbot, model, trace, Selection(0, 0, 1, STAGES.index(Stage.OUTPUT)))
    names = [STAGES[s] for s in panel.sequence(panel.canvas.block)][len(HEAD_STAGES):]
    assert names == ["attn_add", "attn_norm", "mlp_up", "mlp_activation", "mlp_neurons", "mlp_down",
                     "mlp_add", "mlp_norm", "next_block"]
    expected = block_steps(model.module, trace, 0, 1)
    shown = _show(panel, Stage.ATTN_NORM, qtbot)
    assert_close(shown["mean"], expected.norm_attn.mean, REL, what="Add & Norm μ")
    assert_close(shown["variance"], expected.norm_attn.variance, REL, what="Add & Norm σ²")
    shown = _show(panel, Stage.MLP_NORM, qtbot)  # post-norm: the norm after the MLP's add
    assert_close(shown["scale"], expected.norm_out.scale, REL, what="second Add & Norm σ")
    # a last-block stage on block 0 (a lesson's): the keys go on from the block's end
    panel.set_selection(panel.selection.with_(stage=STAGES.index(Stage.FINAL_NORM)))
    qtbot.keyClick(panel, Qt.Key_Left)
    assert STAGES[panel.selection.stage] == Stage.MLP_NORM


def test_a_failed_block_says_why(qtbot, bundled):
    model, trace = bundled
    panel = StepThroughPanel()
    qtbot.addWidget(panel)
    panel.resize(1280, 720)
    panel.set_model_info(model.info())
    panel.set_trace(trace)
    panel.set_selection(Selection(0, 0, 1, STAGES.index(Stage.MLP_UP)))
    panel.show()
    panel.refresh()
    assert panel.canvas.block is None  # asked, not answered: "computing"
    panel.set_work_error(Block(trace.text), "the model is gone")
    panel.refresh()
    assert "the model is gone" in panel.canvas.block_message
