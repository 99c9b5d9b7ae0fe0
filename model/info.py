"""What panels need to know about the loaded model, once per load (not per forward pass)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

TokenizerKind = Literal["wordpiece", "byte_level", "sentencepiece", "other"]


@dataclass(frozen=True, eq=False)
class ModelInfo:
    """Immutable facts about a loaded model, sent to every panel when a model is loaded.

    ``embedding_table`` is the model's own token-embedding lookup table (V, d_embed) —
    for the bundled model, all-MiniLM-L6-v2's 384-d word-piece table — as a read-only
    float32 array. ``vocabulary[i]`` is token ``i`` as a person reads it.
    ``output_token_ids`` lists the ids the model can predict (None: all of them).
    ``n_kv_heads``: key/value heads per layer under grouped-query attention (None: one per
    query head); query head h shares kv head ``kv_head(h)``. ``positional`` is "learned",
    "sinusoidal" or "rope" (no position vector is added: q and k are rotated).
    ``weights_note`` says when the weights are not the original ones (dequantized GGUF);
    show it wherever the model's numbers are shown.
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
    n_kv_heads: int | None = None
    positional: str = "learned"
    weights_note: str = ""
    n_params: int = 0

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
