from __future__ import annotations

import numpy as np
import torch

from model.analysis.heads import (
    attention_patterns,
    first_token_scores,
    induction_scores,
    measure_head_roles,
    previous_token_scores,
)
from model.core.transformer import Transformer
from tests.model.conftest import tiny_config
from tests.numerics import REL64, assert_close


def one_head(pattern: np.ndarray) -> np.ndarray:
    return pattern[None, None]  # (L=1, H=1, T, T)


def test_a_pure_previous_token_head_scores_one():
    T = 6
    pattern = np.zeros((T, T))
    pattern[0, 0] = 1
    pattern[np.arange(1, T), np.arange(T - 1)] = 1
    assert_close(previous_token_scores(one_head(pattern))[0, 0], 1.0, REL64, what="previous-token score")
    assert_close(first_token_scores(one_head(pattern))[0, 0], 1 / 5, REL64, what="first-token score")  # only query 1 hits key 0


def test_a_uniform_causal_head_scores_the_hand_computed_average():
    T = 4
    pattern = np.tril(np.ones((T, T)))
    pattern /= pattern.sum(1, keepdims=True)
    # queries 2, 3 give weight 1/3 and 1/4 to their previous token
    assert_close(previous_token_scores(one_head(pattern))[0, 0], (1 / 3 + 1 / 4) / 2, REL64, what="previous-token score")
    # queries 1, 2, 3 give 1/2, 1/3, 1/4 to the first token
    assert_close(first_token_scores(one_head(pattern))[0, 0], (1 / 2 + 1 / 3 + 1 / 4) / 3, REL64, what="first-token score")


def test_a_perfect_induction_head_scores_one():
    prefix, n = 1, 5
    T = prefix + 2 * n
    pattern = np.zeros((T, T))
    pattern[:, 0] = 1.0  # everything else looks at BOS
    for j in range(n - 1):
        q, k = prefix + n + j, prefix + 1 + j
        pattern[q] = 0
        pattern[q, k] = 1.0
    assert_close(induction_scores(one_head(pattern), prefix, n)[0, 0], 1.0, REL64, what="induction score")
    assert induction_scores(one_head(np.tril(np.ones((T, T))) / np.arange(1, T + 1)[:, None]), prefix, n)[0, 0] < 0.2


def test_scores_average_over_a_batch_and_keep_layer_head_shape():
    patterns = np.random.default_rng(0).dirichlet(np.ones(5), size=(3, 2, 4, 5))  # (B, L, H, T, T)
    assert previous_token_scores(patterns).shape == (2, 4)
    assert first_token_scores(patterns).shape == (2, 4)


def test_measure_head_roles_on_a_model():
    torch.manual_seed(0)
    model = Transformer(tiny_config(bos_token_id=2, n_ctx=32)).eval()
    roles = measure_head_roles(model, [np.array([2, 10, 11, 12, 13, 14])], np.arange(5, 150), repeat_length=8,
                               n_random=4)
    assert roles.previous_token.shape == roles.induction.shape == (2, 4)
    patterns = attention_patterns(model, torch.tensor([[2, 10, 11, 12, 13, 14]]))
    assert_close(roles.previous_token, previous_token_scores(patterns), what="previous-token scores")
    assert np.all((roles.induction >= 0) & (roles.induction <= 1))
