"""One head's computation, recomputed stage by stage from a Trace and the head's weights,
matches what the forward pass captured (1e-5 of each stage's scale) on the bundled model, a random GPT-2, a BERT
encoder and the lesson models."""

from __future__ import annotations

import numpy as np
import pytest

from model.analysis.stepthrough import head_steps
from model.loading import load_tracing_model
from tests.model.conftest import requires_minilm
from tests.model.test_hf_gpt2 import make_gpt2
from tests.numerics import REL64, assert_close, assert_differ, scale_of


def numpy_reference(trace, info, layer, head, i):
    """The textbook formulas written out once more, independently of model.stepthrough."""
    hw = info.head_weights
    kv = head // hw.kv_group
    x = trace.attn_in[layer].astype(np.float64)
    q = x @ hw.w_q[layer][head] + hw.b_q[layer][head]
    k = x @ hw.w_k[layer][kv] + hw.b_k[layer][kv]
    v = x @ hw.w_v[layer][kv] + hw.b_v[layer][kv]
    if trace.q_unrotated is not None:  # RoPE: the scores use the rotated q and k
        q, k = trace.q[layer, head].astype(np.float64), trace.k[layer, head].astype(np.float64)
    s = q @ k.T / (np.sqrt(q.shape[1]) if hw.scaled else 1.0)
    if trace.causal:
        s = np.where(np.triu(np.ones_like(s, dtype=bool), 1), -np.inf, s)
        s = np.where(np.isneginf(trace.masked_scores[layer, head]), -np.inf, s)  # sliding windows
    p = np.exp(s - s.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    return q, k, v, s, p, (p @ v) @ hw.w_o[layer][head]


def check_every_stage(model, text):
    info = model.info()
    trace = model.trace(text)
    for layer in range(trace.n_layers):
        for head in range(trace.n_heads):
            for i in {0, trace.n_tokens // 2, trace.n_tokens - 1}:
                st = head_steps(trace, info.head_weights, layer, head, i)
                q, k, v, s, p, delta = numpy_reference(trace, info, layer, head, i)
                # a score's roundoff is relative to |q| |k|, not to q·k (which may nearly cancel):
                # the scale of all this head's scores; z = p @ v, relative to v's
                scores = scale_of(trace.scores[layer, head])
                # against the forward pass's captures
                assert_close(st.q, trace.q[layer, head, i], what="q")
                assert_close(st.k, trace.k[layer, head], what="k")
                assert_close(st.v, trace.v[layer, head], what="v")
                assert_close(st.scaled, trace.scores[layer, head, i], scale=scores, what="scores")
                assert_close(st.masked, trace.masked_scores[layer, head, i], scale=scores, what="masked scores")
                assert_close(st.weights, trace.pattern[layer, head, i], what="weights")
                assert_close(st.delta, trace.head_out[layer, head, i], what="head output")
                # against the NumPy recomputation
                assert_close(st.masked, s[i], scale=scores, what="masked scores (NumPy)")
                assert_close(st.scaled, st.dots / st.divisor, scale=scores, what="dots / divisor")
                assert_close(st.weights, p[i], what="weights (NumPy)")
                assert_close(st.z, p[i] @ v, scale=scale_of(v), what="z (NumPy)")
                assert_close(st.weighted_values.sum(0), st.z, scale=scale_of(v), what="weighted values summed")
                assert_close(st.delta, delta[i], what="head output (NumPy)")
                assert_close(st.weights.sum(), 1.0, REL64, what="weights summed")  # normalised in float64
                assert st.is_masked.sum() == np.isneginf(trace.masked_scores[layer, head, i]).sum()
                assert st.is_masked[i + 1:].all() if trace.causal else not st.is_masked.any()
                residual = trace.resid_pre[layer, i]
                expected_cos = delta[i] @ residual / np.linalg.norm(delta[i]) / np.linalg.norm(residual)
                # a cosine's roundoff is relative to |a| |b| / (|a| |b|) = 1, not to its value
                assert_close(st.cosine, expected_cos, scale=1.0, what="cosine")
                assert_close(st.delta_norm, np.linalg.norm(delta[i]), what="|delta|")
    return info, trace


def test_bundled_model_every_stage():
    info, trace = check_every_stage(load_tracing_model("bundled"), "the king and the queen went home")
    st = head_steps(trace, info.head_weights, 0, 0, -1)
    assert st.x_formula == "LN(E + P)"
    assert_close(st.embed, trace.resid_pre[0], what="embedding")
    # adaptive softmax: the shortlist rows, named by their token ids
    assert len(st.top_token_ids) == 8 and np.all(np.diff(st.top_token_gains) <= 0)
    assert set(st.top_token_ids) <= set(info.output_token_ids.tolist())


def test_random_gpt2_every_stage(tmp_path):
    make_gpt2(tmp_path / "gpt2")
    model = load_tracing_model(tmp_path / "gpt2")
    info, trace = check_every_stage(model, "the king and the queen, the man")
    st = head_steps(trace, info.head_weights, 1, 2, -1)
    assert info.head_weights.unembed is info.embedding_table  # tied: not kept twice
    gains = info.embedding_table @ st.delta.astype(np.float32)
    assert st.top_token_ids[0] == int(np.argmax(gains))


@requires_minilm
def test_minilm_encoder_every_stage():
    info, trace = check_every_stage(load_tracing_model("minilm"), "the mole dug a hole")
    st = head_steps(trace, info.head_weights, 0, 0, 1)
    assert not st.is_masked.any() and st.x_formula == "LN(E + P)"
    assert len(st.top_token_ids) == 0  # no LM head


def test_bad_requests_say_what_is_wrong():
    model = load_tracing_model("lesson:seed-002")
    trace = model.trace("x1 x2 x3")
    with pytest.raises(ValueError, match="no head 1"):
        head_steps(trace, model.info().head_weights, 0, 1, 0)
    from dataclasses import replace

    with pytest.raises(ValueError, match="attn.in"):
        head_steps(replace(trace, attn_in=None), model.info().head_weights, 0, 0, 0)


def test_a_trace_that_is_not_x_w_is_refused():
    from dataclasses import replace

    model = load_tracing_model("lesson:seed-002")
    trace = model.trace("x1 x2 x3")
    rotated = replace(trace, q=trace.q[..., ::-1].copy())
    with pytest.raises(ValueError, match="q is not x W_Q"):
        head_steps(rotated, model.info().head_weights, 0, 0, 0)


def test_model_structure_counts_every_parameter_once(tmp_path):
    for source in ("bundled", "lesson:seed-003"):
        model = load_tracing_model(source)
        st = model.info().structure
        assert st.total == model.module.num_parameters()
    make_gpt2(tmp_path / "gpt2")
    model = load_tracing_model(tmp_path / "gpt2")
    st = model.info().structure
    assert st.total == model.module.num_parameters() and st.tied and st.positional == "learned"
    counts = dict((k, n) for k, n, _ in st.counts)
    assert counts["W_Q"] == counts["W_K"] == counts["W_V"] == 2 * (32 * 32 + 32)
    assert counts["unembedding"] == 0  # tied: counted once, under embedding
    np.testing.assert_array_equal(st.positions[: model.trace("the king").n_tokens],  # rows of one table
                                  model.trace("the king").embed_pos)


@pytest.mark.parametrize("family", ["llama-llama3-untied", "qwen2-biases-tied", "mistral-window"])
def test_llama_layout_heads_step_through_with_rope_and_shared_kv_heads(tmp_path, family):
    """RoPE: the stages use q and k after the rotation (what the scores use), and show them
    before it too; GQA: each query head reads its key/value head's W_K and W_V."""
    from tests.model.test_hf_llama import make

    make(tmp_path / family, family)
    model = load_tracing_model(tmp_path / family)
    info, trace = check_every_stage(model, "the king and the queen were happy")
    hw = info.head_weights
    assert hw.kv_group > 1 and len(hw.w_k[0]) == trace.n_heads // hw.kv_group
    for head in range(trace.n_heads):
        st = head_steps(trace, hw, 1, head, -1)
        assert_close(st.q_before, trace.q_unrotated[1, head, -1], what="q before rotation")
        assert_close(st.k_before, trace.k_unrotated[1, head], what="k before rotation")
        assert_differ(st.q_before, st.q, what="q before vs after")  # the rotation did something at the last position
        assert st.kv_head == head // hw.kv_group and st.n_kv_heads == len(hw.w_k[1])
