from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from model.core.errors import EmptyInputError
from model.core.tokenizer import TextTokenizer
from model.core.transformer import Transformer, activation_names
from model.tracer.runner import TracingModel
from tests.model.conftest import tiny_config
from tests.numerics import assert_close


def test_trace_tokens_match_the_text(tracing_model):
    text = "a fluffy blue creature"
    trace = tracing_model.trace(text, request_id=7)
    assert trace.request_id == 7
    assert trace.token_strings[0] == "[CLS]" and trace.special[0]
    words = [text[s:e] for (s, e), sp in zip(trace.offsets, trace.special, strict=True) if not sp]
    assert "".join(words) == text.replace(" ", "")
    assert trace.n_tokens == len(trace.token_ids) == trace.pattern.shape[-1]


def test_trace_shapes_follow_the_documented_contract(tracing_model):
    trace = tracing_model.trace("your journey starts with one step")
    T, L, H, d = trace.n_tokens, 2, 4, 32
    assert trace.pattern.shape == trace.scores.shape == (L, H, T, T)
    assert trace.q.shape == (L, H, T, 8)
    assert trace.head_out.shape == (L, H, T, d)
    assert trace.resid_post.shape == (L, T, d)
    assert trace.logits.shape == trace.probs.shape == (1, 200)
    assert trace.logit_positions.tolist() == [T - 1]
    assert_close(trace.probs.sum(-1), 1.0, what="probabilities summed")


def test_every_named_activation_can_be_looked_up(tracing_model):
    trace = tracing_model.trace("the king and the queen")
    for name in activation_names(trace.n_layers):
        assert isinstance(trace[name], np.ndarray), name
    np.testing.assert_array_equal(trace["blocks.1.attn.pattern"], trace.pattern[1])  # the same array
    masked = trace["blocks.0.attn.masked_scores"]
    assert np.isneginf(masked[:, 0, 1:]).all() and np.isfinite(np.diagonal(masked, axis1=1, axis2=2)).all()
    with pytest.raises(KeyError, match="2 layers"):
        trace["blocks.5.attn.pattern"]
    with pytest.raises(KeyError):
        trace["blocks.0.nonsense"]


def test_trace_is_immutable(tracing_model):
    trace = tracing_model.trace("the mole")
    with pytest.raises(dataclasses.FrozenInstanceError):
        trace.text = "other"
    with pytest.raises(ValueError):
        trace.pattern[0, 0, 0, 0] = 0.5


def test_trace_validation_names_the_bad_field(tracing_model):
    trace = tracing_model.trace("the mole")
    with pytest.raises(ValueError, match="pattern has shape"):
        dataclasses.replace(trace, pattern=np.zeros((1, 1, 1, 1), dtype=np.float32))
    with pytest.raises(ValueError, match="token_strings"):
        dataclasses.replace(trace, token_strings=trace.token_strings[:-1])
    with pytest.raises(ValueError, match="n_input_tokens"):
        dataclasses.replace(trace, n_input_tokens=1)


def test_logits_can_be_asked_for_every_position(tracing_model):
    trace = tracing_model.trace("one mole of carbon dioxide", logit_positions="all")
    assert trace.logit_positions.tolist() == list(range(trace.n_tokens))
    last = tracing_model.trace("one mole of carbon dioxide")
    assert_close(trace.logits_at(-1), last.logits_at(-1), what="last logits")
    some = tracing_model.trace("one mole of carbon dioxide", logit_positions=[1, -1])
    assert some.has_logits_at(1) and not some.has_logits_at(2)
    with pytest.raises(KeyError):
        some.logits_at(2)


def test_text_longer_than_the_context_keeps_the_most_recent_tokens_and_says_so(tracing_model):
    words = " ".join(["the king and the queen"] * 10) + " roamed"
    full = tracing_model.tokenizer.encode(words)
    trace = tracing_model.trace(words)
    assert trace.truncated and trace.n_tokens == 16
    assert trace.n_input_tokens == len(full) and trace.n_dropped_tokens == len(full) - 16
    assert trace.token_ids[0] == 2  # the BOS token stays at position 0
    assert trace.token_ids[1:].tolist() == list(full.ids[-15:])
    assert trace.offsets[-1] == full.offsets[-1]
    assert not tracing_model.trace("the king").truncated


def test_empty_text_gives_the_bos_token_alone(tracing_model):
    trace = tracing_model.trace("")
    assert trace.n_tokens == 1 and trace.token_ids.tolist() == [2]
    assert_close(trace.probs.sum(), 1.0, what="probabilities summed")
    assert tracing_model.trace("   \n\t ").n_tokens == 1


def test_empty_text_without_bos_raises_a_clear_error(wordpiece_file):
    model = TracingModel(Transformer(tiny_config()), TextTokenizer.from_file(wordpiece_file))
    with pytest.raises(EmptyInputError, match="type a word"):
        model.trace("  ")


@pytest.mark.parametrize(
    "text",
    ["日本語のテキスト", "emoji 😀🧠 and ZWJ 👩‍👩‍👧", "שלום עולם", "tab\tnull\x00bell\x07", "lone \ud800 surrogate",
     "e\u0301 combining", "x" * 5000],
)
def test_any_unicode_gives_a_valid_trace(tracing_model, text):
    trace = tracing_model.trace(text)
    assert 1 <= trace.n_tokens <= 16
    for start, end in trace.offsets:
        assert 0 <= start <= end <= len(text)
    assert np.isfinite(trace.logits[np.isfinite(trace.logits)]).all()


def test_model_info_describes_the_loaded_model(tracing_model):
    info = tracing_model.info()
    assert (info.n_layers, info.n_heads, info.d_model, info.n_ctx) == (2, 4, 32, 16)
    assert info.causal and info.has_lm_head and info.tokenizer_kind == "wordpiece"
    assert info.embedding_table.shape == (200, 32) and not info.embedding_table.flags.writeable
    assert info.vocabulary[2] == "[CLS]" and info.bos_token_id == 2
