"""One immutable record of one forward pass: everything a panel may draw.

A :class:`Trace` holds plain NumPy arrays on the CPU with the batch dimension removed. It
holds no tensors and no Qt objects, so it can cross from the worker thread to the GUI
thread and be read by any panel without touching the model.

Shapes (L layers, H heads, T tokens, d = d_model, dh = d_head, P logit positions, V vocab):

================  ===============  =====================================================
field             shape            meaning
================  ===============  =====================================================
token_ids         (T,)             ids fed to the model (after truncation)
embed_token       (T, d)           token-embedding rows entering the residual stream,
                                   before positions: the same in every context
embed_pos         (T, d)           positional vectors added to them
resid_pre         (L, T, d)        residual stream entering each block
attn_in           (L, T, d)        the rows attention reads: LayerNorm(resid_pre) for a
                                   pre-norm model, resid_pre itself otherwise (optional:
                                   None in traces built without it)
q, k, v           (L, H, T, dh)    per-head queries, keys, values
scores            (L, H, T, T)     raw scores QKᵀ/√dh (QKᵀ for a model that does not
                                   scale), rows = queries, columns = keys
pattern           (L, H, T, T)     softmax of the masked scores; each row sums to 1
head_out          (L, H, T, d)     each head's contribution ΔE to the residual stream
attn_out          (L, T, d)        sum of head_out over heads plus the output bias
resid_mid         (L, T, d)        residual stream after attention
mlp_out           (L, T, d)        each block's MLP output
resid_post        (L, T, d)        residual stream after each block
final_norm        (T, d)           final LayerNorm output (input to the unembedding)
logit_positions   (P,)             positions whose next-token prediction was computed
logits            (P, V)           logits over the full vocabulary (−∞ where the model
                                   cannot predict a token)
probs             (P, V)           softmax(logits) at temperature 1
q_unrotated,      (L, H, T, dh)    RoPE models only (else None): q and k before their
k_unrotated                        rotation; q and k above are after it (what the
                                   scores use)
================  ===============  =====================================================

Under grouped-query attention (``ModelInfo.n_kv_heads`` < ``n_heads``) k and v are given per
query head: heads that share a key/value head hold the same k and v.

Activations can also be read by their stable names (see
:func:`model.core.transformer.activation_names`): ``trace["blocks.0.attn.pattern"]``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Literal

import numpy as np

_PER_LAYER = {
    "resid_pre": "resid_pre",
    "attn.in": "attn_in",
    "attn.q": "q",
    "attn.q_unrotated": "q_unrotated",
    "attn.k_unrotated": "k_unrotated",
    "attn.k": "k",
    "attn.v": "v",
    "attn.scores": "scores",
    "attn.pattern": "pattern",
    "attn.head_out": "head_out",
    "attn.out": "attn_out",
    "resid_mid": "resid_mid",
    "mlp.out": "mlp_out",
    "resid_post": "resid_post",
}
_GLOBAL = {
    "embed.token": "embed_token",
    "embed.pos": "embed_pos",
    "final_norm": "final_norm",
    "logits": "logits",
}
_LAYER_NAME = re.compile(r"^blocks\.(\d+)\.(.+)$")

LogitPositions = Sequence[int] | Literal["last", "all"]


@dataclass(frozen=True, eq=False)
class Trace:
    """Everything captured by one forward pass; see the module docstring for shapes."""

    request_id: int
    model_name: str
    text: str
    token_ids: np.ndarray
    token_strings: tuple[str, ...]
    offsets: tuple[tuple[int, int], ...]
    special: tuple[bool, ...]
    causal: bool
    n_input_tokens: int
    embed_token: np.ndarray
    embed_pos: np.ndarray
    resid_pre: np.ndarray
    q: np.ndarray
    k: np.ndarray
    v: np.ndarray
    scores: np.ndarray
    pattern: np.ndarray
    head_out: np.ndarray
    attn_out: np.ndarray
    resid_mid: np.ndarray
    mlp_out: np.ndarray
    resid_post: np.ndarray
    final_norm: np.ndarray
    logit_positions: np.ndarray
    logits: np.ndarray
    probs: np.ndarray
    forward_ms: float = 0.0
    attn_in: np.ndarray | None = None
    q_unrotated: np.ndarray | None = None
    sliding_window: int | None = None  # Mistral: a query sees only this many keys, itself included
    #: with ``sliding_window``: the layers that slide it (Gemma's local layers); None: all of them
    local_layers: tuple[int, ...] | None = None
    k_unrotated: np.ndarray | None = None
    #: The weights' precision of the model that made this trace: "float32", or "bfloat16"
    #: (model/core/precision.py; the trace's arrays are float32 either way).
    precision: str = "float32"

    def __post_init__(self) -> None:
        T = len(self.token_ids)
        if self.token_ids.ndim != 1:
            raise ValueError(f"token_ids must be 1-D, got shape {self.token_ids.shape}")
        if len(self.token_strings) != T or len(self.offsets) != T or len(self.special) != T:
            raise ValueError(
                f"token_strings, offsets and special must each have {T} entries, got "
                f"{len(self.token_strings)}, {len(self.offsets)}, {len(self.special)}"
            )
        if self.scores.ndim != 4:
            raise ValueError(f"scores must be (layers, heads, T, T), got shape {self.scores.shape}")
        L, H = self.scores.shape[:2]
        d = self.embed_token.shape[-1]
        dh = self.q.shape[-1]
        P = len(self.logit_positions)
        V = self.logits.shape[-1] if self.logits.ndim == 2 else -1
        expected = {
            "embed_token": (T, d),
            "embed_pos": (T, d),
            "resid_pre": (L, T, d),
            "q": (L, H, T, dh),
            "k": (L, H, T, dh),
            "v": (L, H, T, dh),
            "scores": (L, H, T, T),
            "pattern": (L, H, T, T),
            "head_out": (L, H, T, d),
            "attn_out": (L, T, d),
            "resid_mid": (L, T, d),
            "mlp_out": (L, T, d),
            "resid_post": (L, T, d),
            "final_norm": (T, d),
            "attn_in": (L, T, d),
            "logits": (P, V),
            "probs": (P, V),
        }
        for name in ("q_unrotated", "k_unrotated"):
            if getattr(self, name) is not None:
                expected[name] = (L, H, T, dh)
        for name, shape in expected.items():
            array = getattr(self, name)
            if array is None and name == "attn_in":
                continue
            if not isinstance(array, np.ndarray):
                raise ValueError(f"{name} must be a numpy array, got {type(array).__name__}")
            if array.shape != shape:
                raise ValueError(f"{name} has shape {array.shape}, expected {shape}")
        if self.logit_positions.ndim != 1 or (
            P and (self.logit_positions.min() < 0 or self.logit_positions.max() >= T)
        ):
            raise ValueError(f"logit_positions must be 1-D indices into {T} tokens")
        if self.n_input_tokens < T:
            raise ValueError(
                f"n_input_tokens ({self.n_input_tokens}) cannot be less than the {T} tokens traced"
            )
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, np.ndarray):
                value.setflags(write=False)

    # ------------------------------------------------------------------ shape helpers
    @property
    def n_tokens(self) -> int:
        return len(self.token_ids)

    @property
    def n_layers(self) -> int:
        return self.scores.shape[0]

    @property
    def n_heads(self) -> int:
        return self.scores.shape[1]

    @property
    def d_model(self) -> int:
        return self.embed_token.shape[-1]

    @property
    def vocab_size(self) -> int:
        return self.logits.shape[-1]

    @property
    def truncated(self) -> bool:
        """True when the input was longer than the context and its oldest tokens were dropped."""
        return self.n_input_tokens > self.n_tokens

    @property
    def n_dropped_tokens(self) -> int:
        return self.n_input_tokens - self.n_tokens

    def window(self, layer: int) -> int | None:
        """The sliding window of ``layer`` (keys a query sees, itself included), or None when
        it sees every earlier key (a global layer, or a model without a window)."""
        if self.sliding_window is None or (self.local_layers is not None and layer not in self.local_layers):
            return None
        return self.sliding_window

    def hidden_keys(self, layer: int) -> np.ndarray:
        """T × T, true where a query of ``layer`` may not look: later keys (when causal) and,
        in a layer with a sliding window, keys that many positions back or more."""
        T = self.n_tokens
        if not self.causal:
            return np.zeros((T, T), dtype=bool)
        hidden = np.triu(np.ones((T, T), dtype=bool), k=1)
        window = self.window(layer)
        if window is not None:
            hidden |= np.tril(np.ones((T, T), dtype=bool), k=-window)
        return hidden

    @property
    def masked_scores(self) -> np.ndarray:
        """Scores with −∞ where a query may not look (:meth:`hidden_keys`, layer by layer)."""
        if not self.causal:
            return self.scores
        hidden = np.stack([self.hidden_keys(layer) for layer in range(self.n_layers)])[:, None]  # (L, 1, T, T)
        return np.where(hidden, -np.inf, self.scores).astype(self.scores.dtype)

    def logits_at(self, position: int) -> np.ndarray:
        """Logits predicting the token after ``position`` (negative counts from the end)."""
        return self.logits[self._logit_row(position)]

    def probs_at(self, position: int) -> np.ndarray:
        return self.probs[self._logit_row(position)]

    def has_logits_at(self, position: int) -> bool:
        position = position % self.n_tokens
        return bool(np.any(self.logit_positions == position))

    def _logit_row(self, position: int) -> int:
        position = position % self.n_tokens
        rows = np.flatnonzero(self.logit_positions == position)
        if len(rows) == 0:
            raise KeyError(f"no logits were computed for position {position}")
        return int(rows[0])

    # ------------------------------------------------------------------ names
    def __getitem__(self, name: str) -> np.ndarray:
        """Look an activation up by its stable name, e.g. ``"blocks.2.attn.pattern"``."""
        if name in _GLOBAL:
            return getattr(self, _GLOBAL[name])
        match = _LAYER_NAME.match(name)
        if match:
            layer, rest = int(match.group(1)), match.group(2)
            if not 0 <= layer < self.n_layers:
                raise KeyError(f"{name}: the model has {self.n_layers} layers")
            if rest == "attn.masked_scores":
                return self.masked_scores[layer]
            if rest in _PER_LAYER and getattr(self, _PER_LAYER[rest]) is not None:
                return getattr(self, _PER_LAYER[rest])[layer]
        raise KeyError(f"no activation named {name!r}")


def input_fields(request_id: int, model_name: str, text: str, encoding, n_input: int, cfg) -> dict:
    """The fields of a Trace that say what went in (the text, its tokens, the model's kind),
    as every tracer fills them: the full pass, the incremental one and the NumPy one.
    ``encoding``: the (truncated) tokenizer output; ``cfg``: the model's config."""
    return dict(
        request_id=request_id,
        model_name=model_name,
        text=text,
        token_ids=np.asarray(encoding.ids, dtype=np.int64),
        token_strings=encoding.strings,
        offsets=encoding.offsets,
        special=encoding.special,
        causal=cfg.causal,
        sliding_window=cfg.sliding_window,
        local_layers=getattr(cfg, "local_layers", None),
        n_input_tokens=n_input,
    )


def resolve_logit_positions(spec: LogitPositions, n_tokens: int) -> np.ndarray:
    """The positions whose logits a trace computes: ``"last"``, ``"all"`` or explicit ones
    (negative count from the end; out-of-range ones are dropped; none left: the last)."""
    if isinstance(spec, str):
        if spec == "last":
            return np.array([n_tokens - 1], dtype=np.int64)
        if spec == "all":
            return np.arange(n_tokens, dtype=np.int64)
        raise ValueError(f"logit_positions must be 'last', 'all' or a list of ints, got {spec!r}")
    resolved = sorted({p % n_tokens for p in spec if -n_tokens <= p < n_tokens})
    return np.asarray(resolved or [n_tokens - 1], dtype=np.int64)
