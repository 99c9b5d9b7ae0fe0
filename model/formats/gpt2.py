"""GPT-2-family checkpoints from a local Hugging Face model folder, as our own :class:`Transformer`.

A Hugging Face folder holds ``config.json``, the weights (``model.safetensors``, a sharded
``model.safetensors.index.json``, or ``pytorch_model.bin``) and the tokenizer
(``tokenizer.json``, or GPT-2's ``vocab.json`` + ``merges.txt``). The weights are copied
into the same :class:`~model.core.transformer.Transformer` the bundled model uses, so a GPT-2
trace has the same capture names and shapes and every panel draws it unchanged.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors

from model.core.build import build_module, probe_forward
from model.core.config import ModelConfig
from model.core.errors import ModelFileError
from model.core.tokenizer import TextTokenizer
from model.core.transformer import Transformer
from model.core.validation import (
    boolean,
    check_config,
    check_folder,
    check_tokenizer,
    positive_float,
)
from model.formats.hf import (
    CONFIG_FILE,
    TOKENIZER_FILE,
    config_activation,
    config_int,
    config_value,
    drop_tied_head,
    folder_name,
    hf_kind,
    read_hf_config,
    read_hf_weights,
    report_leftovers,
    strip_prefix,
    take,
)

VOCAB_FILE = "vocab.json"
MERGES_FILE = "merges.txt"
END_OF_TEXT = "<|endoftext|>"

# Our field names → GPT-2's usual config.json keys, so a refusal names the key in the file.
GPT2_KEYS = {"vocab_size": "vocab_size", "n_ctx": "n_positions", "d_model": "n_embd", "n_layers": "n_layer"}

# Buffers some GPT-2 checkpoints store that are not weights (the causal mask, −1e4).
_GPT2_BUFFERS = (".attn.bias", ".attn.masked_bias")


def gpt2_config(config: dict[str, Any], path: Path, name: str, bos_token_id: int | None) -> ModelConfig:
    """Our :class:`ModelConfig` for a GPT-2 ``config.json`` (``path`` names it in errors)."""
    if config.get("scale_attn_weights", True) is False or config.get("scale_attn_by_inverse_layer_idx"):
        raise ModelFileError(path, "attention without the usual 1/√d_head scaling is not supported")
    if config.get("add_cross_attention"):
        raise ModelFileError(path, "GPT-2 with cross-attention (an encoder-decoder) is not supported")
    d_model = config_int(config, path, "n_embd", "hidden_size")
    try:
        cfg = ModelConfig(
            vocab_size=config_int(config, path, "vocab_size"),
            n_ctx=config_int(config, path, "n_positions", "n_ctx", "max_position_embeddings"),
            d_model=d_model,
            n_layers=config_int(config, path, "n_layer", "num_hidden_layers"),
            n_heads=config_int(config, path, "n_head", "num_attention_heads"),
            d_mlp=config_int(config, path, "n_inner", default=4 * d_model),
            causal=True,
            positional="learned",
            norm_placement="pre",
            activation=config_activation(config, path, "activation_function"),  # type: ignore[arg-type]
            layer_norm_eps=config_value(config, path, "layer_norm_epsilon", positive_float, 1e-5),
            tie_embeddings=config_value(config, path, "tie_word_embeddings", boolean, True),
            bos_token_id=bos_token_id,
            name=name,
        )
    except ValueError as exc:
        raise ModelFileError(path, f"invalid GPT-2 config: {exc}") from exc
    check_config(cfg, path, GPT2_KEYS)
    return cfg


def gpt2_state_dict(
    state: dict[str, torch.Tensor], cfg: ModelConfig, path: Path
) -> dict[str, torch.Tensor]:
    """Map a GPT-2 checkpoint onto our parameter names.

    GPT-2's ``Conv1D`` stores weights as (in, out); ``nn.Linear`` wants (out, in), so the
    four projection matrices are transposed.
    """
    state = strip_prefix(dict(state), "transformer.")
    state = {k: v for k, v in state.items() if not k.endswith(_GPT2_BUFFERS)}
    d, m, V = cfg.d_model, cfg.mlp_width, cfg.vocab_size
    out: dict[str, torch.Tensor] = {
        "tok_embed.weight": take(state, "wte.weight", (V, d), path),
        "pos_embed.weight": take(state, "wpe.weight", (cfg.n_ctx, d), path),
        "ln_f.weight": take(state, "ln_f.weight", (d,), path),
        "ln_f.bias": take(state, "ln_f.bias", (d,), path),
    }
    conv = {"attn.c_attn": ("attn.qkv", 3 * d, d), "attn.c_proj": ("attn.out", d, d),
            "mlp.c_fc": ("mlp.fc", m, d), "mlp.c_proj": ("mlp.proj", d, m)}
    for i in range(cfg.n_layers):
        src, dst = f"h.{i}.", f"blocks.{i}."
        for ln_src, ln_dst in (("ln_1", "ln1"), ("ln_2", "ln2")):
            out[f"{dst}{ln_dst}.weight"] = take(state, f"{src}{ln_src}.weight", (d,), path)
            out[f"{dst}{ln_dst}.bias"] = take(state, f"{src}{ln_src}.bias", (d,), path)
        for hf_name, (our_name, n_out, n_in) in conv.items():
            weight = take(state, f"{src}{hf_name}.weight", (n_in, n_out), path)  # Conv1D: (in, out)
            out[f"{dst}{our_name}.weight"] = weight.t().contiguous()  # (out, in)
            out[f"{dst}{our_name}.bias"] = take(state, f"{src}{hf_name}.bias", (n_out,), path)
    if cfg.tie_embeddings:
        drop_tied_head(state, out["tok_embed.weight"], path)  # a copy of the embedding, or refused
    else:
        out["unembed.weight"] = take(state, "lm_head.weight", (V, d), path)
    report_leftovers(state, path)
    return out


def gpt2_tokenizer(folder: Path) -> TextTokenizer:
    """Byte-level BPE from ``tokenizer.json``, else from ``vocab.json`` + ``merges.txt``."""
    if (folder / TOKENIZER_FILE).is_file():
        return TextTokenizer.from_file(folder / TOKENIZER_FILE)
    vocab, merges = folder / VOCAB_FILE, folder / MERGES_FILE
    if not vocab.is_file() or not merges.is_file():
        raise ModelFileError(folder, f"no tokenizer: expected {TOKENIZER_FILE} or {VOCAB_FILE} + {MERGES_FILE}")
    try:
        bpe = models.BPE.from_file(str(vocab), str(merges))
    except Exception as exc:  # tokenizers raises a bare Exception for malformed files
        raise ModelFileError(vocab, f"not a valid GPT-2 vocab.json / merges.txt pair ({exc})") from exc
    tok = Tokenizer(bpe)
    # The same pipeline transformers' GPT2TokenizerFast converter builds.
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    if tok.token_to_id(END_OF_TEXT) is not None:
        tok.add_special_tokens([END_OF_TEXT])
    return TextTokenizer(tok)


def _bos_id(config: dict[str, Any], tokenizer: TextTokenizer, vocab_size: int) -> int | None:
    candidates = [tokenizer.token_to_id(END_OF_TEXT), config.get("bos_token_id")]
    for token_id in candidates:
        if isinstance(token_id, int) and 0 <= token_id < vocab_size:
            return token_id
    return None


def load_gpt2(folder: str | Path, prepend_bos: bool = True) -> tuple[Transformer, TextTokenizer]:
    """A GPT-2-family folder as our :class:`Transformer` and its byte-level tokenizer.

    ``prepend_bos``: put ``<|endoftext|>`` in front of every input, as GPT-2 saw between
    documents in training (and as TransformerLens does by default). Position 0 is then the
    same token in every trace — the usual attention sink — the first word gets a
    prediction, and empty text is a valid input.
    """
    folder = check_folder(folder)
    config = read_hf_config(folder)
    config_path = folder / CONFIG_FILE
    if hf_kind(config) != "gpt2":
        raise ModelFileError(config_path, f"not a GPT-2 config (model_type {config.get('model_type')!r})")
    tokenizer = gpt2_tokenizer(folder)
    vocab_size = config_int(config, config_path, "vocab_size")
    bos = _bos_id(config, tokenizer, vocab_size) if prepend_bos else None
    tokenizer.bos_token_id = bos
    cfg = gpt2_config(config, config_path, folder_name(folder), bos)
    tokenizer_path = folder / TOKENIZER_FILE if (folder / TOKENIZER_FILE).is_file() else folder / VOCAB_FILE
    check_tokenizer(tokenizer, cfg.vocab_size, tokenizer_path)
    state, weights_path = read_hf_weights(folder)
    mapped = gpt2_state_dict(state, cfg, weights_path)  # every tensor checked by take()
    module = build_module(cfg, config_path)
    module.load_state_dict(mapped, strict=not cfg.tie_embeddings)
    probe_forward(module.eval(), weights_path)
    return module, tokenizer
