"""The worked examples of the source documents, computed (not copied) so the app can show
them step by step and the tests can check them against the printed numbers."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    shifted = x - np.max(x, axis=axis, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=axis, keepdims=True)


@dataclass(frozen=True)
class ThreeTokenQKV:
    """Self-attention by hand on three 4-d inputs with 4×3 key/query/value matrices
    (002_08f3fb67761a549c.txt, "Self-Attention的实现"). No scaling by √d_k, as printed there."""

    x: np.ndarray
    w_key: np.ndarray
    w_query: np.ndarray
    w_value: np.ndarray
    keys: np.ndarray
    queries: np.ndarray
    values: np.ndarray
    scores: np.ndarray
    weights: np.ndarray
    weighted_values: np.ndarray  # (key, query, 3): value of key j scaled by query i's weight
    outputs: np.ndarray  # (query, 3)


def three_token_qkv_example() -> ThreeTokenQKV:
    x = np.array([[1, 0, 1, 0], [0, 2, 0, 2], [1, 1, 1, 1]], dtype=np.float32)
    w_key = np.array([[0, 0, 1], [1, 1, 0], [0, 1, 0], [1, 1, 0]], dtype=np.float32)
    w_query = np.array([[1, 0, 1], [1, 0, 0], [0, 0, 1], [0, 1, 1]], dtype=np.float32)
    w_value = np.array([[0, 2, 0], [0, 3, 0], [1, 0, 3], [1, 1, 0]], dtype=np.float32)
    keys, queries, values = x @ w_key, x @ w_query, x @ w_value
    scores = queries @ keys.T
    weights = softmax(scores)
    weighted = values[:, None, :] * weights.T[:, :, None]
    return ThreeTokenQKV(
        x, w_key, w_query, w_value, keys, queries, values, scores, weights, weighted, weights @ values
    )


@dataclass(frozen=True)
class YourJourneyAttention:
    """Simple self-attention without trainable weights on "Your journey starts with one step"
    (003_d7d4370ea74ca8e0.txt, section 3.3.1)."""

    tokens: tuple[str, ...]
    inputs: np.ndarray  # (6, 3) embeddings as printed in the book
    scores: np.ndarray  # (6, 6) ω = inputs · inputsᵀ
    weights_by_sum: np.ndarray  # ω normalised by its row sum
    weights: np.ndarray  # softmax(ω) per row
    context: np.ndarray  # (6, 3) z = weights · inputs


def your_journey_example() -> YourJourneyAttention:
    tokens = ("Your", "journey", "starts", "with", "one", "step")
    inputs = np.array(
        [
            [0.43, 0.15, 0.89],
            [0.55, 0.87, 0.66],
            [0.57, 0.85, 0.64],
            [0.22, 0.58, 0.33],
            [0.77, 0.25, 0.10],
            [0.05, 0.80, 0.55],
        ],
        dtype=np.float32,
    )
    scores = inputs @ inputs.T
    by_sum = scores / scores.sum(axis=1, keepdims=True)
    weights = softmax(scores)
    return YourJourneyAttention(tokens, inputs, scores, by_sum, weights, weights @ inputs)


@dataclass(frozen=True)
class Gpt3Counts:
    """The GPT-3 sizes quoted in 000_f371095e5e9c3506.txt (3Blue1Brown's chapter)."""

    vocab_size: int = 50257
    d_model: int = 12288
    d_head: int = 128
    n_heads: int = 96
    n_ctx: int = 2048

    @property
    def embedding_weights(self) -> int:
        """50257 × 12288 ≈ 617 million ("6.17亿")."""
        return self.vocab_size * self.d_model

    @property
    def weights_per_head(self) -> int:
        """Query, key, value-down and value-up maps: 4 × 12288 × 128 ≈ 6.3 million ("630w")."""
        return 4 * self.d_model * self.d_head

    @property
    def weights_per_attention_layer(self) -> int:
        """96 heads ≈ 604 million ("约6亿")."""
        return self.n_heads * self.weights_per_head

    @property
    def full_rank_value_map(self) -> int:
        """A single 12288 × 12288 value matrix, before the low-rank split."""
        return self.d_model * self.d_model

    @property
    def low_rank_value_map(self) -> int:
        """12288 × 128 + 128 × 12288 after the split."""
        return 2 * self.d_model * self.d_head

    @property
    def attention_pattern_cells(self) -> int:
        """The pattern is context² in size: 2048² cells per head."""
        return self.n_ctx * self.n_ctx


def __getattr__(name: str):
    """``sinusoidal_positions`` is re-exported for lessons, imported on first use: the window
    imports this module before torch is loaded (start-up time)."""
    if name == "sinusoidal_positions":
        from model.core.transformer import sinusoidal_positions

        return sinusoidal_positions
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
