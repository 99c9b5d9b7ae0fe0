"""The step-through panel shows every stage from the trace and the head weights alone, and
steps with the keyboard without recomputing or running the model."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from explorer.views.base import STAGES, Selection
from explorer.views.step_through import StepThroughPanel, formula
from model.loading import load_tracing_model
from tests.numerics import assert_close

JOURNEY = "Your journey starts with one step"


@pytest.fixture(scope="module")
def lesson():
    model = load_tracing_model("lesson:seed-003")
    return model.info(), model.trace(JOURNEY)


def make_panel(qtbot, info, trace, selection=None):
    panel = StepThroughPanel()
    qtbot.addWidget(panel)
    panel.resize(1280, 720)
    panel.set_model_info(info)
    panel.set_trace(trace)
    panel.set_selection(selection or Selection(0, 0, 1, 0))
    panel.show()
    panel.refresh()
    return panel


def test_lesson_numbers_reach_the_panel(qtbot, lesson):
    info, trace = lesson
    panel = make_panel(qtbot, info, trace)
    st = panel.steps
    assert st is not None and st.query == 1 and panel.canvas.stage == 0
    assert np.round(st.dots, 4).tolist() == [0.9544, 1.4950, 1.4754, 0.8434, 0.7070, 1.0865]
    assert panel.scatter.q2.shape == (6, 2) and panel.scatter.k2.shape == (6, 2)


def test_every_stage_paints(qtbot, lesson, tmp_path):
    info, trace = lesson
    panel = make_panel(qtbot, info, trace)
    for stage in range(len(STAGES)):
        panel.set_selection(Selection(0, 0, 1, stage))
        panel.refresh()
        assert panel.canvas.stage == stage
        assert not panel.grab().isNull()
        big, gloss = formula(panel.steps, stage)
        assert big and gloss
    assert "no ÷" in formula(panel.steps, STAGES.index("scale"))[0]
    assert "no mask" in formula(panel.steps, STAGES.index("mask"))[0]


def test_keys_step_locally_and_ask_the_window(qtbot, lesson):
    info, trace = lesson
    panel = make_panel(qtbot, info, trace)
    asked = []
    panel.selection_requested.connect(asked.append)
    panel.setFocus()
    before = panel.steps
    for key, expected in ((Qt.Key_Right, 1), (Qt.Key_PageDown, 2), (Qt.Key_Left, 1), (Qt.Key_PageUp, 0),
                          (Qt.Key_Left, 0), (Qt.Key_End, 8), (Qt.Key_Right, 8), (Qt.Key_Home, 0)):
        # (the block's stages are not answered here: after ΔE (7) only the residual add (8) is known)
        qtbot.keyClick(panel, key)
        assert panel.selection.stage == expected and panel.canvas.stage == expected
    assert [a["stage"] for a in asked] == [1, 2, 1, 0, 8, 0]  # no request when nothing changes
    assert panel.steps is before  # stepping recomputes nothing


def test_causal_lesson_masks_and_the_mask_stage_says_so(qtbot):
    model = load_tracing_model("lesson:seed-003-causal")
    panel = make_panel(qtbot, model.info(), model.trace(JOURNEY), Selection(0, 0, 1, STAGES.index("mask")))
    assert panel.steps.is_masked.tolist() == [False, False, True, True, True, True]
    assert "−∞" in formula(panel.steps, STAGES.index("mask"))[0]


def test_bundled_model_long_text_lists_the_query_the_heaviest_keys_and_says_what_it_leaves_out(qtbot):
    """It listed only the last 7–9 keys with no marker: the [CLS] key with most of the weight
    was hidden. Now the query and the heaviest keys are always listed, each run left out is a
    marker row with its count and weight, and the wheel reaches every key."""
    model = load_tracing_model("bundled")
    text = " ".join(["the king met the queen in the tower"] * 8)
    trace = model.trace(text)
    panel = make_panel(qtbot, model.info(), trace, Selection(1, 2, -1, STAGES.index("softmax")))
    panel.resize(1280, 500)
    panel.refresh(force=True)
    panel.grab()
    canvas, steps = panel.canvas, panel.steps
    rows = canvas.key_rows
    shown = canvas.shown_keys
    assert len(shown) < trace.n_tokens and steps.query in shown
    heaviest = int(np.argmax(steps.weights))
    assert heaviest in shown and heaviest != steps.query
    hidden = sorted(set(range(trace.n_tokens)) - set(shown))
    assert sum(g.count for g in rows.gaps) == len(hidden)
    assert_close(sum(g.weight for g in rows.gaps), float(steps.weights[hidden].sum()), what="hidden weight")
    assert_close(panel.steps.weights, trace.pattern[1, 2, -1], what="weights")
    seen = set(shown)
    from PySide6.QtCore import QPoint, QPointF
    from PySide6.QtGui import QWheelEvent

    for direction in (120, -120):
        for _ in range(trace.n_tokens):  # scroll to one end, then to the other
            event = QWheelEvent(QPointF(50, 300), QPointF(50, 300), QPoint(0, 0), QPoint(0, direction),
                                Qt.NoButton, Qt.NoModifier, Qt.ScrollUpdate, False)
            canvas.wheelEvent(event)
            canvas.grab()
            seen |= set(canvas.shown_keys)
            assert steps.query in canvas.shown_keys and heaviest in canvas.shown_keys
    assert seen == set(range(trace.n_tokens))  # every key reachable


def test_model_without_head_weights_says_so(qtbot, lesson):
    from dataclasses import replace

    info, trace = lesson
    panel = make_panel(qtbot, replace(info, head_weights=None), trace)
    assert panel.steps is None and "cannot be read per head" in panel.canvas.message


def test_truncated_trace_says_which_tokens_are_shown(qtbot):
    model = load_tracing_model("lesson:seed-002")
    trace = model.trace(" ".join(["x1 x2 x3"] * 7))  # 21 tokens, context 16
    assert trace.truncated
    panel = make_panel(qtbot, model.info(), trace)
    assert "last 16" in panel.canvas.note and "5 oldest" in panel.canvas.note
