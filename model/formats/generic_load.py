"""Loading a folder for the generic source (:mod:`model.formats.generic`): transformers'
``AutoModelForCausalLM`` with eager attention behind nnsight, its size checked before anything
is allocated, its attention checked once, and the Anatomy tab's accounting of its parameters."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from model.core.anatomy import KINDS, ModelStructure
from model.core.errors import ModelFileError
from model.core.tokenizer import TextTokenizer
from model.formats.generic import (
    INSTALL,
    GenericConfig,
    GenericModule,
    GenericTracingModel,
    GenericUnavailable,
    _scores,
    find_layout,
    generic_config,
    nnsight_installed,
)
from model.formats.hf import CONFIG_FILE, TOKENIZER_FILE, folder_name, read_hf_config
from model.formats.llama import llama_bos

# A trace's every-head outputs, L·H·T·d float32, stay within this, and the forward pass within
# GPT-2 small's at 128 tokens (the same budgets as model.loading's for the Llama layout).
TRACE_BYTES_BUDGET = 64 * 2**20
TRACE_FLOP_BUDGET = 2 * 85e6 * 128


def generic_structure(module: GenericModule) -> ModelStructure:
    """The Anatomy tab's accounting of a transformers model, by module: its embedding and
    unembedding, each attention's projections (named q/k/v/o, or a fused qkv split by rows),
    norms, and the rest of each layer as the MLP."""
    cfg, hf, layout = module.cfg, module.hf, module.layout
    counts = dict.fromkeys(KINDS, 0)
    seen: set[int] = set()
    H, KV, dh, d = cfg.n_heads, cfg.n_kv_heads, cfg.d_head, cfg.d_model

    def add(kind: str, p: torch.nn.Parameter) -> None:
        if id(p) not in seen:
            seen.add(id(p))
            counts[kind] += p.numel()

    for p in module.tok_embed.parameters():
        add("embedding", p)
    for p in module.unembed.parameters():
        add("unembedding", p)
    for layer in hf.get_submodule(layout.layers):
        attn = layer.get_submodule(layout.attn)
        for name, sub in attn.named_modules():
            short = name.rsplit(".", 1)[-1]
            for p in sub.parameters(recurse=False):
                if name == layout.o_proj:
                    add("W_O", p)
                elif short[:1] in "qkv" and short[1:] in ("_proj", "proj") and p.shape[0] in (H * dh, KV * dh):
                    add({"q": "W_Q", "k": "W_K", "v": "W_V"}[short[0]], p)
                elif p.shape[0] == (H + 2 * KV) * dh and id(p) not in seen:  # one fused q, k, v projection
                    seen.add(id(p))
                    per_row = p.numel() // p.shape[0]
                    counts["W_Q"] += H * dh * per_row
                    counts["W_K"] += KV * dh * per_row
                    counts["W_V"] += KV * dh * per_row
                else:
                    add("LayerNorm" if "norm" in type(sub).__name__.lower() else "other", p)
        for sub in layer.modules():
            if "norm" in type(sub).__name__.lower():
                for p in sub.parameters(recurse=False):
                    add("LayerNorm", p)
        for p in layer.parameters():
            add("MLP", p)
    for p in hf.parameters():
        add("LayerNorm" if p.ndim == 1 else "other", p)  # the final norm (and anything else left)
    shapes = {"embedding": f"{cfg.vocab_size} × {d}", "W_Q": f"{cfg.n_layers} layers × {H} heads × {d} × {dh}",
              "W_K": f"{cfg.n_layers} layers × {KV} key/value heads × {d} × {dh}",
              "W_V": f"{cfg.n_layers} layers × {KV} key/value heads × {d} × {dh}",
              "W_O": f"{cfg.n_layers} layers × {H} heads × {dh} × {d}",
              "unembedding": "tied to the embedding" if not counts["unembedding"] else f"{d} × {cfg.vocab_size}"}
    return ModelStructure(tuple((k, counts[k], shapes.get(k, "")) for k in KINDS if counts[k] or k in shapes),
                          np.zeros((0, d), dtype=np.float32), cfg.positional, 10000.0, not counts["unembedding"])


def max_trace_tokens(cfg: GenericConfig, block_params: int) -> int:
    """Tokens per trace: between 32 and 128, a multiple of 16, within the budgets above."""
    fits = min(TRACE_BYTES_BUDGET / (cfg.n_layers * cfg.n_heads * cfg.d_model * 4),
               TRACE_FLOP_BUDGET / (2 * max(block_params, 1)))
    return int(max(32, min(128, fits // 16 * 16, cfg.n_ctx)))


def load_generic(folder: str | Path, max_tokens: int | None = None, device: str | torch.device = "cpu",
                 name: str | None = None) -> GenericTracingModel:
    """Open ``folder`` (``config.json``, weights, ``tokenizer.json``) with transformers'
    ``AutoModelForCausalLM`` (eager attention) behind nnsight. Raises :class:`ModelFileError`
    with a sentence: nnsight not installed, a folder transformers cannot load, a model whose
    attention returns no weights (SDPA- or flash-only) or whose scores are not q·kᵀ·scale."""
    folder = Path(folder)
    if not nnsight_installed():
        raise ModelFileError(folder, f"opening this model generically needs nnsight: {INSTALL}")
    import transformers
    from nnsight import NNsight

    config = _hf_config(folder)
    tokenizer_path = folder / TOKENIZER_FILE
    if not tokenizer_path.is_file():
        raise ModelFileError(tokenizer_path, "missing: a generic model needs its tokenizer.json")
    tokenizer = TextTokenizer.from_file(tokenizer_path)
    tokenizer.bos_token_id = llama_bos(folder, read_hf_config(folder), tokenizer)
    from transformers.utils import logging as hf_logging

    bar = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # its bar on stderr: the headless export answers in one line
    try:
        hf = transformers.AutoModelForCausalLM.from_pretrained(
            folder, config=config, attn_implementation="eager", dtype=torch.float32, local_files_only=True)
    except Exception as exc:  # noqa: BLE001 - a third-party loader: safetensors, torch, config errors
        raise ModelFileError(folder, f"transformers cannot load this model with eager attention: {_sentence(exc)}") from exc
    finally:
        if bar:
            hf_logging.enable_progress_bar()
    hf.eval().to(device)
    cfg = generic_config(hf.config, name or f"{folder_name(folder)} ({type(hf).__name__})", tokenizer.bos_token_id)
    module = GenericModule(NNsight(hf), hf, cfg, find_layout(hf, cfg, folder / CONFIG_FILE))
    layers = hf.get_submodule(module.layout.layers)
    limit = max_tokens or max_trace_tokens(cfg, sum(p.numel() for p in layers.parameters()))
    model = GenericTracingModel(module, tokenizer, cfg.name, limit, generic_structure(module))
    check_attention(model, folder)
    return model


def _hf_config(folder: Path):
    """The transformers config of ``folder``; a causal LM architecture transformers knows."""
    import transformers

    try:
        config = transformers.AutoConfig.from_pretrained(folder, local_files_only=True)
    except (ValueError, OSError, KeyError) as exc:
        raise ModelFileError(folder / CONFIG_FILE, f"transformers cannot read this config: {_sentence(exc)}") from exc
    if type(config) not in transformers.MODEL_FOR_CAUSAL_LM_MAPPING:
        raise ModelFileError(folder / CONFIG_FILE, f"{type(config).__name__}: transformers has no causal language "
                             "model for this architecture (the generic source opens causal LMs only)")
    return config


def count_parameters(folder: Path) -> int:
    """The parameters of ``folder``'s model, counted on the meta device (nothing allocated)."""
    import transformers

    config = _hf_config(folder)
    with torch.device("meta"):
        hf = transformers.AutoModelForCausalLM.from_config(config)
    return sum(p.numel() for p in {id(p): p for p in hf.parameters()}.values())


def _sentence(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:300] + ("…" if len(text) > 300 else "")


def check_attention(model: GenericTracingModel, folder: Path) -> None:
    """One short trace: the attention modules return their weights, and softmax(q·kᵀ·scale +
    mask) reproduces them (so the scores shown are the model's). Refuses otherwise."""
    ids = [model.cfg.bos_token_id] if model.cfg.bos_token_id is not None else []
    ids += [(7 * j + 3) % model.cfg.vocab_size for j in range(6 - len(ids))]
    cache: dict = {}
    try:
        model.module(torch.tensor([ids]), None, None, cache)
    except GenericUnavailable as exc:
        raise ModelFileError(folder, f"the app cannot read this model's attention: {exc}") from exc
    for i in range(model.cfg.n_layers):
        pattern = cache[f"{i}.pattern"]
        if pattern is None:
            raise ModelFileError(folder, "its attention returns no weights (an SDPA- or flash-only implementation): "
                                 "the app needs eager attention to show the patterns")
        attn = model.module.hf.get_submodule(model.module.layout.layers)[i].get_submodule(model.module.layout.attn)
        *_, scores = _scores(attn, cache[f"{i}.qkv"], model.cfg.n_heads)
        T = scores.shape[-1]
        hidden = torch.ones(T, T, dtype=torch.bool).triu(1)
        window = model.cfg.layer_window(i)
        if window is not None:
            hidden |= torch.ones(T, T, dtype=torch.bool).tril(-window)
        mine = torch.softmax(scores.masked_fill(hidden, float("-inf")), dim=-1)
        if not torch.allclose(mine, pattern[0].float(), atol=1e-4):
            raise ModelFileError(folder, f"layer {i}'s attention weights are not softmax(q·kᵀ·scale) under a causal "
                                 "mask (ALiBi, soft-capping or another bias): the app cannot show its scores")
