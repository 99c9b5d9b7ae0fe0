"""Incremental tracing for causal models: reuse the rows of the last trace that cannot change.

In a causal model, the row of token *i* of every captured activation (its embedding, q, k, v,
its residual stream, its head outputs, its row of the pattern) depends only on tokens
0..i. When a new text's token ids share their first *p* ids with the last trace's, those
rows are unchanged; only the suffix p..T−1 has to be run, reading the prefix's keys and
values (after RoPE's rotation, per query head), at positions offset by p. Two things of the
prefix rows do change: the raw scores of a prefix query against a *new* key (``scores``
holds QKᵀ/√dₖ for every pair, the masked ones included) — computed here from the prefix's
q and the new k — and the pattern there, which is 0 (a masked key). Logits are recomputed
from the final-norm rows at the positions asked for, so a different ``logit_positions``
costs nothing extra.

Encoders (BERT, MiniLM, the lesson models without a mask) are never traced incrementally:
every token attends to every other, so one changed token changes every row of every layer
after the first, and there is nothing to reuse.

Memory: the rows live in preallocated buffers of ``max_tokens`` rows (a pool of at most
:data:`POOL_SIZE` sets). A Trace's arrays are read-only views of the first T rows of one set.
A set is written again only in rows no live Trace can see (every live Trace built on it
views fewer rows than the new trace's common prefix with what the set holds, which
``weakref`` tells), so a Trace never changes after it is made. Typing at the end of the
text appends rows to the same set and copies nothing; an edit in the middle, or a BPE
tokenizer re-cutting the last word, moves to another set and copies only the rows that
set lacks. The buffers are reused, so typing does not allocate (or page-fault) a
quarter-gigabyte per keystroke at GPT-2 sizes.

The suffix is run by the model's own forward pass
(:meth:`model.core.transformer.Transformer.hidden`) in its incremental mode: :class:`RowsPast`
hands it the buffers' keys and values as the past (each layer's new k and v are written into
the buffers first, then all T rows are read in place), and :class:`RowWriter` takes what it
captures straight into the buffers' rows p..T−1. The one thing computed here is the raw
scores of the prefix's queries against the new keys (above), which no query of the suffix
asks for.

Heads knocked out (:class:`~model.core.interventions.HeadAblation`: zeroed, or replaced by the
model's fixed reference means) keep every row prefix-stable, so a knocked-out trace is
incremental too, but from a tracer of its own: the runner keeps one for the ordinary traces
and one for the current knock-out (the interventions' ``rows_key``; see
:meth:`model.tracer.runner.TracingModel._rows_key`), so neither ever reads, nor evicts, the
other's rows. The interventions are handed to the forward pass as in a full pass.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import MutableMapping, Sequence

import numpy as np
import torch

from model.core.interventions import Interventions
from model.core.trace import _GLOBAL, _PER_LAYER, Trace, input_fields
from model.core.transformer import Transformer

#: Buffer sets kept for reuse. Two let a BPE tokenizer alternate while the screen still
#: shows the previous trace; a third covers a trace still on its way to the screen.
POOL_SIZE = 3

#: Fields with one row per token: the axis of the tokens.
ROW_AXIS = {
    "embed_token": 0, "embed_pos": 0, "final_norm": 0,
    "resid_pre": 1, "attn_in": 1, "attn_out": 1, "resid_mid": 1, "mlp_out": 1, "resid_post": 1,
    "q": 2, "k": 2, "v": 2, "head_out": 2, "q_unrotated": 2, "k_unrotated": 2,
}
#: Fields with a row and a column per token (queries × keys).
SQUARE = ("scores", "pattern")


def common_prefix(a: Sequence[int] | np.ndarray, b: Sequence[int] | np.ndarray) -> int:
    """How many leading ids ``a`` and ``b`` share."""
    n = min(len(a), len(b))
    if n == 0:
        return 0
    differ = np.flatnonzero(np.asarray(a[:n]) != np.asarray(b[:n]))
    return int(differ[0]) if len(differ) else n


def _rows(axis: int, start: int, stop: int) -> tuple[slice, ...]:
    return (slice(None),) * axis + (slice(start, stop),)


class RowBuffers:
    """One set of preallocated arrays of ``capacity`` token rows for every traced field,
    the ids whose rows it holds, and the Traces that view it."""

    def __init__(self, shapes: dict[str, tuple[int, ...]], dtype: np.dtype, capacity: int) -> None:
        self.capacity = capacity
        self.arrays = {name: np.empty(shape, dtype=dtype) for name, shape in shapes.items()}
        self.ids = np.zeros(0, dtype=np.int64)
        self.viewers: weakref.WeakSet[Trace] = weakref.WeakSet()

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in self.arrays.values())

    def seen_rows(self) -> int:
        """The most rows any live Trace built on this set can see."""
        return max((t.n_tokens for t in list(self.viewers)), default=0)

    def reusable_rows(self, ids: np.ndarray) -> int | None:
        """Rows valid for ``ids`` that may stay in place while the rest is written, or None
        when writing would change what a live Trace sees."""
        if len(ids) > self.capacity:
            return None
        c = common_prefix(self.ids, ids)
        return c if self.seen_rows() <= c else None


class IncrementalTracer:
    """The model thread's memory of the last trace (see the module docstring)."""

    def __init__(self, module: Transformer, capacity: int, pool_size: int = POOL_SIZE) -> None:
        cfg = module.cfg
        self.module, self.capacity, self.pool_size = module, capacity, pool_size
        L, H, d, dh, C = cfg.n_layers, cfg.n_heads, cfg.d_model, cfg.d_head, capacity
        self.shapes: dict[str, tuple[int, ...]] = {
            "embed_token": (C, d), "embed_pos": (C, d), "final_norm": (C, d),
            **{name: (L, C, d) for name in ("resid_pre", "attn_in", "attn_out", "resid_mid", "mlp_out", "resid_post")},
            **{name: (L, H, C, dh) for name in ("q", "k", "v")},
            "head_out": (L, H, C, d),
            "scores": (L, H, C, C), "pattern": (L, H, C, C),
        }
        if module.rope is not None:
            self.shapes.update(q_unrotated=(L, H, C, dh), k_unrotated=(L, H, C, dh))
        self.dtype = torch.empty(0, dtype=next(module.parameters()).dtype).numpy().dtype
        self.targets = self._targets()
        self.pool: list[RowBuffers] = []
        self.last: Trace | None = None
        self.last_buffers: RowBuffers | None = None
        self.reused_rows = 0  # of the last trace: for tests and the benchmark

    # ------------------------------------------------------------------ buffers
    def _buffers_for(self, ids: np.ndarray) -> tuple[RowBuffers, int]:
        best: tuple[RowBuffers, int] | None = None
        for buffers in self.pool:
            c = buffers.reusable_rows(ids)
            if c is not None and (best is None or c > best[1]):
                best = (buffers, c)
        if best is not None:
            return best
        fresh = RowBuffers(self.shapes, self.dtype, self.capacity)
        if len(self.pool) >= self.pool_size:
            # Every set is still seen by a live Trace: drop the one with the fewest viewers
            # from the pool (its Traces keep it alive until they go).
            self.pool.remove(min(self.pool, key=lambda b: len(b.viewers)))
        self.pool.append(fresh)
        return fresh, 0

    @property
    def pool_bytes(self) -> int:
        return sum(b.nbytes for b in self.pool)

    # ------------------------------------------------------------------ one request
    @torch.inference_mode()
    def trace(self, runner, request_id: int, text: str, encoding, n_input: int, positions: np.ndarray,
              interventions: Interventions | None = None) -> Trace:
        """The Trace of ``encoding`` (already truncated), reusing what the last one allows.
        ``interventions``: handed to the forward pass (the caller keeps one tracer per
        ``rows_key``, so the rows reused were traced under the same edits)."""
        start_time = time.perf_counter()
        ids = np.asarray(encoding.ids, dtype=np.int64)
        T = len(ids)
        last = self.last
        p = common_prefix(last.token_ids, ids) if last is not None else 0
        buffers, c = self._buffers_for(ids)
        p = max(p, c)  # rows the set already holds need not be copied or computed
        a = buffers.arrays
        if c < p:  # rows [c, p) come from the last trace (on another set)
            self._copy_rows(last, a, c, p)
        buffers.ids = np.zeros(0, dtype=np.int64)  # mid-write: nothing is trusted if this fails
        if p < T:
            self._compute_suffix(a, ids, p, interventions)
        buffers.ids = ids.copy()
        self.reused_rows = p
        view = {name: arr[_rows(ROW_AXIS[name], 0, T)] for name, arr in a.items() if name in ROW_AXIS}
        view.update({name: a[name][:, :, :T, :T] for name in SQUARE})
        final = torch.from_numpy(a["final_norm"][:T]).to(runner.device)
        module = self.module
        if module.unembed is not None:
            selected = module.unembed_logits(final[torch.from_numpy(positions).to(final.device)])  # (P, V)
        else:
            selected = final.new_empty((0, module.cfg.n_outputs))  # no LM head: no logits
        logits = module.full_vocab_logits(selected).float()
        probs = torch.softmax(logits, dim=-1)
        forward_ms = (time.perf_counter() - start_time) * 1000.0
        trace = Trace(
            **input_fields(request_id, runner.name, text, encoding, n_input, runner.cfg), logit_positions=positions,
            logits=logits.cpu().numpy(), probs=probs.cpu().numpy(), forward_ms=forward_ms,
            precision=runner.trace_precision,
            **view,
        )
        buffers.viewers.add(trace)
        self.last, self.last_buffers = trace, buffers
        return trace

    def _copy_rows(self, last: Trace, a: dict[str, np.ndarray], c: int, p: int) -> None:
        for name, axis in ROW_AXIS.items():
            if name in a:
                a[name][_rows(axis, c, p)] = getattr(last, name)[_rows(axis, c, p)]
        for name in SQUARE:
            a[name][:, :, c:p, :p] = getattr(last, name)[:, :, c:p, :p]
            a[name][:, :, :c, c:p] = getattr(last, name)[:, :, :c, c:p]

    def _compute_suffix(self, a: dict[str, np.ndarray], ids: np.ndarray, p: int,
                        interventions: Interventions | None) -> None:
        """Run tokens p..T−1 with the prefix's keys and values (the forward pass's incremental
        mode); write their rows, and the new key columns of the prefix rows, into ``a``."""
        module = self.module
        device = next(module.parameters()).device
        T = len(ids)
        idx = torch.as_tensor(ids[p:], device=device)[None]  # (1, T − p)
        writer = RowWriter(a, p, T, self.targets)
        module.hidden(idx, writer, past=RowsPast(a, p, T, device), interventions=interventions)
        if p:  # the prefix's queries against the new keys: a raw score, a zero weight
            for i, block in enumerate(module.blocks):
                # numpy's stacked matmul: torch's bmm with one column per head is ~4× slower here
                past_q = a["q"][i, :, :p]  # (nh, p, hs)
                new_k = a["k"][i, :, p:T].transpose(0, 2, 1)  # (nh, hs, s)
                scores = np.matmul(past_q, new_k) / np.float32(block.attn.divisor)
                if block.attn.softcap is not None:  # Gemma 2: c · tanh(s / c), as the forward pass
                    cap = np.float32(block.attn.softcap)
                    scores = np.tanh(scores / cap) * cap
                a["scores"][i, :, :p, p:T] = scores
                a["pattern"][i, :, :p, p:T] = 0.0

    def _targets(self) -> dict[str, tuple[str, tuple]]:
        """Where each captured activation name goes: (Trace field, the index of its layer's
        rows up to the token axis). Keys and values are left out (:class:`RowsPast` writes
        them), and so are the masked scores and the logits, which a Trace does not hold."""
        targets = {name: (field, ()) for name, field in _GLOBAL.items() if field in self.shapes}
        for i in range(self.module.cfg.n_layers):
            for suffix, field in _PER_LAYER.items():
                if field in self.shapes and field not in ("k", "v"):
                    # (layer, every head…) up to the token axis; square fields: (layer, every head)
                    targets[f"blocks.{i}.{suffix}"] = (field, (i,) + (slice(None),) * (ROW_AXIS.get(field, 2) - 1))
        return targets


class RowsPast:
    """The buffers' keys and values as the forward pass's past
    (:class:`~model.core.transformer.PastKeys`): a layer's new rows are written into the
    buffers, then rows 0..T−1 are read in place (no concatenation of the prefix's keys and
    values: 1.5 MB per layer at GPT-2 sizes)."""

    def __init__(self, arrays: dict[str, np.ndarray], p: int, T: int, device: torch.device) -> None:
        self.arrays, self.p, self.T, self.device = arrays, p, T, device

    @property
    def offset(self) -> int:
        return self.p

    def extend(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        p, T = self.p, self.T
        keys, values = self.arrays["k"][layer], self.arrays["v"][layer]  # (H, C, dh)
        keys[:, p:T] = k.detach().cpu().numpy()[0]  # batch 1 (NumPy's indexing is the cheaper)
        values[:, p:T] = v.detach().cpu().numpy()[0]
        return (torch.from_numpy(keys[:, :T]).to(self.device)[None],  # (1, H, T, dh)
                torch.from_numpy(values[:, :T]).to(self.device)[None])


class RowWriter(MutableMapping):
    """The forward pass's capture (its ``cache``) for rows p..T−1: each tensor it is handed
    goes straight into its rows of the buffers and is not kept, so a long first trace holds
    one layer's tensors at a time besides the buffers."""

    def __init__(self, arrays: dict[str, np.ndarray], p: int, T: int, targets: dict[str, tuple[str, tuple]]) -> None:
        self.arrays, self.targets = arrays, targets
        self.rows = (slice(p, T),)
        self.square = (slice(p, T), slice(0, T))  # the new queries, every key

    def __setitem__(self, name: str, value: torch.Tensor) -> None:
        target = self.targets.get(name)
        if target is None:
            return
        field, where = target
        rows = value.detach().cpu().numpy()[0]  # batch 1 (NumPy's indexing is the cheaper)
        self.arrays[field][where + (self.square if field in SQUARE else self.rows)] = rows

    def get(self, name: str, default=None):
        return default  # nothing is kept (and no buffer is lent for head_out)

    def __getitem__(self, name: str) -> torch.Tensor:
        raise KeyError(name)

    def __delitem__(self, name: str) -> None:
        raise KeyError(name)

    def __iter__(self):
        return iter(())

    def __len__(self) -> int:
        return 0


def full_pass_reference(runner, text: str, logit_positions="last", interventions: Interventions | None = None
                        ) -> Trace:
    """The same Trace from a full forward pass (for tests): incremental reuse switched off."""
    saved = runner.incremental
    runner.incremental = False
    try:
        return runner.trace(text, logit_positions=logit_positions, interventions=interventions)
    finally:
        runner.incremental = saved


__all__ = ["IncrementalTracer", "RowBuffers", "RowWriter", "RowsPast", "common_prefix", "full_pass_reference"]
