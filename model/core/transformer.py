"""A compact transformer whose every internal is captured by name.

Attention is written out (scores → mask → softmax → weighted values) instead of calling the
fused kernel, because the fused kernel never materialises the pattern and the pattern is
what this app shows. When ``forward`` is given a ``cache`` dict, each module stores its
intermediate tensors there under the names listed by :func:`activation_names`.

This is the one forward pass of the torch model; it has two more inputs, both optional:

* ``past`` (:class:`PastKeys`): the keys and values of the positions before the token ids
  given. Only those new rows are run, at positions offset by what ``past`` holds, each query
  reading the past keys and its own. Incremental tracing (:mod:`model.core.incremental`) is
  this mode with its row buffers as the past.
* ``interventions`` (:class:`~model.core.interventions.Interventions`): edits of the heads'
  outputs z before W_O (knock-out, patching), applied where z is computed.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Protocol

import torch
import torch.nn.functional as F
from torch import nn

from model.core import halves
from model.core.config import ModelConfig
from model.core.interventions import NO_INTERVENTIONS, Interventions, ZFn
from model.core.positions import RotaryEmbedding, rotate, sinusoidal_positions
from model.core.unembedding import TiedAdaptiveSoftmax

Cache = MutableMapping[str, torch.Tensor]
Rope = tuple[torch.Tensor, torch.Tensor]  # cos and sin of the rows run, each (T, d_head)


class PastKeys(Protocol):
    """The keys and values of the positions before the ones a forward pass runs."""

    @property
    def offset(self) -> int:
        """How many positions it holds: the position of the first row run."""

    def extend(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Take the new rows' k and v (B, nh, s, hs) of ``layer`` (after RoPE, one per query
        head); return every position's, the past ones first: (B, nh, offset + s, hs)."""


class KVCache:
    """:class:`PastKeys` held as tensors: each call appends its rows (a copy per layer).
    For running a text a piece at a time; the app's tracer keeps its own rows instead."""

    def __init__(self) -> None:
        self.k: dict[int, torch.Tensor] = {}
        self.v: dict[int, torch.Tensor] = {}

    @property
    def offset(self) -> int:
        return self.k[0].shape[2] if 0 in self.k else 0

    def extend(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if layer in self.k:
            k, v = torch.cat((self.k[layer], k), dim=2), torch.cat((self.v[layer], v), dim=2)
        self.k[layer], self.v[layer] = k, v
        return k, v


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


def _activation(kind: str):
    if kind == "gelu":
        return F.gelu
    if kind == "gelu_tanh":
        return lambda x: F.gelu(x, approximate="tanh")
    if kind == "silu":
        return F.silu
    return F.relu


def _dropout(drop: nn.Dropout, x: torch.Tensor) -> torch.Tensor:
    """``drop(x)`` in training; ``x`` itself otherwise, without the cost of a module call (two
    a block and one more a keystroke: ~1 % of the bundled model's typing time)."""
    return drop(x) if drop.training else x


class RMSNorm(nn.Module):
    """x / sqrt(mean(x²) + eps) · g, computed in float32 (as Llama's reference does); with
    ``offset`` 1, · (1 + g) in float32 before rounding to x's precision (Gemma's)."""

    def __init__(self, width: int, eps: float, offset: float = 0.0) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(width) if offset else torch.ones(width))
        self.eps = eps
        self.offset = offset

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.float()
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.eps)
        if self.offset:
            return (h * (self.offset + self.weight.float())).to(x.dtype)
        return self.weight * h.to(x.dtype)

    def scale(self) -> torch.Tensor:
        """What the normalised vector is multiplied by: g, or offset + g."""
        return self.weight + self.offset if self.offset else self.weight


def _norm(cfg: ModelConfig, width: int | None = None) -> nn.Module:
    """The model's normalisation over ``width`` features (default d_model): LayerNorm or
    RMSNorm, or none at all for the lesson models (``cfg.layer_norm`` False)."""
    width = width or cfg.d_model
    if not cfg.layer_norm:
        return nn.Identity()
    if cfg.norm == "rmsnorm":
        return RMSNorm(width, cfg.layer_norm_eps, cfg.norm_offset)
    return nn.LayerNorm(width, eps=cfg.layer_norm_eps)


class Attention(nn.Module):
    """Multi-head self-attention with a per-head view of its output."""

    def __init__(self, cfg: ModelConfig, layer: int = 0) -> None:
        super().__init__()
        self.layer = layer  # which layer's keys a PastKeys hands back
        self.n_heads, self.d_head, self.causal = cfg.n_heads, cfg.d_head, cfg.causal
        self.divisor = cfg.score_divisor  # √d_head; √query_pre_attn_scalar (Gemma); lessons: no ÷√dₖ
        self.softcap = cfg.attn_softcap  # Gemma 2: c · tanh(s / c) before the mask
        self.n_kv = cfg.kv_heads
        self.window = cfg.layer_window(layer)  # None on a global layer
        widths = (cfg.n_heads * cfg.d_head, self.n_kv * cfg.d_head, self.n_kv * cfg.d_head)  # q, k, v
        self.widths = widths
        self.qkv = nn.Linear(cfg.d_model, sum(widths), bias=cfg.attn_bias)
        out_bias = cfg.attn_bias if cfg.attn_out_bias is None else cfg.attn_out_bias
        self.out = nn.Linear(widths[0], cfg.d_model, bias=out_bias)
        self.q_norm = _norm(cfg, cfg.d_head) if cfg.qk_norm else None
        self.k_norm = _norm(cfg, cfg.d_head) if cfg.qk_norm else None
        if cfg.positional != "rope" and self.window is None:  # a RoPE model's context can be 8k+: its mask is built per call
            future = torch.triu(torch.ones(cfg.n_ctx, cfg.n_ctx, dtype=torch.bool), diagonal=1)
            self.register_buffer("future_mask", future, persistent=False)

    def hidden_mask(self, T: int, device: torch.device, start: int = 0) -> torch.Tensor:
        """(T − start, T): True where query ``start``… may not look among keys 0..T−1: later
        keys, and with a sliding window, keys ``window`` or more positions back."""
        if hasattr(self, "future_mask"):
            return self.future_mask[start:T, :T]
        query = torch.arange(start, T, device=device)[:, None]  # (T − start, 1)
        key = torch.arange(T, device=device)[None]  # (1, T)
        mask = key > query
        if self.window is not None:
            mask |= key <= query - self.window
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
        from the heads' weighted values z (B, nh, T, hs), in float32."""
        return torch.matmul(z, self.head_weights(), out=out)

    def forward(
        self,
        x: torch.Tensor,
        cache: Cache | None = None,
        prefix: str = "",
        rope: Rope | None = None,
        past: PastKeys | None = None,
        edit: ZFn | None = None,
        post_norm: RMSNorm | None = None,
    ) -> torch.Tensor:
        """Attention of the rows ``x`` (B, T, C). With ``past``, they are positions offset..
        offset+T−1 and their queries read the past keys too: ``scores`` and ``pattern`` are
        then (B, nh, T, offset + T) and every other capture holds these T rows only.
        ``edit``: applied to z (B, nh, T, hs) before W_O (and before ``head_out``).

        ``post_norm`` (Gemma's norm after attention, owned by the block): the output is
        normalised, ``out`` captures the normed vector (what the residual stream gets) and
        ``head_out`` each head's share of it: z_h W_O[h] times the norm's scale at that row
        (g / rms), frozen at the value this pass used, so the heads still sum to ``out``."""
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
        new_k, new_v = k, v
        if past is not None:
            k, v = past.extend(self.layer, k, v)  # (B, nh, N, hs): N = offset + T keys, the past first
        N = k.shape[2]
        scores = (q @ k.transpose(-2, -1)) / self.divisor  # (B, nh, T, N)
        if self.softcap is not None:
            scores = torch.tanh(scores / self.softcap) * self.softcap
        if self.causal:
            masked = scores.masked_fill(self.hidden_mask(N, x.device, N - T), float("-inf"))
        else:
            masked = scores
        pattern = torch.softmax(masked, dim=-1)  # (B, nh, T, N), each query row sums to 1
        z = pattern @ v  # (B, nh, T, hs)
        if edit is not None:
            z = edit(z)
        out = self.out(z.transpose(1, 2).reshape(B, T, nh * hs))  # (B, T, C)
        factor = None
        if post_norm is not None:
            if cache is not None:
                h = out.float()
                factor = torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + post_norm.eps) * post_norm.scale().float()
            out = post_norm(out)
        if cache is not None:
            cache[f"{prefix}in"] = x  # the rows this head reads: LN output (pre-norm) or the residual
            # The largest capture, (B, nh, T, d_model): written straight into a buffer the
            # caller put in the cache under this name (the runner's (L, …) array), if any.
            buffer = cache.get(f"{prefix}head_out")
            if buffer is not None and buffer.shape != (B, nh, T, C):
                buffer = None
            head_out = self.head_outputs(z, out=buffer)  # (B, nh, T, d_model)
            if factor is not None:
                head_out.mul_(factor.unsqueeze(1))  # (B, nh, T, d) × (B, 1, T, d)
            cache[f"{prefix}q"], cache[f"{prefix}k"], cache[f"{prefix}v"] = q, new_k, new_v
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
        self.attn = Attention(cfg, index)
        self.ln2 = _norm(cfg)
        self.mlp = MLP(cfg) if cfg.mlp else None
        self.drop = nn.Dropout(cfg.dropout)
        # Gemma's sandwich: a norm on what attention and the MLP each add to the residual stream
        self.ln_attn_out = _norm(cfg) if cfg.sandwich_norm else None
        self.ln_mlp_out = _norm(cfg) if cfg.sandwich_norm else None

    def forward(
        self, x: torch.Tensor, cache: Cache | None = None, rope: Rope | None = None,
        past: PastKeys | None = None, edit: ZFn | None = None,
    ) -> torch.Tensor:
        """The block on the rows ``x`` (B, T, d); ``past`` and ``edit`` as for :class:`Attention`."""
        p = self.prefix
        if self.ln_attn_out is not None:
            attn_out = self.attn(self.ln1(x), cache, p + "attn.", rope, past, edit, post_norm=self.ln_attn_out)
            mid = x + _dropout(self.drop, attn_out)
            mlp_out = self.ln_mlp_out(self._mlp(self.ln2(mid)))
            post = mid + _dropout(self.drop, mlp_out)
        elif self.pre_norm:
            mid = x + _dropout(self.drop, self.attn(self.ln1(x), cache, p + "attn.", rope, past, edit))
            mlp_out = self._mlp(self.ln2(mid))
            post = mid + _dropout(self.drop, mlp_out)
        else:
            mid = self.ln1(x + _dropout(self.drop, self.attn(x, cache, p + "attn.", rope, past, edit)))
            mlp_out = self._mlp(mid)
            post = self.ln2(mid + _dropout(self.drop, mlp_out))
        if cache is not None:
            cache[p + "resid_pre"], cache[p + "resid_mid"] = x, mid
            cache[p + "mlp.out"], cache[p + "resid_post"] = mlp_out, post
        return post

    def _mlp(self, x: torch.Tensor) -> torch.Tensor:
        return self.mlp(x) if self.mlp is not None else torch.zeros_like(x)


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
        # Gemma 3: the local (sliding-window) layers rotate with their own base, unscaled
        self.rope_local = (RotaryEmbedding(cfg, theta=cfg.rope_local_theta, plain=True)
                           if cfg.positional == "rope" and cfg.rope_local_theta is not None else None)
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
        #: Edits every forward pass applies (model/core/interventions.py ``installed``):
        #: none unless a ``with`` block installs some.
        self.interventions: Interventions = NO_INTERVENTIONS

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
        if self.cfg.embed_scale != 1.0:  # Gemma: × √d_model, rounded to the weights' precision first
            rows = rows * torch.tensor(self.cfg.embed_scale, dtype=rows.dtype)
        return self.embed_proj(rows) if self.embed_proj is not None else rows

    def positions(self, T: int) -> torch.Tensor:
        if self.pos_embed is not None:
            return self.pos_embed.weight[:T]
        if self.rope is not None:
            return self.tok_embed.weight.new_zeros(T, self.cfg.d_model)  # nothing is added
        return self.sinusoids[:T]

    def hidden(self, idx: torch.Tensor, cache: Cache | None = None, *, past: PastKeys | None = None,
               interventions: Interventions | None = None) -> torch.Tensor:
        """The final-normed residual stream for token ids ``idx`` (B, T): (B, T, d).

        With ``past`` the ids are those of positions ``past.offset``… (a causal model only:
        an encoder's every row changes with every token)."""
        B, T = idx.shape
        offset = past.offset if past is not None else 0
        if offset + T > self.cfg.n_ctx:
            raise ValueError(f"sequence of {offset + T} tokens exceeds the context window of {self.cfg.n_ctx}")
        if past is not None and not self.cfg.causal:
            raise ValueError("an encoder cannot run from past keys: every token changes every row")
        token = self.embed(idx)  # (B, T, d)
        pos = self.positions(offset + T)[offset:].unsqueeze(0).expand(B, T, -1)  # (B, T, d)
        x = token + pos
        if self.embed_ln is not None:
            x = self.embed_ln(x)  # BERT normalises the summed embeddings; resid_pre[0] is the result
        x = _dropout(self.drop, x)
        if cache is not None:
            cache["embed.token"], cache["embed.pos"] = token, pos
        return self.run_blocks(x, 0, cache, past=past, interventions=interventions)

    def run_blocks(self, x: torch.Tensor, start: int = 0, cache: Cache | None = None, *,
                   past: PastKeys | None = None, interventions: Interventions | None = None) -> torch.Tensor:
        """Blocks ``start``… on the residual stream ``x`` (B, T, d) entering block ``start``,
        then the final norm: (B, T, d). The module's standing interventions apply first."""
        offset = past.offset if past is not None else 0
        rope = local = None
        if self.rope is not None:
            cos, sin = self.rope(offset + x.shape[1])  # (offset + T, d_head) each
            rope = local = (cos[offset:], sin[offset:])
        if self.rope_local is not None:
            cos, sin = self.rope_local(offset + x.shape[1])
            local = (cos[offset:], sin[offset:])
        edits = self.interventions + interventions if interventions is not None else self.interventions
        for i in range(start, len(self.blocks)):
            x = self.blocks[i](x, cache, local if self.blocks[i].attn.window is not None else rope, past, edits.at(i))
        final = self.ln_f(x) if self.ln_f is not None else x
        if cache is not None:
            cache["final_norm"] = final
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
        if type(self.unembed) is nn.Linear:  # a large float32 output matrix: maybe in two halves
            logits = halves.linear(h, self.unembed.weight, self.unembed.bias)
        else:
            logits = self.unembed(h)
        if self.cfg.final_softcap is not None:  # Gemma 2: c · tanh(logit / c)
            logits = torch.tanh(logits / self.cfg.final_softcap) * self.cfg.final_softcap
        return logits

    def forward(
        self,
        idx: torch.Tensor,
        cache: Cache | None = None,
        logit_positions: torch.Tensor | None = None,
        *,
        past: PastKeys | None = None,
        interventions: Interventions | None = None,
    ) -> torch.Tensor:
        """Run the model on token ids ``idx`` (B, T).

        Returns logits over the output vocabulary, (B, T, n_outputs), or (B, P, n_outputs)
        for the positions in ``logit_positions`` only (indices into these T rows): projecting
        onto the vocabulary is the dominant cost at short lengths, and the app usually needs
        one position. A model without an LM head returns no logits: (B, 0, n_outputs).
        ``past``: the ids follow the positions it holds (module docstring);
        ``interventions``: edits of the heads' outputs, after the module's standing ones.
        """
        final = self.hidden(idx, cache, past=past, interventions=interventions)
        return self._logits(final, logit_positions, cache)

    def resume(self, x: torch.Tensor, start: int, logit_positions: torch.Tensor | None = None,
               interventions: Interventions | None = None) -> torch.Tensor:
        """:meth:`forward` from the residual stream ``x`` (B, T, d) entering block ``start``
        (the blocks before an edited layer cannot change: an analysis starts there)."""
        return self._logits(self.run_blocks(x, start, interventions=interventions), logit_positions)

    def _logits(self, final: torch.Tensor, logit_positions: torch.Tensor | None, cache: Cache | None = None):
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
