from __future__ import annotations

import numpy as np
import pytest
import torch

from model.analysis.ablation import (
    knocked_out,
    knockout,
    knockout_logits,
    parse_heads,
    patch,
    patched_logits,
    reference_z_means,
    sweep,
)
from model.core.incremental import common_prefix
from model.core.transformer import Transformer
from model.tracer.runner import TracingModel
from tests.model.conftest import tiny_config
from tests.numerics import assert_close, assert_differ, scale_of

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
    assert_close(got, by_hand[-1], what="knocked-out logits")


REFERENCE = [[2, 5, 9, 14], [2, 30, 31, 7, 7, 60], [2, 11], [2, 8, 8, 3]]


def _z_rows(model: Transformer, ids, layer: int, hooks=None) -> torch.Tensor:
    """The z (H, T, dh) that enters layer ``layer``'s W_O, after any hooks already on it."""
    seen = {}

    def grab(_mod, args):
        (x,) = args  # (1, T, H·dh)
        seen["z"] = x[0].view(x.shape[1], model.cfg.n_heads, model.cfg.d_head).transpose(0, 1).clone()

    handle = model.blocks[layer].attn.out.register_forward_pre_hook(grab)  # runs after the knock-out's
    try:
        with torch.inference_mode():
            model(torch.tensor([ids]))
    finally:
        handle.remove()
    return seen["z"]


@pytest.mark.parametrize("causal", [True, False])
def test_mean_ablation_writes_the_heads_mean_z_over_every_reference_row(causal):
    """By hand: stack z of every position of every reference text (each run alone), average;
    the knocked-out head's z is that vector at every position of another text, the other
    heads untouched. (reference_z_means pads the texts into one batch for a causal model,
    one batch per length for an encoder: REFERENCE has three lengths, two texts of one.)"""
    model = _model(causal=causal)
    means = reference_z_means(model, REFERENCE)
    assert means.shape == (model.cfg.n_layers, model.cfg.n_heads, model.cfg.d_head)
    for layer in range(model.cfg.n_layers):
        rows = torch.cat([_z_rows(model, ids, layer) for ids in REFERENCE], dim=1)  # (H, 16, dh)
        assert_close(means[layer], rows.mean(dim=1), what=f"mean z, layer {layer}")  # batched vs one by one
    clean = _z_rows(model, IDS, 1)
    with knocked_out(model, [(1, 2)], "mean", means):
        written = _z_rows(model, IDS, 1)
    assert_close(written[2], means[1, 2].expand(len(IDS), -1), what="the knocked-out head's z")
    keep = [h for h in range(model.cfg.n_heads) if h != 2]
    assert_close(written[keep], clean[keep], what="the other heads' z")


def test_mean_ablation_adds_the_heads_reference_mean_output_to_the_residual_stream():
    # No MLP, last layer: resid_post − head_out[h] + mean_z[h] @ W_O[h], by hand.
    model = _model(mlp=False)
    means = reference_z_means(model, REFERENCE)
    cache, _ = _trace_arrays(model, IDS)
    last, head = model.cfg.n_layers - 1, 1
    attn = model.blocks[last].attn
    w_o = attn.out.weight.view(model.cfg.d_model, attn.n_heads, attn.d_head)[:, head]  # (d, dh)
    with torch.inference_mode():
        resid = cache[f"blocks.{last}.resid_post"][0] - cache[f"blocks.{last}.attn.head_out"][0, head]
        by_hand = model.unembed(model.ln_f(resid + w_o @ means[last, head]))
    got = knockout_logits(model, IDS, [(last, head)], position=-1, mode="mean", means=means)
    assert_close(got, by_hand[-1], what="mean-ablated logits")


def test_mean_ablation_keeps_a_causal_model_causal(tracing_model: TracingModel):
    """A later token never changes an earlier row of a mean-ablated trace (the old mean over
    the text's own positions did), full passes both."""
    means = tracing_model.reference_means()
    tracing_model.incremental = False
    try:
        with knocked_out(tracing_model.module, [(0, 1), (1, 3)], "mean", means):
            a = tracing_model.trace("the cat sat on the mat", logit_positions="all")
            b = tracing_model.trace("the cat sat on the desk", logit_positions="all")
    finally:
        tracing_model.incremental = True
    n = common_prefix(a.token_ids, b.token_ids)  # "mat" and "desk" may be more than one piece
    assert n >= 6 and a.n_tokens > n
    for name in ("head_out", "attn_out", "resid_post", "pattern"):
        x, y = getattr(a, name), getattr(b, name)
        if name == "pattern":
            x, y = x[..., :n], y[..., :n]  # (queries × keys): the keys both texts have
        assert_close(x[..., :n, :], y[..., :n, :], what=name)
    assert_close(a.logits[:n], b.logits[:n], what="logits of the shared prefix")
    assert_differ(a.logits[a.n_tokens - 1], b.logits[b.n_tokens - 1], what="the last logits")


def test_reference_means_are_computed_once_per_model_from_its_own_encoding(tracing_model: TracingModel):
    """[CLS] (the BOS of this model) is in every reference text, as in every traced text."""
    from model.analysis.ablation import REFERENCE_TEXTS

    means = tracing_model.reference_means()
    assert tracing_model.reference_means() is means
    ids = [tracing_model.encode(t)[0].ids for t in REFERENCE_TEXTS]
    assert all(i[0] == 2 for i in ids)
    assert_close(means, reference_z_means(tracing_model.module, ids), what="reference means")
    tracing_model.forget_last_trace()  # weights may have changed: computed again
    assert tracing_model.reference_means() is not means


def test_reference_means_refuse_a_hooked_model_and_mean_mode_needs_them():
    model = _model()
    with knocked_out(model, [(0, 1)]), pytest.raises(ValueError, match="clean model"):
        reference_z_means(model, REFERENCE)
    with pytest.raises(ValueError, match="reference means"):
        knockout_logits(model, IDS, [(0, 1)], mode="mean")


def test_mean_ablation_of_an_encoder(wordpiece_file):
    """No mask: every row sees every token. Reference means from its own encoding; the
    knocked-out prediction (a full pass, nothing to reuse) and the sweep agree."""
    from model.core.tokenizer import TextTokenizer
    from model.work.probes import ablate, sweep_job
    from model.work.requests import Ablate, Sweep

    torch.manual_seed(0)
    module = Transformer(tiny_config(causal=False, positional="sinusoidal"))
    model = TracingModel(module, TextTokenizer.from_file(wordpiece_file))
    text = "the queen is in paris"
    ids = model.encode(text)[0].ids
    means = model.reference_means()
    result = ablate(model, Ablate(text, heads=((1, 2),), mode="mean", position=3))
    assert_close(result.logits, knockout_logits(module, ids, [(1, 2)], 3, "mean", means=means), what="logits")
    assert_differ(result.logits, knockout_logits(module, ids, [], 3), what="knocked-out vs clean logits")
    *_, (_, _, outcome) = sweep_job(model, Sweep(text, mode="mean", position=3))
    logp = torch.log_softmax(torch.as_tensor(result.logits), -1)
    alone = logp[outcome.token].item()
    # a difference of two log-probabilities: its error is the log-probabilities' roundoff
    assert_close(outcome.delta[1, 2], alone - outcome.base_logprob, scale=scale_of(logp), what="delta")


def test_mean_ablation_of_a_bert_encoder(tmp_path):
    """BERT layout, word-piece with [CLS] … [SEP] (no LM head): the knocked-out layer's
    attention output is the clean one with the head's output swapped for its reference
    mean's, at every position."""
    from model.analysis.ablation import REFERENCE_TEXTS
    from model.loading import load_tracing_model
    from tests.model.test_hf_bert import make_bert

    make_bert(tmp_path / "bert")
    model = load_tracing_model(str(tmp_path / "bert"))
    assert not model.cfg.causal and not model.has_lm_head
    encoded = [model.encode(t)[0].strings for t in REFERENCE_TEXTS]
    assert all(s[0] == "[CLS]" and s[-1] == "[SEP]" for s in encoded)
    means = model.reference_means()
    clean = model.trace("the queen is in paris")
    with knocked_out(model.module, [(0, 1)], "mean", means):
        assert model._rows_key() is None  # an encoder: always a full pass
        knocked = model.trace("the queen is in paris")
    attn = model.module.blocks[0].attn
    w_o = attn.out.weight.detach().view(model.cfg.d_model, attn.n_heads, attn.d_head)[:, 1]  # (d, dh)
    expected = clean.attn_out[0] - clean.head_out[0, 1] + (w_o @ means[0, 1]).numpy()
    assert_close(knocked.attn_out[0], expected, what="attention output")
    assert_differ(knocked.resid_post[1], clean.resid_post[1], what="layer 1's residual stream")


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
    assert_close(knocked, skipped, what="every head out vs the attention skipped")
    if out_bias:
        with torch.inference_mode():
            assert_differ(knocked, model(torch.tensor([IDS])), what="knocked-out vs clean logits")


def test_a_knock_out_is_gone_after_its_context_and_contexts_nest():
    model = _model()
    with torch.inference_mode():
        before = model(torch.tensor([IDS]))
        with knocked_out(model, [(0, 0)]):
            with knocked_out(model, [(1, 3)]):
                assert model.interventions.rows_key == ((0, (0,), "zero"), (1, (3,), "zero"))
                both = model(torch.tensor([IDS]))
            assert model.interventions.rows_key == ((0, (0,), "zero"),)
        after = model(torch.tensor([IDS]))
        # an edit is an object the forward pass is handed, not a torch hook
        assert not any(m._forward_pre_hooks or m._forward_hooks for m in model.modules())
    assert not model.interventions
    assert_close(after, before, what="logits after the context")
    assert_close(both[0, -1], knockout_logits(model, IDS, [(0, 0), (1, 3)], position=-1),
                 what="nested knock-outs: both heads out")


def test_a_knock_out_handed_to_the_forward_equals_the_installed_one():
    model = _model(n_kv_heads=2, positional="rope", norm="rmsnorm")
    with torch.inference_mode():
        handed = model(torch.tensor([IDS]), interventions=knockout(model, [(1, 1), (0, 2)]))
        with knocked_out(model, [(1, 1), (0, 2)]):
            installed = model(torch.tensor([IDS]))
        clean = model(torch.tensor([IDS]))
    assert_close(handed, installed, what="handed vs installed")
    assert_differ(handed, clean, what="knocked-out vs clean logits")


@pytest.mark.parametrize("mode", ["zero", "mean"])
def test_a_knocked_out_heads_output_in_the_trace_is_that_of_its_edited_z(tracing_model: TracingModel, mode):
    """head_out shows what each head adds to the residual stream: nothing for a zeroed head,
    its reference mean's output at every position for a mean-ablated one; the heads still
    sum to the attention output (less its bias)."""
    means = tracing_model.reference_means() if mode == "mean" else None
    trace = tracing_model.trace("the cat sat on the mat", interventions=knockout(
        tracing_model.module, [(1, 2)], mode, means))
    attn = tracing_model.module.blocks[1].attn
    w_o = attn.out.weight.detach().view(tracing_model.cfg.d_model, attn.n_heads, attn.d_head)[:, 2]  # (d, dh)
    expected = np.zeros(trace.d_model) if mode == "zero" else (w_o @ means[1, 2]).numpy()
    assert_close(trace.head_out[1, 2], np.broadcast_to(expected, trace.head_out[1, 2].shape), scale=scale_of(
        trace.head_out[1]), what="the knocked-out head's output")
    bias = attn.out.bias.detach().numpy() if attn.out.bias is not None else 0.0
    assert_close(trace.head_out[1].sum(0) + bias, trace.attn_out[1], what="heads + bias = attention output")


def test_a_patch_handed_to_the_trace_is_a_full_pass_with_the_patched_prediction(tracing_model: TracingModel):
    tracing_model.forget_last_trace()
    remembered = tracing_model.trace("the man and the woman")
    ids_a = tracing_model.encode("the cat and the cats")[0].ids
    ids_b = tracing_model.encode("the man and the woman")[0].ids
    assert len(ids_a) == len(ids_b)
    interventions = patch(tracing_model.module, ids_a, [(0, 1), (1, 2)])
    assert tracing_model._rows_key(interventions) is None
    patched = tracing_model.trace("the man and the woman", interventions=interventions)
    assert_close(patched.logits[0], patched_logits(tracing_model.module, ids_a, ids_b, [(0, 1), (1, 2)]),
                 what="patched logits")
    assert_differ(patched.logits[0], remembered.logits[0], what="patched vs clean logits")
    assert tracing_model._incremental_tracer().last is remembered  # the remembered rows left alone


def test_the_batched_sweep_equals_knocking_out_each_head_alone():
    model = _model()
    with torch.inference_mode():
        base = torch.log_softmax(model(torch.tensor([IDS]))[0, -1], -1)
    token = int(base.argmax())
    result = sweep(model, IDS, token, position=-1, batch=5)  # batches that straddle layers
    for layer in range(model.cfg.n_layers):
        for head in range(model.cfg.n_heads):
            alone = torch.log_softmax(torch.as_tensor(knockout_logits(model, IDS, [(layer, head)])), -1)[token]
            # a difference of two log-probabilities: its error is the log-probabilities' roundoff
            assert_close(result.delta[layer, head], float(alone - base[token]), scale=scale_of(base),
                         what=f"delta {layer}.{head}")
    assert_close(result.base_logprob, float(base[token]), scale=scale_of(base), what="base log-prob")


def test_patching_a_into_b_with_a_equal_to_b_changes_nothing():
    model = _model()
    with torch.inference_mode():
        clean = model(torch.tensor([IDS]))[0, -1].numpy()
    patched = patched_logits(model, IDS, IDS, [(0, 1), (1, 2)])
    assert_close(patched, clean, what="patched with itself")


def test_patching_every_head_of_every_layer_from_a_gives_a_own_prediction_without_mlp_or_position_mixing():
    # Patch all heads of layer 0 from A into B: layer 0's attention output is A's, but the
    # residual still carries B's tokens, so the result differs from both (a smoke check
    # that the patch is applied at all).
    model = _model()
    other = [2, 17, 40, 9, 55, 31, 77]
    with torch.inference_mode():
        clean_b = model(torch.tensor([other]))[0, -1].numpy()
    patched = patched_logits(model, IDS, other, [(0, h) for h in range(model.cfg.n_heads)])
    assert_differ(patched, clean_b, what="patched vs clean logits")


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
    assert_differ(logits, clean, what="knocked-out vs clean logits")


def test_tracing_model_traces_run_with_heads_knocked_out(tracing_model: TracingModel):
    clean = tracing_model.trace("the cat sat on the mat")
    with knocked_out(tracing_model.module, [(1, 0)]):
        knocked = tracing_model.trace("the cat sat on the mat")
    assert_close(knocked.resid_post[0], clean.resid_post[0], what="layer 0, before the knock-out")
    assert_differ(knocked.resid_post[1], clean.resid_post[1], what="layer 1, knocked out")


@pytest.mark.parametrize("positional", ["sinusoidal", "rope"])
def test_starting_from_the_traces_residual_stream_gives_the_same_knock_out(positional):
    model = _model(positional=positional, n_layers=3)
    cache, _ = _trace_arrays(model, IDS)
    resid_pre = np.stack([cache[f"blocks.{i}.resid_pre"][0].numpy() for i in range(3)])
    for heads in ([(1, 2)], [(2, 0), (1, 3)], [(0, 1)]):
        assert_close(knockout_logits(model, IDS, heads, resid_pre=resid_pre), knockout_logits(model, IDS, heads),
                     what=f"knocked out {heads}")
    with torch.inference_mode():
        last = model(torch.tensor([IDS]))[0, -1]
    token = int(last.argmax())
    a, b = sweep(model, IDS, token, resid_pre=resid_pre), sweep(model, IDS, token)
    # differences of log-probabilities: their error is the log-probabilities' roundoff
    assert_close(a.delta, b.delta, scale=scale_of(torch.log_softmax(last, -1)), what="sweep deltas")


@pytest.mark.parametrize("mode", ["zero", "mean"])
def test_the_knocked_out_prediction_while_typing_equals_a_fresh_knock_out(tracing_model: TracingModel, mode):
    """probes.ablate, as the app calls it after each keystroke's trace: a knock-out reuses
    its own rows (model/core/incremental.py) and gives knockout_logits of the whole text."""
    from model.work.probes import ablate
    from model.work.requests import Ablate

    means = tracing_model.reference_means() if mode == "mean" else None
    text = "the cat"
    for word in (" sat", " on", " the", " mat", " ."):
        text += word
        trace = tracing_model.trace(text)
        ids = tracing_model.encode(text)[0].ids
        for position, screen in ((-1, trace), (1, trace), (-2, None)):
            result = ablate(tracing_model, Ablate(text, heads=((0, 1), (1, 3)), mode=mode, position=position), screen)
            expected = knockout_logits(tracing_model.module, ids, [(0, 1), (1, 3)], position, mode, means=means)
            assert result.position == position % len(ids)
            assert_close(result.logits, expected, what=f"{text!r} at {position}")


def test_the_batched_mean_sweep_equals_mean_ablating_each_head_alone():
    model = _model()
    means = reference_z_means(model, REFERENCE)
    token = 7
    result = sweep(model, IDS, token, mode="mean", batch=5, means=means)
    with torch.inference_mode():
        logp = torch.log_softmax(model(torch.tensor([IDS]))[0, -1], -1)
    base = logp[token]
    for layer in range(model.cfg.n_layers):
        for head in range(model.cfg.n_heads):
            alone = torch.log_softmax(torch.as_tensor(
                knockout_logits(model, IDS, [(layer, head)], mode="mean", means=means)), -1)[token]
            # a difference of two log-probabilities: its error is the log-probabilities' roundoff
            assert_close(result.delta[layer, head], float(alone - base), scale=scale_of(logp),
                         what=f"delta {layer}.{head}")
