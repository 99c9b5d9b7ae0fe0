"""A compact transformer whose every internal is captured by name.

Attention is written out (scores → mask → softmax → weighted values) instead of calling the
fused kernel, because the fused kernel never materialises the pattern and the pattern is
what this app shows. When ``forward`` is given a ``cache`` dict, each module stores its
intermediate tensors there under the names listed by :func:`activation_names`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from model.core.config import ModelConfig

Cache = dict[str, torch.Tensor]


def activation_names(n_layers: int, rotary: bool = False) -> list[str]:
    """The ordered names of everything one traced forward pass captures.

    This list is a contract: panels look activations up by these names and a test pins it.
    ``rotary``: a RoPE model also captures q and k before their rotation
    (``attn.q_unrotated``, ``attn.k_unrotated``); ``attn.q`` / ``attn.k`` are always what
    the scores use. Under grouped-query attention k and v are given per query head.
    """
    names = ["embed.token", "embed.pos"]
    for i in range(n_layers):
        p = f"blocks.{i}"
        names += [f"{p}.resid_pre"]
        if rotary:
            names += [f"{p}.attn.q_unrotated", f"{p}.attn.k_unrotated"]
        names += [
            f"{p}.attn.in",
            f"{p}.attn.q",
            f"{p}.attn.k",
            f"{p}.attn.v",
            f"{p}.attn.scores",
            f"{p}.attn.masked_scores",
            f"{p}.attn.pattern",
            f"{p}.attn.head_out",
            f"{p}.attn.out",
            f"{p}.resid_mid",
            f"{p}.mlp.out",
            f"{p}.resid_post",
        ]
    names += ["final_norm", "logits"]
    return names


def sinusoidal_positions(n_positions: int, d_model: int, base: float = 10000.0) -> torch.Tensor:
    """P[k, 2i] = sin(k / base^(2i/d)), P[k, 2i+1] = cos(k / base^(2i/d)); shape (n, d)."""
    positions = torch.arange(n_positions, dtype=torch.float64)[:, None]  # (n, 1)
    two_i = torch.arange(0, d_model, 2, dtype=torch.float64)  # (d/2,)
    angles = positions / base ** (two_i / d_model)  # (n, d/2)
    table = torch.zeros(n_positions, d_model, dtype=torch.float64)
    table[:, 0::2] = torch.sin(angles)
    table[:, 1::2] = torch.cos(angles[:, : d_model // 2])
    return table.float()


def _activation(kind: str):
    if kind == "gelu":
        return F.gelu
    if kind == "gelu_tanh":
        return lambda x: F.gelu(x, approximate="tanh")
    if kind == "silu":
        return F.silu
    return F.relu


class RMSNorm(nn.Module):
    """x / sqrt(mean(x²) + eps) · g, computed in float32 (as Llama's reference does)."""

    def __init__(self, width: int, eps: float) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(width))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.float()
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * h.to(x.dtype)


def _norm(cfg: ModelConfig, width: int | None = None) -> nn.Module:
    """The model's normalisation over ``width`` features (default d_model): LayerNorm or
    RMSNorm, or none at all for the lesson models (``cfg.layer_norm`` False)."""
    width = width or cfg.d_model
    if not cfg.layer_norm:
        return nn.Identity()
    if cfg.norm == "rmsnorm":
        return RMSNorm(width, cfg.layer_norm_eps)
    return nn.LayerNorm(width, eps=cfg.layer_norm_eps)


def rope_frequencies(cfg: ModelConfig) -> tuple[torch.Tensor, float]:
    """RoPE inverse frequencies (d_head/2,) and the factor cos/sin are scaled by.

    Follows Hugging Face's ``modeling_rope_utils`` for the default schedule and the
    ``linear``, ``llama3`` and ``yarn`` ones; ``dynamic`` NTK equals the default while a
    sequence fits the context window, and ours always does.
    """
    dim = cfg.d_head
    exponents = torch.arange(0, dim, 2, dtype=torch.int64).float() / dim  # (dim/2,)
    inv_freq = 1.0 / (cfg.rope_theta ** exponents)
    scaling = cfg.rope_scaling_dict
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

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        inv_freq, self.scale = rope_frequencies(cfg)
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


class Attention(nn.Module):
    """Multi-head self-attention with a per-head view of its output."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.n_heads, self.d_head, self.causal = cfg.n_heads, cfg.d_head, cfg.causal
        self.divisor = math.sqrt(cfg.d_head) if cfg.scale_scores else 1.0  # lessons: no ÷√dₖ
        self.n_kv = cfg.kv_heads
        self.window = cfg.sliding_window
        widths = (cfg.n_heads * cfg.d_head, self.n_kv * cfg.d_head, self.n_kv * cfg.d_head)  # q, k, v
        self.widths = widths
        self.qkv = nn.Linear(cfg.d_model, sum(widths), bias=cfg.attn_bias)
        out_bias = cfg.attn_bias if cfg.attn_out_bias is None else cfg.attn_out_bias
        self.out = nn.Linear(widths[0], cfg.d_model, bias=out_bias)
        self.q_norm = _norm(cfg, cfg.d_head) if cfg.qk_norm else None
        self.k_norm = _norm(cfg, cfg.d_head) if cfg.qk_norm else None
        if cfg.positional != "rope":  # a RoPE model's context can be 8k+: its mask is built per call
            future = torch.triu(torch.ones(cfg.n_ctx, cfg.n_ctx, dtype=torch.bool), diagonal=1)
            self.register_buffer("future_mask", future, persistent=False)

    def hidden_mask(self, T: int, device: torch.device) -> torch.Tensor:
        """(T, T) True where a query may not look: later keys, and with a sliding window,
        keys ``window`` or more positions back."""
        if hasattr(self, "future_mask"):
            return self.future_mask[:T, :T]
        mask = torch.ones(T, T, dtype=torch.bool, device=device).triu(1)
        if self.window is not None:
            mask |= torch.ones(T, T, dtype=torch.bool, device=device).tril(-self.window)
        return mask

    def head_weights(self) -> torch.Tensor:
        """W_O split by head, (nh, hs, d_model), float32 and contiguous.

        A copy of ``out.weight`` (converted to float32 for a bfloat16 model), kept until that
        weight changes. The strided view of W_O by head is twice as slow to multiply by one
        token's z (0.43 vs 0.19 ms a layer at GPT-2 small, which reads 2.4 MB either way):
        the copy costs one W_O more memory (28 MB at GPT-2 small) and saves ~3 ms a keystroke."""
        w = self.out.weight
        key = (w.data_ptr(), w._version, w.dtype, w.device)
        held = self.__dict__.get("_head_weights")
        if held is None or held[0] != key:
            C, nh, hs = w.shape[0], self.n_heads, self.d_head
            by_head = w.detach().float().view(C, nh, hs).permute(1, 2, 0).contiguous()
            held = self.__dict__["_head_weights"] = (key, by_head)
        return held[1]

    def head_outputs(self, z: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
        """Each head's contribution to the residual stream, z_h W_O[h]: (B, nh, T, d_model)
        from the heads' weighted values z (B, nh, T, hs), in float32. The full pass and the
        incremental one (model/core/incremental.py) both call this, so they compute it alike."""
        return torch.matmul(z, self.head_weights(), out=out)

    def forward(
        self,
        x: torch.Tensor,
        cache: Cache | None = None,
        prefix: str = "",
        rope: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        B, T, C = x.shape
        nh, hs, nkv = self.n_heads, self.d_head, self.n_kv
        q, k, v = self.qkv(x).split(self.widths, dim=2)
        q = q.view(B, T, nh, hs).transpose(1, 2)  # (B, nh, T, hs)
        k = k.view(B, T, nkv, hs).transpose(1, 2)  # (B, nkv, T, hs)
        v = v.view(B, T, nkv, hs).transpose(1, 2)  # (B, nkv, T, hs)
        if self.q_norm is not None:
            q, k = self.q_norm(q), self.k_norm(k)
        q_unrotated, k_unrotated = q, k
        if rope is not None:
            q, k = rotate(q, *rope), rotate(k, *rope)
        if nkv != nh:  # grouped-query attention: query head h reads kv head h // (nh / nkv)
            k, v, k_unrotated = (t.repeat_interleave(nh // nkv, dim=1) for t in (k, v, k_unrotated))  # (B, nh, T, hs)
        scores = (q @ k.transpose(-2, -1)) / self.divisor  # (B, nh, T, T)
        if self.causal:
            masked = scores.masked_fill(self.hidden_mask(T, x.device), float("-inf"))
        else:
            masked = scores
        pattern = torch.softmax(masked, dim=-1)  # (B, nh, T, T), each query row sums to 1
        z = pattern @ v  # (B, nh, T, hs)
        out = self.out(z.transpose(1, 2).reshape(B, T, nh * hs))  # (B, T, C)
        if cache is not None:
            cache[f"{prefix}in"] = x  # the rows this head reads: LN output (pre-norm) or the residual
            # The largest capture, (B, nh, T, d_model): written straight into a buffer the
            # caller put in the cache under this name (the runner's (L, …) array), if any.
            buffer = cache.get(f"{prefix}head_out")
            if buffer is not None and buffer.shape != (B, nh, T, C):
                buffer = None
            head_out = self.head_outputs(z, out=buffer)  # (B, nh, T, d_model)
            cache[f"{prefix}q"], cache[f"{prefix}k"], cache[f"{prefix}v"] = q, k, v
            if rope is not None:
                cache[f"{prefix}q_unrotated"], cache[f"{prefix}k_unrotated"] = q_unrotated, k_unrotated
            cache[f"{prefix}scores"] = scores
            cache[f"{prefix}masked_scores"] = masked
            cache[f"{prefix}pattern"] = pattern
            cache[f"{prefix}head_out"] = head_out
            cache[f"{prefix}out"] = out
        return out


class MLP(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.fc = nn.Linear(cfg.d_model, cfg.mlp_width, bias=cfg.mlp_bias)
        self.gate = nn.Linear(cfg.d_model, cfg.mlp_width, bias=cfg.mlp_bias) if cfg.gated_mlp else None
        self.proj = nn.Linear(cfg.mlp_width, cfg.d_model, bias=cfg.mlp_bias)
        self.act = _activation(cfg.activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.gate is not None:  # SwiGLU: act(gate(x)) scales the up projection elementwise
            return self.proj(self.act(self.gate(x)) * self.fc(x))
        return self.proj(self.act(self.fc(x)))


class Block(nn.Module):
    """Attention then MLP, each added to the residual stream.

    ``pre`` (GPT): x + f(LN(x)). ``post`` (BERT): LN(x + f(x)).
    """

    def __init__(self, cfg: ModelConfig, index: int) -> None:
        super().__init__()
        self.prefix = f"blocks.{index}."
        self.pre_norm = cfg.norm_placement == "pre"
        self.ln1 = _norm(cfg)
        self.attn = Attention(cfg)
        self.ln2 = _norm(cfg)
        self.mlp = MLP(cfg) if cfg.mlp else None
        self.drop = nn.Dropout(cfg.dropout)

    def forward(
        self, x: torch.Tensor, cache: Cache | None = None, rope: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> torch.Tensor:
        p = self.prefix
        if self.pre_norm:
            mid = x + self.drop(self.attn(self.ln1(x), cache, p + "attn.", rope))
            mlp_out = self._mlp(self.ln2(mid))
            post = mid + self.drop(mlp_out)
        else:
            mid = self.ln1(x + self.drop(self.attn(x, cache, p + "attn.")))
            mlp_out = self._mlp(mid)
            post = self.ln2(mid + self.drop(mlp_out))
        if cache is not None:
            cache[p + "resid_pre"], cache[p + "resid_mid"] = x, mid
            cache[p + "mlp.out"], cache[p + "resid_post"] = mlp_out, post
        return post

    def _mlp(self, x: torch.Tensor) -> torch.Tensor:
        return self.mlp(x) if self.mlp is not None else torch.zeros_like(x)


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


class Transformer(nn.Module):
    """Token embedding (+ optional projection) + positions (→ LayerNorm, for BERT) → blocks →
    final norm → unembedding (absent when ``cfg.has_lm_head`` is False)."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.tok_embed = nn.Embedding(cfg.vocab_size, cfg.embed_width)
        self.embed_proj = (
            nn.Linear(cfg.embed_width, cfg.d_model, bias=False)
            if cfg.embed_width != cfg.d_model
            else None
        )
        self.rope = RotaryEmbedding(cfg) if cfg.positional == "rope" else None
        if cfg.positional == "learned":
            self.pos_embed = nn.Embedding(cfg.n_ctx, cfg.d_model)
        elif cfg.positional == "rope":
            self.pos_embed = None  # RoPE adds no position vector: it rotates q and k in every head
        else:
            self.pos_embed = None
            table = sinusoidal_positions(cfg.n_ctx, cfg.d_model, cfg.sinusoid_base)
            self.register_buffer("sinusoids", table, persistent=False)
        self.embed_ln = nn.LayerNorm(cfg.d_model, eps=cfg.layer_norm_eps) if cfg.embed_layer_norm else None
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(Block(cfg, i) for i in range(cfg.n_layers))
        self.ln_f = _norm(cfg) if cfg.norm_placement == "pre" else None
        self.unembed: nn.Module | None
        if not cfg.has_lm_head:
            self.unembed = None
        elif cfg.adaptive_tied:
            self.unembed = TiedAdaptiveSoftmax(
                cfg.d_model, cfg.embed_width, cfg.n_outputs, list(cfg.adaptive_cutoffs), cfg.unembed_bias
            )
        elif cfg.adaptive_cutoffs is not None:
            self.unembed = nn.AdaptiveLogSoftmaxWithLoss(
                cfg.d_model, cfg.n_outputs, list(cfg.adaptive_cutoffs),
                div_value=cfg.adaptive_div_value, head_bias=cfg.unembed_bias,
            )
        else:
            self.unembed = nn.Linear(cfg.d_model, cfg.n_outputs, bias=cfg.unembed_bias)
        if cfg.tie_embeddings:
            self.unembed.weight = self.tok_embed.weight
        ids = cfg.output_token_ids
        self.register_buffer(
            "output_token_ids",
            torch.tensor(ids if ids is not None else [], dtype=torch.long),
            persistent=False,
        )

    def output_table(self) -> torch.Tensor:
        """The embedding rows of the output vocabulary, in output order (n_outputs, d_embed),
        which a :class:`TiedAdaptiveSoftmax` scores against. Gathered once and kept until
        the embedding changes (it is frozen in training and fixed in the app)."""
        weight = self.tok_embed.weight
        key = (weight.data_ptr(), weight._version, weight.requires_grad and torch.is_grad_enabled())
        cached = getattr(self, "_output_table_cache", None)
        if cached is not None and cached[0] == key and not key[2]:
            return cached[1]
        table = weight[self.output_token_ids] if self.cfg.output_token_ids is not None else weight
        if not key[2]:
            table = table.detach()
            self._output_table_cache = (key, table)
        return table

    def embed(self, idx: torch.Tensor) -> torch.Tensor:
        """Token embedding rows as they enter the residual stream, before positions: (B, T, d)."""
        rows = self.tok_embed(idx)
        return self.embed_proj(rows) if self.embed_proj is not None else rows

    def positions(self, T: int) -> torch.Tensor:
        if self.pos_embed is not None:
            return self.pos_embed.weight[:T]
        if self.rope is not None:
            return self.tok_embed.weight.new_zeros(T, self.cfg.d_model)  # nothing is added
        return self.sinusoids[:T]

    def hidden(self, idx: torch.Tensor, cache: Cache | None = None) -> torch.Tensor:
        """The final-normed residual stream for token ids ``idx`` (B, T): (B, T, d)."""
        B, T = idx.shape
        if T > self.cfg.n_ctx:
            raise ValueError(f"sequence of {T} tokens exceeds the context window of {self.cfg.n_ctx}")
        token = self.embed(idx)  # (B, T, d)
        pos = self.positions(T).unsqueeze(0).expand(B, T, -1)  # (B, T, d)
        x = token + pos
        if self.embed_ln is not None:
            x = self.embed_ln(x)  # BERT normalises the summed embeddings; resid_pre[0] is the result
        x = self.drop(x)
        rope = self.rope(T) if self.rope is not None else None  # (T, d_head) cos and sin
        for block in self.blocks:
            x = block(x, cache, rope)
        final = self.ln_f(x) if self.ln_f is not None else x
        if cache is not None:
            cache["embed.token"], cache["embed.pos"], cache["final_norm"] = token, pos, final
        return final

    def unembed_logits(self, h: torch.Tensor) -> torch.Tensor:
        """Logits over the output vocabulary for hidden states ``h`` (..., d)."""
        if self.unembed is None:
            raise ValueError(f"{self.cfg.name} has no language-model head: it predicts no tokens")
        if isinstance(self.unembed, TiedAdaptiveSoftmax):
            flat = self.unembed.log_prob(h.reshape(-1, h.shape[-1]), self.output_table())  # (N, n_outputs)
            return flat.view(*h.shape[:-1], flat.shape[-1])  # also for zero rows
        if isinstance(self.unembed, nn.AdaptiveLogSoftmaxWithLoss):
            flat = self.unembed.log_prob(h.reshape(-1, h.shape[-1]))  # (N, n_outputs)
            return flat.view(*h.shape[:-1], flat.shape[-1])  # also for zero rows
        return self.unembed(h)

    def forward(
        self,
        idx: torch.Tensor,
        cache: Cache | None = None,
        logit_positions: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Run the model on token ids ``idx`` (B, T).

        Returns logits over the output vocabulary, (B, T, n_outputs), or (B, P, n_outputs)
        for the positions in ``logit_positions`` only: projecting onto the vocabulary is
        the dominant cost at short lengths, and the app usually needs one position.
        A model without an LM head returns no logits: (B, 0, n_outputs).
        """
        final = self.hidden(idx, cache)
        if self.unembed is None:
            logits = final.new_empty((final.shape[0], 0, self.cfg.n_outputs))  # (B, 0, V)
        else:
            selected = final[:, logit_positions] if logit_positions is not None else final  # (B, P, d)
            logits = self.unembed_logits(selected)
        if cache is not None:
            cache["logits"] = logits
        return logits

    def loss(self, idx: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Mean next-token cross-entropy (nats); ``targets`` index the output vocabulary."""
        if self.unembed is None:
            raise ValueError(f"{self.cfg.name} has no language-model head: it has no next-token loss")
        h = self.hidden(idx)
        if isinstance(self.unembed, TiedAdaptiveSoftmax):
            return self.unembed.loss(h.reshape(-1, h.shape[-1]), targets.reshape(-1), self.output_table())
        if isinstance(self.unembed, nn.AdaptiveLogSoftmaxWithLoss):
            return self.unembed(h.reshape(-1, h.shape[-1]), targets.reshape(-1)).loss
        logits = self.unembed(h)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))

    def full_vocab_logits(self, logits: torch.Tensor) -> torch.Tensor:
        """Scatter output-vocabulary logits onto the full vocabulary; other ids get −∞."""
        if self.cfg.output_token_ids is None:
            return logits
        full = logits.new_full((*logits.shape[:-1], self.cfg.vocab_size), float("-inf"))
        full[..., self.output_token_ids] = logits
        return full

    def num_parameters(self, trainable_only: bool = False) -> int:
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)
