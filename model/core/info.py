"""What panels need to know about the loaded model, once per load (not per forward pass)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from model.core.anatomy import ModelStructure

TokenizerKind = Literal["wordpiece", "byte_level", "sentencepiece", "other"]
NormKind = Literal["pre", "post", "none"]


@dataclass(frozen=True, eq=False)
class HeadWeights:
    """Every head's own matrices, so a panel can show (and recompute) one head's
    computation from a Trace without running the model. Built by
    :func:`model.analysis.stepthrough.head_weights`.

    Per layer ``l`` (tuples of length L, arrays read-only; on the CPU they are views of the
    model's own parameters, which are never changed after loading, so they cost no copy):

    ``w_q[l]``, ``w_k[l]``, ``w_v[l]``: (H, d, dh), so that ``q = x @ w_q[l][h] + b_q[l][h]``;
    ``b_q[l]``, ``b_k[l]``, ``b_v[l]``: (H, dh) (zeros for a model without biases);
    ``w_o[l]``: (H, dh, d), so that the head's ΔE = ``z @ w_o[l][h]``; ``b_o[l]``: (d,),
    added once per layer (not per head).

    ``unembed`` (U, d) with ``unembed_ids`` (U,): the unembedding rows of the token ids they
    predict, for "which tokens does ΔE push up" (None without a linear LM head; for an
    adaptive softmax, its head shortlist). ``unembed_note`` says what the rows are.
    """

    w_q: tuple[np.ndarray, ...]
    w_k: tuple[np.ndarray, ...]
    w_v: tuple[np.ndarray, ...]
    b_q: tuple[np.ndarray, ...]
    b_k: tuple[np.ndarray, ...]
    b_v: tuple[np.ndarray, ...]
    w_o: tuple[np.ndarray, ...]
    b_o: tuple[np.ndarray, ...]
    scaled: bool
    norm: NormKind
    unembed: np.ndarray | None = None
    unembed_ids: np.ndarray | None = None
    unembed_note: str = ""
    #: query heads per key/value head (grouped-query attention): ``w_k[l]``, ``b_k[l]``,
    #: ``w_v[l]`` and ``b_v[l]`` then hold one entry per kv head, and query head h reads
    #: kv head ``h // kv_group``.
    kv_group: int = 1

    def __post_init__(self) -> None:
        for name in ("w_q", "w_k", "w_v", "b_q", "b_k", "b_v", "w_o", "b_o"):
            for array in getattr(self, name):
                array.setflags(write=False)
        if self.unembed is not None:
            if self.unembed_ids is None or self.unembed_ids.shape != (self.unembed.shape[0],):
                raise ValueError("unembed_ids must name the token id of every unembedding row")
            self.unembed.setflags(write=False)
            self.unembed_ids.setflags(write=False)

    @property
    def d_head(self) -> int:
        return self.w_q[0].shape[-1]


@dataclass(frozen=True, eq=False)
class ModelInfo:
    """Immutable facts about a loaded model, sent to every panel when a model is loaded.

    ``embedding_table`` is the model's own token-embedding lookup table (V, d_embed) —
    for the bundled model, all-MiniLM-L6-v2's 384-d word-piece table — as a read-only
    float32 array. ``vocabulary[i]`` is token ``i`` as a person reads it.
    ``output_token_ids`` lists the ids the model can predict (None: all of them).
    ``head_weights`` holds every head's W_Q, W_K, W_V, W_O (None when they cannot be read
    per head), for the step-through view; ``structure`` its parameter counts by kind and its
    position table (:mod:`model.core.anatomy`).
    ``n_kv_heads``: key/value heads per layer under grouped-query attention (None: one per
    query head); query head h shares kv head ``kv_head(h)``. ``positional`` is "learned",
    "sinusoidal" or "rope" (no position vector is added: q and k are rotated).
    ``weights_note`` says when the weights are not the original ones (dequantized GGUF);
    show it wherever the model's numbers are shown. ``precision``: "float32" or "bfloat16"
    (the large weight matrices rounded to bfloat16, see :mod:`model.core.precision`).
    """

    name: str
    n_layers: int
    n_heads: int
    d_model: int
    n_ctx: int
    causal: bool
    has_lm_head: bool
    vocabulary: tuple[str, ...]
    embedding_table: np.ndarray
    tokenizer_kind: TokenizerKind
    bos_token_id: int | None = None
    output_token_ids: np.ndarray | None = None
    source: str = ""
    head_weights: HeadWeights | None = None
    structure: ModelStructure | None = None
    n_kv_heads: int | None = None
    positional: str = "learned"
    weights_note: str = ""
    n_params: int = 0
    token_bytes: tuple[bytes, ...] | None = None  # byte-level tokenizers: each id's bytes
    #: "float32", "float16" or "int8" (the big matrices multiplied from a 16- or 8-bit copy:
    #: model/core/int8.py), or "bfloat16" (model/core/precision.py).
    precision: str = "float32"
    #: What was asked for ("auto" included), and what "auto" measured: milliseconds of one
    #: token's products per precision.
    precision_asked: str = "float32"
    precision_speeds: tuple[tuple[str, float], ...] = ()
    #: 8- or 16-bit weights: top-1 next-token agreement with float32 (0..1) and the figures'
    #: summary, measured on held-out sentences (model/analysis/fidelity.py); None until measured.
    top1_agreement: float | None = None
    fidelity_summary: str = ""
    #: per layer, the sliding window of keys it sees (None: every earlier key). Gemma's local
    #: and global layers, Mistral's windowed ones; empty for a model without windows.
    layer_windows: tuple[int | None, ...] = ()
    #: per layer, the RoPE base its rotation uses (Gemma 3: 10,000 local, 1,000,000 global);
    #: empty without RoPE
    rope_bases: tuple[float, ...] = ()
    #: Non-empty when the model is opened generically through transformers (nnsight,
    #: model/formats/generic.py): the sentence saying what that means and why the views that
    #: need each head's weights are unavailable.
    generic: str = ""

    def __post_init__(self) -> None:
        if self.embedding_table.ndim != 2 or self.embedding_table.shape[0] != len(self.vocabulary):
            raise ValueError(
                f"embedding_table has shape {self.embedding_table.shape}, expected "
                f"({len(self.vocabulary)}, d) to match the vocabulary"
            )
        self.embedding_table.setflags(write=False)
        if self.output_token_ids is not None:
            self.output_token_ids.setflags(write=False)

    @property
    def vocab_size(self) -> int:
        return len(self.vocabulary)

    def kv_head(self, head: int) -> int:
        """The key/value head query head ``head`` reads (itself without grouped-query attention)."""
        if self.n_kv_heads is None:
            return head
        return head // (self.n_heads // self.n_kv_heads)


def layer_windows(cfg) -> tuple[int | None, ...]:
    """:attr:`ModelInfo.layer_windows` of a config: empty when no layer has a window."""
    windows = tuple(cfg.layer_window(i) for i in range(cfg.n_layers))
    return windows if any(w is not None for w in windows) else ()


def rope_bases(cfg) -> tuple[float, ...]:
    """:attr:`ModelInfo.rope_bases` of a config: empty without RoPE."""
    if cfg.positional != "rope":
        return ()
    local = cfg.rope_local_theta
    return tuple(float(local if local is not None and cfg.layer_window(i) is not None else cfg.rope_theta)
                 for i in range(cfg.n_layers))
