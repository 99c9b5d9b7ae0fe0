"""The largest products in two halves on two threads (model/core/halves.py): the same numbers
as on one thread, and the second half really computed on the helper.

Tolerances: a product in row pieces (8- and 16-bit layers) is cut between pieces, each piece
computed as it would be alone, so it is compared exactly. A plain float32 matrix cut in two
runs another kernel shape, which may round differently: float32's tolerance of the values'
scale (tests/numerics.py)."""

from __future__ import annotations

import threading

import pytest
import torch
from torch import nn

from model.core import halves
from model.core.int8 import PIECE_PARAMETERS, Fp16Linear, Int8Linear
from tests.numerics import assert_close


@pytest.fixture
def helper():
    was = halves.helper_on()
    halves.use_helper(True)
    yield
    halves.use_helper(was)


def output_matrix(rows: int = 16_384, d: int = 640) -> nn.Linear:
    """As large as the split needs (≥ MIN_SPLIT_WEIGHTS), in several row pieces."""
    torch.manual_seed(0)
    linear = nn.Linear(d, rows, bias=False)
    assert linear.weight.numel() >= halves.MIN_SPLIT_WEIGHTS and linear.weight.numel() > 2 * PIECE_PARAMETERS
    return linear


@pytest.mark.parametrize("kind", [Fp16Linear, Int8Linear])
def test_low_bit_products_are_the_same_with_the_helper(kind, helper):
    layer = kind(output_matrix())
    x = torch.randn(3, 640)
    with torch.inference_mode():
        halved = layer(x)
        halves.use_helper(False)
        alone = layer(x)
    assert torch.equal(halved, alone)


def test_a_float32_matrix_in_halves_equals_the_whole(helper):
    linear = output_matrix()
    x = torch.randn(2, 640)
    with torch.inference_mode():
        assert_close(halves.linear(x, linear.weight), torch.nn.functional.linear(x, linear.weight))
        bias = torch.randn(linear.out_features)
        assert_close(halves.linear(x, linear.weight, bias), torch.nn.functional.linear(x, linear.weight, bias))


def test_the_second_half_runs_on_the_helper_under_the_callers_inference_mode(helper, monkeypatch):
    seen = []
    real = torch.nn.functional.linear

    def spy(x, weight, bias=None):
        seen.append((threading.current_thread().name, torch.is_inference_mode_enabled(), weight.shape[0]))
        return real(x, weight, bias)

    monkeypatch.setattr(halves.F, "linear", spy)
    linear = output_matrix()
    with torch.inference_mode():
        out = halves.linear(torch.randn(1, 640), linear.weight)
    assert not out.requires_grad
    assert len(seen) == 2 and {rows for _, _, rows in seen} == {linear.out_features // 2}
    assert any(name.startswith("product-half") for name, _, _ in seen)
    assert all(inference for _, inference, _ in seen)


def test_small_products_stay_on_the_calling_thread(helper, monkeypatch):
    calls = []
    monkeypatch.setattr(halves.F, "linear", lambda x, w, b=None: calls.append(threading.current_thread().name) or x @ w.T)
    halves.linear(torch.randn(1, 64), torch.randn(128, 64))
    assert calls == [threading.current_thread().name]


def test_the_app_turns_the_helper_on_only_for_one_torch_thread_on_two_or_more_cores(monkeypatch):
    from explorer.runtime import use_product_helper

    monkeypatch.setattr("os.cpu_count", lambda: 2)
    assert use_product_helper(1) and not use_product_helper(2)
    monkeypatch.setattr("os.cpu_count", lambda: 1)
    assert not use_product_helper(1)
