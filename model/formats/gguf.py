"""Llama-layout GGUF files (llama.cpp's single-file format) as our own :class:`Transformer`.

A GGUF file holds the config and the tokenizer as metadata and the weights as (usually
quantized) tensors. Everything is read with the ``gguf`` package (llama.cpp's own Python
reader): tensors are dequantized by ``gguf.quants.dequantize`` (F32, F16, BF16, Q8_0,
Q4_0/1, Q5_0/1, the K-quants, …) — nothing here decodes a quantized block by hand — then
renamed to Hugging Face's Llama names and handed to :mod:`model.formats.llama`. The
tokenizer is rebuilt from ``tokenizer.ggml.*`` as a ``tokenizers`` Tokenizer, the way
transformers' GGUF support builds it.

Dequantizing takes seconds (``GGUFReader`` alone parses every token string), so the
result is cached in the user's cache folder (:func:`cache_root`), keyed by the file's
SHA-256, as this app's own folder format: ``config.json``, ``model.safetensors`` (float32)
and ``tokenizer.json``. The folder is written under a temporary name and renamed, so a
crash never leaves a half-written cache behind.

Dequantized weights are not the original model's: a Q4_1 file keeps about 5 bits per
weight. :func:`weights_note` says so, and the app shows it.
"""

from __future__ import annotations

import logging
import mmap
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

from model.core.build import probe_forward
from model.core.config import ModelConfig, rope_scaling_pairs
from model.core.errors import ModelFileError
from model.core.tokenizer import TextTokenizer
from model.core.transformer import Transformer
from model.core.validation import check_layer_count
from model.formats.gguf_cache import (  # noqa: F401 (re-exported)
    CACHE_ENV,
    CACHE_LAYOUT,
    META_FILE,
    _read_cache,
    _write_cache,
    cache_folder,
    cache_root,
    file_sha256,
    sweep_stale_temporaries,
)
from model.formats.llama import build_module, llama_state_dict

log = logging.getLogger(__name__)

MAGIC = b"GGUF"
# llama.cpp architectures whose tensors map onto the Llama layout. "llama" files also hold
# Mistral, SmolLM and TinyLlama; llama.cpp stores their q/k rows permuted (see _unpermute).
ARCHITECTURES = ("llama", "qwen2", "qwen3", "gemma2", "gemma3")
GEMMA = ("gemma2", "gemma3")
NOT_GGUF = "not a GGUF file (it does not start with 'GGUF')"

_TENSOR_NAMES = {  # llama.cpp → Hugging Face, per block
    "attn_norm": "input_layernorm",
    "ffn_norm": "post_attention_layernorm",
    "attn_q": "self_attn.q_proj",
    "attn_k": "self_attn.k_proj",
    "attn_v": "self_attn.v_proj",
    "attn_output": "self_attn.o_proj",
    "attn_q_norm": "self_attn.q_norm",
    "attn_k_norm": "self_attn.k_norm",
    "ffn_gate": "mlp.gate_proj",
    "ffn_up": "mlp.up_proj",
    "ffn_down": "mlp.down_proj",
}
_GEMMA_NAMES = {  # Gemma's four norms a block (its ffn_norm is the one before the MLP)
    **_TENSOR_NAMES,
    "ffn_norm": "pre_feedforward_layernorm",
    "post_attention_norm": "post_attention_layernorm",
    "post_ffw_norm": "post_feedforward_layernorm",
}
_GLOBAL_NAMES = {"token_embd": "embed_tokens", "output_norm": "norm", "output": "lm_head"}

# Pre-tokenizer splits by ``tokenizer.ggml.pre``, as transformers' GGUF tokenizer builds them
# (transformers/integrations/gguf/gguf_tokenizer_mapping.py, Apache-2.0). A name not listed
# gets GPT-2's own byte-level split.
_LLAMA3_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
_QWEN2_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
_SPLITS = {
    **dict.fromkeys(("llama3", "llama-v3", "llama-bpe", "falcon3", "smaug-bpe", "dbrx"), _LLAMA3_SPLIT),
    **dict.fromkeys(("qwen2", "deepseek-r1-qwen", "megrez"), _QWEN2_SPLIT),
}
# Vocabularies trained on one digit at a time (llama.cpp splits them with \p{N} first).
_SINGLE_DIGITS = ("smollm",)


# ---------------------------------------------------------------------------- header scan
@dataclass(frozen=True)
class GGUFSummary:
    """What the model picker shows before loading: read from the header only, in milliseconds."""

    path: Path
    architecture: str
    name: str
    n_params: int
    size_bytes: int
    context_length: int | None
    quantization: str


_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}


def is_gguf(path: str | Path) -> bool:
    """A regular file that starts with the GGUF magic (Ollama's blobs have no extension)."""
    try:
        with open(path, "rb") as fh:
            return fh.read(4) == MAGIC
    except OSError:
        return False


def scan_header(path: str | Path) -> GGUFSummary:
    """Architecture, name, parameter count and quantization from the header alone.

    ``GGUFReader`` builds a Python object per token string (seconds on a 49k vocabulary);
    listing models must not cost that, so this walks the header with ``struct`` and skips
    arrays. It reads metadata only: weights are never decoded here.
    """
    path = Path(path)
    if not is_gguf(path):
        raise ModelFileError(path, NOT_GGUF)
    try:
        with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            return _scan(buf, path)
    except (OSError, ValueError, struct.error, UnicodeDecodeError, IndexError) as exc:
        raise ModelFileError(path, f"not a readable GGUF file ({exc})") from exc


def _scan(buf: mmap.mmap, path: Path) -> GGUFSummary:
    if buf[:4] != MAGIC:
        raise ValueError("no GGUF magic number")
    version, n_tensors, n_kv = struct.unpack_from("<IQQ", buf, 4)
    if version < 2:
        raise ValueError(f"GGUF version {version} is too old")
    pos = 24
    meta: dict[str, Any] = {}

    def string(at: int) -> tuple[str, int]:
        (n,) = struct.unpack_from("<Q", buf, at)
        return bytes(buf[at + 8 : at + 8 + n]).decode("utf-8"), at + 8 + n

    def value(kind: int, at: int) -> tuple[Any, int]:
        if kind == 8:
            return string(at)
        if kind == 9:
            item, count = struct.unpack_from("<IQ", buf, at)
            at += 12
            if item in _SCALARS:
                return None, at + count * struct.calcsize(_SCALARS[item])
            for _ in range(count):
                _, at = value(item, at)
            return None, at
        fmt = _SCALARS[kind]
        return struct.unpack_from(fmt, buf, at)[0], at + struct.calcsize(fmt)

    for _ in range(n_kv):
        key, pos = string(pos)
        (kind,) = struct.unpack_from("<I", buf, pos)
        meta[key], pos = value(kind, pos + 4)
    n_params, kinds = 0, {}
    for _ in range(n_tensors):
        name, pos = string(pos)
        (n_dims,) = struct.unpack_from("<I", buf, pos)
        dims = struct.unpack_from(f"<{n_dims}Q", buf, pos + 4)
        (ggml_type,) = struct.unpack_from("<I", buf, pos + 4 + 8 * n_dims)
        pos += 4 + 8 * n_dims + 4 + 8
        count = int(np.prod(dims))
        n_params += count
        kinds[ggml_type] = kinds.get(ggml_type, 0) + count
    arch = str(meta.get("general.architecture", ""))
    return GGUFSummary(
        path=path,
        architecture=arch,
        name=str(meta.get("general.name") or path.stem),
        n_params=n_params,
        size_bytes=path.stat().st_size,
        context_length=meta.get(f"{arch}.context_length"),
        quantization=_type_name(max(kinds, key=kinds.get)) if kinds else "",
    )


def _type_name(ggml_type: int) -> str:
    import gguf

    try:
        return gguf.GGMLQuantizationType(ggml_type).name
    except ValueError:
        return f"type {ggml_type}"


# ---------------------------------------------------------------------------- reading
def open_reader(path: Path):
    """A ``gguf.GGUFReader``; every failure (truncated, not GGUF, …) names the file."""
    import gguf

    if not path.is_file():
        raise ModelFileError(path, "GGUF file not found")
    if not is_gguf(path):
        raise ModelFileError(path, NOT_GGUF)
    try:
        return gguf.GGUFReader(path)
    except (ValueError, OSError, struct.error, KeyError, IndexError, TypeError) as exc:
        raise ModelFileError(path, f"corrupt or truncated GGUF file ({exc})") from exc


def metadata(reader, path: Path, key: str, default: Any = ...) -> Any:
    """The value of metadata ``key``; without ``default`` a missing key is an error naming the file."""
    field = reader.fields.get(key)
    if field is None:
        if default is ...:
            raise ModelFileError(path, f"missing metadata {key}")
        return default
    try:
        return field.contents()
    except (ValueError, IndexError, UnicodeDecodeError) as exc:
        raise ModelFileError(path, f"unreadable metadata {key} ({exc})") from exc


def gguf_config(reader, path: Path, name: str, bos_token_id: int | None, vocab_size: int) -> ModelConfig:
    """Our :class:`ModelConfig` from ``{arch}.*`` metadata; the tensors decide tying."""
    arch = metadata(reader, path, "general.architecture")
    if arch not in ARCHITECTURES:
        raise ModelFileError(
            path, f"architecture {arch!r} is not supported (supported: {', '.join(ARCHITECTURES)}: the Llama layout)"
        )

    def number(key: str, default: Any = ...) -> Any:
        value = metadata(reader, path, f"{arch}.{key}", default)
        if isinstance(value, list):  # per-layer values (some files): one value for every layer only
            if len(set(value)) != 1:
                raise ModelFileError(path, f"{arch}.{key} varies by layer, which is not supported")
            value = value[0]
        return value

    def count(key: str, default: Any = ...) -> int:
        """A positive whole number (a float, a string or 0 where a count belongs is refused)."""
        value = number(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or int(value) <= 0:
            raise ModelFileError(path, f"{arch}.{key} must be a positive whole number, got {value!r}",
                                 key=f"{arch}.{key}")
        return int(value)

    def real(key: str, default: Any = ...) -> float:
        value = number(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise ModelFileError(path, f"{arch}.{key} must be a number, got {value!r}", key=f"{arch}.{key}")
        return float(value)

    n_heads = count("attention.head_count")
    d_model = count("embedding_length")
    head_dim = count("attention.key_length", d_model // n_heads)
    rope_dims = count("rope.dimension_count", head_dim)
    if rope_dims != head_dim:
        raise ModelFileError(path, f"RoPE over {rope_dims} of {head_dim} head dimensions is not supported")
    scaling = None
    kind = number("rope.scaling.type", "none")
    if kind not in ("none", "", None):
        if kind not in ("linear", "yarn"):
            raise ModelFileError(path, f"rope scaling {kind!r} is not supported")
        pairs: dict[str, Any] = {"rope_type": kind, "factor": real("rope.scaling.factor")}
        if kind == "yarn":
            pairs["original_max_position_embeddings"] = count("rope.scaling.original_context_length")
        scaling = rope_scaling_pairs(pairs)
    names = {t.name for t in reader.tensors}
    if "rope_freqs.weight" in names:
        if scaling is not None:
            raise ModelFileError(path, "both rope_freqs and rope scaling metadata: not supported")
        factors = next(t for t in reader.tensors if t.name == "rope_freqs.weight")
        values = tuple(float(v) for v in np.asarray(factors.data, dtype=np.float32).ravel())
        if len(values) != head_dim // 2:
            raise ModelFileError(path, f"rope_freqs has {len(values)} values, expected {head_dim // 2}")
        scaling = rope_scaling_pairs({"rope_type": "freq_factors", "factors": values})
    window = number("attention.sliding_window", None)
    if arch in GEMMA:
        return _gemma_gguf_config(arch, path, name, bos_token_id, vocab_size, count, real, scaling, window, names)
    try:
        return ModelConfig(
            vocab_size=vocab_size,
            n_ctx=count("context_length"),
            d_model=d_model,
            n_layers=count("block_count"),
            n_heads=n_heads,
            n_kv_heads=count("attention.head_count_kv", n_heads),
            head_dim=0 if head_dim * n_heads == d_model else head_dim,
            d_mlp=count("feed_forward_length"),
            positional="rope",
            norm="rmsnorm",
            activation="silu",
            gated_mlp=True,
            layer_norm_eps=real("attention.layer_norm_rms_epsilon", 1e-5),
            attn_bias="blk.0.attn_q.bias" in names,
            attn_out_bias="blk.0.attn_output.bias" in names,
            mlp_bias=False,
            qk_norm="blk.0.attn_q_norm.weight" in names,
            rope_theta=real("rope.freq_base", 10000.0),
            rope_scaling=scaling,
            sliding_window=int(window) if window else None,
            tie_embeddings="output.weight" not in names,
            bos_token_id=bos_token_id,
            name=name,
        )
    except (ValueError, TypeError) as exc:
        raise ModelFileError(path, f"invalid {arch} metadata: {exc}") from exc


def _gemma_gguf_config(arch, path, name, bos_token_id, vocab_size, count, real, scaling, window, names) -> ModelConfig:
    """Gemma 2/3 from llama.cpp's metadata, with transformers' defaults for what it leaves
    out (:mod:`model.formats.gemma`): Gemma 3's local RoPE base 10,000 and one global layer
    in six; Gemma 2's soft caps and every other layer local."""
    from model.formats.gemma import GEMMA3_LOCAL_THETA, GEMMA3_PATTERN

    n_layers, n_heads, d_model = count("block_count"), count("attention.head_count"), count("embedding_length")
    check_layer_count(n_layers, path, f"{arch}.block_count")  # before a tuple over its layers
    head_dim = count("attention.key_length", d_model // n_heads)
    pattern = GEMMA3_PATTERN if arch == "gemma3" else 2
    caps = {}
    if arch == "gemma2":
        caps = {"attn_softcap": real("attn_logit_softcapping", 50.0), "final_softcap": real("final_logit_softcapping", 30.0)}
    try:
        return ModelConfig(
            vocab_size=vocab_size, n_ctx=count("context_length"), d_model=d_model, n_layers=n_layers,
            n_heads=n_heads, n_kv_heads=count("attention.head_count_kv", n_heads), head_dim=head_dim,
            d_mlp=count("feed_forward_length"), positional="rope", norm="rmsnorm", norm_offset=1.0,
            sandwich_norm=True, activation="gelu_tanh", gated_mlp=True,
            layer_norm_eps=real("attention.layer_norm_rms_epsilon", 1e-6), attn_bias=False, mlp_bias=False,
            qk_norm="blk.0.attn_q_norm.weight" in names, embed_scale=float(np.sqrt(d_model)),
            query_pre_attn_scalar=float(head_dim), rope_theta=real("rope.freq_base", 10000.0),
            rope_local_theta=GEMMA3_LOCAL_THETA if arch == "gemma3" else None, rope_scaling=scaling,
            sliding_window=int(window) if window else None,
            local_layers=tuple(i for i in range(n_layers) if (i + 1) % pattern) if window else None,
            tie_embeddings="output.weight" not in names, bos_token_id=bos_token_id, name=name, **caps,
        )
    except (ValueError, TypeError) as exc:
        raise ModelFileError(path, f"invalid {arch} metadata: {exc}") from exc


def _unpermute(weight: np.ndarray, n_heads: int) -> np.ndarray:
    """Undo llama.cpp's q/k row order: its converter interleaves each head's two rotation
    halves (for the GPT-J style rotation llama.cpp uses on "llama" files); Hugging Face
    keeps them as halves."""
    half = weight.shape[0] // n_heads // 2
    return weight.reshape(n_heads, half, 2, *weight.shape[1:]).swapaxes(1, 2).reshape(weight.shape)


def read_tensors(reader, path: Path, cfg: ModelConfig, arch: str) -> dict[str, torch.Tensor]:
    """Every tensor dequantized to float32, under Hugging Face's Llama names."""
    import gguf

    state: dict[str, torch.Tensor] = {}
    for tensor in reader.tensors:
        parts = tensor.name.split(".")
        if tensor.name == "rope_freqs.weight":
            continue  # part of the config (see gguf_config)
        block_names = _GEMMA_NAMES if arch in GEMMA else _TENSOR_NAMES
        if parts[0] == "blk" and len(parts) == 4 and parts[2] in block_names:
            hf = f"layers.{parts[1]}.{block_names[parts[2]]}.{parts[3]}"
        elif len(parts) == 2 and parts[0] in _GLOBAL_NAMES:
            hf = f"{_GLOBAL_NAMES[parts[0]]}.{parts[1]}"
        else:
            raise ModelFileError(path, f"unexpected tensor {tensor.name}")
        try:
            array = gguf.quants.dequantize(tensor.data, tensor.tensor_type)
        except (NotImplementedError, ValueError, TypeError) as exc:
            raise ModelFileError(
                path, f"tensor {tensor.name}: cannot dequantize {tensor.tensor_type.name} ({exc})"
            ) from exc
        array = np.asarray(array, dtype=np.float32).reshape(tuple(int(n) for n in reversed(tensor.shape)))
        if arch == "llama" and parts[-2] in ("attn_q", "attn_k"):
            array = _unpermute(array, cfg.n_heads if parts[-2] == "attn_q" else cfg.kv_heads)
        if arch in GEMMA and tensor.name.endswith("norm.weight"):
            array = array - np.float32(1.0)  # llama.cpp stores Gemma's 1 + g; the model keeps g
        if not array.flags.writeable or not array.flags.c_contiguous:
            array = np.array(array, order="C")  # float tensors come back as views of the read-only map
        state[hf] = torch.from_numpy(array)
    return state


def gguf_tokenizer(reader, path: Path) -> tuple[Tokenizer, int | None]:
    """The tokenizer ``tokenizer.ggml.*`` describes, and the BOS id to prepend (None when
    ``tokenizer.ggml.add_bos_token`` is false, as for SmolLM2)."""
    kind = metadata(reader, path, "tokenizer.ggml.model")
    tokens = metadata(reader, path, "tokenizer.ggml.tokens")
    types = metadata(reader, path, "tokenizer.ggml.token_type", None) or []
    bos = metadata(reader, path, "tokenizer.ggml.bos_token_id", None)
    _check_vocabulary(path, tokens, types, bos, metadata(reader, path, "tokenizer.ggml.merges", None))
    if kind == "gpt2":
        tok = _byte_level_tokenizer(tokens, metadata(reader, path, "tokenizer.ggml.merges"), types)
        pre = metadata(reader, path, "tokenizer.ggml.pre", "default")
        if pre in _SPLITS:
            tok.pre_tokenizer = pre_tokenizers.Sequence(
                [pre_tokenizers.Split(Regex(_SPLITS[pre]), behavior="isolated"),
                 pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)]
            )
        elif pre in _SINGLE_DIGITS:
            tok.pre_tokenizer = pre_tokenizers.Sequence(
                [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False)]
            )
        add_bos_default = False
    elif kind == "llama" and metadata(reader, path, "general.architecture", "") in GEMMA:
        tok = _gemma_tokenizer(tokens, metadata(reader, path, "tokenizer.ggml.merges", None), types)
        add_bos_default = True
    elif kind == "llama":
        scores = metadata(reader, path, "tokenizer.ggml.scores", None)
        merges = metadata(reader, path, "tokenizer.ggml.merges", None)
        tok = _sentencepiece_tokenizer(tokens, merges, scores, types)
        add_bos_default = True  # llama.cpp adds BOS to a sentencepiece vocabulary unless told not to
    else:
        raise ModelFileError(path, f"tokenizer {kind!r} is not supported (supported: gpt2 byte-level BPE, llama sentencepiece)")
    add_bos = bool(metadata(reader, path, "tokenizer.ggml.add_bos_token", add_bos_default))
    if add_bos and bos is None:
        raise ModelFileError(path, "tokenizer.ggml.add_bos_token is set but there is no bos_token_id")
    return tok, (int(bos) if add_bos else None)


def _check_vocabulary(path: Path, tokens, types, bos, merges) -> None:
    """The token list, its types, the BOS id and the merges agree with each other (each lie a
    file can tell is refused here, naming the key, before the tokenizers library sees it)."""
    if not isinstance(tokens, list) or not tokens or not all(isinstance(t, str) for t in tokens):
        raise ModelFileError(path, "tokenizer.ggml.tokens must be a non-empty list of strings", key="tokenizer.ggml.tokens")
    if len(set(tokens)) != len(tokens):
        seen: set[str] = set()
        duplicate = next(t for t in tokens if t in seen or seen.add(t))
        raise ModelFileError(path, f"tokenizer.ggml.tokens lists {duplicate!r} twice: ids would be ambiguous",
                             key="tokenizer.ggml.tokens")
    if types and len(types) != len(tokens):
        raise ModelFileError(path, f"tokenizer.ggml.token_type has {len(types)} entries for {len(tokens)} tokens",
                             key="tokenizer.ggml.token_type")
    if bos is not None and (isinstance(bos, bool) or not isinstance(bos, (int, np.integer)) or not 0 <= int(bos) < len(tokens)):
        raise ModelFileError(path, f"tokenizer.ggml.bos_token_id {bos!r} is outside the vocabulary ({len(tokens)})",
                             key="tokenizer.ggml.bos_token_id")
    if merges:
        vocab = set(tokens)
        for merge in merges:
            parts = merge.split(" ") if isinstance(merge, str) else []
            if len(parts) != 2 or not all(parts):
                raise ModelFileError(path, f"tokenizer.ggml.merges holds {merge!r}: a merge is two tokens and a space",
                                     key="tokenizer.ggml.merges")
            unknown = [p for p in parts if p not in vocab]
            if unknown:
                raise ModelFileError(path, f"tokenizer.ggml.merges names {unknown[0]!r}, which is not in the vocabulary",
                                     key="tokenizer.ggml.merges")


def _byte_level_tokenizer(tokens: list[str], merges: list[str], types: list[int]) -> Tokenizer:
    """Byte-level BPE, as transformers' GPT2Tokenizer builds it."""
    vocab = {token: i for i, token in enumerate(tokens)}
    pairs = [tuple(m.split(" ", 1)) for m in merges]
    tok = Tokenizer(models.BPE(vocab=vocab, merges=pairs, dropout=None, continuing_subword_prefix="",
                               end_of_word_suffix="", fuse_unk=False))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    alphabet = set(pre_tokenizers.ByteLevel.alphabet())
    _add_special(tok, tokens, types, lambda t: set(t) <= alphabet)
    return tok


def _sentencepiece_tokenizer(tokens: list[str], merges: list[str] | None, scores: list[float] | None,
                             types: list[int]) -> Tokenizer:
    """SentencePiece BPE with byte fallback (Llama 2, TinyLlama), as transformers' LlamaTokenizer builds it."""
    vocab = {token: i for i, token in enumerate(tokens)}
    if merges:
        pairs = [tuple(m.split(" ", 1)) for m in merges]
    else:
        pairs = _merges_from_scores(vocab, dict(zip(tokens, scores or [0.0] * len(tokens), strict=False)))
    tok = Tokenizer(models.BPE(vocab=vocab, merges=pairs, fuse_unk=True, byte_fallback=True, dropout=None))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first", split=False)
    tok.decoder = decoders.Sequence(
        [decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(content=" ", left=1)]
    )
    _add_special(tok, tokens, types, lambda t: True)
    return tok


def _gemma_tokenizer(tokens: list[str], merges: list[str] | None, types: list[int]) -> Tokenizer:
    """Gemma's SentencePiece BPE with byte fallback, as transformers builds it from a GGUF file
    (``GemmaTokenizer``): spaces become ▁ and nothing is prepended; a token of several spaces
    is stored as spaces and looked up as ▁s; without merges in the file they are rebuilt
    from the vocabulary in the file's order (Gemma's scores do not follow its merge order)."""
    tokens = ["▁" * len(t) if " " in t and not t.strip() else t for t in tokens]
    vocab = {token: i for i, token in enumerate(tokens)}
    if merges:
        pairs = [tuple(m.split(" ", 1)) for m in merges]
    else:
        pairs = _merges_from_scores(vocab, {t: -float(i) for i, t in enumerate(tokens)})
    tok = Tokenizer(models.BPE(vocab=vocab, merges=pairs, fuse_unk=True, unk_token="<unk>" if "<unk>" in vocab else None,
                               byte_fallback=True, dropout=None))
    tok.normalizer = normalizers.Replace(" ", "▁")
    tok.pre_tokenizer = pre_tokenizers.Split(pattern=" ", behavior="merged_with_previous", invert=False)
    tok.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse()])
    _add_special(tok, tokens, types, lambda t: True)
    return tok


def _merges_from_scores(vocab: dict[str, int], scores: dict[str, float]) -> list[tuple[str, str]]:
    """The merges a scored vocabulary implies: every split of a token into two tokens,
    best score first (transformers' ``generate_merges``)."""
    merges = []
    for piece, score in scores.items():
        local = [(piece[:i], piece[i:], score) for i in range(1, len(piece)) if piece[:i] in vocab and piece[i:] in vocab]
        merges.extend(sorted(local, key=lambda m: (vocab[m[0]], vocab[m[1]])))
    merges.sort(key=lambda m: (m[2], len(m[0]), len(m[1])), reverse=True)
    return [(a, b) for a, b, _ in merges]


def _add_special(tok: Tokenizer, tokens: list[str], types: list[int], spellable) -> None:
    """Control tokens (type 3) stay whole as special tokens, user-defined ones (type 4) as
    plain added tokens; a control token a byte-level vocabulary cannot spell is llama.cpp
    mislabelling and is skipped (transformers does the same)."""
    control = [AddedToken(t, normalized=False, special=True) for t, k in zip(tokens, types, strict=False) if k == 3 and spellable(t)]
    if control:
        tok.add_special_tokens(control)
    user = [AddedToken(t, normalized=False, special=False) for t, k in zip(tokens, types, strict=False) if k == 4]
    if user:
        tok.add_tokens(user)


def weights_note(reader) -> str:
    """'' for float files; else which quantization the weights were dequantized from."""
    counts: dict[str, int] = {}
    for tensor in reader.tensors:
        counts[tensor.tensor_type.name] = counts.get(tensor.tensor_type.name, 0) + int(tensor.n_elements)
    quantized = {k: v for k, v in counts.items() if k not in ("F32", "F16", "BF16")}
    if not quantized:
        return ""
    kinds = "/".join(sorted(quantized, key=quantized.get, reverse=True))
    return f"{kinds} weights dequantized to float32: close to, but not, the original model's"


# ---------------------------------------------------------------------------- entry point
def load_gguf(path: str | Path, name: str | None = None, use_cache: bool = True,
              digest: str | None = None) -> tuple[Transformer, TextTokenizer, str]:
    """A Llama-layout GGUF file as our :class:`Transformer`, its tokenizer, and the weights note.

    The first load dequantizes (seconds) and caches; later loads of the same file (same
    SHA-256) read the cache. ``name`` overrides the model's display name.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise ModelFileError(path, "GGUF file not found")
    folder = cache_folder(path, digest) if use_cache else None  # digest: the file's SHA-256, when known
    if folder is not None:
        sweep_stale_temporaries(folder.parent)
    if folder is not None:
        cached = _read_cache(folder)
        if cached is not None:
            module, tokenizer, note = cached
            if name:
                module.cfg = _renamed(module.cfg, name)
            return module, tokenizer, note
    reader = open_reader(path)
    arch = metadata(reader, path, "general.architecture")
    if arch not in ARCHITECTURES:
        raise ModelFileError(
            path, f"architecture {arch!r} is not supported (supported: {', '.join(ARCHITECTURES)}: the Llama layout)"
        )
    raw_tokenizer, bos = gguf_tokenizer(reader, path)
    token_count = len(metadata(reader, path, "tokenizer.ggml.tokens", []))
    vocab_size = int(metadata(reader, path, f"{arch}.vocab_size", token_count) or token_count)
    display = name or str(metadata(reader, path, "general.name", path.stem))
    cfg = gguf_config(reader, path, display, bos, vocab_size)
    if raw_tokenizer.get_vocab_size(with_added_tokens=True) > cfg.vocab_size:
        raise ModelFileError(path, f"the tokenizer has more tokens than the model's {cfg.vocab_size}")
    try:
        state = read_tensors(reader, path, cfg, arch)
    except (ValueError, IndexError) as exc:  # a truncated file maps short tensors
        raise ModelFileError(path, f"corrupt or truncated tensor data ({exc})") from exc
    module = build_module(llama_state_dict(state, cfg, path), cfg, path)
    probe_forward(module, path)  # a first pass with NaN or infinities is refused, and never cached
    note = weights_note(reader)
    if folder is not None:
        _write_cache(folder, module, raw_tokenizer, {"source": str(path), "note": note, "layout": CACHE_LAYOUT})
    return module, TextTokenizer(raw_tokenizer, bos_token_id=bos), note


def _renamed(cfg: ModelConfig, name: str) -> ModelConfig:
    from dataclasses import replace

    return replace(cfg, name=name)
