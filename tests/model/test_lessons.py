"""Every number printed in the source documents' worked examples, reproduced."""

from __future__ import annotations

import numpy as np

from model.teaching.lessons import Gpt3Counts, three_token_qkv_example, your_journey_example
from tests.numerics import assert_close, assert_printed


def test_three_token_example_keys_queries_values():
    ex = three_token_qkv_example()  # 002_08f3fb67761a549c.txt
    assert ex.keys.tolist() == [[0, 1, 1], [4, 4, 0], [2, 3, 1]]
    assert ex.queries.tolist() == [[1, 0, 2], [2, 2, 2], [2, 1, 3]]
    assert ex.values.tolist() == [[1, 2, 3], [2, 8, 0], [2, 6, 3]]
    assert ex.scores.tolist() == [[2, 4, 4], [4, 16, 12], [4, 12, 10]]


def test_three_token_example_softmax_as_printed():
    printed = np.array(
        [
            [6.3379e-02, 4.6831e-01, 4.6831e-01],
            [6.0337e-06, 9.8201e-01, 1.7986e-02],
            [2.9539e-04, 8.8054e-01, 1.1917e-01],
        ]
    )
    assert_printed(ex_weights := three_token_qkv_example().weights, printed, figures=5, what="softmax")
    assert_close(ex_weights.sum(1), 1.0, what="row sums")


def test_three_token_example_weighted_values_with_the_rounded_weights():
    # The document rounds the weights to [[0, .5, .5], [0, 1, 0], [0, .9, .1]] before step 2-6.
    ex = three_token_qkv_example()
    rounded = np.array([[0.0, 0.5, 0.5], [0.0, 1.0, 0.0], [0.0, 0.9, 0.1]])
    weighted = ex.values[:, None] * rounded.T[:, :, None]
    assert_close(weighted[1], [[1, 4, 0], [2, 8, 0], [1.8, 7.2, 0]], what="weighted values 2")
    assert_close(weighted[2], [[1, 3, 1.5], [0, 0, 0], [0.2, 0.6, 0.3]], what="weighted values 3")
    assert_close(ex.outputs, ex.weights @ ex.values, what="outputs")


def test_your_journey_attention_scores_for_journey():
    ex = your_journey_example()  # 003_d7d4370ea74ca8e0.txt
    assert ex.tokens[1] == "journey"
    assert_printed(ex.scores[1], [0.9544, 1.4950, 1.4754, 0.8434, 0.7070, 1.0865], places=4, what="ω2")
    assert_printed(ex.scores[1, 0], 0.9544, places=4, what="ω21")  # the dot-product aside


def test_your_journey_normalised_weights():
    ex = your_journey_example()
    # as printed in the book: ω normalised by its sum, then by softmax
    assert_printed(ex.weights_by_sum[1], [0.1455, 0.2278, 0.2249, 0.1285, 0.1077, 0.1656], places=4, what="by sum")
    assert_printed(ex.weights[1], [0.1385, 0.2379, 0.2333, 0.1240, 0.1082, 0.1581], places=4, what="softmax")
    assert_close(ex.weights[1].sum(), 1.0, what="softmax summed")
    assert_printed(ex.context[1], [0.4419, 0.6515, 0.5683], places=4, what="z(2)")


def test_gpt3_parameter_counts_from_the_3blue1brown_notes():
    gpt3 = Gpt3Counts()
    assert gpt3.embedding_weights == 617_558_016  # "6.17亿"
    assert gpt3.weights_per_head == 6_291_456  # "约630w"
    assert gpt3.weights_per_attention_layer == 603_979_776  # "约6亿"
    assert gpt3.low_rank_value_map == 12288 * 128 * 2
    assert gpt3.attention_pattern_cells == 2048**2
