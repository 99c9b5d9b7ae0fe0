"""Where a token is: sinusoidal position vectors and rotary position embeddings (RoPE).

Both are functions of the position alone, so a pass that runs only the tokens from position
``offset`` on (:mod:`model.core.incremental`) reads the same rows as a pass over the whole text.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from model.core.config import ModelConfig


def sinusoidal_positions(n_positions: int, d_model: int, base: float = 10000.0) -> torch.Tensor:
    """P[k, 2i] = sin(k / base^(2i/d)), P[k, 2i+1] = cos(k / base^(2i/d)); shape (n, d)."""
    positions = torch.arange(n_positions, dtype=torch.float64)[:, None]  # (n, 1)
    two_i = torch.arange(0, d_model, 2, dtype=torch.float64)  # (d/2,)
    angles = positions / base ** (two_i / d_model)  # (n, d/2)
    table = torch.zeros(n_positions, d_model, dtype=torch.float64)
    table[:, 0::2] = torch.sin(angles)
    table[:, 1::2] = torch.cos(angles[:, : d_model // 2])
    return table.float()



def rope_frequencies(cfg: ModelConfig, theta: float | None = None, plain: bool = False) -> tuple[torch.Tensor, float]:
    """RoPE inverse frequencies (d_head/2,) and the factor cos/sin are scaled by.

    Follows Hugging Face's ``modeling_rope_utils`` for the default schedule and the
    ``linear``, ``llama3`` and ``yarn`` ones; ``dynamic`` NTK equals the default while a
    sequence fits the context window, and ours always does. ``theta``: another base than
    ``cfg.rope_theta``; ``plain``: without ``cfg.rope_scaling`` (Gemma 3's local layers).
    """
    dim = cfg.d_head
    exponents = torch.arange(0, dim, 2, dtype=torch.int64).float() / dim  # (dim/2,)
    inv_freq = 1.0 / ((theta if theta is not None else cfg.rope_theta) ** exponents)
    scaling = {} if plain else cfg.rope_scaling_dict
    kind = scaling.get("rope_type", "default")
    factor = float(scaling.get("factor", 1.0))
    if kind == "linear":
        return inv_freq / factor, 1.0
    if kind == "llama3":
        old_ctx = scaling["original_max_position_embeddings"]
        low, high = scaling["low_freq_factor"], scaling["high_freq_factor"]
        wavelen = 2 * math.pi / inv_freq
        scaled = torch.where(wavelen > old_ctx / low, inv_freq / factor, inv_freq)
        smooth = (old_ctx / wavelen - low) / (high - low)
        smoothed = (1 - smooth) * scaled / factor + smooth * scaled
        medium = ~(wavelen < old_ctx / high) * ~(wavelen > old_ctx / low)
        return torch.where(medium, smoothed, scaled), 1.0
    if kind == "yarn":
        return _yarn_frequencies(cfg, scaling, dim)
    if kind == "freq_factors":  # llama.cpp's rope_freqs: Llama 3.1+'s schedule, precomputed
        return inv_freq / torch.tensor(scaling["factors"], dtype=torch.float32), 1.0
    return inv_freq, 1.0


def _yarn_frequencies(cfg: ModelConfig, scaling: dict, dim: int) -> tuple[torch.Tensor, float]:
    """YaRN (Peng et al. 2023): interpolate the slow dimensions, keep the fast ones."""
    base, factor = cfg.rope_theta, float(scaling["factor"])
    old_ctx = scaling.get("original_max_position_embeddings") or cfg.n_ctx

    def mscale(scale: float, m: float = 1.0) -> float:
        return 1.0 if scale <= 1 else 0.1 * m * math.log(scale) + 1.0

    attention = scaling.get("attention_factor")
    if attention is None:
        m, m_all = scaling.get("mscale"), scaling.get("mscale_all_dim")
        attention = mscale(factor, m) / mscale(factor, m_all) if m and m_all else mscale(factor)
    beta_fast, beta_slow = scaling.get("beta_fast") or 32, scaling.get("beta_slow") or 1

    def correction_dim(rotations: float) -> float:
        return (dim * math.log(old_ctx / (rotations * 2 * math.pi))) / (2 * math.log(base))

    low, high = correction_dim(beta_fast), correction_dim(beta_slow)
    if scaling.get("truncate", True):
        low, high = math.floor(low), math.ceil(high)
    low, high = max(low, 0), min(high, dim - 1)
    if low == high:
        high += 0.001  # no zero-width ramp
    ramp = torch.clamp((torch.arange(dim // 2, dtype=torch.float32) - low) / (high - low), 0, 1)
    pos_freqs = base ** (torch.arange(0, dim, 2).float() / dim)
    keep = 1 - ramp  # 1: extrapolate (unchanged frequency), 0: interpolate (divided by factor)
    inv_freq = (1.0 / (factor * pos_freqs)) * (1 - keep) + (1.0 / pos_freqs) * keep
    return inv_freq, float(attention)


class RotaryEmbedding(nn.Module):
    """cos and sin tables for positions 0..T-1, each (T, d_head): the pair (i, i + d_head/2)
    of every q and k is rotated by angle position · inv_freq[i] (Hugging Face's layout)."""

    def __init__(self, cfg: ModelConfig, theta: float | None = None, plain: bool = False) -> None:
        super().__init__()
        inv_freq, self.scale = rope_frequencies(cfg, theta, plain)
        self.register_buffer("inv_freq", inv_freq, persistent=False)

    def forward(self, T: int) -> tuple[torch.Tensor, torch.Tensor]:
        positions = torch.arange(T, device=self.inv_freq.device).float()
        freqs = positions[:, None] * self.inv_freq[None, :]  # (T, d_head/2)
        angles = torch.cat((freqs, freqs), dim=-1)  # (T, d_head)
        return angles.cos() * self.scale, angles.sin() * self.scale


def rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Apply RoPE to x (B, nh, T, hs): x·cos + rotate_half(x)·sin."""
    half = x.shape[-1] // 2
    rotated_half = torch.cat((-x[..., half:], x[..., :half]), dim=-1)
    return x * cos + rotated_half * sin

