"""8-bit weights (model/core/int8.py): close to float32, exact float32 on demand, fidelity measured."""

from __future__ import annotations

import copy

import pytest
import torch

from model.analysis.fidelity import measure
from model.core.int8 import Int8Linear, exact_float32, input_peaks, int8_layers, to_int8
from model.core.transformer import Transformer
from tests.model.conftest import tiny_config
from tests.numerics import assert_close, scale_of


@pytest.fixture
def pair():
    torch.manual_seed(0)
    reference = Transformer(tiny_config()).eval()
    converted = copy.deepcopy(reference)
    texts = [torch.randint(0, reference.cfg.vocab_size, (n,)).tolist() for n in (5, 9, 14)]
    to_int8(converted, input_peaks(converted, texts))
    return reference, converted


def test_every_block_linear_and_the_unembedding_become_int8(pair):
    _, converted = pair
    layers = int8_layers(converted)
    L = converted.cfg.n_layers
    assert len(layers) == 4 * L + 1  # qkv, out, fc, proj per block + the unembedding
    assert isinstance(converted.unembed, Int8Linear)


def test_int8_logits_are_near_float32_and_exact_float32_gives_float32_back(pair):
    reference, converted = pair
    idx = torch.randint(0, reference.cfg.vocab_size, (1, 12))
    with torch.inference_mode():
        want = reference(idx)
        got = converted(idx)
        with exact_float32(converted):
            exact = converted(idx)
        again = converted(idx)
    # 8-bit weights and inputs: each product carries ~1% error; the logits stay within 10% of their scale
    err = float((got - want).abs().max())
    assert 0 < err < 0.1 * scale_of(want)
    # The float path multiplies by the very same float32 weights: equal to float32 rounding
    assert_close(exact, want, rel=1e-5, what="exact_float32 logits")
    assert torch.equal(again, got)  # the int8 path is back after the block


def test_one_row_at_a_time_matches_a_whole_pass_closely(pair):
    """Typing runs one new row per linear; a full pass runs many: both quantise each call's
    input from its own range, so they agree closely but not bit for bit."""
    _, converted = pair
    layer = int8_layers(converted)[0]
    x = torch.randn(6, layer.in_features)
    whole = layer(x)
    rows = torch.cat([layer(x[i : i + 1]) for i in range(6)])
    assert_close(rows, whole, rel=0.05, what="row by row vs whole")


def test_an_outlier_row_does_not_spoil_the_others(pair):
    _, converted = pair
    layer = int8_layers(converted)[1]
    torch.manual_seed(1)
    x = torch.randn(5, layer.in_features)
    exact = torch.nn.functional.linear(x, layer.weight, layer.bias)
    spiked = x.clone()
    spiked[0] *= 300.0  # a "massive activation" row, as a pretrained decoder's first token has
    y = layer(spiked)
    assert_close(y[1:], exact[1:], rel=0.05, what="ordinary rows beside an outlier row")


def test_fidelity_of_an_unconverted_model_is_perfect_and_of_a_converted_one_is_measured(pair):
    reference, converted = pair
    texts = [torch.randint(0, reference.cfg.vocab_size, (n,)).tolist() for n in (7, 11)]
    exact = measure(reference, texts)
    assert exact.top1_agreement == 1.0 and exact.max_pattern_diff == 0.0 and exact.mean_kl == 0.0
    approx = measure(converted, texts)
    assert approx.positions == 18
    assert 0.0 < approx.mean_kl <= approx.max_kl
    assert 0.0 < approx.max_pattern_diff < 1.0
    assert "top-1 agreement" in approx.summary()
