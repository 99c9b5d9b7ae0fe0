"""Information flow routes as the LLM Transparency Tool computes them (issue #26): one part per
(source token, head), the residual as one more part, L1 proximity clipped and normalised; the
parts of each (layer, token) sum to 1; a dead head carries nothing; the Tool's own arithmetic,
written out here from the module's weights, gives the same numbers."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from model.analysis.flow import TOOL_FLOOR, information_flow
from model.analysis.stepthrough import head_weights
from model.loading import load_tracing_model
from tests.model.test_hf_gpt2 import make_gpt2
from tests.model.test_hf_llama import make as make_llama
from tests.numerics import REL64, assert_close

TEXT = "the cat sat on the mat . the cat sat on the"


@pytest.fixture(scope="module")
def bundled():
    return load_tracing_model("bundled")


def _tool_contributions(parts: torch.Tensor, whole: torch.Tensor, eps: float) -> torch.Tensor:
    """The Tool's get_contributions: parts (P, d), whole (d,) → (P,) summing to 1."""
    distance = (whole - parts).abs().sum(-1)
    kept = (whole.abs().sum() - distance).clip(min=eps)
    return kept / kept.sum()


def _tool_reference(model, trace, layer):
    """The Tool's attention and FFN contributions at ``layer``, from the module's own qkv and
    output weights: decomposed_attn[i, j, h] = A^h_ij (x_j W_V^h) W_O^h (TransformerLens folds
    b_V into b_O, so the parts carry no value bias), then the residual as a one-off part."""
    attn = model.module.blocks[layer].attn
    H, dh, kv = attn.n_heads, attn.d_head, attn.n_kv
    x_in = torch.tensor(trace.attn_in[layer], dtype=torch.float64)  # (T, d): what the heads read
    w_v = attn.qkv.weight.detach().double()[(H + kv) * dh:]  # (kv·dh, d)
    v = (x_in @ w_v.T).view(-1, kv, dh).repeat_interleave(H // kv, dim=1)  # (T, H, dh), no bias
    w_o = attn.out.weight.detach().double().view(-1, H, dh)  # (d, H, dh)
    A = torch.tensor(trace.pattern[layer], dtype=torch.float64)  # (H, T_i, T_j)
    decomposed = torch.einsum("hij,jhk,dhk->ijhd", A, v, w_o)  # (T_i, T_j, H, d)
    pre = torch.tensor(trace.resid_pre[layer], dtype=torch.float64)
    mid = torch.tensor(trace.resid_mid[layer], dtype=torch.float64)
    post = torch.tensor(trace.resid_post[layer], dtype=torch.float64)
    mlp = torch.tensor(trace.mlp_out[layer], dtype=torch.float64)
    T = pre.shape[0]
    c_attn, c_res, c_ffn = np.zeros((T, T, H)), np.zeros(T), np.zeros(T)
    for i in range(T):
        flat = torch.cat([decomposed[i].reshape(T * H, -1), pre[i][None]])
        c = _tool_contributions(flat, mid[i], eps)
        c_attn[i], c_res[i] = c[:-1].view(T, H).numpy(), float(c[-1])
        c_ffn[i] = float(_tool_contributions(torch.stack([mlp[i], mid[i]]), post[i], eps)[0])
    return c_attn, c_res, c_ffn


eps = TOOL_FLOOR


@pytest.mark.parametrize("family", ["bundled", "gpt2", "qwen2-biases-tied", "llama-llama3-untied"])
def test_the_tool_s_arithmetic_gives_the_same_numbers(tmp_path, family, bundled):
    if family == "bundled":
        model = bundled
    else:
        make_gpt2(tmp_path) if family == "gpt2" else make_llama(tmp_path, family)
        model = load_tracing_model(tmp_path)
    trace = model.trace(TEXT)
    graph = information_flow(trace, head_weights(model.module), floor=TOOL_FLOOR)
    for layer in range(trace.n_layers):
        c_attn, c_res, c_ffn = _tool_reference(model, trace, layer)
        assert_close(graph.head_importance[layer], c_attn, 1e-4, scale=1.0, what=f"layer {layer} heads")
        assert_close(graph.residual[layer], c_res, 1e-4, scale=1.0, what=f"layer {layer} residual")
        assert_close(graph.mlp[layer], c_ffn, 1e-4, scale=1.0, what=f"layer {layer} MLP")
        # the Tool's edge: the heads summed, the residual merged into i → i
        edge = c_attn.sum(-1) + np.diag(c_res)
        assert_close(graph.importance[layer], edge, 1e-4, scale=1.0, what=f"layer {layer} edges")


def test_every_token_s_parts_sum_to_one(bundled):
    trace = bundled.trace(TEXT)
    for floor in (0.0, TOOL_FLOOR):
        graph = information_flow(trace, head_weights(bundled.module), floor=floor)
        L, T = trace.n_layers, trace.n_tokens
        assert graph.head_importance.shape == (L, T, T, trace.n_heads)
        parts = graph.head_importance.sum((-1, -2)) + graph.residual
        assert_close(parts, np.ones((L, T)), REL64, scale=1.0, what="Σ_jh imp + imp(residual)")
        assert_close(graph.importance.sum(-1), np.ones((L, T)), REL64, scale=1.0, what="edges into each token")
        assert ((graph.mlp >= 0) & (graph.mlp <= 1)).all()
    # the paper's clip gives a later token exactly nothing
    assert (np.triu(graph.importance, 1) > 0).any()  # the Tool's floor does give it a sliver
    assert (np.triu(information_flow(trace, head_weights(bundled.module)).importance, 1) == 0).all()


def test_a_dead_head_carries_nothing(bundled):
    """Head 2 of layer 1 really knocked out in the model (its W_O columns zeroed): the trace it
    makes has no part from that head, anywhere."""
    module = bundled.module
    attn = module.blocks[1].attn
    cols = slice(2 * attn.d_head, 3 * attn.d_head)
    saved = attn.out.weight.detach()[:, cols].clone()
    try:
        with torch.no_grad():
            attn.out.weight[:, cols] = 0.0
        bundled.forget_last_trace()
        trace = bundled.trace(TEXT)
        graph = information_flow(trace, head_weights(module))
    finally:
        with torch.no_grad():
            attn.out.weight[:, cols] = saved
        bundled.forget_last_trace()
    assert (graph.head_importance[1, :, :, 2] == 0).all()
    assert (graph.head_importance[1].sum((0, 1)) > 0).sum() == trace.n_heads - 1
    assert not (graph.top_head[1][graph.importance[1] > 0] == 2).any()


def test_a_hand_built_case_two_heads():
    """One layer, two tokens, two heads, d = 2. Token 1 reads token 0 with head 0 and itself
    with head 1; the numbers follow the formula by hand."""
    v = np.array([[[[1.0, 0.0], [0.0, 0.0]], [[0.0, 0.0], [0.0, 1.0]]]])  # (L, H, T, dh)
    pattern = np.array([[[[1.0, 0.0], [1.0, 0.0]], [[1.0, 0.0], [0.0, 1.0]]]])  # (L, H, T_i, T_j)
    w_o = (np.stack([np.eye(2), 2 * np.eye(2)]),)  # head 1 writes twice its value
    x = np.array([[[1.0, 1.0], [0.0, 2.0]]])
    # token 1: head 0 brings (1, 0) from token 0, head 1 brings 2·(0, 1) from itself
    y = x.copy()
    y[0, 0] += [1.0, 0.0]  # token 0 reads itself with head 0; head 1 reads token 0's zero value
    y[0, 1] += [1.0, 0.0] + np.array([0.0, 2.0])
    trace = SimpleNamespace(v=v, pattern=pattern, resid_pre=x, resid_mid=y, attn_out=y - x, text="a b")
    graph = information_flow(trace, SimpleNamespace(w_o=w_o))
    y1 = y[0, 1]  # (1, 4): ‖y‖₁ = 5
    prox = {"h0 from 0": 5 - np.abs(y1 - [1, 0]).sum(), "h1 from 1": 5 - np.abs(y1 - [0, 2]).sum(),
            "residual": 5 - np.abs(y1 - x[0, 1]).sum()}  # 1, 2, 2
    total = sum(prox.values())
    assert graph.head_importance[0, 1, 0, 0] == pytest.approx(prox["h0 from 0"] / total)
    assert graph.head_importance[0, 1, 1, 1] == pytest.approx(prox["h1 from 1"] / total)
    assert graph.residual[0, 1] == pytest.approx(prox["residual"] / total)
    assert graph.head_importance[0, 1, 0, 1] == 0 and graph.head_importance[0, 1, 1, 0] == 0
    assert graph.importance[0, 1, 1] == pytest.approx((prox["h1 from 1"] + prox["residual"]) / total)
    assert graph.top_head[0, 1, 0] == 0 and graph.top_head[0, 1, 1] == 1
    assert graph.head_shares(0, 1, 1) == pytest.approx([0.0, 1.0])


def test_tracing_back_follows_paths_and_stops_where_they_end(bundled):
    trace = bundled.trace(TEXT)
    graph = information_flow(trace, head_weights(bundled.module))
    last = trace.n_tokens - 1
    edges = graph.traced_back(-1, threshold=0.04)
    assert edges and all(imp > 0.04 for *_, imp, _ in edges)
    # every edge leads into a token reached from the layer above (the last: the selected token)
    by_layer: dict[int, set[int]] = {}
    for layer, source, _target, _imp, _head in edges:
        by_layer.setdefault(layer, set()).add(source)
    for layer, _source, target, _imp, _head in edges:
        reached = {last} if layer == trace.n_layers - 1 else by_layer.get(layer + 1, set())
        assert target in reached
    # a threshold no edge passes leaves nothing; one below every edge keeps the whole causal cone
    assert graph.traced_back(-1, threshold=1.0) == []
    everything = graph.traced_back(-1, threshold=-1.0)
    T = trace.n_tokens
    assert len(everything) == T + (trace.n_layers - 1) * T * T  # the top layer: edges into the token only


def test_renormalised_drops_small_parts_and_sums_to_one(bundled):
    trace = bundled.trace(TEXT)
    graph = information_flow(trace, head_weights(bundled.module)).renormalised(0.05)
    kept = graph.head_importance[graph.head_importance > 0]
    assert kept.size and (kept > 0.05).all()
    assert_close(graph.importance.sum(-1), np.ones(graph.importance.shape[:2]), REL64, scale=1.0, what="rows")
