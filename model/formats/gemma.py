"""Gemma 2 and Gemma 3 checkpoints (Hugging Face folders; GGUF files through
:mod:`model.formats.gguf`) as our own :class:`Transformer`.

Gemma is the Llama layout with six differences, each an option of the core
(:class:`~model.core.config.ModelConfig`):

* RMSNorm scales by 1 + g (the checkpoint stores g − 1): ``norm_offset=1``;
* four norms per block: after attention and after the MLP too, on what each adds to the
  residual stream (``sandwich_norm``);
* the token embeddings are multiplied by √d_model (``embed_scale``);
* the MLP is GeGLU with the tanh approximation of GELU (``activation="gelu_tanh"``, gated);
* scores are divided by √query_pre_attn_scalar, not √d_head;
* local layers see a sliding window of keys and global layers every key (``local_layers``),
  in a pattern the config gives (Gemma 2: every other layer; Gemma 3: five local, one global),
  and Gemma 3's local layers rotate with their own RoPE base (``rope_local_theta``).

Gemma 2 also soft-caps its scores and its logits (c · tanh(x / c)); Gemma 3 normalises each
head's q and k (``qk_norm``, with the same 1 + g scale).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from model.core.config import ROPE_SCALING_TYPES, ModelConfig, rope_scaling_pairs
from model.core.errors import ModelFileError
from model.core.validation import check_layer_count
from model.formats.hf import architecture_names, config_int

GEMMA_FAMILIES = ("gemma2", "gemma3", "gemma3_text")
#: a block's four norms (Hugging Face's name, ours): :func:`model.formats.llama.llama_state_dict`
#: maps the rest of a Gemma checkpoint as it does Llama's
GEMMA_NORMS = (("input_layernorm", "ln1"), ("post_attention_layernorm", "ln_attn_out"),
               ("pre_feedforward_layernorm", "ln2"), ("post_feedforward_layernorm", "ln_mlp_out"))
#: Gemma 3's defaults where a config (or a GGUF file) leaves them out (transformers' Gemma3TextConfig)
GEMMA3_GLOBAL_THETA, GEMMA3_LOCAL_THETA, GEMMA3_PATTERN = 1_000_000.0, 10_000.0, 6


def gemma_family(config: dict[str, Any]) -> str | None:
    """'gemma2' or 'gemma3' from ``model_type`` or ``architectures``, else None."""
    model_type = str(config.get("model_type", "")).lower()
    if model_type in GEMMA_FAMILIES:
        return "gemma3" if model_type.startswith("gemma3") else model_type
    architectures = " ".join(architecture_names(config))
    for prefix, family in (("Gemma3", "gemma3"), ("Gemma2", "gemma2")):
        if architectures.startswith(prefix):
            return family
    return None


def _number(value: Any, key: str, path: Path, positive: bool = True) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or (
            positive and value <= 0):
        raise ModelFileError(path, f"{key} must be a {'positive ' if positive else ''}finite number, got {value!r}",
                             key=key)
    return float(value)


def local_layers(config: dict[str, Any], family: str, n_layers: int, path: Path) -> tuple[int, ...]:
    """The sliding-window layers: from ``layer_types`` when given, else the family's pattern
    (Gemma 2: layers 0, 2, 4 …; Gemma 3: every layer but each sixth, or ``sliding_window_pattern``)."""
    check_layer_count(n_layers, path, "num_hidden_layers")  # a tuple over 10⁹ layers would hang
    types = config.get("layer_types")
    if types is not None:
        if not isinstance(types, list) or len(types) != n_layers or not set(types) <= {"sliding_attention", "full_attention"}:
            raise ModelFileError(path, f"layer_types must list 'sliding_attention' or 'full_attention' for each of "
                                 f"the {n_layers} layers", key="layer_types")
        return tuple(i for i, kind in enumerate(types) if kind == "sliding_attention")
    pattern = 2 if family == "gemma2" else config.get("sliding_window_pattern", GEMMA3_PATTERN)
    if isinstance(pattern, bool) or not isinstance(pattern, int) or pattern <= 0:
        raise ModelFileError(path, f"sliding_window_pattern must be a positive whole number, got {pattern!r}",
                             key="sliding_window_pattern")
    return tuple(i for i in range(n_layers) if (i + 1) % pattern)


def gemma_rope(config: dict[str, Any], family: str, path: Path) -> tuple[float, float | None, tuple | None]:
    """(global base, local base or None, global scaling pairs or None) from ``rope_parameters``
    (transformers 5: one dict per layer type, or one for all) or the older ``rope_theta`` /
    ``rope_local_base_freq`` / ``rope_scaling``."""
    params = config.get("rope_parameters")
    scaling = config.get("rope_scaling")
    default_global = GEMMA3_GLOBAL_THETA if family == "gemma3" else 10_000.0
    if isinstance(params, dict) and "full_attention" in params:
        full, sliding = params.get("full_attention") or {}, params.get("sliding_attention") or {}
        theta = _number(full.get("rope_theta", default_global), "rope_parameters.full_attention.rope_theta", path)
        local = _number(sliding.get("rope_theta", GEMMA3_LOCAL_THETA), "rope_parameters.sliding_attention.rope_theta", path)
        if sliding.get("rope_type", "default") != "default":
            raise ModelFileError(path, "RoPE scaling on the local layers is not supported")
        scaling = full
    else:
        source = params if isinstance(params, dict) else config
        theta = _number(source.get("rope_theta", config.get("rope_theta", default_global)), "rope_theta", path)
        local = (_number(config.get("rope_local_base_freq", GEMMA3_LOCAL_THETA), "rope_local_base_freq", path)
                 if family == "gemma3" else None)
        scaling = scaling if isinstance(scaling, dict) else (params if isinstance(params, dict) else None)
    pairs = None
    if isinstance(scaling, dict):
        kind = scaling.get("rope_type", scaling.get("type", "default"))
        if kind != "default":
            if kind not in ROPE_SCALING_TYPES:
                raise ModelFileError(path, f"rope scaling {kind!r} is not supported (supported: {', '.join(ROPE_SCALING_TYPES)})")
            kept = {k: v for k, v in scaling.items() if k not in ("type", "rope_theta")}
            kept["rope_type"] = kind
            pairs = rope_scaling_pairs(kept)
    return theta, (local if family == "gemma3" else None), pairs


def gemma_config(config: dict[str, Any], path: Path, name: str, bos_token_id: int | None = None) -> ModelConfig:
    """Our :class:`ModelConfig` for a Gemma 2 or Gemma 3 (text) ``config.json``."""
    family = gemma_family(config)
    if family is None:
        raise ModelFileError(path, f"not a Gemma 2/3 config (model_type {config.get('model_type')!r})")
    if "text_config" in config:
        raise ModelFileError(path, "a Gemma 3 vision-language checkpoint: open its text-only model (Gemma3ForCausalLM)")
    activation = str(config.get("hidden_activation") or config.get("hidden_act") or "gelu_pytorch_tanh")
    if activation not in ("gelu_pytorch_tanh", "gelu_tanh"):
        raise ModelFileError(path, f"hidden_activation {activation!r} is not supported (Gemma uses gelu_pytorch_tanh)")
    if config.get("attention_bias"):
        raise ModelFileError(path, "attention biases are not supported in Gemma checkpoints")
    d_model = config_int(config, path, "hidden_size")
    n_heads = config_int(config, path, "num_attention_heads")
    n_layers = config_int(config, path, "num_hidden_layers")
    head_dim = config_int(config, path, "head_dim", default=d_model // n_heads)
    window = config.get("sliding_window")
    theta, local_theta, scaling = gemma_rope(config, family, path)
    caps = {}
    for key, ours in (("attn_logit_softcapping", "attn_softcap"), ("final_logit_softcapping", "final_softcap")):
        if config.get(key) is not None:
            caps[ours] = _number(config[key], key, path)
    try:
        return ModelConfig(
            vocab_size=config_int(config, path, "vocab_size"),
            n_ctx=config_int(config, path, "max_position_embeddings", default=8192),
            d_model=d_model,
            n_layers=n_layers,
            n_heads=n_heads,
            n_kv_heads=config_int(config, path, "num_key_value_heads", default=n_heads),
            head_dim=head_dim,
            d_mlp=config_int(config, path, "intermediate_size"),
            causal=True,
            positional="rope",
            norm="rmsnorm",
            norm_offset=1.0,
            sandwich_norm=True,
            norm_placement="pre",
            activation="gelu_tanh",
            gated_mlp=True,
            layer_norm_eps=_number(config.get("rms_norm_eps", 1e-6), "rms_norm_eps", path),
            attn_bias=False,
            mlp_bias=False,
            qk_norm=family == "gemma3",
            embed_scale=math.sqrt(d_model),
            query_pre_attn_scalar=_number(config.get("query_pre_attn_scalar", head_dim), "query_pre_attn_scalar", path),
            rope_theta=theta,
            rope_local_theta=local_theta,
            rope_scaling=scaling,
            sliding_window=int(window) if window else None,
            local_layers=local_layers(config, family, n_layers, path) if window else None,
            tie_embeddings=bool(config.get("tie_word_embeddings", True)),
            bos_token_id=bos_token_id,
            name=name,
            **caps,
        )
    except (ValueError, TypeError) as exc:
        raise ModelFileError(path, f"invalid {family} config: {exc}") from exc
