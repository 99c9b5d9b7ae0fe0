"""One head's attention for one query, stage by stage, recomputed from a Trace and the head's
own weights (never by running the model), in the source documents' order:

    x  →  q = x W_Q, k_j = x_j W_K  →  q·k_j  →  ÷√d_head  →  mask (−∞)  →  softmax
       →  v_j = x_j W_V, Σ w_j v_j  →  ΔE = (Σ w_j v_j) W_O

:func:`head_weights` reads the per-head matrices out of a loaded :class:`Transformer` once
per load (they travel to the GUI inside :class:`~model.core.info.ModelInfo`);
:func:`head_steps` is then pure NumPy and fast enough for every keystroke.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from model.core.info import HeadWeights
from model.core.trace import Trace

if TYPE_CHECKING:  # torch is imported where it is used: the window imports this module before torch
    import torch

    from model.core.config import ModelConfig
    from model.core.transformer import Transformer

#: How many tokens :func:`head_steps` lists as "ΔE raises these most".
TOP_TOKENS = 8


def _numpy(t: torch.Tensor) -> np.ndarray:
    """A float32 CPU view of a parameter (a copy only when it lives elsewhere or in another dtype)."""
    import torch

    return t.detach().to("cpu", torch.float32).numpy()


def try_head_weights(module: Transformer, embedding_table: np.ndarray | None = None) -> HeadWeights | None:
    """:func:`head_weights`, or None for a model whose attention is not laid out as this
    module expects (the step-through view then says its heads cannot be read)."""
    try:
        return head_weights(module, embedding_table)
    except (AttributeError, ValueError, RuntimeError, TypeError):
        return None


def head_weights(module: Transformer, embedding_table: np.ndarray | None = None) -> HeadWeights:
    """Every head's W_Q, W_K, W_V (d × dh), biases, W_O (dh × d) and the unembedding rows.

    ``embedding_table``: the (V, d) table the caller already holds, reused as the
    unembedding of a model that ties the two (so GPT-2's 154 MB table is not kept twice).
    """
    cfg = module.cfg
    if cfg.qk_norm:
        raise ValueError("q and k are normalised per head before the scores (Qwen3): not x·W")
    layers = []
    for block in module.blocks:
        attn = block.attn
        layers.append((
            _numpy(attn.qkv.weight), _numpy(attn.qkv.bias) if attn.qkv.bias is not None else None,
            _numpy(attn.out.weight), _numpy(attn.out.bias) if attn.out.bias is not None else None,
        ))
    return head_weights_of(cfg, layers, _unembedding(module, embedding_table))


def head_weights_of(cfg: ModelConfig, layers, unembedding) -> HeadWeights:
    """:func:`head_weights` from plain arrays, without a module (the NumPy start-up path,
    :mod:`model.tracer.numpy_forward`, gives the weights file's): ``layers`` holds per block the
    fused (rows, d) ``attn.qkv.weight`` and its bias, the (d, H·dh) ``attn.out.weight`` and
    its bias (None: no bias), as ``nn.Linear`` stores them; ``unembedding`` is
    (rows, ids, note) as :func:`_unembedding` gives it."""
    if cfg.qk_norm:
        raise ValueError("q and k are normalised per head before the scores (Qwen3): not x·W")
    C, H, hs, KV = cfg.d_model, cfg.n_heads, cfg.d_head, cfg.kv_heads
    w_q, w_k, w_v, b_q, b_k, b_v, w_o, b_o = ([] for _ in range(8))
    heads = (H, KV, KV)  # rows of the fused projection: all query heads, then K and V per kv head
    for weight, bias, out, out_bias in layers:
        rows_total = weight.shape[0]  # (rows, C): nn.Linear computes x @ weight.T
        bias = bias if bias is not None else np.zeros(rows_total, np.float32)
        start = 0
        for n_heads, (w_list, b_list) in zip(heads, ((w_q, b_q), (w_k, b_k), (w_v, b_v)), strict=True):
            rows = weight[start:start + n_heads * hs]  # (n·hs, C)
            w_list.append(rows.reshape(n_heads, hs, C).transpose(0, 2, 1))  # (n, C, hs)
            b_list.append(bias[start:start + n_heads * hs].reshape(n_heads, hs))  # (n, hs)
            start += n_heads * hs
        # out: (C_out, H·hs), its input columns grouped by head
        w_o.append(out.reshape(C, H, hs).transpose(1, 2, 0))  # (H, hs, C)
        b_o.append(out_bias if out_bias is not None else np.zeros(C, np.float32))
    unembed, ids, note = unembedding
    norm = "none" if not cfg.layer_norm else cfg.norm_placement
    return HeadWeights(
        tuple(w_q), tuple(w_k), tuple(w_v), tuple(b_q), tuple(b_k), tuple(b_v), tuple(w_o), tuple(b_o),
        scaled=cfg.scale_scores, norm=norm, unembed=unembed, unembed_ids=ids, unembed_note=note,
        kv_group=H // KV,
    )


def tied_adaptive_unembedding(cfg: ModelConfig, shortlist_table: np.ndarray, proj0: np.ndarray):
    """(rows, ids, note) of a :class:`~model.core.transformer.TiedAdaptiveSoftmax`: the shortlist's
    logits are E[v] · (P₀ h), so row v of E P₀ is token v's direction in the residual.
    ``shortlist_table``: the embedding rows of the n shortlist outputs (n, d_embed);
    ``proj0``: P₀ as ``nn.Linear`` stores it (d_embed, d_model). Computed in float64."""
    n = shortlist_table.shape[0]
    rows = (shortlist_table.astype(np.float64) @ proj0.astype(np.float64)).astype(np.float32)
    note = f"among the {n} most frequent output tokens (their embedding rows through the output projection)"
    return rows, _output_ids(cfg, n), note


def _output_ids(cfg: ModelConfig, n_rows: int) -> np.ndarray:
    out_ids = cfg.output_token_ids
    return np.asarray(out_ids[:n_rows] if out_ids is not None else range(n_rows), dtype=np.int64)


def _unembedding(module: Transformer, table: np.ndarray | None):
    cfg = module.cfg
    head = module.unembed
    if head is None:
        return None, None, "this model has no language-model head"
    from torch import nn

    from model.core.transformer import TiedAdaptiveSoftmax

    if isinstance(head, TiedAdaptiveSoftmax):
        n = head.shortlist_size
        return tied_adaptive_unembedding(cfg, _numpy(module.output_table()[:n]), _numpy(head.proj[0].weight))
    if isinstance(head, nn.AdaptiveLogSoftmaxWithLoss):
        n = head.shortlist_size
        rows, note = _numpy(head.head.weight)[:n], f"among the {n} most frequent output tokens"
    elif cfg.tie_embeddings and table is not None:
        rows, note = table, "tied to the embedding table"
    else:
        rows, note = _numpy(head.weight), ""
    return rows, _output_ids(cfg, rows.shape[0]), note


@dataclass(frozen=True, eq=False)
class HeadSteps:
    """Every stage of head ``head`` of layer ``layer`` for query position ``query``.

    Shapes: T tokens, d = d_model, dh = d_head. Vectors are float64.
    """

    layer: int
    head: int
    query: int
    tokens: tuple[str, ...]
    causal: bool
    embed: np.ndarray | None  # (T, d) E + P, at layer 0 only
    x: np.ndarray  # (T, d) the rows the head reads
    x_formula: str  # how x was made: "LN(E + P)", "E + P", "LN(resid)", "resid"
    w_q: np.ndarray  # (d, dh)
    w_k: np.ndarray
    w_v: np.ndarray
    b_q: np.ndarray  # (dh,)
    b_k: np.ndarray
    b_v: np.ndarray
    w_o: np.ndarray  # (dh, d)
    q: np.ndarray  # (dh,) the query's query vector
    k: np.ndarray  # (T, dh) every key vector
    v: np.ndarray  # (T, dh) every value vector
    dots: np.ndarray  # (T,) q·k_j
    divisor: float  # √dh, or 1.0 when the model does not scale
    scaled: np.ndarray  # (T,) q·k_j / divisor
    masked: np.ndarray  # (T,) scaled with −∞ where the query may not look
    is_masked: np.ndarray  # (T,) bool
    weights: np.ndarray  # (T,) softmax(masked): sums to 1
    weighted_values: np.ndarray  # (T, dh) w_j v_j
    z: np.ndarray  # (dh,) Σ w_j v_j
    delta: np.ndarray  # (d,) ΔE = z W_O
    residual: np.ndarray  # (d,) the query's residual vector that ΔE is added to
    top_token_ids: np.ndarray  # (≤ TOP_TOKENS,) the tokens whose logit ΔE raises most
    top_token_gains: np.ndarray  # (≤ TOP_TOKENS,) ΔE · u_t for those tokens
    q_before: np.ndarray | None = None  # (dh,) RoPE models: x W_Q + b before the rotation
    k_before: np.ndarray | None = None  # (T, dh) … and every key's; q and k above are rotated
    kv_head: int | None = None  # grouped-query attention: the key/value head this head reads
    n_kv_heads: int | None = None

    @property
    def d_head(self) -> int:
        return self.q.shape[0]

    @property
    def delta_norm(self) -> float:
        return float(np.linalg.norm(self.delta))

    @property
    def cosine(self) -> float:
        """cos(ΔE, residual): how much the head pushes along what is already there."""
        denom = np.linalg.norm(self.delta) * np.linalg.norm(self.residual)
        return float(self.delta @ self.residual / denom) if denom > 0 else 0.0


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - np.max(x))
    return e / e.sum()


def head_steps(trace: Trace, weights: HeadWeights, layer: int, head: int, query: int) -> HeadSteps:
    """Recompute head ``head`` of ``layer`` for ``query`` (negative counts from the end).

    Raises ``ValueError`` when the trace does not carry the rows attention read
    (``attn_in``) or does not match the weights' shape.
    """
    L, H, T = trace.n_layers, trace.n_heads, trace.n_tokens
    if not (0 <= layer < L and 0 <= head < H):
        raise ValueError(f"no head {head} in layer {layer}: the model has {L} layers of {H} heads")
    if len(weights.w_q) != L or weights.w_q[layer].shape[0] != H:
        raise ValueError("the head weights belong to a model of another shape than this trace")
    if trace.attn_in is None:
        raise ValueError("this trace does not hold the rows attention reads (attn.in)")
    i = query % T if query < 0 else query
    if not 0 <= i < T:
        raise ValueError(f"query {query} is outside the {T} tokens traced")
    f64 = np.float64
    x = trace.attn_in[layer].astype(f64)  # (T, d)
    kv = head // weights.kv_group
    w_q = weights.w_q[layer][head].astype(f64)
    w_k, w_v = (w[layer][kv].astype(f64) for w in (weights.w_k, weights.w_v))
    b_q = weights.b_q[layer][head].astype(f64)
    b_k, b_v = (b[layer][kv].astype(f64) for b in (weights.b_k, weights.b_v))
    w_o = weights.w_o[layer][head].astype(f64)  # (dh, d)
    q_all = x @ w_q + b_q  # (T, dh)
    k = x @ w_k + b_k  # (T, dh)
    v = x @ w_v + b_v  # (T, dh)
    rotary = trace.q_unrotated is not None
    _check_matches(trace, layer, head, q_all, k, v, rotary)
    q_before = k_before = None
    if rotary:  # the scores use q and k rotated by position: take those from the forward pass
        q_before, k_before = q_all[i], k
        q_all, k = trace.q[layer, head].astype(f64), trace.k[layer, head].astype(f64)
    q = q_all[i]
    dots = k @ q  # (T,)
    divisor = float(np.sqrt(w_q.shape[1])) if weights.scaled else 1.0
    scaled = dots / divisor
    is_masked = (np.arange(T) > i) if trace.causal else np.zeros(T, dtype=bool)
    # A sliding window (Mistral) also hides keys too far back: the trace says which.
    is_masked |= np.isneginf(trace.masked_scores[layer, head, i])
    masked = np.where(is_masked, -np.inf, scaled)
    attention = _softmax(masked)
    weighted = attention[:, None] * v  # (T, dh)
    z = weighted.sum(axis=0)
    delta = z @ w_o  # (d,)
    residual = trace.resid_pre[layer, i].astype(f64)
    top_ids, top_gains = _top_tokens(delta, weights)
    pre = weights.norm == "pre"
    if layer == 0:
        embed = (trace.embed_token + trace.embed_pos).astype(f64)
        x_formula = "LN(E + P)" if pre else "E + P"
        if not pre and not np.allclose(embed, x, atol=1e-5):
            x_formula = "LN(E + P)"  # BERT normalises the summed embeddings
    else:
        embed = None
        x_formula = "LN(resid)" if pre else "resid"
    return HeadSteps(
        layer, head, i, trace.token_strings, trace.causal, embed, x, x_formula,
        w_q, w_k, w_v, b_q, b_k, b_v, w_o, q, k, v, dots, divisor, scaled, masked, is_masked,
        attention, weighted, z, delta, residual, top_ids, top_gains, q_before, k_before,
        kv if weights.kv_group > 1 else None, len(weights.w_k[layer]) if weights.kv_group > 1 else None,
    )


def _check_matches(trace: Trace, layer: int, head: int, q: np.ndarray, k: np.ndarray, v: np.ndarray,
                   rotary: bool = False) -> None:
    """Every number shown must be the model's: refuse when x W differs from what the forward
    pass computed (for a RoPE model, compared with q and k before their rotation)."""
    q_seen, k_seen = (trace.q_unrotated, trace.k_unrotated) if rotary else (trace.q, trace.k)
    for name, ours, captured in (("q", q, q_seen), ("k", k, k_seen), ("v", v, trace.v)):
        theirs = captured[layer, head]
        scale = max(1.0, float(np.abs(theirs).max()))
        if not np.allclose(ours, theirs, rtol=1e-3, atol=1e-3 * scale):
            raise ValueError(
                f"this head's {name} is not x W_{name.upper()} + b as the trace computed it "
                "(the model transforms it further, e.g. by position), so it cannot be stepped through"
            )


def _top_tokens(delta: np.ndarray, weights: HeadWeights) -> tuple[np.ndarray, np.ndarray]:
    if weights.unembed is None:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    gains = weights.unembed @ delta.astype(np.float32)  # (U,) direct effect on each logit
    n = min(TOP_TOKENS, len(gains))
    top = np.argpartition(-gains, n - 1)[:n]
    top = top[np.argsort(-gains[top])]
    return weights.unembed_ids[top], gains[top].astype(np.float64)
