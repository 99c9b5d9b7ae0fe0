"""The output layer of the bundled model: an adaptive softmax scored against the token embedding."""

from __future__ import annotations

import torch
from torch import nn


class TiedAdaptiveSoftmax(nn.Module):
    """An adaptive softmax (Grave et al. 2017) whose output vectors are the token
    embedding rows: the logit of token v in cluster c is ``(P_c h) · E[v] + b_v``.

    ``nn.AdaptiveLogSoftmaxWithLoss`` keeps separate output vectors and narrows them by
    ``div_value`` per cluster: rare tokens get 16–64 dimensions, and a copying head cannot
    name a rare token it has read. Here every token, rare or frequent, is scored against
    its own (frozen, pretrained) embedding: copying a token is one linear map, the same for
    all of them. Clusters keep their purpose: training scores the tail tokens only for the
    targets that fall in them. ``table`` is the (n_outputs, d_embed) slice of the embedding
    in output order; the module itself holds only projections and biases.
    """

    def __init__(self, d_model: int, d_embed: int, n_outputs: int, cutoffs: list[int], bias: bool) -> None:
        super().__init__()
        self.bounds = [0, *cutoffs, n_outputs]  # cluster c covers outputs [bounds[c], bounds[c+1])
        self.shortlist_size = cutoffs[0]
        self.proj = nn.ModuleList(nn.Linear(d_model, d_embed, bias=False) for _ in range(len(cutoffs) + 1))
        self.cluster = nn.Linear(d_model, len(cutoffs))  # the head's extra entries: "a tail token"
        self.bias = nn.Parameter(torch.zeros(n_outputs)) if bias else None

    def _logits(self, h: torch.Tensor, table: torch.Tensor, c: int) -> torch.Tensor:
        lo, hi = self.bounds[c], self.bounds[c + 1]
        if torch.is_grad_enabled():  # training: the factorised form, gradients through P_c
            out = self.proj[c](h) @ table[lo:hi].T  # (N, hi − lo)
        else:  # inference: E_c P_c once, (hi − lo, d); a third fewer bytes read per call
            out = h @ self._composed(table, c).T
        return out + self.bias[lo:hi] if self.bias is not None else out

    def _composed(self, table: torch.Tensor, c: int) -> torch.Tensor:
        """``E_c P_c`` (V_c, d_model): cluster c's output vectors as the residual stream sees
        them, kept until the table or the projection changes. Reading it costs d_model
        instead of d_embed + a projection per token: the output layer is memory-bound."""
        weight = self.proj[c].weight
        # the table is Transformer.output_table()'s cached tensor: a new object when the
        # embedding changes (it may be an inference tensor, which has no version counter)
        key = (id(table), table.data_ptr(), weight.data_ptr(), weight._version)
        cache = self.__dict__.setdefault("_composed_cache", {})
        hit = cache.get(c)
        if hit is None or hit[0] != key:
            lo, hi = self.bounds[c], self.bounds[c + 1]
            hit = cache[c] = (key, (table[lo:hi] @ weight).detach())
        return hit[1]

    def _head(self, h: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
        return torch.log_softmax(torch.cat([self._logits(h, table, 0), self.cluster(h)], dim=-1), dim=-1)

    def log_prob(self, h: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
        """Log-probabilities of every output, (N, n_outputs)."""
        head = self._head(h, table)
        n_short = self.shortlist_size
        parts = [head[:, :n_short]]
        for c in range(1, len(self.bounds) - 1):
            parts.append(torch.log_softmax(self._logits(h, table, c), dim=-1) + head[:, n_short + c - 1 : n_short + c])
        return torch.cat(parts, dim=-1)

    def loss(self, h: torch.Tensor, targets: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
        """Mean negative log-likelihood of ``targets`` (N,), scoring each tail cluster only
        for the rows whose target lies in it."""
        head = self._head(h, table)
        n_short = self.shortlist_size
        head_index = targets.clone()
        logp = torch.zeros_like(targets, dtype=head.dtype)
        for c in range(1, len(self.bounds) - 1):
            lo, hi = self.bounds[c], self.bounds[c + 1]
            rows = torch.nonzero((targets >= lo) & (targets < hi)).flatten()
            if not len(rows):
                continue
            head_index[rows] = n_short + c - 1
            inner = torch.log_softmax(self._logits(h[rows], table, c), dim=-1)
            logp = logp.index_add(0, rows, inner.gather(1, (targets[rows] - lo).unsqueeze(1)).squeeze(1))
        logp = logp + head.gather(1, head_index.unsqueeze(1)).squeeze(1)
        return -logp.mean()

