"""The contribution graph (information flow routes, issue #26)."""

from __future__ import annotations

import numpy as np
import pytest

from model.analysis.flow import information_flow
from model.analysis.stepthrough import head_weights
from model.loading import load_tracing_model

TEXT = "the cat sat on the mat . the cat sat on the"


@pytest.fixture(scope="module")
def bundled():
    return load_tracing_model("bundled")


def test_each_target_s_importances_sum_to_one_and_nothing_flows_from_the_future(bundled):
    trace = bundled.trace(TEXT)
    graph = information_flow(trace, head_weights(bundled.module))
    L, T, _ = graph.importance.shape
    assert (L, T) == (trace.n_layers, trace.n_tokens)
    sums = graph.importance.sum(-1)
    assert np.allclose(sums[sums > 0], 1.0, atol=1e-9) and (sums > 0).all()
    assert (np.triu(graph.importance, k=1) == 0).all()  # a causal model reads no later token
    assert (graph.importance >= 0).all()


def test_a_hand_built_case_follows_the_formula():
    """One layer, one head, two tokens; the attention block's output at token 1 is all from
    token 0: the edge 0 -> 1 carries what it should by the L1-proximity rule."""
    from types import SimpleNamespace

    v = np.array([[[[1.0, 0.0], [0.0, 1.0]]]])  # (L, H, T, dh)
    pattern = np.array([[[[1.0, 0.0], [1.0, 0.0]]]])  # token 1 looks only at token 0
    x = np.array([[[0.0, 0.0], [0.0, 2.0]]])  # resid_pre (L, T, d)
    w_o = (np.eye(2)[None],)  # (H, dh, d) per layer
    c = np.array([1.0, 0.0])  # c_10 = v_0 W_O
    y = x.copy()
    y[0, 1] += c
    trace = SimpleNamespace(v=v, pattern=pattern, resid_pre=x, resid_mid=y, text="a b")
    graph = information_flow(trace, SimpleNamespace(w_o=w_o))
    y1 = y[0, 1]
    prox_src = max(0.0, np.abs(y1).sum() - np.abs(y1 - c).sum())  # 3 − 2 = 1
    prox_self = max(0.0, np.abs(y1).sum() - np.abs(y1 - x[0, 1]).sum())  # 3 − 1 = 2
    assert graph.importance[0, 1, 0] == pytest.approx(prox_src / (prox_src + prox_self))
    assert graph.importance[0, 1, 1] == pytest.approx(prox_self / (prox_src + prox_self))


def test_a_knocked_out_head_carries_nothing(bundled):
    trace = bundled.trace(TEXT)
    weights = head_weights(bundled.module)
    from model.core.info import HeadWeights

    silent = HeadWeights(**{**weights.__dict__, "w_o": tuple(
        np.where(np.arange(w.shape[0])[:, None, None] == 2, 0.0, w) if layer == 2 else w
        for layer, w in enumerate(weights.w_o))})
    graph = information_flow(trace, silent)
    T = trace.n_tokens
    off_diagonal = ~np.eye(T, dtype=bool)
    assert not (graph.top_head[2][off_diagonal & (graph.importance[2] > 0)] == 2).any()


def test_tracing_back_keeps_only_edges_above_the_threshold_into_what_it_reaches(bundled):
    trace = bundled.trace(TEXT)
    graph = information_flow(trace, head_weights(bundled.module))
    edges = graph.traced_back(-1, threshold=0.05)
    assert edges and all(imp > 0.05 for *_, imp, _h in edges)
    last = trace.n_tokens - 1
    assert any(target == last for _layer, _source, target, _imp, _head in edges)
