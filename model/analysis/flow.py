"""The contribution graph: which earlier token fed which later one, through which layer.

Information flow routes (Ferrando & Voita 2024, "Information Flow Routes: Automatically
Interpreting Language Models at Scale"), as Meta's LLM Transparency Tool draws them. At layer l
the attention block updates token i's residual vector x_i to

    y_i = x_i + Σ_j c_ij + b,    c_ij = Σ_h A^h_ij · v^h_j W_O^h

so y_i is a sum of parts: the residual x_i itself, one part c_ij per source token j (every
head's weighted value of j, written through W_O), and the bias. Each part z's importance is its
proximity to the total, clipped at 0 and normalised over the parts:

    prox(z, y) = max(0, ‖y‖₁ − ‖y − z‖₁),    imp(z) = prox(z, y) / Σ_parts prox(·, y)

(the L1 distance: a part that *is* most of y is close to it; a part pointing elsewhere is
farther from y than 0 is, and gets nothing). An edge j → i at layer l carries imp(c_ij), plus
imp(x_i) on the edge i → i (the residual connection). The head that carries an edge most is the
one whose A^h_ij · v^h_j W_O^h has the largest L1 norm.

Everything is computed from a :class:`~model.core.trace.Trace` and the heads' W_O
(:class:`~model.core.info.HeadWeights`): no forward pass.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from model.core.info import HeadWeights
from model.core.trace import Trace


@dataclass(frozen=True, eq=False)
class FlowGraph:
    """``importance`` (L, T, T): [layer, target i, source j], each (layer, i) row summing to
    1 over the sources and i's own residual (kept on the diagonal with c_ii); 0 above the
    diagonal for a causal model. ``top_head`` (L, T, T): the head carrying the edge most."""

    text: str
    importance: np.ndarray
    top_head: np.ndarray

    def __post_init__(self) -> None:
        self.importance.setflags(write=False)
        self.top_head.setflags(write=False)

    @property
    def n_layers(self) -> int:
        return self.importance.shape[0]

    def edges(self, threshold: float = 0.0) -> list[tuple[int, int, int, float, int]]:
        """Every edge above ``threshold``: (layer, source j, target i, importance, head)."""
        layer, target, source = np.nonzero(self.importance > threshold)
        return [(int(a), int(j), int(i), float(self.importance[a, i, j]), int(self.top_head[a, i, j]))
                for a, i, j in zip(layer, target, source, strict=True)]

    def traced_back(self, position: int, threshold: float) -> list[tuple[int, int, int, float, int]]:
        """The edges above ``threshold`` that lead, layer by layer, into token ``position``
        after the last layer (the graph the view draws by default)."""
        T = self.importance.shape[1]
        reached = {position % T}
        kept = []
        for layer in range(self.n_layers - 1, -1, -1):
            sources = set()
            for i in sorted(reached):
                for j in np.nonzero(self.importance[layer, i] > threshold)[0].tolist():
                    kept.append((layer, j, i, float(self.importance[layer, i, j]), int(self.top_head[layer, i, j])))
                    sources.add(j)
            reached = sources or reached
        return sorted(kept)


def information_flow(trace: Trace, weights: HeadWeights) -> FlowGraph:
    """The contribution graph of ``trace`` (module docstring)."""
    L, H, T, _ = trace.v.shape
    importance = np.zeros((L, T, T))
    top_head = np.zeros((L, T, T), dtype=np.int64)
    for layer in range(L):
        # every head's value of every source written into the residual: (H, T_j, d)
        written = np.einsum("htk,hkd->htd", trace.v[layer].astype(np.float64), weights.w_o[layer].astype(np.float64))
        pattern = trace.pattern[layer].astype(np.float64)  # (H, T_i, T_j)
        x = trace.resid_pre[layer].astype(np.float64)  # (T, d)
        y = trace.resid_mid[layer].astype(np.float64)
        for i in range(T):
            per_head = pattern[:, i, :, None] * written  # (H, T_j, d): A^h_ij v^h_j W_O^h
            parts = per_head.sum(0)  # (T_j, d): c_ij
            y_norm = np.abs(y[i]).sum()
            prox_sources = np.maximum(0.0, y_norm - np.abs(y[i] - parts).sum(-1))  # (T_j,)
            prox_self = max(0.0, y_norm - np.abs(y[i] - x[i]).sum())
            total = prox_sources.sum() + prox_self
            if total > 0:
                importance[layer, i] = prox_sources / total
                importance[layer, i, i] += prox_self / total
            top_head[layer, i] = np.abs(per_head).sum(-1).argmax(0)
    return FlowGraph(trace.text, importance, top_head)
