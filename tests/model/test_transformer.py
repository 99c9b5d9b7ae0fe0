from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from model.core.config import ModelConfig
from model.core.transformer import Transformer, activation_names, sinusoidal_positions
from tests.model.conftest import tiny_config
from tests.numerics import assert_close, assert_differ


def run_with_cache(model: Transformer, idx: torch.Tensor):
    cache: dict[str, torch.Tensor] = {}
    with torch.no_grad():
        logits = model(idx, cache=cache)
    return logits, cache


def test_activation_names_are_a_pinned_contract():
    assert activation_names(1) == [
        "embed.token",
        "embed.pos",
        "blocks.0.resid_pre",
        "blocks.0.attn.in",
        "blocks.0.attn.q",
        "blocks.0.attn.k",
        "blocks.0.attn.v",
        "blocks.0.attn.scores",
        "blocks.0.attn.masked_scores",
        "blocks.0.attn.pattern",
        "blocks.0.attn.head_out",
        "blocks.0.attn.out",
        "blocks.0.resid_mid",
        "blocks.0.mlp.out",
        "blocks.0.resid_post",
        "final_norm",
        "logits",
    ]


def test_forward_captures_exactly_the_named_activations(tiny_model):
    _, cache = run_with_cache(tiny_model, torch.randint(0, 200, (1, 7)))
    assert set(cache) == set(activation_names(tiny_model.cfg.n_layers))


def test_causal_pattern_has_no_weight_on_future_keys_and_rows_sum_to_one(tiny_model):
    _, cache = run_with_cache(tiny_model, torch.randint(0, 200, (2, 9)))
    for layer in range(2):
        pattern = cache[f"blocks.{layer}.attn.pattern"]  # (B, nh, T, T)
        future = torch.triu(torch.ones(9, 9, dtype=torch.bool), diagonal=1)
        assert torch.all(pattern[..., future] == 0)
        assert_close(pattern.sum(-1), 1.0, what="row sums")
        masked = cache[f"blocks.{layer}.attn.masked_scores"]
        assert torch.all(torch.isneginf(masked[..., future]))
        assert torch.all(torch.isfinite(masked[..., ~future]))


@pytest.mark.parametrize("causal", [True, False])
def test_explicit_attention_matches_torch_sdpa(causal):
    torch.manual_seed(1)
    model = Transformer(tiny_config(causal=causal)).eval()
    _, cache = run_with_cache(model, torch.randint(0, 200, (2, 11)))
    attn = model.blocks[1].attn
    q, k, v = (cache[f"blocks.1.attn.{n}"] for n in "qkv")
    z = F.scaled_dot_product_attention(q, k, v, is_causal=causal)  # (B, nh, T, hs)
    expected = attn.out(z.transpose(1, 2).reshape(2, 11, 32))
    assert_close(cache["blocks.1.attn.out"], expected, what="explicit vs fused attention")


def test_per_head_contributions_sum_to_the_attention_output(tiny_model):
    _, cache = run_with_cache(tiny_model, torch.randint(0, 200, (1, 8)))
    for layer, block in enumerate(tiny_model.blocks):
        head_out = cache[f"blocks.{layer}.attn.head_out"]  # (B, nh, T, d)
        total = head_out.sum(dim=1) + block.attn.out.bias
        assert_close(total, cache[f"blocks.{layer}.attn.out"], what=f"heads summed, layer {layer}")


def test_pre_norm_residual_stream_adds_attention_then_mlp(tiny_model):
    _, cache = run_with_cache(tiny_model, torch.randint(0, 200, (1, 6)))
    assert_close(cache["blocks.0.resid_pre"], cache["embed.token"] + cache["embed.pos"], what="resid_pre")
    for i in range(2):
        assert_close(cache[f"blocks.{i}.resid_mid"], cache[f"blocks.{i}.resid_pre"] + cache[f"blocks.{i}.attn.out"],
                     what=f"resid_mid {i}")
        assert_close(cache[f"blocks.{i}.resid_post"], cache[f"blocks.{i}.resid_mid"] + cache[f"blocks.{i}.mlp.out"],
                     what=f"resid_post {i}")
    assert_close(cache["blocks.1.resid_pre"], cache["blocks.0.resid_post"], what="resid_pre 1")


def test_future_tokens_do_not_change_earlier_predictions(tiny_model):
    idx = torch.randint(0, 200, (1, 10))
    changed = idx.clone()
    changed[0, -1] = (idx[0, -1] + 1) % 200
    a, _ = run_with_cache(tiny_model, idx)
    b, _ = run_with_cache(tiny_model, changed)
    assert_close(a[:, :-1], b[:, :-1], what="earlier predictions")
    assert_differ(a[:, -1], b[:, -1], what="the last prediction")


def test_bidirectional_post_norm_model_attends_both_ways():
    torch.manual_seed(0)
    model = Transformer(tiny_config(causal=False, norm_placement="post")).eval()
    _, cache = run_with_cache(model, torch.randint(0, 200, (1, 6)))
    pattern = cache["blocks.0.attn.pattern"]
    assert pattern[0, :, 0, 5].min() > 0  # the first token looks at the last one
    assert_close(cache["blocks.0.attn.masked_scores"], cache["blocks.0.attn.scores"], what="nothing masked")


def test_logits_for_chosen_positions_equal_the_full_projection(tiny_model):
    idx = torch.randint(0, 200, (1, 9))
    full, _ = run_with_cache(tiny_model, idx)
    with torch.no_grad():
        last = tiny_model(idx, logit_positions=torch.tensor([8]))
        some = tiny_model(idx, logit_positions=torch.tensor([0, 4]))
    # fewer rows through the projection: another matrix shape, perhaps another kernel
    assert_close(last[0, 0], full[0, 8], what="last position")
    assert_close(some[0], full[0, [0, 4]], what="positions 0 and 4")


def test_restricted_output_vocabulary_scatters_to_full_vocabulary_with_minus_infinity():
    model = Transformer(tiny_config(output_token_ids=(5, 9, 17))).eval()
    with torch.no_grad():
        logits = model(torch.tensor([[1, 2, 3]]))
    full = model.full_vocab_logits(logits)
    assert full.shape == (1, 3, 200)
    np.testing.assert_array_equal(full[..., [5, 9, 17]].numpy(), logits.numpy())  # copied, not computed
    others = torch.ones(200, dtype=torch.bool)
    others[[5, 9, 17]] = False
    assert torch.all(torch.isneginf(full[..., others]))


def test_adaptive_softmax_logits_are_normalised_log_probabilities():
    cfg = tiny_config(output_token_ids=tuple(range(60)), adaptive_cutoffs=(10, 30))
    model = Transformer(cfg).eval()
    with torch.no_grad():
        logits = model(torch.randint(0, 200, (2, 5)))
    assert_close(logits.exp().sum(-1), 1.0, what="probabilities summed")


def test_input_longer_than_context_is_rejected_by_the_module(tiny_model):
    with pytest.raises(ValueError, match="context window of 16"):
        tiny_model(torch.zeros(1, 17, dtype=torch.long))


def test_sinusoidal_positions_follow_the_formula_in_the_source_documents():
    # P(k, 2i) = sin(k / n^(2i/d)), P(k, 2i+1) = cos(k / n^(2i/d)), n = 10000
    table = sinusoidal_positions(50, 4)
    assert table[0].tolist() == [0.0, 1.0, 0.0, 1.0]
    assert_close(table[1, 0], math.sin(1), what="P(1, 0)")  # float32 against float64
    assert_close(table[1, 1], math.cos(1), what="P(1, 1)")
    assert_close(table[2, 2], math.sin(2 / 10000 ** (2 / 4)), what="P(2, 2)")
    assert_close(table[7, 3], math.cos(7 / 10000 ** (2 / 4)), what="P(7, 3)")
    # The worked example often quoted with it: n = 100, d = 4, position k = 1.
    small = sinusoidal_positions(2, 4, base=100)
    assert_close(small[1], [0.84147098, 0.54030231, 0.09983342, 0.99500417], what="n = 100, k = 1")


def test_config_rejects_inconsistent_shapes_with_clear_messages():
    with pytest.raises(ValueError, match="divisible by n_heads"):
        ModelConfig(vocab_size=10, d_model=30, n_heads=4)
    with pytest.raises(ValueError, match="output_token_ids"):
        ModelConfig(vocab_size=10, output_token_ids=(3, 3))
    with pytest.raises(ValueError, match="adaptive_cutoffs"):
        ModelConfig(vocab_size=100, output_token_ids=tuple(range(20)), adaptive_cutoffs=(30,))


def test_config_round_trips_through_json(tmp_path):
    cfg = tiny_config(output_token_ids=tuple(range(60)), adaptive_cutoffs=(10, 30), bos_token_id=2)
    cfg.save(tmp_path / "config.json")
    import json

    assert ModelConfig.from_dict(json.loads((tmp_path / "config.json").read_text())) == cfg
