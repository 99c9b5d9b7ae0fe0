"""Llama-layout checkpoints (Llama 2/3, TinyLlama, SmolLM, Mistral, Qwen2/2.5, Qwen3) as our
own :class:`Transformer`.

They share one layout: RoPE instead of position vectors, RMSNorm, a SwiGLU MLP and
grouped-query attention. The families differ only in options the core has: q/k/v biases
(Qwen2), an RMSNorm over each head's q and k (Qwen3), a sliding window (Mistral), tied or
untied embeddings. :func:`llama_state_dict` maps Hugging Face tensor names onto ours; the
GGUF reader (:mod:`model.formats.gguf`) renames llama.cpp's tensors to Hugging Face's first
and then uses it too.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from torch import nn

from model.core.config import ROPE_SCALING_TYPES, ModelConfig, rope_scaling_pairs
from model.core.errors import ModelFileError
from model.core.tokenizer import TextTokenizer
from model.core.transformer import Transformer
from model.formats.gemma import GEMMA_NORMS, gemma_config, gemma_family
from model.formats.hf import (
    CONFIG_FILE,
    TOKENIZER_FILE,
    architecture_names,
    check_finite,
    config_int,
    drop_tied_head,
    folder_name,
    read_hf_config,
    read_hf_weights,
    read_json,
    report_leftovers,
    strip_prefix,
    take,
)

LLAMA_FAMILIES = ("llama", "mistral", "qwen2", "qwen3")
#: a block's two norms: Hugging Face's name, ours
LLAMA_NORMS = (("input_layernorm", "ln1"), ("post_attention_layernorm", "ln2"))
TOKENIZER_CONFIG_FILE = "tokenizer_config.json"


def llama_family(config: dict[str, Any]) -> str | None:
    """'llama', 'mistral', 'qwen2', 'qwen3', 'gemma2' or 'gemma3' from ``model_type`` (or
    ``architectures``), else None. Gemma is the Llama layout with options (:mod:`model.formats.gemma`)."""
    gemma = gemma_family(config)
    if gemma is not None:
        return gemma
    model_type = str(config.get("model_type", "")).lower()
    if model_type:
        return model_type if model_type in LLAMA_FAMILIES else None
    architectures = " ".join(architecture_names(config))
    for prefix, family in (("Llama", "llama"), ("Mistral", "mistral"), ("Qwen3", "qwen3"), ("Qwen2", "qwen2")):
        if architectures.startswith(prefix):
            return family
    return None


def rope_scaling(config: dict[str, Any], path: Path) -> tuple[tuple[str, Any], ...] | None:
    """``rope_scaling`` (or transformers 5's ``rope_parameters``) as config pairs; None for plain RoPE."""
    scaling = config.get("rope_scaling") or config.get("rope_parameters")
    if not isinstance(scaling, dict):
        return None
    kind = scaling.get("rope_type", scaling.get("type", "default"))
    if kind == "default":
        return None
    if kind not in ROPE_SCALING_TYPES:
        raise ModelFileError(path, f"rope scaling {kind!r} is not supported (supported: {', '.join(ROPE_SCALING_TYPES)})")
    kept = {k: v for k, v in scaling.items() if k not in ("type", "rope_theta")}
    kept["rope_type"] = kind
    return rope_scaling_pairs(kept)


def _real(value: Any, key: str, path: Path) -> float:
    """A JSON number (not true/false, not a string) as a float; ModelConfig checks its range."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ModelFileError(path, f"{key} must be a number, got {value!r}", key=key)
    return float(value)


def _whole(value: Any, key: str, path: Path) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ModelFileError(path, f"{key} must be a whole number, got {value!r}", key=key)
    return value


def rope_theta(config: dict[str, Any], path: Path | None = None) -> float:
    """rope_parameters.rope_theta when given (transformers 5 keeps it there), else the
    top-level rope_theta (as transformers reads a config that has both)."""
    path = path or Path("config.json")
    params = config.get("rope_parameters")
    if isinstance(params, dict) and params.get("rope_theta") is not None:
        inner = _real(params["rope_theta"], "rope_parameters.rope_theta", path)
        if config.get("rope_theta") is not None:
            # both given and different: which one the model was trained with cannot be known
            # (the top-level one was ignored without a word, issue #31)
            top = _real(config["rope_theta"], "rope_theta", path)
            if top != inner:
                raise ModelFileError(
                    path, f"rope_theta is {top:g} at the top level but {inner:g} in rope_parameters; "
                    "keep one of them (the RoPE base the model was trained with)", key="rope_theta")
        return inner
    return _real(config.get("rope_theta", 10000.0), "rope_theta", path)


def llama_config(
    config: dict[str, Any], path: Path, name: str, bos_token_id: int | None = None
) -> ModelConfig:
    """Our :class:`ModelConfig` for a Llama/Mistral/Qwen2/Qwen3 ``config.json``."""
    family = llama_family(config)
    if family is None:
        raise ModelFileError(path, f"not a Llama-layout config (model_type {config.get('model_type')!r})")
    if family.startswith("gemma"):
        return gemma_config(config, path, name, bos_token_id)
    activation = str(config.get("hidden_act", "silu"))
    if activation not in ("silu", "swish"):
        raise ModelFileError(path, f"hidden_act {activation!r} is not supported (Llama layout uses silu)")
    if config.get("mlp_bias"):
        raise ModelFileError(path, "MLP biases are not supported")
    d_model = config_int(config, path, "hidden_size")
    n_heads = config_int(config, path, "num_attention_heads")
    head_dim = _whole(config.get("head_dim") or 0, "head_dim", path)
    if head_dim and head_dim * n_heads == d_model:
        head_dim = 0  # the usual width: leave it implicit
    qkv_bias = family == "qwen2" or bool(config.get("attention_bias"))
    out_bias = bool(config.get("attention_bias")) if family != "qwen2" else False
    window = config.get("sliding_window") if family == "mistral" else None
    if family in ("qwen2", "qwen3") and config.get("use_sliding_window"):
        # Qwen slides the window only from layer max_window_layers on.
        first_sliding = _whole(config.get("max_window_layers") or 0, "max_window_layers", path)
        if first_sliding == 0:
            window = config.get("sliding_window")
        elif first_sliding < config_int(config, path, "num_hidden_layers"):
            raise ModelFileError(path, "a sliding window on only some layers is not supported")
    try:
        return ModelConfig(
            vocab_size=config_int(config, path, "vocab_size"),
            n_ctx=config_int(config, path, "max_position_embeddings", default=4096),
            d_model=d_model,
            n_layers=config_int(config, path, "num_hidden_layers"),
            n_heads=n_heads,
            n_kv_heads=config_int(config, path, "num_key_value_heads", default=n_heads),
            head_dim=int(head_dim),
            d_mlp=config_int(config, path, "intermediate_size"),
            causal=True,
            positional="rope",
            norm="rmsnorm",
            norm_placement="pre",
            activation="silu",
            gated_mlp=True,
            layer_norm_eps=_real(config.get("rms_norm_eps", 1e-6), "rms_norm_eps", path),
            attn_bias=qkv_bias,
            attn_out_bias=out_bias,
            mlp_bias=False,
            qk_norm=family == "qwen3",
            rope_theta=rope_theta(config, path),
            rope_scaling=rope_scaling(config, path),
            sliding_window=int(window) if window else None,
            tie_embeddings=bool(config.get("tie_word_embeddings", False)),
            bos_token_id=bos_token_id,
            name=name,
        )
    except (ValueError, TypeError) as exc:
        raise ModelFileError(path, f"invalid {family} config: {exc}") from exc


def llama_state_dict(state: dict[str, torch.Tensor], cfg: ModelConfig, path: Path) -> dict[str, torch.Tensor]:
    """Map Hugging Face Llama-layout tensor names onto ours (q, k and v rows concatenated
    into ``attn.qkv``); every tensor is checked against the config's shape. Gemma's four
    norms a block (``cfg.sandwich_norm``) are named :data:`GEMMA_NORMS`; a Gemma 3 saved
    inside its vision-language model has its text weights under ``model.language_model.``."""
    state = strip_prefix(strip_prefix(dict(state), "model.language_model."), "model.")
    d, m, V, hs = cfg.d_model, cfg.mlp_width, cfg.vocab_size, cfg.d_head
    nq, nkv = cfg.n_heads * hs, cfg.kv_heads * hs
    state = {k: v for k, v in state.items() if not k.endswith("rotary_emb.inv_freq")}  # a buffer, not a weight
    out: dict[str, torch.Tensor] = {
        "tok_embed.weight": take(state, "embed_tokens.weight", (V, d), path),
        "ln_f.weight": take(state, "norm.weight", (d,), path),
    }
    for i in range(cfg.n_layers):
        src, dst = f"layers.{i}.", f"blocks.{i}."
        for hf_name, ours in GEMMA_NORMS if cfg.sandwich_norm else LLAMA_NORMS:
            out[f"{dst}{ours}.weight"] = take(state, f"{src}{hf_name}.weight", (d,), path)
        a = src + "self_attn."
        qkv = [take(state, a + f"{n}_proj.weight", (rows, d), path) for n, rows in (("q", nq), ("k", nkv), ("v", nkv))]
        out[dst + "attn.qkv.weight"] = torch.cat(qkv, dim=0)  # (nq + 2 nkv, d): q rows, then k, then v
        if cfg.attn_bias:
            biases = [take(state, a + f"{n}_proj.bias", (rows,), path) for n, rows in (("q", nq), ("k", nkv), ("v", nkv))]
            out[dst + "attn.qkv.bias"] = torch.cat(biases)
        out[dst + "attn.out.weight"] = take(state, a + "o_proj.weight", (d, nq), path)
        if cfg.attn_out_bias:
            out[dst + "attn.out.bias"] = take(state, a + "o_proj.bias", (d,), path)
        if cfg.qk_norm:
            out[dst + "attn.q_norm.weight"] = take(state, a + "q_norm.weight", (hs,), path)
            out[dst + "attn.k_norm.weight"] = take(state, a + "k_norm.weight", (hs,), path)
        for hf_name, ours, shape in (("gate_proj", "gate", (m, d)), ("up_proj", "fc", (m, d)), ("down_proj", "proj", (d, m))):
            out[f"{dst}mlp.{ours}.weight"] = take(state, f"{src}mlp.{hf_name}.weight", shape, path)
    if cfg.tie_embeddings:
        drop_tied_head(state, out["tok_embed.weight"], path)  # a copy of the embedding, or refused
    else:
        out["unembed.weight"] = take(state, "lm_head.weight", (V, d), path)
    report_leftovers(state, path)
    return out


@contextmanager
def _no_random_init():
    """Build modules without drawing random weights that the checkpoint then overwrites:
    for a 135M-parameter model that draw costs about a second (transformers' ``no_init_weights``
    does the same)."""
    saved = nn.Linear.reset_parameters, nn.Embedding.reset_parameters
    nn.Linear.reset_parameters = nn.Embedding.reset_parameters = lambda self: None
    try:
        yield
    finally:
        nn.Linear.reset_parameters, nn.Embedding.reset_parameters = saved


def build_module(
    mapped: dict[str, torch.Tensor], cfg: ModelConfig, path: Path, check: bool = True
) -> Transformer:
    """A :class:`Transformer` holding ``mapped`` (our names; checked finite when ``check``).

    The tensors are adopted, not copied (``assign=True``): ``mapped`` must not be reused.
    """
    if check:
        check_finite(mapped, path)
    with _no_random_init():
        module = Transformer(cfg)
    missing, unexpected = module.load_state_dict(mapped, strict=False, assign=True)
    if cfg.tie_embeddings:
        module.unembed.weight = module.tok_embed.weight  # assign=True replaced the shared parameter
        missing = [m for m in missing if m != "unembed.weight"]
    if missing or unexpected:
        raise ModelFileError(path, f"tensors do not match the model: missing {missing[:5]}, unexpected {unexpected[:5]}")
    return module.eval()


def _template_bos(tokenizer_json: dict[str, Any]) -> str | None:
    """The special token a ``TemplateProcessing`` post-processor puts first (Llama 3's
    ``<|begin_of_text|>``), if any."""
    processor = tokenizer_json.get("post_processor") or {}
    candidates = processor.get("processors", []) if processor.get("type") == "Sequence" else [processor]
    for proc in candidates:
        if isinstance(proc, dict) and proc.get("type") == "TemplateProcessing":
            first = (proc.get("single") or [{}])[0]
            if isinstance(first, dict) and "SpecialToken" in first:
                return str(first["SpecialToken"].get("id"))
    return None


def llama_bos(folder: Path, config: dict[str, Any], tokenizer: TextTokenizer) -> int | None:
    """The BOS id to put in front of every input, as the family's tokenizer files say:
    ``add_bos_token`` in ``tokenizer_config.json`` (Llama 2, TinyLlama), else a BOS that the
    ``tokenizer.json`` post-processor adds (Llama 3); SmolLM and Qwen add none."""
    tok_config: dict[str, Any] = {}
    if (folder / TOKENIZER_CONFIG_FILE).is_file():
        tok_config = read_json(folder / TOKENIZER_CONFIG_FILE)
    if "add_bos_token" not in tok_config:
        template = _template_bos(read_json(folder / TOKENIZER_FILE))
        return tokenizer.token_to_id(template) if template else None
    if not tok_config["add_bos_token"]:
        return None
    bos = tok_config.get("bos_token")
    if isinstance(bos, dict):
        bos = bos.get("content")
    token_id = tokenizer.token_to_id(bos) if isinstance(bos, str) else None
    if token_id is None:
        token_id = config.get("bos_token_id")
    return token_id if isinstance(token_id, int) else None


def load_llama(folder: str | Path, name: str | None = None) -> tuple[Transformer, TextTokenizer]:
    """A Llama-layout Hugging Face folder (``config.json``, safetensors, ``tokenizer.json``)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ModelFileError(folder, "model folder not found")
    config = read_hf_config(folder)
    config_path = folder / CONFIG_FILE
    tokenizer = TextTokenizer.from_file(folder / TOKENIZER_FILE)
    tokenizer.bos_token_id = llama_bos(folder, config, tokenizer)
    cfg = llama_config(config, config_path, name or folder_name(folder), tokenizer.bos_token_id)
    if tokenizer.vocab_size > cfg.vocab_size:
        raise ModelFileError(
            folder / TOKENIZER_FILE, f"the tokenizer has {tokenizer.vocab_size} tokens but the model only {cfg.vocab_size}"
        )
    state, weights_path = read_hf_weights(folder)
    return build_module(llama_state_dict(state, cfg, weights_path), cfg, weights_path), tokenizer
