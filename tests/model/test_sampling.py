from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from model.core.sampling import (
    entropy_bits,
    next_token_distribution,
    sample_token,
    softmax_with_temperature,
    top_k_mask,
    top_p_mask,
)
from tests.numerics import REL64, assert_close

LOGITS = np.array([2.0, 1.0, 0.5, 3.0, -1.0])


def test_temperature_zero_is_exact_greedy():
    probs = softmax_with_temperature(LOGITS, 0.0)
    assert probs.tolist() == [0.0, 0.0, 0.0, 1.0, 0.0]


def test_temperature_zero_breaks_ties_on_the_lowest_id():
    assert softmax_with_temperature(np.array([1.0, 5.0, 5.0]), 0).tolist() == [0.0, 1.0, 0.0]


def test_small_temperature_approaches_one_hot():
    probs = softmax_with_temperature(LOGITS, 0.01)
    assert probs[3] > 0.999999


def test_temperature_one_is_plain_softmax():
    expected = np.exp(LOGITS) / np.exp(LOGITS).sum()
    assert_close(softmax_with_temperature(LOGITS, 1.0), expected, REL64, what="softmax")


def test_large_temperature_approaches_uniform():
    probs = softmax_with_temperature(LOGITS, 1e6)
    # not uniform to rounding: each logit / T moves its probability by about 0.2 · 3e-6
    assert_close(probs, 0.2, 1e-5, what="probabilities")
    # the entropy's shortfall is second order in that: about 1e-12 bits
    assert_close(entropy_bits(probs), np.log2(5), 1e-9, what="entropy")


def test_higher_temperature_flattens():
    entropies = [entropy_bits(softmax_with_temperature(LOGITS, t)) for t in (0.25, 0.5, 1, 1.5, 2)]
    assert entropies == sorted(entropies)


def test_tokens_the_model_cannot_produce_stay_at_zero():
    logits = np.array([1.0, -np.inf, 0.0])
    for t in (0, 0.5, 1, 100):
        assert softmax_with_temperature(logits, t)[1] == 0.0


def test_invalid_input_is_explained():
    with pytest.raises(ValueError, match="temperature"):
        softmax_with_temperature(LOGITS, -1)
    with pytest.raises(ValueError, match="no token"):
        softmax_with_temperature(np.full(3, -np.inf), 1)


@settings(max_examples=200, deadline=None)
@given(
    arrays(np.float64, st.integers(1, 50), elements=st.floats(-50, 50)),
    st.floats(0, 5),
)
def test_probabilities_sum_to_one_at_every_temperature(logits, temperature):
    probs = softmax_with_temperature(logits, temperature)
    assert_close(probs.sum(), 1.0, REL64, what="sum")  # at most 50 float64 terms
    assert (probs >= 0).all()


def test_top_k_keeps_exactly_the_k_largest():
    probs = softmax_with_temperature(LOGITS, 1)
    assert np.flatnonzero(top_k_mask(probs, 2)).tolist() == [0, 3]
    assert top_k_mask(probs, None).all() and top_k_mask(probs, 99).all()


def test_top_k_ties_are_cut_deterministically():
    probs = np.array([0.25, 0.25, 0.25, 0.25])
    assert np.flatnonzero(top_k_mask(probs, 2)).tolist() == [0, 1]


def test_top_p_keeps_the_smallest_set_reaching_p():
    probs = np.array([0.15, 0.5, 0.05, 0.3])
    assert np.flatnonzero(top_p_mask(probs, 0.5)).tolist() == [1]
    assert np.flatnonzero(top_p_mask(probs, 0.8)).tolist() == [1, 3]
    assert np.flatnonzero(top_p_mask(probs, 0.81)).tolist() == [0, 1, 3]
    assert np.flatnonzero(top_p_mask(probs, 0.01)).tolist() == [1]
    assert top_p_mask(probs, 1.0).all()


def test_distribution_renormalises_what_the_cuts_keep():
    dist = next_token_distribution(LOGITS, temperature=1.0, top_k=3, top_p=0.9)
    tempered = softmax_with_temperature(LOGITS, 1.0)
    assert np.flatnonzero(dist.kept).tolist() == [0, 1, 3]
    assert_close(dist.kept_mass, tempered[[0, 1, 3]].sum(), REL64, what="kept mass")
    assert_close(dist.probs.sum(), 1.0, REL64, what="sum")
    assert dist.probs[2] == 0 and dist.probs[4] == 0


def test_seeded_sampling_is_reproducible():
    probs = softmax_with_temperature(LOGITS, 1)
    a = [sample_token(probs, r) for r in [np.random.default_rng(42)] for _ in range(50)]
    rng = np.random.default_rng(42)
    b = [sample_token(probs, rng) for _ in range(50)]
    assert a == b and len(set(a)) > 1


def test_samples_match_the_softmax_within_a_chi_square_bound():
    probs = softmax_with_temperature(LOGITS, 1.0)
    rng = np.random.default_rng(2024)
    n = 5000
    counts = np.bincount([sample_token(probs, rng) for _ in range(n)], minlength=5)
    expected = probs * n
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    assert chi2 < 18.47  # 99.9th percentile of chi-square with 4 degrees of freedom


def test_sampling_never_returns_a_zero_probability_token():
    probs = np.array([0.0, 0.5, 0.0, 0.5, 0.0])
    rng = np.random.default_rng(0)
    assert {sample_token(probs, rng) for _ in range(500)} == {1, 3}
