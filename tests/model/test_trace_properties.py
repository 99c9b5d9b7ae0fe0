"""Trace invariants for arbitrary Unicode text (lone surrogates, NUL, RTL marks, emoji …).

Whatever the text, a trace of a tiny model has: attention rows that sum to 1, zeros where
a causal query may not look (and −∞ in the masked scores), finite probabilities that sum
to 1, token ids inside the vocabulary, and character offsets inside the text.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from explorer.runtime import threads_override
from model.core.errors import EmptyInputError
from model.core.tokenizer import TextTokenizer
from model.core.transformer import Transformer
from model.tracer.runner import TracingModel
from tests.model.conftest import tiny_config, train_byte_bpe, train_wordpiece
from tests.numerics import assert_close

# Every code point, surrogates included (st.text() leaves category Cs out by default).
ANY_CHAR = st.characters(min_codepoint=0, max_codepoint=0x10FFFF, blacklist_categories=())
TEXT = st.one_of(
    st.text(ANY_CHAR, max_size=200),
    st.text(st.sampled_from(list("the king queen  .,!?'-\u202e\u200d\x00é中🙂")), max_size=300),
)


def _wordpiece_causal() -> TracingModel:
    """Causal, BOS ([CLS]) prepended, sinusoidal positions, a context of 12 (so long text truncates)."""
    tok = train_wordpiece()
    torch.manual_seed(0)
    cfg = tiny_config(vocab_size=tok.get_vocab_size(), bos_token_id=2, positional="sinusoidal", n_ctx=12)
    return TracingModel(Transformer(cfg).eval(), TextTokenizer(tok, bos_token_id=2))


def _byte_bpe_restricted() -> TracingModel:
    """Byte-level BPE, no BOS, an output vocabulary of 40 ids behind an adaptive softmax."""
    tok = train_byte_bpe()
    V = tok.get_vocab_size()
    torch.manual_seed(1)
    cfg = tiny_config(vocab_size=V, output_token_ids=tuple(range(0, 2 * 40, 2)), adaptive_cutoffs=(10, 25),
                      unembed_bias=True, n_ctx=24)
    return TracingModel(Transformer(cfg).eval(), TextTokenizer(tok))


def _encoder() -> TracingModel:
    """Bidirectional, post-norm, no LM head (a BERT-like encoder): no logits at all."""
    tok = train_wordpiece()
    torch.manual_seed(2)
    cfg = tiny_config(vocab_size=tok.get_vocab_size(), causal=False, norm_placement="post",
                      embed_layer_norm=True, has_lm_head=False)
    return TracingModel(Transformer(cfg).eval(), TextTokenizer(tok))


MODELS = {"wordpiece-causal": _wordpiece_causal, "byte-bpe-restricted": _byte_bpe_restricted, "encoder": _encoder}


@pytest.fixture(scope="module", params=sorted(MODELS))
def model(request) -> TracingModel:
    # one thread (hundreds of tiny passes), unless the run asks for a count (tests/conftest.py);
    # the count is put back for the tests that follow
    before = torch.get_num_threads()
    torch.set_num_threads(threads_override() or 1)
    yield MODELS[request.param]()
    torch.set_num_threads(before)


def check_invariants(model: TracingModel, text: str, logit_positions) -> None:
    try:
        trace = model.trace(text, logit_positions=logit_positions)
    except EmptyInputError:
        assert model.cfg.bos_token_id is None and len(model.tokenizer.encode(text)) == 0
        return
    T = trace.n_tokens
    assert 1 <= T <= model.max_tokens
    assert trace.n_input_tokens >= T
    # Token ids index the embedding table.
    assert ((trace.token_ids >= 0) & (trace.token_ids < model.cfg.vocab_size)).all()
    # Offsets lie inside the text (cleaning keeps its length: one U+FFFD per surrogate).
    for start, end in trace.offsets:
        assert 0 <= start <= end <= len(text)
    # Attention: a probability distribution over keys for every query of every head.
    pattern = trace.pattern.astype(np.float64)
    assert np.isfinite(pattern).all()
    assert (pattern >= 0).all() and (pattern <= 1 + 1e-6).all()
    assert_close(pattern.sum(axis=-1), 1.0, what="pattern rows")
    future = np.triu(np.ones((T, T), dtype=bool), k=1)
    if trace.causal:
        assert (pattern[..., future] == 0).all()
        assert np.isneginf(trace.masked_scores[..., future]).all()
        assert np.isfinite(trace.masked_scores[..., ~future]).all()
    assert np.isfinite(trace.scores).all() and np.isfinite(trace.resid_post).all()
    # Next-token probabilities: finite, in [0, 1], summing to 1 (none for an encoder).
    if not model.has_lm_head:
        assert trace.logits.shape[0] == 0 and trace.probs.shape[0] == 0
        return
    probs = trace.probs.astype(np.float64)
    assert np.isfinite(probs).all() and (probs >= 0).all()
    assert_close(probs.sum(axis=-1), 1.0, what="probabilities")
    ids = model.cfg.output_token_ids
    outputs = np.asarray(ids) if ids is not None else np.arange(trace.vocab_size)
    assert np.isfinite(trace.logits[:, outputs]).all()
    if ids is not None:  # ids outside the output vocabulary are impossible, not merely unlikely
        others = np.setdiff1d(np.arange(trace.vocab_size), outputs)
        assert np.isneginf(trace.logits[:, others]).all() and (trace.probs[:, others] == 0).all()


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=TEXT, positions=st.one_of(st.just("last"), st.just("all"), st.lists(st.integers(-40, 40), max_size=5)))
def test_trace_invariants_hold_for_any_text(model, text, positions):
    check_invariants(model, text, positions)
