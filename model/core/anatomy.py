"""What a model is made of, read once per load: its parameters by kind (document 000's
accounting: embedding, W_Q / W_K / W_V / W_O, MLP, unembedding, LayerNorm) and its table of
position vectors (document 001's sinusoids, or a learned table)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from model.core.config import ModelConfig
    from model.core.transformer import Transformer

#: The kinds, in the order a forward pass meets them.
KINDS = ("embedding", "positions", "W_Q", "W_K", "W_V", "W_O", "MLP", "LayerNorm", "unembedding", "other")


@dataclass(frozen=True, eq=False)
class ModelStructure:
    """``counts``: (kind, parameters, how many matrices/shape) in :data:`KINDS` order, tied
    weights counted once (under "embedding"). ``positions`` (n_ctx, d_model), read-only:
    the vector added at each position (for a BERT checkpoint, position + segment A).
    ``positional`` is "sinusoidal" or "learned"; ``sinusoid_base`` is n in 001's formula."""

    counts: tuple[tuple[str, int, str], ...]
    positions: np.ndarray
    positional: str
    sinusoid_base: float
    tied: bool

    def __post_init__(self) -> None:
        self.positions.setflags(write=False)

    @property
    def total(self) -> int:
        return sum(n for _, n, _ in self.counts)


def model_structure(module: Transformer) -> ModelStructure:
    cfg = module.cfg
    seen: set[int] = set()
    parameters = []
    for name, p in module.named_parameters():
        if id(p) not in seen:  # tied weights once
            seen.add(id(p))
            parameters.append((name, tuple(p.shape)))
    # A RoPE model adds no position vector: no table (its zeros would take n_ctx × d floats).
    table = (np.zeros((0, cfg.d_model), dtype=np.float32) if cfg.positional == "rope"
             else module.positions(cfg.n_ctx).detach().float().cpu().numpy().copy())
    return structure_of(cfg, parameters, table)


def structure_of(cfg: ModelConfig, parameters: Iterable[tuple[str, tuple[int, ...]]],
                 position_table: np.ndarray) -> ModelStructure:
    """The accounting of :func:`model_structure` from the parameters' names and shapes (each
    tied weight once) and the position table, without a module: the NumPy start-up path
    (:mod:`model.tracer.numpy_forward`) builds the same record from the weights file."""
    C, L = cfg.d_model, cfg.n_layers
    counts = dict.fromkeys(KINDS, 0)
    for name, shape in parameters:
        n = math.prod(shape)
        if name.startswith(("tok_embed", "embed_proj")):
            counts["embedding"] += n
        elif name.startswith("pos_embed"):
            counts["positions"] += n
        elif ".attn.qkv." in name:
            # rows: n_heads·d_head for Q, then n_kv_heads·d_head each for K and V (GQA)
            per_row = n // shape[0]
            q_rows, kv_rows = cfg.n_heads * cfg.d_head, cfg.kv_heads * cfg.d_head
            counts["W_Q"] += q_rows * per_row
            counts["W_K"] += kv_rows * per_row
            counts["W_V"] += kv_rows * per_row
        elif ".attn.out." in name:
            counts["W_O"] += n
        elif ".mlp." in name:
            counts["MLP"] += n
        elif "ln" in name.split(".")[-2] or name.startswith("embed_ln") or "_norm." in name:
            counts["LayerNorm"] += n
        elif name.startswith("unembed"):
            counts["unembedding"] += n
        else:
            counts["other"] += n  # a module this accounting does not know yet
    H, dh, KV = cfg.n_heads, cfg.d_head, cfg.kv_heads
    kv = f"{KV} key/value heads (shared by {H // KV} query heads each)" if KV != H else f"{H} heads"
    positions = {"learned": f"{cfg.n_ctx} × {C}", "sinusoidal": "sin/cos formula: 0 weights",
                 "rope": "rotary (RoPE): q and k are rotated, 0 weights"}[cfg.positional]
    mlp = (f"{L} layers × {C} → 2 × {cfg.mlp_width} (gate, up) → {C}" if cfg.gated_mlp
           else f"{L} layers × {C} → {cfg.mlp_width} → {C}")
    shapes = {
        "embedding": f"{cfg.vocab_size} × {cfg.embed_width}" + (f" → {C}" if cfg.embed_width != C else ""),
        "positions": positions,
        "W_Q": f"{L} layers × {H} heads × {C} × {dh}",
        "W_K": f"{L} layers × {kv} × {C} × {dh}",
        "W_V": f"{L} layers × {kv} × {C} × {dh}",
        "W_O": f"{L} layers × {H} heads × {dh} × {C}",
        "MLP": mlp if cfg.mlp else "none",
        "LayerNorm": ("γ per RMSNorm" if cfg.norm == "rmsnorm" else "γ and β per norm") if cfg.layer_norm else "none",
        "unembedding": ("tied to the embedding" if cfg.tie_embeddings else
                        "none (encoder)" if not cfg.has_lm_head else
                        f"adaptive softmax over {cfg.n_outputs} tokens, scored against their embedding rows"
                        if cfg.adaptive_tied else
                        f"adaptive softmax over {cfg.n_outputs} tokens" if cfg.adaptive_cutoffs else
                        f"{C} × {cfg.n_outputs}"),
        "other": "",
    }
    return ModelStructure(
        tuple((k, counts[k], shapes[k]) for k in KINDS if k != "other" or counts[k]), position_table, cfg.positional,
        cfg.sinusoid_base, cfg.tie_embeddings,
    )
