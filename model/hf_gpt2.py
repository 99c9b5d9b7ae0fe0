"""GPT-2-family checkpoints from a local Hugging Face model folder, as our own :class:`Transformer`.

A Hugging Face folder holds ``config.json``, the weights (``model.safetensors``, a sharded
``model.safetensors.index.json``, or ``pytorch_model.bin``) and the tokenizer
(``tokenizer.json``, or GPT-2's ``vocab.json`` + ``merges.txt``). The weights are copied
into the same :class:`~model.transformer.Transformer` the bundled model uses, so a GPT-2
trace has the same capture names and shapes and every panel draws it unchanged.

Nothing here downloads: :func:`find_checkpoints` only reads folders already on disk,
including the standard Hugging Face cache, and ``pytorch_model.bin`` is read with
``torch.load(weights_only=True)`` (never plain unpickling).

This module also holds the folder readers the BERT loader (:mod:`model.hf_bert`) shares:
:func:`read_hf_config`, :func:`read_json`, :func:`read_hf_weights`, :func:`check_finite`.
"""

from __future__ import annotations

import json
import os
import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors

from model.config import ModelConfig
from model.errors import ModelFileError
from model.tokenizer import TextTokenizer
from model.transformer import Transformer
from model.weights import read_safetensors

CONFIG_FILE = "config.json"
SAFETENSORS_FILE = "model.safetensors"
SAFETENSORS_INDEX = "model.safetensors.index.json"
BIN_FILE = "pytorch_model.bin"
TOKENIZER_FILE = "tokenizer.json"
VOCAB_FILE = "vocab.json"
MERGES_FILE = "merges.txt"
END_OF_TEXT = "<|endoftext|>"

# Hugging Face activation names → ours. gelu_new / gelu_fast / gelu_pytorch_tanh are all
# the tanh approximation of GELU (to within float rounding).
ACTIVATIONS = {
    "gelu": "gelu",
    "gelu_new": "gelu_tanh",
    "gelu_fast": "gelu_tanh",
    "gelu_pytorch_tanh": "gelu_tanh",
    "relu": "relu",
}

# Buffers some GPT-2 checkpoints store that are not weights (the causal mask, −1e4).
_GPT2_BUFFERS = (".attn.bias", ".attn.masked_bias")


# ---------------------------------------------------------------------------- shared readers
def read_hf_config(folder: str | Path) -> dict[str, Any]:
    """``config.json`` of a model folder as a dict; every failure is a :class:`ModelFileError`."""
    path = Path(folder) / CONFIG_FILE
    if not path.is_file():
        raise ModelFileError(path, "config file not found")
    return read_json(path)


def read_json(path: Path) -> dict[str, Any]:
    """A JSON object from ``path``; every failure is a :class:`ModelFileError`."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFileError(path, f"not valid JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise ModelFileError(path, "expected a JSON object")
    return data


def hf_kind(config: dict[str, Any]) -> str | None:
    """'gpt2', 'bert' or None, from ``model_type`` (or, failing that, ``architectures``)."""
    model_type = str(config.get("model_type", "")).lower()
    if model_type in ("gpt2", "bert"):
        return model_type
    if model_type:
        return None
    architectures = " ".join(str(a) for a in config.get("architectures") or [])
    if architectures.startswith("GPT2"):
        return "gpt2"
    if architectures.startswith("Bert"):
        return "bert"
    return None


def config_int(config: dict[str, Any], path: Path, *keys: str, default: int | None = None) -> int:
    """The first of ``keys`` present in ``config``, as a positive int."""
    for key in keys:
        value = config.get(key)
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ModelFileError(path, f"{key} must be a positive integer, got {value!r}")
            return value
    if default is not None:
        return default
    raise ModelFileError(path, f"missing {' / '.join(keys)}")


def config_activation(config: dict[str, Any], path: Path, key: str) -> str:
    name = str(config.get(key, "gelu_new" if key == "activation_function" else "gelu"))
    if name not in ACTIVATIONS:
        raise ModelFileError(path, f"{key} {name!r} is not supported (supported: {', '.join(ACTIVATIONS)})")
    return ACTIVATIONS[name]


def weights_file(folder: str | Path) -> Path | None:
    """The weights a folder holds: safetensors (single or sharded) first, then ``pytorch_model.bin``."""
    folder = Path(folder)
    for name in (SAFETENSORS_FILE, SAFETENSORS_INDEX, BIN_FILE):
        if (folder / name).is_file():
            return folder / name
    return None


def read_hf_weights(folder: str | Path) -> tuple[dict[str, torch.Tensor], Path]:
    """All tensors of a folder's checkpoint and the file they came from.

    ``pytorch_model.bin`` is read with ``torch.load(weights_only=True)``, which refuses any
    pickle that is not plain tensors and containers.
    """
    folder = Path(folder)
    path = weights_file(folder)
    if path is None:
        raise ModelFileError(folder, f"no weights: expected {SAFETENSORS_FILE} or {BIN_FILE}")
    if path.name == SAFETENSORS_FILE:
        return read_safetensors(path), path
    if path.name == SAFETENSORS_INDEX:
        return _read_sharded(path), path
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, OSError, EOFError, ValueError, AttributeError) as exc:
        raise ModelFileError(path, f"corrupt or unsafe weights file ({exc})") from exc
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ModelFileError(path, "expected a dict of tensors (a state dict)")
    return state, path


def _read_sharded(index_path: Path) -> dict[str, torch.Tensor]:
    try:
        weight_map = json.loads(index_path.read_text(encoding="utf-8"))["weight_map"]
        shards = sorted(set(weight_map.values()))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
        raise ModelFileError(index_path, f"not a valid safetensors index ({exc})") from exc
    state: dict[str, torch.Tensor] = {}
    for shard in shards:
        state.update(read_safetensors(index_path.parent / shard))
    return state


def check_finite(state: dict[str, torch.Tensor], path: Path) -> None:
    for name, tensor in state.items():
        if not torch.isfinite(tensor).all():
            raise ModelFileError(path, f"tensor {name} contains NaN or infinite values")


def take(state: dict[str, torch.Tensor], name: str, shape: tuple[int, ...], path: Path) -> torch.Tensor:
    """``state[name]`` as float32, checked against ``shape``; pops it so leftovers can be reported."""
    if name not in state:
        raise ModelFileError(path, f"missing tensor {name}")
    tensor = state.pop(name)
    if tuple(tensor.shape) != shape:
        raise ModelFileError(
            path, f"tensor {name} has shape {tuple(tensor.shape)} but config.json implies {shape}"
        )
    if not tensor.is_floating_point():
        raise ModelFileError(path, f"tensor {name} has dtype {tensor.dtype}, expected floating point")
    return tensor.float()


def strip_prefix(state: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """Drop ``prefix`` from the keys that have it (checkpoints saved from a head model have it)."""
    return {(k[len(prefix):] if k.startswith(prefix) else k): v for k, v in state.items()}


def report_leftovers(state: dict[str, torch.Tensor], path: Path) -> None:
    if state:
        names = sorted(state)
        more = " …" if len(names) > 5 else ""
        raise ModelFileError(path, f"unexpected tensors: {', '.join(names[:5])}{more}")


def folder_name(folder: Path) -> str:
    """A readable name: the repo id for a Hugging Face cache snapshot, else the folder's name."""
    parts = folder.resolve().parts
    if len(parts) >= 3 and parts[-2] == "snapshots" and parts[-3].startswith("models--"):
        return parts[-3][len("models--"):].replace("--", "/")
    return folder.name or str(folder)


# ---------------------------------------------------------------------------- GPT-2
def gpt2_config(config: dict[str, Any], path: Path, name: str, bos_token_id: int | None) -> ModelConfig:
    """Our :class:`ModelConfig` for a GPT-2 ``config.json`` (``path`` names it in errors)."""
    if config.get("scale_attn_weights", True) is False or config.get("scale_attn_by_inverse_layer_idx"):
        raise ModelFileError(path, "attention without the usual 1/√d_head scaling is not supported")
    if config.get("add_cross_attention"):
        raise ModelFileError(path, "GPT-2 with cross-attention (an encoder-decoder) is not supported")
    d_model = config_int(config, path, "n_embd", "hidden_size")
    try:
        return ModelConfig(
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
            layer_norm_eps=float(config.get("layer_norm_epsilon", 1e-5)),
            tie_embeddings=bool(config.get("tie_word_embeddings", True)),
            bos_token_id=bos_token_id,
            name=name,
        )
    except ValueError as exc:
        raise ModelFileError(path, f"invalid GPT-2 config: {exc}") from exc


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
        state.pop("lm_head.weight", None)  # a copy of wte when saved at all
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
    folder = Path(folder)
    if not folder.is_dir():
        raise ModelFileError(folder, "model folder not found")
    config = read_hf_config(folder)
    config_path = folder / CONFIG_FILE
    if hf_kind(config) != "gpt2":
        raise ModelFileError(config_path, f"not a GPT-2 config (model_type {config.get('model_type')!r})")
    tokenizer = gpt2_tokenizer(folder)
    vocab_size = config_int(config, config_path, "vocab_size")
    bos = _bos_id(config, tokenizer, vocab_size) if prepend_bos else None
    tokenizer.bos_token_id = bos
    cfg = gpt2_config(config, config_path, folder_name(folder), bos)
    if tokenizer.vocab_size > cfg.vocab_size:
        raise ModelFileError(
            folder, f"the tokenizer has {tokenizer.vocab_size} tokens but the model only {cfg.vocab_size}"
        )
    state, weights_path = read_hf_weights(folder)
    mapped = gpt2_state_dict(state, cfg, weights_path)
    check_finite(mapped, weights_path)
    module = Transformer(cfg)
    module.load_state_dict(mapped, strict=not cfg.tie_embeddings)
    return module.eval(), tokenizer


# ---------------------------------------------------------------------------- discovery
def hf_cache_dir() -> Path:
    """The Hugging Face hub cache: ``$HF_HUB_CACHE``, ``$HF_HOME/hub``, or ``~/.cache/huggingface/hub``."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "huggingface" / "hub"


def is_checkpoint(folder: Path, kind: str = "gpt2") -> bool:
    """A complete local checkpoint of ``kind``: config, weights and tokenizer all present."""
    try:
        if not (folder / CONFIG_FILE).is_file() or weights_file(folder) is None:
            return False
        if hf_kind(read_hf_config(folder)) != kind:
            return False
    except (ModelFileError, OSError):
        return False
    if kind == "gpt2":
        return (folder / TOKENIZER_FILE).is_file() or (
            (folder / VOCAB_FILE).is_file() and (folder / MERGES_FILE).is_file()
        )
    return (folder / TOKENIZER_FILE).is_file() or (folder / "vocab.txt").is_file()


def cache_snapshots(cache: Path | None = None) -> Iterator[Path]:
    """One snapshot folder per cached model repo: the one ``refs/main`` names, else the newest."""
    cache = hf_cache_dir() if cache is None else cache
    if not cache.is_dir():
        return
    for repo in sorted(cache.glob("models--*")):
        snapshots = repo / "snapshots"
        if not snapshots.is_dir():
            continue
        ref = repo / "refs" / "main"
        try:
            main = snapshots / ref.read_text(encoding="utf-8").strip() if ref.is_file() else None
        except OSError:
            main = None
        if main is not None and main.is_dir():
            yield main
            continue
        candidates = [s for s in snapshots.iterdir() if s.is_dir()]
        if candidates:
            yield max(candidates, key=lambda s: s.stat().st_mtime)


def _walk(root: Path, max_depth: int) -> Iterator[Path]:
    """``root`` and its sub-folders to ``max_depth``, skipping hidden and virtual-env folders."""
    stack = [(root, 0)]
    while stack:
        folder, depth = stack.pop()
        yield folder
        if depth >= max_depth:
            continue
        try:
            children = sorted((c for c in folder.iterdir() if c.is_dir()), reverse=True)
        except OSError:
            continue
        for child in children:
            if not child.name.startswith(".") and child.name not in ("node_modules", "__pycache__", "site-packages"):
                stack.append((child, depth + 1))


def find_checkpoints(
    folder: str | Path | None = None,
    include_cache: bool = True,
    max_depth: int = 3,
    kind: str = "gpt2",
) -> list[Path]:
    """GPT-2-architecture model folders under ``folder`` (to ``max_depth`` levels) and, when
    ``include_cache``, in the Hugging Face hub cache. Read-only: never downloads."""
    found: list[Path] = []
    if folder is not None:
        root = Path(folder).expanduser()
        if root.is_dir():
            found += [f for f in _walk(root, max_depth) if is_checkpoint(f, kind)]
    if include_cache:
        found += [s for s in cache_snapshots() if is_checkpoint(s, kind)]
    unique: dict[Path, Path] = {}
    for path in found:
        unique.setdefault(path.resolve(), path)
    return list(unique.values())
