"""Incremental tracing gives, field by field, the Trace a full forward pass gives.

A property test edits a text at random (insertions, deletions, pastes, typing at the end)
and compares every trace with a full pass of the same text, on the bundled model and on
tiny random GPT-2 and Llama-layout models built with transformers (a test extra); the
same with heads knocked out, to zero or to their reference means (a knocked-out trace
reuses only its own knock-out's rows), and with knocked-out and ordinary traces in turn.
The rest is the tracer's memory: which rows it reuses, that a Trace never changes, that a
batch or a knock-out does not evict the typed text. (tests/model/test_conformance.py runs
the same comparison over every model shape with fixed edits, and the NumPy tracer too.)
"""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from model.core.incremental import common_prefix, full_pass_reference
from model.loading import load_tracing_model
from tests.model.conformance import assert_same_trace
from tests.numerics import assert_close

ALPHABET = "abcdefghijklmnopqrstuvwxyz     ,.;'é"
WORDS = ["the king", " and the queen", ", the man", " walked past the tower", "é", " mole", "\n"]


@pytest.fixture(scope="module")
def bundled():
    return load_tracing_model("bundled")


@pytest.fixture(scope="module")
def gpt2(tmp_path_factory):
    from tests.model.test_hf_gpt2 import make_gpt2

    folder = tmp_path_factory.mktemp("inc") / "tiny-gpt2"
    make_gpt2(folder)  # context 24: long texts slide the window
    return load_tracing_model(str(folder))


@pytest.fixture(scope="module", params=["mistral-window", "qwen3-qknorm-yarn"])
def llama(request, tmp_path_factory):
    from tests.model.test_hf_llama import make

    folder = tmp_path_factory.mktemp("inc") / request.param
    make(folder, request.param)
    return load_tracing_model(str(folder))


edits = st.lists(
    st.one_of(
        st.tuples(st.just("type"), st.text(ALPHABET, min_size=1, max_size=3), st.just(0.0), st.just(0.0)),
        st.tuples(st.just("insert"), st.text(ALPHABET, min_size=1, max_size=4), st.floats(0, 1), st.just(0.0)),
        st.tuples(st.just("paste"), st.sampled_from(WORDS), st.floats(0, 1), st.just(0.0)),
        st.tuples(st.just("delete"), st.just(""), st.floats(0, 1), st.floats(0, 0.5)),
    ),
    min_size=1, max_size=8,
)


def apply(text: str, edit) -> str:
    kind, s, where, length = edit
    if kind == "type":
        return text + s
    i = int(where * len(text))
    if kind == "delete":
        return text[:i] + text[i + int(length * len(text)) + 1:]
    return text[:i] + s + text[i:]


def check_edits(model, start: str, sequence, positions="last") -> None:
    text = start
    for edit in sequence:
        text = apply(text, edit)
        if not text.strip():
            text = "a"
        incremental = model.trace(text, logit_positions=positions)
        assert_same_trace(incremental, full_pass_reference(model, text, positions))


SETTINGS = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@SETTINGS
@given(start=st.sampled_from(["the king", "a fluffy blue creature", "x"]), sequence=edits)
def test_bundled_incremental_equals_full(bundled, start, sequence):
    check_edits(bundled, start, sequence)


@SETTINGS
@given(start=st.sampled_from(["the king and the queen", "ab", "the eiffel tower is in paris and a mole"]), sequence=edits)
def test_random_gpt2_incremental_equals_full(gpt2, start, sequence):
    check_edits(gpt2, start, sequence, positions="all")


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sequence=edits)
def test_random_llama_incremental_equals_full(llama, sequence):
    check_edits(llama, "the king and", sequence)


def test_typing_at_the_end_reuses_the_prefix_and_copies_nothing(bundled):
    bundled.trace("the king and the")
    first = bundled._incremental_tracer().last
    second = bundled.trace("the king and the queen")
    tracer = bundled._incremental_tracer()
    assert tracer.reused_rows == first.n_tokens
    assert np.shares_memory(first.pattern, second.pattern)  # the same buffer, grown
    assert not second.pattern.flags.writeable


def test_earlier_traces_never_change(bundled):
    """Edits in the middle move to another buffer: a Trace seen before stays as it was."""
    texts = ["the king and the queen", "the king and the cat", "the dog", "the dog and the queen", "the king"]
    kept = [(bundled.trace(t), None) for t in texts[:1]]
    kept = [(t, t.pattern.copy()) for t, _ in kept]
    for text in texts[1:]:
        trace = bundled.trace(text)
        kept.append((trace, trace.pattern.copy()))
        for old, snapshot in kept:
            np.testing.assert_array_equal(old.pattern, snapshot)  # a copy of the same array


def test_a_batch_does_not_evict_the_typed_text(bundled):
    bundled.trace("the king and the queen walked")
    with bundled.separate_memory():
        bundled.trace("a mole of carbon dioxide")
    bundled.trace("the king and the queen walked past")
    assert bundled._incremental_tracer().reused_rows >= 6


def test_encoders_recompute_everything(bundled):
    from model.tracer.runner import TracingModel

    class Encoder:
        causal = False

    model = TracingModel.__new__(TracingModel)
    model.module = type("M", (), {"cfg": Encoder()})()
    assert not model._traces_incrementally()
    assert bundled._traces_incrementally()


def test_common_prefix():
    assert common_prefix([1, 2, 3], [1, 2, 4, 5]) == 2
    assert common_prefix([], [1]) == 0
    assert common_prefix([1, 2], [1, 2, 3]) == 2


def test_a_knocked_out_trace_neither_reads_nor_replaces_the_ordinary_rows(tracing_model):
    """A head knock-out hooks W_O: rows remembered from an ordinary trace would be wrong for
    it, and its rows must not be reused by the next ordinary trace."""
    from model.analysis.ablation import knocked_out

    model = tracing_model
    model.trace("the king and the")  # remembered
    n_remembered = model._incremental_tracer().last.n_tokens
    with knocked_out(model.module, [(0, 1), (1, 0)]):
        ablated = model.trace("the king and the queen")
    model.incremental = False
    with knocked_out(model.module, [(0, 1), (1, 0)]):
        expected = model.trace("the king and the queen")
    full = model.trace("the king and the queen were")
    model.incremental = True
    assert_close(ablated.logits, expected.logits, what="logits")
    assert_close(ablated.head_out, expected.head_out, what="head_out")
    after = model.trace("the king and the queen were")  # incremental again, from the ordinary rows
    assert model._incremental_tracer().reused_rows == n_remembered
    assert_close(after.logits, full.logits, what="logits")
    assert_close(after.pattern, full.pattern, what="pattern")


# ---------------------------------------------------------------------- with heads knocked out
def knockout_tracer(model):
    """The tracer the current hooks trace with (the ordinary one without hooks)."""
    return model._incremental_tracer(model._rows_key())


def draw_heads(data, model) -> list[tuple[int, int]]:
    L, H = model.cfg.n_layers, model.cfg.n_heads
    return data.draw(st.lists(st.tuples(st.integers(0, L - 1), st.integers(0, H - 1)), min_size=1, max_size=3,
                              unique=True), label="heads")


def draw_mode(data) -> str:
    return data.draw(st.sampled_from(["zero", "mean"]), label="mode")


def knock_out(model, heads, mode: str):
    """knocked_out with the model's reference means in mean mode (as model/work/probes.py)."""
    from model.analysis.ablation import knocked_out

    return knocked_out(model.module, heads, mode, model.reference_means() if mode == "mean" else None)


def check_knocked_out_edits(model, start: str, sequence, heads, positions="last", mode="zero") -> None:
    """Every trace of the edits with ``heads`` knocked out is the full pass with the same hooks."""
    model.forget_last_trace()
    text = start
    with knock_out(model, heads, mode):
        assert model._traces_incrementally()
        for edit in sequence:
            text = apply(text, edit)
            if not text.strip():
                text = "a"
            incremental = model.trace(text, logit_positions=positions)
            assert_same_trace(incremental, full_pass_reference(model, text, positions))


@SETTINGS
@given(start=st.sampled_from(["the king", "a fluffy blue creature", "x"]), sequence=edits, data=st.data())
def test_bundled_knocked_out_incremental_equals_full(bundled, start, sequence, data):
    check_knocked_out_edits(bundled, start, sequence, draw_heads(data, bundled), mode=draw_mode(data))


@SETTINGS
@given(start=st.sampled_from(["the king and the queen", "ab", "the eiffel tower is in paris and a mole"]),
       sequence=edits, data=st.data())
def test_random_gpt2_knocked_out_incremental_equals_full(gpt2, start, sequence, data):
    check_knocked_out_edits(gpt2, start, sequence, draw_heads(data, gpt2), positions="all", mode=draw_mode(data))


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sequence=edits, data=st.data())
def test_random_llama_mean_knocked_out_incremental_equals_full(llama, sequence, data):
    """RoPE, grouped-query attention, a sliding window, q/k norms: a mean per query head."""
    check_knocked_out_edits(llama, "the king and", sequence, draw_heads(data, llama), mode="mean")


def check_alternating(model, start: str, sequence, heads, which, positions="last", mode="zero") -> None:
    """After each edit an ordinary trace, a knocked-out one or both (as the app runs the
    trace and then the knocked-out prediction or lens): each equals its full pass."""
    model.forget_last_trace()
    text = start
    for edit, kinds in zip(sequence, which, strict=False):  # up to 8 edits, 8 choices
        text = apply(text, edit)
        if not text.strip():
            text = "a"
        for knocked in kinds:
            with knock_out(model, heads, mode) if knocked else contextlib.nullcontext():
                incremental = model.trace(text, logit_positions=positions)
                assert_same_trace(incremental, full_pass_reference(model, text, positions))


alternation = st.lists(st.sampled_from([(False,), (True,), (False, True), (True, False)]), min_size=8, max_size=8)


@SETTINGS
@given(start=st.sampled_from(["the king", "a fluffy blue creature"]), sequence=edits, which=alternation,
       data=st.data())
def test_bundled_alternating_knocked_out_and_plain_traces_equal_full_passes(bundled, start, sequence, which, data):
    check_alternating(bundled, start, sequence, draw_heads(data, bundled), which, mode=draw_mode(data))


@SETTINGS
@given(start=st.sampled_from(["the king and the queen", "the eiffel tower is in paris and a mole"]),
       sequence=edits, which=alternation, data=st.data())
def test_random_gpt2_alternating_knocked_out_and_plain_traces_equal_full_passes(gpt2, start, sequence, which,
                                                                                data):
    check_alternating(gpt2, start, sequence, draw_heads(data, gpt2), which, positions="all", mode=draw_mode(data))


def test_typing_with_a_knock_out_reuses_its_own_rows_and_keeps_the_ordinary_ones(bundled):
    from model.analysis.ablation import knocked_out

    bundled.forget_last_trace()
    heads = [(0, 1)]
    text = "the king and the queen"
    bundled.trace(text)
    with knocked_out(bundled.module, heads):
        bundled.trace(text)
    ordinary = bundled._incremental_tracer()
    for word in (" walked", " past", " the", " tower"):
        n_before = bundled.trace(text).n_tokens
        text += word
        bundled.trace(text)
        assert bundled._incremental_tracer() is ordinary and ordinary.reused_rows == n_before
        with knocked_out(bundled.module, heads):
            trace = bundled.trace(text)
            tracer = knockout_tracer(bundled)
            assert tracer is not ordinary and 0 < tracer.reused_rows < trace.n_tokens
    with knocked_out(bundled.module, heads):
        assert_same_trace(trace, full_pass_reference(bundled, text))


def test_another_knock_out_does_not_reuse_the_last_ones_rows(bundled):
    from model.analysis.ablation import knocked_out

    bundled.forget_last_trace()
    with knocked_out(bundled.module, [(0, 1)]):
        bundled.trace("the king and the")
    with knocked_out(bundled.module, [(0, 2)]):
        trace = bundled.trace("the king and the queen")
        assert knockout_tracer(bundled).reused_rows == 0
        assert_same_trace(trace, full_pass_reference(bundled, "the king and the queen"))


def test_mean_ablation_is_incremental_under_its_own_key_and_unknown_edits_are_full_passes(bundled):
    """Mean ablation writes a fixed vector (the model's reference mean) at every position:
    rows stay prefix-stable, so it reuses its own rows, under a key that names the mode (a
    zero knock-out of the same heads must not read them). An edit the runner knows nothing
    of: a full pass that leaves the remembered rows alone."""
    from model.analysis.ablation import knocked_out, z_edited

    bundled.forget_last_trace()
    bundled.trace("the king and the")
    ordinary = bundled._incremental_tracer().last
    with knock_out(bundled, [(0, 1)], "mean"):
        mean_key = bundled._rows_key()
        assert mean_key == ((0, (1,), "mean"),)
        bundled.trace("the king and the")
        trace = bundled.trace("the king and the queen")
        assert knockout_tracer(bundled).reused_rows == 5  # [CLS] the king and the
        assert_same_trace(trace, full_pass_reference(bundled, "the king and the queen"))
    with knocked_out(bundled.module, [(0, 1)]):
        assert bundled._rows_key() != mean_key
        trace = bundled.trace("the king and the queen")
        assert knockout_tracer(bundled).reused_rows == 0
        assert_same_trace(trace, full_pass_reference(bundled, "the king and the queen"))
    with z_edited(bundled.module, {1: lambda z: z * 2}):
        assert bundled._rows_key() is None
        doubled = bundled.trace("the king and the queen")
        assert_same_trace(doubled, full_pass_reference(bundled, "the king and the queen"))
    assert bundled._incremental_tracer().last is ordinary  # left alone


def test_changed_weights_are_not_read_from_the_knocked_out_rows(tmp_path_factory):
    """forget_last_trace (after editing weights in place) drops the knock-out's rows too."""
    import torch

    from model.analysis.ablation import knocked_out

    model = load_tracing_model("bundled")  # its own copy: the weights change
    with knocked_out(model.module, [(1, 3)]):
        model.trace("the king and the")
        with torch.no_grad():
            model.module.blocks[0].attn.qkv.weight.mul_(1.5)
        model.forget_last_trace()
        trace = model.trace("the king and the queen")
        assert knockout_tracer(model).reused_rows == 0
        assert_same_trace(trace, full_pass_reference(model, "the king and the queen"))


def test_a_batch_does_not_evict_the_knocked_out_rows(bundled):
    from model.analysis.ablation import knocked_out

    with knocked_out(bundled.module, [(2, 0)]):
        bundled.trace("the king and the queen walked")
        with bundled.separate_memory():
            bundled.trace("a mole of carbon dioxide")
        bundled.trace("the king and the queen walked past")
        assert knockout_tracer(bundled).reused_rows >= 6
