"""The frozen description of a transformer's shape, saved as ``config.json`` beside its weights."""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from model.core.errors import ModelFileError
from model.core.paths import CONFIG_FILE
from model.core.validation import ConfigValueError, check_config, check_config_dict, read_json

Positional = Literal["learned", "sinusoidal", "rope"]
NormPlacement = Literal["pre", "post"]
Activation = Literal["gelu", "gelu_tanh", "relu", "silu"]
Norm = Literal["layernorm", "rmsnorm"]
# RoPE frequency schedules (Hugging Face ``rope_scaling["rope_type"]``). "dynamic" NTK
# changes nothing while a sequence fits the context window, which ours always does.
# "freq_factors": llama.cpp's per-frequency divisors (a GGUF file's rope_freqs tensor).
ROPE_SCALING_TYPES = ("linear", "dynamic", "llama3", "yarn", "freq_factors")


def _check_rope_scaling(scaling: dict[str, Any]) -> None:
    """Each RoPE-scaling number finite and positive, and the keys each schedule needs present."""
    if not scaling:
        return
    kind = scaling.get("rope_type")
    for key in ("factor", "low_freq_factor", "high_freq_factor", "beta_fast", "beta_slow", "attention_factor"):
        if key in scaling and scaling[key] is not None:
            value = scaling[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
                raise ValueError(f"rope scaling {key} must be a positive finite number, got {value!r}")
    if kind in ("linear", "dynamic", "llama3", "yarn") and "factor" not in scaling:
        raise ValueError(f"{kind} rope scaling needs a factor")
    if kind in ("llama3", "yarn"):
        original = scaling.get("original_max_position_embeddings")
        if kind == "llama3" and original is None:
            raise ValueError("llama3 rope scaling needs original_max_position_embeddings")
        if original is not None and (isinstance(original, bool) or not isinstance(original, int) or original <= 0):
            raise ValueError(f"original_max_position_embeddings must be a positive whole number, got {original!r}")
    if kind == "freq_factors":
        factors = scaling.get("factors") or ()
        if not factors or not all(isinstance(f, (int, float)) and math.isfinite(f) and f > 0 for f in factors):
            raise ValueError("rope_freqs must hold positive finite factors")


@dataclass(frozen=True)
class ModelConfig:
    """Shape and behaviour of a :class:`model.core.transformer.Transformer`.

    The defaults describe a GPT-style decoder. BERT-family encoders are the same
    blocks with ``causal=False`` and ``norm_placement="post"``.

    Parameters
    ----------
    vocab_size
        Number of token ids the tokenizer can produce (rows of the embedding table).
    n_ctx
        Context window: the most tokens one forward pass accepts.
    d_model, n_layers, n_heads
        Residual-stream width, number of blocks, heads per block.
    d_mlp
        Hidden width of each block's MLP (``4 * d_model`` when 0).
    d_embed
        Width of the token-embedding table. When it differs from ``d_model`` a learned
        linear map projects looked-up rows into the residual stream; this lets a model
        keep a pretrained (frozen) embedding table of another width.
    output_token_ids
        Optional restriction of the output vocabulary: the model then predicts only these
        token ids (its unembedding has ``len(output_token_ids)`` rows) and the Trace puts
        ``-inf`` on every other id. ``None`` means the full vocabulary.
    tie_embeddings
        Unembedding shares the embedding table (only when ``d_embed == d_model`` and the
        output vocabulary is the full vocabulary).
    adaptive_cutoffs
        When set, the unembedding is an adaptive softmax (Grave et al. 2017) with these
        cluster cutoffs over the output vocabulary, which must then be ordered from most to
        least frequent. Its "logits" are log-probabilities: logits up to a constant, so
        softmax, temperature and sampling behave exactly as with a linear unembedding.
    adaptive_tied
        With ``adaptive_cutoffs``: the adaptive softmax scores every output token against its
        own row of the token-embedding table (through one learned projection per cluster)
        instead of keeping separate output vectors, and ``adaptive_div_value`` is unused.
        Every token then has an output vector as wide as its input one, and a head that
        copies a token's embedding forward can name it at the output, rare or not.
    dropout
        Residual and embedding dropout, active only in training mode. The attention
        pattern itself is never dropped out, so a trace always shows the real pattern.
    bos_token_id
        Prepended to every input when set: position 0 then always holds the same token,
        the model can predict the first word, and empty text is a valid input.
    embed_layer_norm
        Apply a LayerNorm to token + position embeddings before the first block (BERT).
        The loader of a BERT checkpoint folds token-type embedding 0 into the position
        table, so ``embed.pos`` is then "position + segment A".
    has_lm_head
        Whether the model has an unembedding. Encoders loaded without their pretraining
        head (e.g. all-MiniLM-L6-v2) have none: they produce no logits at all.
    scale_scores, layer_norm, mlp
        Switches for the lesson models (:mod:`model.teaching.lesson_models`), which reproduce the
        source documents' hand-worked attention: no ÷√d_head on the scores, no LayerNorm
        anywhere (the blocks' and the final one become identities), no MLP (its output is
        zero). All on by default, which is every real model.

    The Llama layout (Llama, Mistral, Qwen2/3, SmolLM) is ``positional="rope"``,
    ``norm="rmsnorm"``, ``activation="silu"`` with ``gated_mlp=True``, usually without biases;
    the defaults of these fields leave GPT-2 and BERT unchanged.

    norm
        ``"layernorm"`` or ``"rmsnorm"`` (x / rms(x) · g, no mean, no bias).
    gated_mlp
        SwiGLU-style MLP: ``proj(act(gate(x)) * fc(x))`` (``fc`` is Hugging Face's up_proj).
    n_kv_heads
        Key/value heads for grouped-query attention (0: one per query head). Query head h
        uses kv head ``h // (n_heads // n_kv_heads)``.
    head_dim
        Width of each head (0: ``d_model // n_heads``; Qwen3 sets it explicitly).
    attn_out_bias
        Bias on the attention output projection (None: same as ``attn_bias``; Qwen2 has
        q/k/v biases but none on the output).
    qk_norm
        RMSNorm over each head's q and k before the rotation (Qwen3).
    rope_theta, rope_scaling
        RoPE base and optional frequency schedule: ``(("rope_type", "llama3"), ("factor", 8.0), …)``,
        the pairs of Hugging Face's ``rope_scaling`` dict (a tuple so the config stays hashable).
    sliding_window
        Each query sees only the last ``sliding_window`` keys, itself included (Mistral).

    The Gemma 2 and Gemma 3 layout adds:

    norm_offset
        RMSNorm scales by ``norm_offset + g`` (Gemma stores g − 1: ``1.0``; 0 elsewhere).
    sandwich_norm
        Four norms per block: also one after attention and one after the MLP, on what each
        adds to the residual stream (Gemma 2/3: x + N₂(attn(N₁(x))), then the same for the MLP).
    embed_scale
        Token embeddings are multiplied by this (Gemma: √d_model in the weights' precision).
    query_pre_attn_scalar
        Scores are divided by √query_pre_attn_scalar instead of √d_head (Gemma).
    attn_softcap, final_softcap
        Scores (before the mask) and logits pass through c · tanh(x / c) (Gemma 2).
    local_layers
        With ``sliding_window``: the layers that slide it (local layers); the others see every
        earlier key (global layers). None: every layer slides it (Mistral).
    rope_local_theta
        The RoPE base of the local layers, without ``rope_scaling`` (Gemma 3's
        ``rope_local_base_freq``); None: every layer uses ``rope_theta``.
    """

    vocab_size: int
    n_ctx: int = 128
    d_model: int = 256
    n_layers: int = 4
    n_heads: int = 4
    d_mlp: int = 0
    d_embed: int = 0
    causal: bool = True
    positional: Positional = "learned"
    norm_placement: NormPlacement = "pre"
    activation: Activation = "gelu"
    layer_norm_eps: float = 1e-5
    attn_bias: bool = True
    mlp_bias: bool = True
    tie_embeddings: bool = False
    unembed_bias: bool = False
    dropout: float = 0.0
    adaptive_cutoffs: tuple[int, ...] | None = None
    adaptive_div_value: float = 4.0
    adaptive_tied: bool = False
    sinusoid_base: float = 10000.0
    bos_token_id: int | None = None
    output_token_ids: tuple[int, ...] | None = None
    embed_layer_norm: bool = False
    has_lm_head: bool = True
    scale_scores: bool = True
    layer_norm: bool = True
    mlp: bool = True
    name: str = "transformer"
    norm: Norm = "layernorm"
    gated_mlp: bool = False
    n_kv_heads: int = 0
    head_dim: int = 0
    attn_out_bias: bool | None = None
    qk_norm: bool = False
    rope_theta: float = 10000.0
    rope_scaling: tuple[tuple[str, Any], ...] | None = None
    sliding_window: int | None = None
    norm_offset: float = 0.0
    sandwich_norm: bool = False
    embed_scale: float = 1.0
    query_pre_attn_scalar: float | None = None
    attn_softcap: float | None = None
    final_softcap: float | None = None
    local_layers: tuple[int, ...] | None = None
    rope_local_theta: float | None = None

    def __post_init__(self) -> None:
        # Every reader (config.json, GGUF metadata, lesson models) ends here: the one place a
        # hostile value is refused before any tensor is allocated (issue #31).
        for name in ("vocab_size", "n_ctx", "d_model", "n_layers", "n_heads", "d_mlp", "d_embed", "n_kv_heads",
                     "head_dim"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"{name} must be a whole number, got {value!r}")
            if value < 0:
                raise ValueError(f"{name} must not be negative, got {value}")
        for name in ("sliding_window", "bos_token_id"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise ValueError(f"{name} must be a whole number, got {value!r}")
        for name in ("rope_theta", "layer_norm_eps", "sinusoid_base"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
                raise ValueError(f"{name} must be a positive finite number, got {value!r}")
        if self.bos_token_id is not None and not 0 <= self.bos_token_id < self.vocab_size:
            raise ValueError(f"bos_token_id {self.bos_token_id} is outside the vocabulary ({self.vocab_size})")
        if self.d_model <= 0:
            raise ValueError(f"d_model must be positive, got {self.d_model}")
        _check_rope_scaling(dict(self.rope_scaling or ()))
        if self.vocab_size <= 0:
            raise ValueError(f"vocab_size must be positive, got {self.vocab_size}")
        if self.n_ctx <= 0 or self.n_layers <= 0 or self.n_heads <= 0:
            raise ValueError("n_ctx, n_layers and n_heads must be positive")
        if self.head_dim == 0 and self.d_model % self.n_heads != 0:
            raise ValueError(
                f"d_model ({self.d_model}) must be divisible by n_heads ({self.n_heads})"
            )
        if self.n_kv_heads < 0 or self.n_heads % self.kv_heads != 0:
            raise ValueError(f"n_heads ({self.n_heads}) must be a multiple of n_kv_heads ({self.n_kv_heads})")
        if self.positional == "rope" and self.d_head % 2:
            raise ValueError(f"RoPE needs an even head width, got {self.d_head}")
        if self.norm not in ("layernorm", "rmsnorm"):
            raise ValueError(f"unknown norm {self.norm!r}")
        if self.rope_scaling is not None and self.rope_scaling_dict.get("rope_type") not in ROPE_SCALING_TYPES:
            raise ValueError(
                f"unknown rope_scaling type {self.rope_scaling_dict.get('rope_type')!r} "
                f"(supported: {', '.join(ROPE_SCALING_TYPES)})"
            )
        if self.sliding_window is not None and self.sliding_window <= 0:
            raise ValueError(f"sliding_window must be positive, got {self.sliding_window}")
        for name in ("embed_scale", "query_pre_attn_scalar", "attn_softcap", "final_softcap", "rope_local_theta"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                      or not math.isfinite(value) or value <= 0):
                raise ValueError(f"{name} must be a positive finite number, got {value!r}")
        if isinstance(self.norm_offset, bool) or not isinstance(self.norm_offset, (int, float)) or \
                not math.isfinite(self.norm_offset):
            raise ValueError(f"norm_offset must be a finite number, got {self.norm_offset!r}")
        if self.sandwich_norm and (self.norm != "rmsnorm" or self.norm_placement != "pre"):
            raise ValueError("sandwich_norm needs norm='rmsnorm' and norm_placement='pre'")
        if self.local_layers is not None:
            layers = list(self.local_layers)
            if self.sliding_window is None:
                raise ValueError("local_layers needs a sliding_window")
            if len(set(layers)) != len(layers) or any(
                    isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < self.n_layers for i in layers):
                raise ValueError(f"local_layers must be distinct layers 0–{self.n_layers - 1}, got {layers}")
        if self.positional not in ("learned", "sinusoidal", "rope"):
            raise ValueError(f"unknown positional encoding {self.positional!r}")
        if self.norm_placement not in ("pre", "post"):
            raise ValueError(f"unknown norm placement {self.norm_placement!r}")
        if self.activation not in ("gelu", "gelu_tanh", "relu", "silu"):
            raise ValueError(f"unknown activation {self.activation!r}")
        if self.output_token_ids is not None:
            ids = self.output_token_ids
            if len(ids) == 0 or len(set(ids)) != len(ids):
                raise ValueError("output_token_ids must be non-empty and unique")
            if min(ids) < 0 or max(ids) >= self.vocab_size:
                raise ValueError("output_token_ids must lie in [0, vocab_size)")
        if self.adaptive_cutoffs is not None:
            cuts = list(self.adaptive_cutoffs)
            if not cuts or cuts != sorted(set(cuts)) or cuts[0] <= 0 or cuts[-1] >= self.n_outputs:
                raise ValueError(
                    "adaptive_cutoffs must be increasing and lie strictly between 0 and the "
                    f"output vocabulary size ({self.n_outputs})"
                )
        if self.adaptive_tied and self.adaptive_cutoffs is None:
            raise ValueError("adaptive_tied needs adaptive_cutoffs")
        if self.tie_embeddings and (
            self.embed_width != self.d_model or self.output_token_ids is not None
        ):
            raise ValueError("tie_embeddings needs d_embed == d_model and the full vocabulary")
        if not self.has_lm_head and (
            self.tie_embeddings or self.unembed_bias or self.adaptive_cutoffs is not None or self.adaptive_tied
        ):
            raise ValueError("a model without an LM head cannot tie, bias or adapt its unembedding")

    def layer_window(self, layer: int) -> int | None:
        """The sliding window of ``layer``, or None when it sees every earlier key."""
        if self.sliding_window is None or (self.local_layers is not None and layer not in self.local_layers):
            return None
        return self.sliding_window

    def layer_is_global(self, layer: int) -> bool:
        """Whether ``layer`` attends to every earlier key (no sliding window)."""
        return self.layer_window(layer) is None

    @property
    def score_divisor(self) -> float:
        """What the scores q·k are divided by: √d_head, √query_pre_attn_scalar, or 1 (lessons)."""
        if not self.scale_scores:
            return 1.0
        return math.sqrt(self.query_pre_attn_scalar if self.query_pre_attn_scalar is not None else self.d_head)

    @property
    def d_head(self) -> int:
        return self.head_dim or self.d_model // self.n_heads

    @property
    def kv_heads(self) -> int:
        """Key/value heads: ``n_kv_heads``, or ``n_heads`` when attention is not grouped."""
        return self.n_kv_heads or self.n_heads

    @property
    def rope_scaling_dict(self) -> dict[str, Any]:
        return dict(self.rope_scaling or ())

    @property
    def mlp_width(self) -> int:
        return self.d_mlp or 4 * self.d_model

    @property
    def embed_width(self) -> int:
        return self.d_embed or self.d_model

    @property
    def n_outputs(self) -> int:
        """Rows of the unembedding: the size of the output vocabulary."""
        return len(self.output_token_ids) if self.output_token_ids is not None else self.vocab_size

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        if data["output_token_ids"] is not None:
            data["output_token_ids"] = list(data["output_token_ids"])
        if data["adaptive_cutoffs"] is not None:
            data["adaptive_cutoffs"] = list(data["adaptive_cutoffs"])
        if data["rope_scaling"] is not None:
            data["rope_scaling"] = self.rope_scaling_dict
        if data["local_layers"] is not None:
            data["local_layers"] = list(data["local_layers"])
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        """A config from ``config.json``'s object; every key is checked for type and range
        first (:func:`model.core.validation.check_config_dict`), so a wrong value raises a
        :class:`~model.core.validation.ConfigValueError` naming its key."""
        data = dict(data)
        if isinstance(data.get("rope_scaling"), dict):
            data["rope_scaling"] = rope_scaling_pairs(data["rope_scaling"])
        return cls(**check_config_dict(data, {f.name for f in dataclasses.fields(cls)}))

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")


def rope_scaling_pairs(scaling: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    """A ``rope_scaling`` dict as the sorted, hashable pairs :class:`ModelConfig` keeps."""
    return tuple(sorted((str(k), tuple(v) if isinstance(v, list) else v) for k, v in scaling.items()))


def load_config(folder: str | Path) -> ModelConfig:
    """``config.json`` of a folder in this app's format, checked key by key and against the
    memory there is; every failure is a :class:`ModelFileError` naming the file and key."""
    path = Path(folder) / CONFIG_FILE
    data = read_json(path, "config file")
    try:
        cfg = ModelConfig.from_dict(data)
    except ConfigValueError as exc:
        raise ModelFileError(path, f"invalid model config: {exc}", key=exc.key) from exc
    except (TypeError, ValueError) as exc:
        raise ModelFileError(path, f"invalid model config: {exc}") from exc
    check_config(cfg, path)
    return cfg
