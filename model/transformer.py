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

from model.config import ModelConfig

Cache = dict[str, torch.Tensor]


def activation_names(n_layers: int) -> list[str]:
    """The ordered names of everything one traced forward pass captures.

    This list is a contract: panels look activations up by these names and a test pins it.
    """
    names = ["embed.token", "embed.pos"]
    for i in range(n_layers):
        p = f"blocks.{i}"
        names += [
            f"{p}.resid_pre",
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
    return F.relu


class Attention(nn.Module):
    """Multi-head self-attention with a per-head view of its output."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.n_heads, self.d_head, self.causal = cfg.n_heads, cfg.d_head, cfg.causal
        self.divisor = math.sqrt(cfg.d_head) if cfg.scale_scores else 1.0  # lessons: no ÷√dₖ
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model, bias=cfg.attn_bias)
        self.out = nn.Linear(cfg.d_model, cfg.d_model, bias=cfg.attn_bias)
        future = torch.triu(torch.ones(cfg.n_ctx, cfg.n_ctx, dtype=torch.bool), diagonal=1)
        self.register_buffer("future_mask", future, persistent=False)

    def forward(self, x: torch.Tensor, cache: Cache | None = None, prefix: str = "") -> torch.Tensor:
        B, T, C = x.shape
        nh, hs = self.n_heads, self.d_head
        q, k, v = self.qkv(x).split(C, dim=2)
        q = q.view(B, T, nh, hs).transpose(1, 2)  # (B, nh, T, hs)
        k = k.view(B, T, nh, hs).transpose(1, 2)  # (B, nh, T, hs)
        v = v.view(B, T, nh, hs).transpose(1, 2)  # (B, nh, T, hs)
        scores = (q @ k.transpose(-2, -1)) / self.divisor  # (B, nh, T, T)
        if self.causal:
            masked = scores.masked_fill(self.future_mask[:T, :T], float("-inf"))
        else:
            masked = scores
        pattern = torch.softmax(masked, dim=-1)  # (B, nh, T, T), each query row sums to 1
        z = pattern @ v  # (B, nh, T, hs)
        out = self.out(z.transpose(1, 2).reshape(B, T, C))  # (B, T, C)
        if cache is not None:
            cache[f"{prefix}in"] = x  # the rows this head reads: LN output (pre-norm) or the residual
            w_o = self.out.weight.view(C, nh, hs).permute(1, 2, 0)  # (nh, hs, d_model): W_O split by head
            # The largest capture, (B, nh, T, d_model): written straight into a buffer the
            # caller put in the cache under this name (the runner's (L, …) array), if any.
            buffer = cache.get(f"{prefix}head_out")
            if buffer is not None and buffer.shape != (B, nh, T, C):
                buffer = None
            head_out = torch.matmul(z, w_o, out=buffer)  # (B, nh, T, d_model)
            cache[f"{prefix}q"], cache[f"{prefix}k"], cache[f"{prefix}v"] = q, k, v
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
        self.proj = nn.Linear(cfg.mlp_width, cfg.d_model, bias=cfg.mlp_bias)
        self.act = _activation(cfg.activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(self.act(self.fc(x)))


class Block(nn.Module):
    """Attention then MLP, each added to the residual stream.

    ``pre`` (GPT): x + f(LN(x)). ``post`` (BERT): LN(x + f(x)).
    """

    def __init__(self, cfg: ModelConfig, index: int) -> None:
        super().__init__()
        self.prefix = f"blocks.{index}."
        self.pre_norm = cfg.norm_placement == "pre"
        self.ln1 = _layer_norm(cfg)
        self.attn = Attention(cfg)
        self.ln2 = _layer_norm(cfg)
        self.mlp = MLP(cfg) if cfg.mlp else None
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor, cache: Cache | None = None) -> torch.Tensor:
        p = self.prefix
        if self.pre_norm:
            mid = x + self.drop(self.attn(self.ln1(x), cache, p + "attn."))
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


def _layer_norm(cfg: ModelConfig) -> nn.Module:
    return nn.LayerNorm(cfg.d_model, eps=cfg.layer_norm_eps) if cfg.layer_norm else nn.Identity()


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
        if cfg.positional == "learned":
            self.pos_embed = nn.Embedding(cfg.n_ctx, cfg.d_model)
        else:
            self.pos_embed = None
            table = sinusoidal_positions(cfg.n_ctx, cfg.d_model, cfg.sinusoid_base)
            self.register_buffer("sinusoids", table, persistent=False)
        self.embed_ln = nn.LayerNorm(cfg.d_model, eps=cfg.layer_norm_eps) if cfg.embed_layer_norm else None
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(Block(cfg, i) for i in range(cfg.n_layers))
        self.ln_f = _layer_norm(cfg) if cfg.norm_placement == "pre" else None
        self.unembed: nn.Module | None
        if not cfg.has_lm_head:
            self.unembed = None
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

    def embed(self, idx: torch.Tensor) -> torch.Tensor:
        """Token embedding rows as they enter the residual stream, before positions: (B, T, d)."""
        rows = self.tok_embed(idx)
        return self.embed_proj(rows) if self.embed_proj is not None else rows

    def positions(self, T: int) -> torch.Tensor:
        if self.pos_embed is not None:
            return self.pos_embed.weight[:T]
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
        for block in self.blocks:
            x = block(x, cache)
        final = self.ln_f(x) if self.ln_f is not None else x
        if cache is not None:
            cache["embed.token"], cache["embed.pos"], cache["final_norm"] = token, pos, final
        return final

    def unembed_logits(self, h: torch.Tensor) -> torch.Tensor:
        """Logits over the output vocabulary for hidden states ``h`` (..., d)."""
        if self.unembed is None:
            raise ValueError(f"{self.cfg.name} has no language-model head: it predicts no tokens")
        if isinstance(self.unembed, nn.AdaptiveLogSoftmaxWithLoss):
            flat = self.unembed.log_prob(h.reshape(-1, h.shape[-1]))  # (N, n_outputs)
            return flat.view(*h.shape[:-1], -1)
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
