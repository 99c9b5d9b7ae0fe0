from __future__ import annotations

import numpy as np
import pytest
import torch

from model.ablation import (
    knocked_out,
    knockout_logits,
    parse_heads,
    patched_logits,
    sweep,
)
from model.runner import TracingModel
from model.transformer import Transformer
from tests.model.conftest import tiny_config

IDS = [2, 17, 40, 9, 55, 31, 8]


def _model(**overrides) -> Transformer:
    torch.manual_seed(0)
    return Transformer(tiny_config(**overrides)).eval()


@torch.inference_mode()
def _trace_arrays(model: Transformer, ids):
    cache: dict[str, torch.Tensor] = {}
    logits = model(torch.tensor([ids]), cache=cache)
    return cache, logits[0]


def test_knocking_out_a_last_layer_head_removes_exactly_its_output_from_the_residual_stream():
    # No MLP: after the last layer's attention nothing but the final norm and the unembedding
    # acts, so the knocked-out logits are unembed(ln_f(resid_post − head_out[h])) by hand.
    model = _model(mlp=False)
    cache, _ = _trace_arrays(model, IDS)
    last = model.cfg.n_layers - 1
    head = 2
    resid = cache[f"blocks.{last}.resid_post"][0]  # (T, d)
    by_hand = model.unembed(model.ln_f(resid - cache[f"blocks.{last}.attn.head_out"][0, head]))
    got = knockout_logits(model, IDS, [(last, head)], position=-1)
    np.testing.assert_allclose(got, by_hand[-1].detach().numpy(), atol=1e-5)


def test_mean_ablation_replaces_a_head_by_its_average_output_over_the_positions():
    model = _model(mlp=False)
    cache, _ = _trace_arrays(model, IDS)
    last, head = model.cfg.n_layers - 1, 1
    out = cache[f"blocks.{last}.attn.head_out"][0, head]  # (T, d); linear in z, so mean z ↦ mean out
    resid = cache[f"blocks.{last}.resid_post"][0] - out + out.mean(0, keepdim=True)
    by_hand = model.unembed(model.ln_f(resid))
    got = knockout_logits(model, IDS, [(last, head)], position=-1, mode="mean")
    np.testing.assert_allclose(got, by_hand[-1].detach().numpy(), atol=1e-5)


@pytest.mark.parametrize("out_bias", [False, True])
def test_knocking_out_every_head_of_a_layer_equals_skipping_its_attention_output_bias_aside(out_bias):
    model = _model(attn_out_bias=out_bias)
    H = model.cfg.n_heads
    with torch.inference_mode(), knocked_out(model, [(0, h) for h in range(H)]):
        knocked = model(torch.tensor([IDS]))
    attn = model.blocks[0].attn
    bias = attn.out.bias
    original = attn.forward
    try:  # the layer's attention replaced by its output bias alone (nothing, without one)
        attn.forward = lambda x, *a, **k: (bias.expand_as(x) if bias is not None else torch.zeros_like(x))
        with torch.inference_mode():
            skipped = model(torch.tensor([IDS]))
    finally:
        attn.forward = original
    torch.testing.assert_close(knocked, skipped, atol=1e-5, rtol=1e-5)
    if out_bias:
        with torch.inference_mode():
            assert not torch.allclose(knocked, model(torch.tensor([IDS])))


def test_hooks_are_removed_after_the_context():
    model = _model()
    with torch.inference_mode():
        before = model(torch.tensor([IDS]))
        with knocked_out(model, [(0, 0), (1, 3)]):
            pass
        after = model(torch.tensor([IDS]))
    torch.testing.assert_close(before, after)
    assert not model.blocks[0].attn.out._forward_pre_hooks


def test_the_batched_sweep_equals_knocking_out_each_head_alone():
    model = _model()
    with torch.inference_mode():
        base = torch.log_softmax(model(torch.tensor([IDS]))[0, -1], -1)
    token = int(base.argmax())
    result = sweep(model, IDS, token, position=-1, batch=5)  # batches that straddle layers
    for layer in range(model.cfg.n_layers):
        for head in range(model.cfg.n_heads):
            alone = torch.log_softmax(torch.as_tensor(knockout_logits(model, IDS, [(layer, head)])), -1)[token]
            assert result.delta[layer, head] == pytest.approx(float(alone - base[token]), abs=1e-5)
    assert result.base_logprob == pytest.approx(float(base[token]), abs=1e-6)


def test_patching_a_into_b_with_a_equal_to_b_changes_nothing():
    model = _model()
    with torch.inference_mode():
        clean = model(torch.tensor([IDS]))[0, -1].numpy()
    patched = patched_logits(model, IDS, IDS, [(0, 1), (1, 2)])
    np.testing.assert_allclose(patched, clean, atol=1e-6)


def test_patching_every_head_of_every_layer_from_a_gives_a_own_prediction_without_mlp_or_position_mixing():
    # Patch all heads of layer 0 from A into B: layer 0's attention output is A's, but the
    # residual still carries B's tokens, so the result differs from both (a smoke check
    # that the patch is applied at all).
    model = _model()
    other = [2, 17, 40, 9, 55, 31, 77]
    with torch.inference_mode():
        clean_b = model(torch.tensor([other]))[0, -1].numpy()
    patched = patched_logits(model, IDS, other, [(0, h) for h in range(model.cfg.n_heads)])
    assert not np.allclose(patched, clean_b)


def test_patching_needs_prompts_of_equal_length():
    with pytest.raises(ValueError, match="equal length"):
        patched_logits(_model(), IDS, IDS[:-1], [(0, 0)])


def test_knockout_rejects_heads_outside_the_model():
    with pytest.raises(ValueError, match="not in a model"):
        knockout_logits(_model(), IDS, [(5, 0)])


def test_parse_heads():
    assert parse_heads("1.2, 0.3,1.2") == ((0, 3), (1, 2))
    with pytest.raises(ValueError, match="LAYER.HEAD"):
        parse_heads("1-2")


def test_knockout_works_on_a_rope_gqa_rmsnorm_model():
    model = _model(positional="rope", norm="rmsnorm", n_kv_heads=2, gated_mlp=True, activation="silu")
    logits = knockout_logits(model, IDS, [(1, 3)])
    with torch.inference_mode():
        clean = model(torch.tensor([IDS]))[0, -1].numpy()
    assert logits.shape == clean.shape and not np.allclose(logits, clean)


def test_tracing_model_traces_run_with_heads_knocked_out(tracing_model: TracingModel):
    clean = tracing_model.trace("the cat sat on the mat")
    with knocked_out(tracing_model.module, [(1, 0)]):
        knocked = tracing_model.trace("the cat sat on the mat")
    np.testing.assert_allclose(knocked.resid_post[0], clean.resid_post[0], atol=1e-6)
    assert not np.allclose(knocked.resid_post[1], clean.resid_post[1])


@pytest.mark.parametrize("positional", ["sinusoidal", "rope"])
def test_starting_from_the_traces_residual_stream_gives_the_same_knock_out(positional):
    model = _model(positional=positional, n_layers=3)
    cache, _ = _trace_arrays(model, IDS)
    resid_pre = np.stack([cache[f"blocks.{i}.resid_pre"][0].numpy() for i in range(3)])
    for heads in ([(1, 2)], [(2, 0), (1, 3)], [(0, 1)]):
        np.testing.assert_allclose(knockout_logits(model, IDS, heads, resid_pre=resid_pre),
                                   knockout_logits(model, IDS, heads), atol=1e-5)
    with torch.inference_mode():
        token = int(model(torch.tensor([IDS]))[0, -1].argmax())
    a, b = sweep(model, IDS, token, resid_pre=resid_pre), sweep(model, IDS, token)
    np.testing.assert_allclose(a.delta, b.delta, atol=1e-5)


@pytest.mark.parametrize("mode", ["zero", "mean"])
def test_the_knocked_out_prediction_while_typing_equals_a_fresh_knock_out(tracing_model: TracingModel, mode):
    """probes.ablate, as the app calls it after each keystroke's trace: a zero knock-out
    reuses its own rows (model/incremental.py), mean ablation starts from the trace's
    residual stream; both give knockout_logits of the whole text."""
    from model.probes import ablate

    text = "the cat"
    for word in (" sat", " on", " the", " mat", " ."):
        text += word
        trace = tracing_model.trace(text)
        ids = tracing_model.encode(text)[0].ids
        for position, screen in ((-1, trace), (1, trace), (-2, None)):
            options = {"heads": [(0, 1), (1, 3)], "mode": mode, "position": position}
            result = ablate(tracing_model, text, options, screen)
            expected = knockout_logits(tracing_model.module, ids, [(0, 1), (1, 3)], position, mode)
            assert result.position == position % len(ids)
            np.testing.assert_allclose(result.logits, expected, atol=1e-5)
