"""The lesson models reproduce the source documents' printed numbers, to the printed digits."""

from __future__ import annotations

import numpy as np
import pytest
from safetensors.numpy import load_file

from model.analysis.stepthrough import head_steps
from model.core.errors import ModelFileError
from model.core.paths import LESSONS_DIR
from model.loading import available_models, load_tracing_model
from model.teaching.lesson_models import LESSONS, build
from tests.numerics import assert_close, assert_printed

JOURNEY = "Your journey starts with one step"


def printed(values: list[float], digits: int) -> np.ndarray:
    return np.round(np.asarray(values, dtype=np.float64), digits)


def test_seed_003_scores_for_journey_are_omega_2():
    model = load_tracing_model("lesson:seed-003")
    trace = model.trace(JOURNEY)
    assert trace.token_strings == ("Your", "journey", "starts", "with", "one", "step")
    st = head_steps(trace, model.info().head_weights, 0, 0, 1)
    # 003, 3.3.1: tensor([0.9544, 1.4950, 1.4754, 0.8434, 0.7070, 1.0865])
    assert_printed(st.dots, [0.9544, 1.4950, 1.4754, 0.8434, 0.7070, 1.0865], places=4, what="ω2")
    assert st.divisor == 1.0 and not st.is_masked.any()
    # The chapter goes on to softmax weights [0.1385, 0.2379, 0.2333, 0.1240, 0.1082, 0.1581]
    # and z(2) (the book's numbers; document 003 itself stops at ω₂)
    assert_printed(st.weights, [0.1385, 0.2379, 0.2333, 0.1240, 0.1082, 0.1581], places=4, what="softmax")
    # W_O = I, so ΔE is z(2) itself
    assert_printed(st.z, [0.4419, 0.6515, 0.5683], places=4, what="z(2)")
    assert_printed(st.delta, [0.4419, 0.6515, 0.5683], places=4, what="ΔE")
    assert_close(trace.pattern[0, 0, 1], st.weights, what="pattern")


def test_seed_003_every_score_is_the_chapters_dot_product():
    from model.teaching.lessons import your_journey_example

    trace = load_tracing_model("lesson:seed-003").trace(JOURNEY)
    assert_close(trace.scores[0, 0], your_journey_example().scores, what="scores")
    assert_close(trace.pattern[0, 0], your_journey_example().weights, what="pattern")


def test_seed_003_causal_masks_the_future_on_the_books_numbers():
    model = load_tracing_model("lesson:seed-003-causal")
    trace = model.trace(JOURNEY)
    st = head_steps(trace, model.info().head_weights, 0, 0, 1)
    assert st.is_masked.tolist() == [False, False, True, True, True, True]
    assert np.isneginf(st.masked[2:]).all()
    assert_printed(st.dots, [0.9544, 1.4950, 1.4754, 0.8434, 0.7070, 1.0865], places=4, what="ω2")
    expected = np.exp([0.9544, 1.4950]) / np.exp([0.9544, 1.4950]).sum()
    # from the printed scores, rounded by up to 5e-5: the weights move by as much
    assert_close(st.weights[:2], expected, 1e-4, scale=1.0, what="softmax of the first two")
    assert st.weights[2:].tolist() == [0.0] * 4


def test_seed_002_scores_softmax_and_outputs_as_printed():
    model = load_tracing_model("lesson:seed-002")
    trace = model.trace("x1 x2 x3")
    hw = model.info().head_weights
    steps = [head_steps(trace, hw, 0, 0, i) for i in range(3)]
    assert [s.dots.tolist() for s in steps] == [[2, 4, 4], [4, 16, 12], [4, 12, 10]]  # small integers: exact
    # "keys", "querys", "values" as printed (the fourth, zero column is the head's padding)
    assert steps[0].k[:, :3].tolist() == [[0, 1, 1], [4, 4, 0], [2, 3, 1]]
    assert [s.q[:3].tolist() for s in steps] == [[1, 0, 2], [2, 2, 2], [2, 1, 3]]
    assert steps[0].v[:, :3].tolist() == [[1, 2, 3], [2, 8, 0], [2, 6, 3]]
    softmax_printed = [[6.3379e-02, 4.6831e-01, 4.6831e-01],
                       [6.0337e-06, 9.8201e-01, 1.7986e-02],
                       [2.9539e-04, 8.8054e-01, 1.1917e-01]]
    for s, row in zip(steps, softmax_printed, strict=True):
        assert_printed(s.weights, row, figures=5, what=f"softmax {s.query}")
        assert_printed(trace.pattern[0, 0, s.query], row, figures=5, what=f"pattern {s.query}")
    assert_printed(steps[0].weights, [0.0634, 0.4683, 0.4683], places=4, what="softmax 0, rounded")


def test_shipped_lessons_are_what_the_generator_builds():
    for entry in LESSONS:
        model, _ = build(entry.name)
        shipped = load_file(str(LESSONS_DIR / entry.name / "model.safetensors"))
        for name, tensor in model.state_dict().items():
            if name in shipped:
                # the printed numbers copied into the weights, no arithmetic: bit for bit
                np.testing.assert_array_equal(shipped[name], tensor.numpy(), err_msg=f"{entry.name}: {name}")


def test_lessons_are_listed_and_unknown_lessons_say_which_exist():
    sources = [c.source for c in available_models(include_cache=False) if c.kind == "lesson"]
    assert sources == ["lesson:seed-003", "lesson:seed-003-causal", "lesson:seed-002"]
    with pytest.raises(ModelFileError, match="seed-003"):
        load_tracing_model("lesson:nope")


def test_lesson_switches_leave_real_models_alone():
    model = load_tracing_model("bundled")
    assert model.cfg.scale_scores and model.cfg.layer_norm and model.cfg.mlp
    lesson = load_tracing_model("lesson:seed-003")
    trace = lesson.trace(JOURNEY)
    assert not trace.mlp_out.any()  # no MLP
    np.testing.assert_array_equal(trace.attn_in[0], trace.resid_pre[0])  # no LayerNorm
