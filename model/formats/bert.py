"""BERT-family encoders (e.g. all-MiniLM-L6-v2) from a local Hugging Face folder, as our :class:`Transformer`.

A BERT encoder is our block stack with ``causal=False`` and ``norm_placement="post"``, plus
a LayerNorm over the summed embeddings (``embed_layer_norm``). Three things differ from
the checkpoint's layout, all at load time:

* BERT adds a token-type (segment) embedding. The app only ever feeds one segment, type 0,
  so ``token_type_embeddings[0]`` is folded into the position table: our ``embed.pos`` is
  "position + segment A", and the sum entering the LayerNorm is exactly BERT's.
* Query, key and value are separate ``nn.Linear`` layers; they are concatenated (in that
  order) into our one ``attn.qkv``.
* The pooler and any pretraining heads (``cls.*``) are dropped: the model has no language
  model head (``has_lm_head=False``) and its traces hold no logits.

The tokenizer adds ``[CLS]`` … ``[SEP]`` (its post-processor), and both are shown as tokens.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

from model.core.build import build_module, probe_forward
from model.core.config import ModelConfig
from model.core.errors import ModelFileError
from model.core.tokenizer import TextTokenizer
from model.core.transformer import Transformer
from model.core.validation import (
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
    folder_name,
    hf_kind,
    read_hf_config,
    read_hf_weights,
    read_json,
    report_leftovers,
    take,
)

VOCAB_TXT = "vocab.txt"
TOKENIZER_CONFIG = "tokenizer_config.json"
SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
# Tensors a BERT checkpoint may hold that an encoder trace does not use.
_IGNORED_PREFIXES = ("pooler.", "cls.")
_IGNORED = ("embeddings.position_ids", "embeddings.token_type_ids")
# Our field names → BERT's config.json keys, so a refusal names the key in the file.
BERT_KEYS = {"n_ctx": "max_position_embeddings", "d_model": "hidden_size", "n_layers": "num_hidden_layers"}


def bert_config(config: dict[str, Any], path: Path, name: str) -> ModelConfig:
    """Our :class:`ModelConfig` for a BERT ``config.json`` (``path`` names it in errors)."""
    kind = config.get("position_embedding_type", "absolute")
    if kind != "absolute":
        raise ModelFileError(path, f"position_embedding_type {kind!r} is not supported (only 'absolute')")
    if config.get("is_decoder") or config.get("add_cross_attention"):
        raise ModelFileError(path, "BERT as a decoder is not supported")
    d_model = config_int(config, path, "hidden_size")
    try:
        cfg = ModelConfig(
            vocab_size=config_int(config, path, "vocab_size"),
            n_ctx=config_int(config, path, "max_position_embeddings"),
            d_model=d_model,
            n_layers=config_int(config, path, "num_hidden_layers"),
            n_heads=config_int(config, path, "num_attention_heads"),
            d_mlp=config_int(config, path, "intermediate_size", default=4 * d_model),
            causal=False,
            positional="learned",
            norm_placement="post",
            activation=config_activation(config, path, "hidden_act"),  # type: ignore[arg-type]
            layer_norm_eps=config_value(config, path, "layer_norm_eps", positive_float, 1e-12),
            embed_layer_norm=True,
            has_lm_head=False,
            name=name,
        )
    except ValueError as exc:
        raise ModelFileError(path, f"invalid BERT config: {exc}") from exc
    check_config(cfg, path, BERT_KEYS)
    return cfg


def _normalise_names(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Strip a ``bert.`` prefix (head models save one); old TF ports name LayerNorm gamma/beta."""
    out = {}
    for key, tensor in state.items():
        key = key[len("bert."):] if key.startswith("bert.") else key
        if key.startswith(_IGNORED_PREFIXES) or key in _IGNORED:
            continue
        if ".LayerNorm." in key:
            key = key.replace(".gamma", ".weight").replace(".beta", ".bias")
        out[key] = tensor
    return out


def bert_state_dict(state: dict[str, torch.Tensor], cfg: ModelConfig, path: Path) -> dict[str, torch.Tensor]:
    """Map a BERT checkpoint onto our parameter names (see the module docstring)."""
    state = _normalise_names(state)
    d, m, V = cfg.d_model, cfg.mlp_width, cfg.vocab_size
    e = "embeddings."
    positions = take(state, e + "position_embeddings.weight", (cfg.n_ctx, d), path)
    if e + "token_type_embeddings.weight" in state:
        types = state[e + "token_type_embeddings.weight"]
        segment_a = take(state, e + "token_type_embeddings.weight", (types.shape[0], d), path)[0]
        positions = positions + segment_a  # (n_ctx, d): every input is segment A
    out: dict[str, torch.Tensor] = {
        "tok_embed.weight": take(state, e + "word_embeddings.weight", (V, d), path),
        "pos_embed.weight": positions,
        "embed_ln.weight": take(state, e + "LayerNorm.weight", (d,), path),
        "embed_ln.bias": take(state, e + "LayerNorm.bias", (d,), path),
    }
    for i in range(cfg.n_layers):
        src, dst = f"encoder.layer.{i}.", f"blocks.{i}."
        a = src + "attention."
        qkv = [take(state, f"{a}self.{n}.weight", (d, d), path) for n in ("query", "key", "value")]
        out[dst + "attn.qkv.weight"] = torch.cat(qkv, dim=0)  # (3d, d): q rows, then k, then v
        qkv_b = [take(state, f"{a}self.{n}.bias", (d,), path) for n in ("query", "key", "value")]
        out[dst + "attn.qkv.bias"] = torch.cat(qkv_b)
        pairs = {
            "attn.out": (a + "output.dense", (d, d)),
            "ln1": (a + "output.LayerNorm", None),
            "mlp.fc": (src + "intermediate.dense", (m, d)),
            "mlp.proj": (src + "output.dense", (d, m)),
            "ln2": (src + "output.LayerNorm", None),
        }
        for ours, (theirs, shape) in pairs.items():
            bias_len = (shape or (d,))[0]
            out[f"{dst}{ours}.weight"] = take(state, theirs + ".weight", shape or (d,), path)
            out[f"{dst}{ours}.bias"] = take(state, theirs + ".bias", (bias_len,), path)
    report_leftovers(state, path)
    return out


def bert_tokenizer(folder: Path) -> TextTokenizer:
    """Word-piece tokenizer that adds [CLS] … [SEP]: ``tokenizer.json``, else ``vocab.txt``."""
    if (folder / TOKENIZER_FILE).is_file():
        return TextTokenizer.from_file(folder / TOKENIZER_FILE, add_special_tokens=True)
    vocab = folder / VOCAB_TXT
    if not vocab.is_file():
        raise ModelFileError(folder, f"no tokenizer: expected {TOKENIZER_FILE} or {VOCAB_TXT}")
    lowercase = True
    if (folder / TOKENIZER_CONFIG).is_file():
        lowercase = bool(read_json(folder / TOKENIZER_CONFIG).get("do_lower_case", True))
    try:
        tok = Tokenizer(models.WordPiece.from_file(str(vocab), unk_token="[UNK]"))
    except Exception as exc:  # tokenizers raises a bare Exception for malformed files
        raise ModelFileError(vocab, f"not a valid word-piece vocabulary ({exc})") from exc
    # The same pipeline transformers' BertTokenizerFast converter builds.
    tok.normalizer = normalizers.BertNormalizer(lowercase=lowercase)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    present = [t for t in SPECIAL_TOKENS if tok.token_to_id(t) is not None]
    tok.add_special_tokens(present)
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    if cls_id is None or sep_id is None:
        raise ModelFileError(vocab, "the vocabulary has no [CLS] or no [SEP] token")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    return TextTokenizer(tok, add_special_tokens=True)


def load_bert(folder: str | Path, name: str | None = None) -> tuple[Transformer, TextTokenizer]:
    """A BERT-family folder as our :class:`Transformer` (no LM head) and its word-piece tokenizer."""
    folder = check_folder(folder)
    config = read_hf_config(folder)
    config_path = folder / CONFIG_FILE
    if hf_kind(config) != "bert":
        raise ModelFileError(config_path, f"not a BERT config (model_type {config.get('model_type')!r})")
    cfg = bert_config(config, config_path, name or folder_name(folder))
    tokenizer = bert_tokenizer(folder)
    tokenizer_path = folder / TOKENIZER_FILE if (folder / TOKENIZER_FILE).is_file() else folder / VOCAB_TXT
    check_tokenizer(tokenizer, cfg.vocab_size, tokenizer_path)
    state, weights_path = read_hf_weights(folder)
    mapped = bert_state_dict(state, cfg, weights_path)  # every tensor checked by take()
    module = build_module(cfg, config_path)
    module.load_state_dict(mapped, strict=True)
    probe_forward(module.eval(), weights_path)
    return module, tokenizer
