"""The contribution graph: which earlier token fed which later one, through which layer and head.

Information flow routes (Ferrando & Voita 2024, "Information Flow Routes: Automatically
Interpreting Language Models at Scale"), as Meta's LLM Transparency Tool computes them
(``llm_transparency_tool/routes/contributions.py`` and ``graph.py``). At layer l the attention
block adds to token i's residual vector x_i one part per (source token j, head h)::

    y_i = x_i + Σ_j Σ_h c^h_ij + b,    c^h_ij = A^h_ij · (v^h_j − b^h_V) W_O^h

(``b`` = the output bias plus every head's value bias written through W_O, Σ_h b^h_V W_O^h:
since Σ_j A^h_ij = 1 the value bias arrives whatever the head reads, so it carries nothing from
any token — the Tool gets the same split from TransformerLens, which folds b_V into b_O).
Each part z (every c^h_ij, and the residual x_i itself) gets an importance from its proximity
to the whole y_i, clipped at 0 and normalised over the parts::

    prox(z, y) = max(0, ‖y‖₁ − ‖y − z‖₁),    imp(z) = prox(z, y) / (prox(x_i, y) + Σ_j Σ_h prox(c^h_ij, y))

(the L1 distance: a part that *is* most of y is close to it; a part pointing elsewhere is
farther from y than 0 is, and gets nothing). So for each (layer, i) the residual's importance
and all the (j, h) importances sum to 1. The edge j → i at layer l carries
Σ_h imp(c^h_ij); the edge i → i also carries imp(x_i) (the residual connection; the Tool
merges the two into one edge too). The head that carries an edge most is the h with the
largest imp(c^h_ij), and ``head_importance`` keeps every head's share.

The MLP gets the same treatment with two parts, its output and the residual: ``mlp`` is the
MLP's importance in x_mid + MLP(…) (the Tool's FFN nodes); it moves nothing between tokens.

Differences from the Tool, on purpose: the Tool clips at 1e-5 instead of 0 (to avoid a zero
denominator), which gives every part, even a head's attention to a future token, a sliver;
here a knocked-out head or a masked token carries exactly nothing, and a row whose parts all
point away (nothing to normalise) gives the residual everything. ``floor=1e-5`` reproduces
the Tool. Post-norm encoders (BERT): the whole is the sum *before* the block's Add & Norm.

Everything is computed from a :class:`~model.core.trace.Trace` and the heads' W_O and value
biases (:class:`~model.core.info.HeadWeights`): no forward pass.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from model.core.info import HeadWeights
from model.core.trace import Trace

#: The Transparency Tool's clip (``EPS`` in its ``get_contributions``); see the module docstring.
TOOL_FLOOR = 1e-5

Edge = tuple[int, int, int, float, int]  # (layer, source j, target i, importance, head)


@dataclass(frozen=True, eq=False)
class FlowGraph:
    """The contribution graph of one text. L layers, T tokens, H heads.

    ``importance`` (L, T, T): [layer, target i, source j], the edge j → i; each (layer, i) row
    sums to 1 (the residual kept on the diagonal with c_ii); 0 above the diagonal for a causal
    model. ``top_head`` (L, T, T): the head carrying the edge's attention part most.
    ``head_importance`` (L, T, T, H): imp(c^h_ij), every head's part of every edge.
    ``residual`` (L, T): imp(x_i), the residual connection's part of the diagonal.
    ``mlp`` (L, T): the MLP's importance against the residual after it (zeros without MLPs).
    """

    text: str
    importance: np.ndarray
    top_head: np.ndarray
    head_importance: np.ndarray | None = None
    residual: np.ndarray | None = None
    mlp: np.ndarray | None = None

    def __post_init__(self) -> None:
        for array in (self.importance, self.top_head, self.head_importance, self.residual, self.mlp):
            if array is not None:
                array.setflags(write=False)

    @property
    def n_layers(self) -> int:
        return self.importance.shape[0]

    @property
    def n_tokens(self) -> int:
        return self.importance.shape[1]

    def head_shares(self, layer: int, target: int, source: int) -> np.ndarray:
        """(H,) each head's share of the attention part of the edge source → target at
        ``layer`` (sums to 1, or all 0 when no head carries any of it)."""
        parts = self.head_importance[layer, target % self.n_tokens, source % self.n_tokens]
        total = parts.sum()
        return parts / total if total > 0 else np.zeros_like(parts)

    def edges(self, threshold: float = 0.0) -> list[Edge]:
        """Every edge above ``threshold``: (layer, source j, target i, importance, head)."""
        layer, target, source = np.nonzero(self.importance > threshold)
        return [(int(a), int(j), int(i), float(self.importance[a, i, j]), int(self.top_head[a, i, j]))
                for a, i, j in zip(layer, target, source, strict=True)]

    def traced_back(self, position: int, threshold: float) -> list[Edge]:
        """The edges above ``threshold`` on a path, layer by layer, into token ``position``
        after the last layer: the Tool's ``build_paths_to_predictions``. A token reached at
        layer l + 1 leads into layer l only along its edges above the threshold (the residual
        is one of them); where none is, the path ends."""
        reached = {position % self.n_tokens}
        kept: list[Edge] = []
        for layer in range(self.n_layers - 1, -1, -1):
            sources: set[int] = set()
            for i in sorted(reached):
                for j in np.flatnonzero(self.importance[layer, i] > threshold).tolist():
                    kept.append((layer, j, i, float(self.importance[layer, i, j]), int(self.top_head[layer, i, j])))
                    sources.add(j)
            reached = sources
            if not reached:
                break
        return sorted(kept)

    def renormalised(self, threshold: float) -> FlowGraph:
        """The Tool's "renormalise after threshold": every head part and residual at or below
        ``threshold`` dropped, the rest rescaled to sum to 1 per (layer, i)."""
        heads = np.where(self.head_importance > threshold, self.head_importance, 0.0)
        residual = np.where(self.residual > threshold, self.residual, 0.0)
        total = heads.sum((-1, -2)) + residual  # (L, T)
        safe = np.where(total > 0, total, 1.0)
        heads = heads / safe[..., None, None]
        residual = np.where(total > 0, residual / safe, 1.0)  # nothing left: the residual keeps it
        return _graph(self.text, heads, residual, self.mlp)


def _proximity(parts: np.ndarray, whole: np.ndarray, floor: float) -> np.ndarray:
    """max(floor, ‖whole‖₁ − ‖whole − part‖₁) over the last axis; ``whole`` broadcasts
    against ``parts``."""
    return np.maximum(np.abs(whole).sum(-1) - np.abs(whole - parts).sum(-1), floor)


def _graph(text: str, heads: np.ndarray, residual: np.ndarray, mlp: np.ndarray | None) -> FlowGraph:
    L, T = residual.shape
    importance = heads.sum(-1)
    importance[:, np.arange(T), np.arange(T)] += residual
    top = heads.argmax(-1)
    return FlowGraph(text, importance, top, heads, residual, mlp)


def information_flow(trace: Trace, weights: HeadWeights, floor: float = 0.0, chunk: int = 1 << 17) -> FlowGraph:
    """The contribution graph of ``trace`` (module docstring). ``floor``: 0 (the paper's
    clip) or :data:`TOOL_FLOOR` (the Transparency Tool's). ``chunk``: about how many floats
    one batch of target tokens' parts may hold (H × T × d each)."""
    L, H, T, _ = trace.v.shape
    d = trace.resid_pre.shape[-1]
    heads = np.zeros((L, T, T, H))
    residual = np.zeros((L, T))
    mlp = np.zeros((L, T))
    b_v = getattr(weights, "b_v", None)
    group = getattr(weights, "kv_group", 1)
    attn_out = getattr(trace, "attn_out", None)
    mlp_out = getattr(trace, "mlp_out", None)
    rows = max(1, chunk // max(1, H * T * d))  # target tokens per batch
    for layer in range(L):
        v = trace.v[layer].astype(np.float64)  # (H, T, dh)
        if b_v is not None:  # the value bias goes with the output bias (module docstring)
            v = v - b_v[layer][np.arange(H) // group][:, None, :].astype(np.float64)
        written = v @ weights.w_o[layer].astype(np.float64)  # (H, T_j, d): (v^h_j − b^h_V) W_O^h
        silent = ~written.any(-1)  # (H, T_j): a head that writes nothing for j (W_O^h = 0)
        pattern = trace.pattern[layer].astype(np.float64)  # (H, T_i, T_j)
        x = trace.resid_pre[layer].astype(np.float64)  # (T, d)
        # the whole: x + attention, before a post-norm block's Add & Norm (= resid_mid pre-norm)
        y = x + attn_out[layer].astype(np.float64) if attn_out is not None else trace.resid_mid[layer].astype(np.float64)
        written32, y32 = written.astype(np.float32), y.astype(np.float32)
        for start in range(0, T, rows):
            i = slice(start, min(T, start + rows))
            seen = np.flatnonzero(pattern[:, i].max((0, 1)) > 0)  # sources any head reads (causal: ≤ i)
            j = slice(0, int(seen[-1]) + 1 if len(seen) and floor == 0 else T)
            # (H, C, J, d): every part A^h_ij (v^h_j − b^h_V) W_O^h, in float32 (the largest array here)
            parts = pattern[:, i, j, None].astype(np.float32) * written32[:, None, j]
            prox = np.full((H, parts.shape[1], T), float(floor))
            prox[:, :, j] = _proximity(parts, y32[None, i, None, :], floor)
            if floor == 0:  # a part that is exactly 0 gets exactly nothing, whatever the rounding
                prox = np.where((pattern[:, i] > 0) & ~silent[:, None, :], prox, 0.0)
            prox_self = _proximity(x[i], y[i], floor)  # (C,)
            total = prox.sum((0, 2)) + prox_self  # (C,)
            safe = np.where(total > 0, total, 1.0)
            heads[layer, i] = prox.transpose(1, 2, 0) / safe[:, None, None]
            # a row whose parts all point away from y has nothing to attribute: the residual keeps it
            residual[layer, i] = np.where(total > 0, prox_self / safe, 1.0)
        if mlp_out is not None:
            mid, out = trace.resid_mid[layer].astype(np.float64), mlp_out[layer].astype(np.float64)
            whole = mid + out  # before a post-norm block's second Add & Norm
            p_mlp, p_res = _proximity(out, whole, floor), _proximity(mid, whole, floor)
            mlp[layer] = np.where(p_mlp + p_res > 0, p_mlp / np.where(p_mlp + p_res > 0, p_mlp + p_res, 1.0), 0.0)
    return _graph(trace.text, heads, residual, mlp)
