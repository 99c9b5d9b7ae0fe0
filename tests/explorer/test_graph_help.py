"""The contribution graph's help states the formula model/analysis/flow.py computes (issue
#26): recomputing one layer's edges by the words of the help gives the graph's numbers."""

from __future__ import annotations

import numpy as np

from explorer.views.graph import GraphPanel
from model.analysis.flow import information_flow
from model.core.paths import BUNDLED
from model.loading import load_tracing_model
from tests.numerics import assert_close


def test_the_help_states_the_formula_the_graph_computes(qtbot):
    panel = GraphPanel()
    qtbot.addWidget(panel)
    help_text = panel.view.toolTip()
    for piece in ("Ferrando & Voita 2024", "LLM Transparency Tool", "c_ij^h = A_ij^h · (v_j^h − b_V^h) W_O^h",
                  "prox(z) = max(0, ‖y_i‖₁ − ‖y_i − z‖₁)", "add up to 1", "Σ_h", "1e-5"):
        assert piece in help_text, piece
    # the help's recipe, step by step, for one layer of the bundled model
    model = load_tracing_model(BUNDLED)
    trace = model.trace("the cat sat on the mat and the cat")
    hw = model.info().head_weights
    graph = information_flow(trace, hw)
    layer, i = 2, trace.n_tokens - 1

    x = trace.resid_pre[layer, i].astype(np.float64)
    y = x + trace.attn_out[layer, i].astype(np.float64)
    v = trace.v[layer].astype(np.float64) - hw.b_v[layer][:, None, :]  # (H, T, dh)
    c = trace.pattern[layer, :, i, :, None].astype(np.float64) * (v @ hw.w_o[layer].astype(np.float64))  # (H, T, d)

    def prox(z):
        return np.maximum(0.0, np.abs(y).sum(-1) - np.abs(y - z).sum(-1))

    parts = prox(c)  # (H, T)
    parts[trace.pattern[layer, :, i] == 0] = 0.0
    total = prox(x) + parts.sum()
    edges = parts.sum(0) / total
    edges[i] += prox(x) / total
    assert_close(graph.importance[layer, i], edges, 1e-4, what="edges j → i by the help's formula")
    assert graph.top_head[layer, i, int(np.argmax(edges[:i]))] == int(np.argmax(parts[:, int(np.argmax(edges[:i]))]))
