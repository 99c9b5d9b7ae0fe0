"""Validation in one place for every model format: files, config values, tensors, tokenizers.

A model folder is input from anywhere, so nothing in it is trusted. Every reader (this
app's own format in :mod:`model.core.weights`, the Hugging Face readers in :mod:`model.formats`)
goes through the same checks, and every failure is a :class:`~model.core.errors.ModelFileError`
naming the file and, where there is one, the key:

* **files** — :func:`check_folder`, :func:`read_json` (the one JSON reader: size-capped,
  any nesting depth, permissions told apart from absence), :func:`file_in_folder` (a name
  that a file gives, e.g. a shard in ``model.safetensors.index.json``, must stay inside
  the folder: checked by name, before anything is opened);
* **config values** — :func:`positive_int`, :func:`non_negative_int`,
  :func:`positive_float`, :func:`fraction`, :func:`boolean`, :func:`one_of` raise
  :class:`ConfigValueError` (a ``ValueError`` that knows its key); :func:`check_config_dict`
  runs them over this app's own ``config.json`` keys; :func:`check_config` checks a built
  :class:`~model.core.config.ModelConfig` against the memory there is, *before* anything is
  allocated (:func:`estimate_load_bytes`);
* **tensors** — :func:`check_tensor` (floating point, shape, finite, ``|w| ≤``
  :data:`MAX_ABS_WEIGHT`) and :func:`probe_forward` (a forward pass on a few tokens whose
  every named internal must be finite);
* **tokenizers** — :func:`check_tokenizer`: every id the tokenizer can produce indexes the
  model's embedding table.
"""

from __future__ import annotations

import codecs
import json
import math
import os
import stat
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from model.core.errors import ModelFileError

if TYPE_CHECKING:
    import torch

    from model.core.config import ModelConfig
    from model.core.tokenizer import TextTokenizer

#: More layers than any real model has (the deepest open ones have ~120). A config claiming more
#: is refused before anything is built per layer (a tuple of 10⁹ local layers would hang).
MAX_LAYERS = 10_000

# config.json, a shard index or tokenizer.json: the largest real ones are a few MB (a
# 250k-token tokenizer.json is ~17 MB). Anything far beyond is not one of them.
MAX_JSON_BYTES = 64 * 2**20

# No trained transformer we know of has a weight beyond ±1e4 (GPT-2's stored -1e4 mask
# buffer is dropped before the check). At ±1e5 the worst dot product a block forms at
# d_model 4096 is ~1e30, still inside float32's 3.4e38; a 3e38 weight overflows at once.
MAX_ABS_WEIGHT = 1e5

# Refuse a model whose estimated load peak exceeds this share of the available memory.
MEMORY_SHARE = 0.8
# A model with a long context traces at most as many tokens as fit in this share of the
# memory available once it is loaded (the window keeps copies of a trace, too).
TRACE_SHARE = 0.25


class ConfigValueError(ValueError):
    """A config value of the wrong type or out of range; ``key`` names it."""

    def __init__(self, key: str, problem: str) -> None:
        self.key = key
        self.problem = problem
        super().__init__(f"{key} {problem}")


# ---------------------------------------------------------------------------- files


def check_folder(folder: str | Path) -> Path:
    """``folder`` as a Path if it is a folder this process may list and read."""
    folder = Path(folder)
    kind = path_kind(folder)
    if kind == "missing":
        raise ModelFileError(folder, "model folder not found")
    if kind == "denied" or (kind == "dir" and not _may(folder, os.R_OK | os.X_OK)):
        raise ModelFileError(folder, "permission denied: this folder cannot be read (check its permissions)")
    if kind != "dir":
        raise ModelFileError(folder, "expected a model folder (config.json, model.safetensors, tokenizer.json)")
    return folder


def _may(path: Path, mode: int) -> bool:
    """Whether this process may access ``path`` — by its effective ids where the OS can
    tell (the real ids answer for a process that dropped its privileges)."""
    if os.access in os.supports_effective_ids:
        return os.access(path, mode, effective_ids=True)
    return os.access(path, mode)


def path_kind(path: Path) -> str:
    """'file', 'dir', 'other', 'missing' or 'denied' — without ever raising."""
    try:
        mode = path.stat().st_mode
    except PermissionError:
        return "denied"
    except (OSError, ValueError):  # ValueError: a NUL byte in the path
        return "missing"
    if stat.S_ISDIR(mode):
        return "dir"
    return "file" if stat.S_ISREG(mode) else "other"


def require_file(path: Path, what: str = "file") -> Path:
    """``path`` if it is a readable regular file; else a message saying which of missing,
    unreadable or not-a-file it is (a folder the user may not read is not "missing")."""
    kind = path_kind(path)
    if kind == "missing":
        if path_kind(path.parent) == "denied" or (
            path_kind(path.parent) == "dir" and not _may(path.parent, os.R_OK | os.X_OK)
        ):
            raise ModelFileError(path, f"permission denied: the folder holding this {what} cannot be read")
        raise ModelFileError(path, f"{what} not found")
    if kind == "denied" or (kind == "file" and not _may(path, os.R_OK)):
        raise ModelFileError(path, f"permission denied: this {what} cannot be read (check its permissions)")
    if kind != "file":
        raise ModelFileError(path, f"expected a {what}, found a folder or special file")
    return path


def read_json(path: str | Path, what: str = "file", max_bytes: int = MAX_JSON_BYTES) -> dict[str, Any]:
    """The JSON object in ``path``; every failure (missing, unreadable, too large, not UTF-8,
    not JSON, nested too deep, not an object) is a :class:`ModelFileError` naming it."""
    path = require_file(Path(path), what)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise ModelFileError(path, f"is {size / 2**20:.0f} MB; a {what} is at most {max_bytes // 2**20} MB")
        with path.open("rb") as handle:
            raw = handle.read(max_bytes + 1)
        data = json.loads(raw.removeprefix(codecs.BOM_UTF8).decode("utf-8"))  # a BOM is not an error
    except PermissionError as exc:
        raise ModelFileError(path, f"permission denied: this {what} cannot be read") from exc
    except OSError as exc:
        raise ModelFileError(path, f"cannot be read ({exc.strerror or exc})") from exc
    except UnicodeDecodeError as exc:
        raise ModelFileError(path, f"not valid JSON: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except RecursionError as exc:
        raise ModelFileError(path, "not valid JSON: nested too deeply to read") from exc
    except ValueError as exc:  # JSONDecodeError, and ints beyond Python's digit limit
        raise ModelFileError(path, f"not valid JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise ModelFileError(path, f"expected a JSON object, found {_json_type(data)}")
    return data


def file_in_folder(folder: Path, name: object, source: Path, key: str) -> Path:
    """The file ``name`` (read from ``source`` under ``key``) inside ``folder``.

    Checked by name, before anything is opened: a model folder must never make the app read
    outside it. Symbolic links the folder holds are still followed (a Hugging Face cache
    snapshot is links into ``../../blobs``); only names a file spells out are restricted.
    """
    if not isinstance(name, str) or not name.strip():
        raise ModelFileError(source, f"{key} must name a file in the model folder, got {name!r}", key=key)
    relative = Path(name)
    parts = relative.parts
    if relative.is_absolute() or relative.drive or ".." in parts or "\x00" in name or not parts:
        raise ModelFileError(
            source, f"{key} names {name!r}, which is outside the model folder: refused without opening it", key=key
        )
    path = folder / relative
    _require_regular_inside(path, folder, source, key, name)
    return path


def _require_regular_inside(path: Path, folder: Path, source: Path, key: str, name: str) -> None:
    """What ``path`` resolves to (after symbolic links) must be a regular file — a FIFO would
    block the load forever, a device (/dev/urandom) never ends — inside the model folder or,
    for a Hugging Face cache snapshot (links into ``../../blobs``), inside that cache entry."""
    try:
        target = path.resolve(strict=True)
        info = os.stat(target)
    except FileNotFoundError:
        return  # the reader says "not found", naming the file
    except (OSError, RuntimeError):  # a link loop, a denied folder
        raise ModelFileError(source, f"{key} names {name!r}, which cannot be opened", key=key) from None
    if not stat.S_ISREG(info.st_mode):
        raise ModelFileError(source, f"{key} names {name!r}, which is not a regular file: refused without opening it",
                             key=key)
    home = folder.resolve()
    allowed = [home]
    if home.parent.name == "snapshots":
        allowed.append(home.parent.parent / "blobs")
    if not any(target == root or root in target.parents for root in allowed):
        raise ModelFileError(source, f"{key} names {name!r}, which leads outside the model folder: refused without "
                             "opening it", key=key)


def _json_type(value: object) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "true/false", type(None): "null"}
    return names.get(type(value), "a number")


# ---------------------------------------------------------------------------- values


def _show(value: object) -> str:
    text = json.dumps(value) if isinstance(value, (bool, type(None))) else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def positive_int(value: object, key: str) -> int:
    """An int ≥ 1 (JSON ``true`` is not 1, ``4.0`` is not 4)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigValueError(key, f"must be positive (a whole number ≥ 1), got {_show(value)}")
    return value


def non_negative_int(value: object, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigValueError(key, f"must be a whole number ≥ 0, got {_show(value)}")
    return value


def positive_float(value: object, key: str) -> float:
    """A finite number > 0 (ints allowed; NaN, ±inf, 0, negatives and strings are not)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigValueError(key, f"must be a finite number > 0, got {_show(value)}")
    number = float(value) if abs(value) < 1e308 else math.inf
    if not math.isfinite(number) or number <= 0:
        raise ConfigValueError(key, f"must be a finite number > 0, got {_show(value)}")
    return number


def finite_float(value: object, key: str) -> float:
    """Any finite number (ints allowed; NaN, ±inf and strings are not)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigValueError(key, f"must be a finite number, got {_show(value)}")
    number = float(value) if abs(value) < 1e308 else math.inf
    if not math.isfinite(number):
        raise ConfigValueError(key, f"must be a finite number, got {_show(value)}")
    return number


def fraction(value: object, key: str) -> float:
    """A probability in [0, 1): dropout of 1 drops everything."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise ConfigValueError(key, f"must be a number in [0, 1), got {_show(value)}")
    return float(value)


def boolean(value: object, key: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigValueError(key, f"must be true or false, got {_show(value)}")
    return value


def text(value: object, key: str) -> str:
    if not isinstance(value, str):
        raise ConfigValueError(key, f"must be a string, got {_show(value)}")
    return value


def one_of(*options: str) -> Callable[[object, str], str]:
    def check(value: object, key: str) -> str:
        if value not in options:
            raise ConfigValueError(key, f"must be one of {', '.join(map(repr, options))}, got {_show(value)}")
        return value  # type: ignore[return-value]

    return check


def int_tuple(value: object, key: str) -> tuple[int, ...]:
    """A non-empty list of whole numbers ≥ 0."""
    if not isinstance(value, (list, tuple)) or not value:
        raise ConfigValueError(key, f"must be a non-empty list of whole numbers, got {_show(value)}")
    for item in value:
        if isinstance(item, bool) or not isinstance(item, int) or item < 0:
            raise ConfigValueError(key, f"must hold whole numbers ≥ 0, found {_show(item)}")
    return tuple(value)


def name_value_pairs(value: object, key: str) -> tuple[tuple[str, Any], ...]:
    """``[["rope_type", "llama3"], ["factor", 8.0], …]``: names with numbers or strings."""
    if not isinstance(value, (list, tuple)):
        raise ConfigValueError(key, f"must be a list of [name, value] pairs, got {_show(value)}")
    pairs = []
    for item in value:
        if (not isinstance(item, (list, tuple)) or len(item) != 2 or not isinstance(item[0], str)
                or not isinstance(item[1], (str, int, float, bool, type(None)))):
            raise ConfigValueError(key, f"must hold [name, value] pairs, found {_show(item)}")
        number = item[1]
        if isinstance(number, float) and not math.isfinite(number):
            raise ConfigValueError(key, f"{item[0]} must be finite, got {_show(number)}")
        pairs.append((item[0], item[1]))
    return tuple(pairs)


def optional(check: Callable[[object, str], Any]) -> Callable[[object, str], Any]:
    def check_or_none(value: object, key: str) -> Any:
        return None if value is None else check(value, key)

    return check_or_none


# This app's own config.json: one check per ModelConfig field. A field missing from this
# table is passed through to ModelConfig unchecked (test_validation pins the table).
CONFIG_FIELDS: dict[str, Callable[[object, str], Any]] = {
    "vocab_size": positive_int,
    "n_ctx": positive_int,
    "d_model": positive_int,
    "n_layers": positive_int,
    "n_heads": positive_int,
    "d_mlp": non_negative_int,
    "d_embed": non_negative_int,
    "causal": boolean,
    "positional": one_of("learned", "sinusoidal", "rope"),
    "norm_placement": one_of("pre", "post"),
    "activation": one_of("gelu", "gelu_tanh", "relu", "silu"),
    "layer_norm_eps": positive_float,
    "attn_bias": boolean,
    "mlp_bias": boolean,
    "tie_embeddings": boolean,
    "unembed_bias": boolean,
    "dropout": fraction,
    "adaptive_cutoffs": optional(int_tuple),
    "adaptive_div_value": positive_float,
    "adaptive_tied": boolean,
    "sinusoid_base": positive_float,
    "bos_token_id": optional(non_negative_int),
    "output_token_ids": optional(int_tuple),
    "embed_layer_norm": boolean,
    "has_lm_head": boolean,
    "scale_scores": boolean,
    "layer_norm": boolean,
    "mlp": boolean,
    "name": text,
    "norm": one_of("layernorm", "rmsnorm"),
    "gated_mlp": boolean,
    "n_kv_heads": non_negative_int,
    "head_dim": non_negative_int,
    "attn_out_bias": optional(boolean),
    "qk_norm": boolean,
    "rope_theta": positive_float,
    "rope_scaling": optional(lambda value, key: name_value_pairs(value, key)),
    "sliding_window": optional(positive_int),
    "norm_offset": finite_float,
    "sandwich_norm": boolean,
    "embed_scale": positive_float,
    "query_pre_attn_scalar": optional(positive_float),
    "attn_softcap": optional(positive_float),
    "final_softcap": optional(positive_float),
    "local_layers": optional(int_tuple),
    "rope_local_theta": optional(positive_float),
}


def check_config_dict(data: Mapping[str, Any], known: set[str] | None = None) -> dict[str, Any]:
    """This app's ``config.json`` checked key by key: a copy with lists made tuples, ready
    for ``ModelConfig(**data)``. Raises :class:`ConfigValueError` naming the key.

    ``known`` is the set of ModelConfig fields (keys outside it are refused).
    """
    known = set(CONFIG_FIELDS) if known is None else known
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigValueError(unknown[0], f"is not a config key (unknown config keys: {', '.join(unknown)})")
    if "vocab_size" not in data:
        raise ConfigValueError("vocab_size", "is missing (the number of token ids)")
    out = {key: CONFIG_FIELDS[key](value, key) if key in CONFIG_FIELDS else value for key, value in data.items()}
    vocab = out["vocab_size"]
    d_model, n_heads = out.get("d_model", 256), out.get("n_heads", 4)
    if not out.get("head_dim") and d_model % n_heads:
        raise ConfigValueError("n_heads", f"({n_heads}) must divide d_model ({d_model})")
    if out.get("bos_token_id") is not None and out["bos_token_id"] >= vocab:
        raise ConfigValueError("bos_token_id", f"{out['bos_token_id']} is outside the vocabulary (vocab_size {vocab})")
    cutoffs, div = out.get("adaptive_cutoffs"), out.get("adaptive_div_value", 4.0)
    if cutoffs is not None and (div < 1 or len(cutoffs) * math.log(div) > math.log(d_model)):
        # Tail cluster i is d_model // div**(i+1) wide: below 1 it is wider than the head
        # (or astronomically so), and it must keep at least one dimension.
        raise ConfigValueError(
            "adaptive_div_value", f"must be ≥ 1 and leave the last of {len(cutoffs)} clusters at least one "
            f"of d_model's {d_model} dimensions, got {div}"
        )
    ids = out.get("output_token_ids")
    if ids is not None and max(ids) >= vocab:
        raise ConfigValueError("output_token_ids", f"hold id {max(ids)}, outside the vocabulary (vocab_size {vocab})")
    return out


# ---------------------------------------------------------------------------- memory


def available_memory() -> int | None:
    """Bytes of memory available to this process now (Linux's MemAvailable, else psutil,
    else sysconf), or None. /proc/meminfo first: importing psutil took 47 ms of the start-up."""
    try:
        with open("/proc/meminfo", "rb") as f:
            for line in f:
                if line.startswith(b"MemAvailable:"):
                    return int(line.split()[1]) * 1024  # kB
    except (OSError, ValueError, IndexError):
        pass
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except Exception:  # not installed, or no /proc
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def check_layer_count(n_layers: int, path: Path, key: str) -> None:
    """Refuse a layer count beyond :data:`MAX_LAYERS` with a message naming ``key``."""
    if n_layers > MAX_LAYERS:
        raise ModelFileError(path, f"{key} = {n_layers} is more layers than any model has "
                             f"(this app loads up to {MAX_LAYERS:,})", key=key)


def global_layer_count(cfg: ModelConfig) -> int:
    """How many layers see every earlier key, counted without a loop over ``n_layers``: a file
    may claim 10¹² layers, and this runs before the memory check refuses it (the fuzz test of
    broken folders hung here on BERT's ``num_hidden_layers``)."""
    if cfg.sliding_window is None:
        return cfg.n_layers
    if cfg.local_layers is None:
        return 0
    return cfg.n_layers - len(set(cfg.local_layers))


def estimate_load_bytes(cfg: ModelConfig) -> dict[str, int]:
    """Peak bytes of building and loading ``cfg``, by the config key that drives each part.

    Loading holds the file's tensors, their float32 copies and the module's parameters at
    once (×3); every block without RoPE or a sliding window also keeps an n_ctx × n_ctx causal
    mask (1 byte a cell), and a sinusoidal table is built in float64.
    """
    d, E, L, V, C = cfg.d_model, cfg.embed_width, cfg.n_layers, cfg.vocab_size, cfg.n_ctx
    m = cfg.mlp_width
    hd, H, KV = cfg.d_head, cfg.n_heads, cfg.kv_heads
    attention = d * (H + 2 * KV) * hd + H * hd * d  # qkv and out, with the heads' own width
    block = (3 if cfg.gated_mlp else 2) * d * m + 9 * d + m  # fc (+ gate), proj, biases, two norms
    unembed = cfg.n_outputs * d if cfg.has_lm_head and not cfg.tie_embeddings else 0
    positions = {"learned": C * d * 4 * 3, "sinusoidal": C * d * (4 + 8 + 8)}.get(cfg.positional, 0)
    # the causal mask: kept per block without RoPE or a window; a RoPE model builds it per call
    masks = 0 if cfg.positional == "rope" else global_layer_count(cfg)
    return {
        "vocab_size": (V * E + unembed) * 4 * 3,
        "n_ctx": masks * C * C + positions,
        "n_layers": L * block * 4 * 3,
        # a head_dim far from d_model / n_heads makes attention, not the MLP, the largest part
        "head_dim" if cfg.head_dim else "n_heads": L * attention * 4 * 3,
        "d_model": (E * d if E != d else 0) * 4 * 3,
    }


def _size(n: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB", "TB", "PB"):
        if n < 1024 or unit == "PB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.0f} PB"  # pragma: no cover


def check_config(cfg: ModelConfig, path: Path, keys: Mapping[str, str] | None = None) -> None:
    """Refuse ``cfg`` (read from ``path``) if loading it needs more memory than there is.

    Runs before any tensor is allocated: n_ctx 10⁹ or vocab_size 10¹² fail in microseconds.
    ``keys`` maps our field names to the file's (GPT-2's ``n_positions`` for ``n_ctx``).
    """
    keys = keys or {}
    parts = estimate_load_bytes(cfg)
    need = sum(parts.values())
    have = available_memory()
    if have is not None and need > MEMORY_SHARE * have:
        field = max(parts, key=parts.__getitem__)
        key = keys.get(field, field)
        raise ModelFileError(
            path,
            f"{key} = {getattr(cfg, field)} makes the model too large: loading it needs about "
            f"{_size(need)} of memory and {_size(have)} is available",
            key=key,
        )


def trace_bytes(cfg: ModelConfig, n_tokens: int) -> int:
    """Peak bytes of one trace of ``n_tokens``: every captured tensor (scores, masked scores
    and pattern are L·H·T² each; q, k, v, the residuals and every head's output grow with
    T·d) and its numpy copy in the Trace, plus one position's logits and probabilities."""
    T, L, H, d = n_tokens, cfg.n_layers, cfg.n_heads, cfg.d_model
    per_layer = 3 * H * T * T + H * T * d + 8 * T * d + 2 * T * cfg.mlp_width
    return 2 * 4 * L * per_layer + 4 * 4 * cfg.vocab_size


def tokens_that_fit(cfg: ModelConfig, budget: float) -> int:
    """The most tokens (at least 1, at most n_ctx) whose trace fits in ``budget`` bytes."""
    low, high = 1, cfg.n_ctx
    while low < high:
        mid = (low + high + 1) // 2
        if trace_bytes(cfg, mid) <= budget:
            low = mid
        else:
            high = mid - 1
    return low


def check_file_fits(path: Path) -> None:
    """Refuse a weights file larger than the memory available to read it into."""
    have = available_memory()
    try:
        size = path.stat().st_size
    except OSError:
        return  # the reader names the problem
    if have is not None and size > MEMORY_SHARE * have:
        raise ModelFileError(path, f"is {_size(size)}, more than the {_size(have)} of memory available")


# ---------------------------------------------------------------------------- tensors


def check_tensor(
    tensor: torch.Tensor, name: str, path: Path, shape: tuple[int, ...] | None = None, implied_by: str = "config.json"
) -> torch.Tensor:
    """``tensor`` as float32 if it is floating point, has ``shape``, and every value is
    finite with ``|value| ≤`` :data:`MAX_ABS_WEIGHT`; else a message naming ``name``."""
    import torch  # here, not at the top: the window's start-up path imports this module

    if not isinstance(tensor, torch.Tensor):
        raise ModelFileError(path, f"{name} is not a tensor ({type(tensor).__name__})", key=name)
    if shape is not None and tuple(tensor.shape) != tuple(shape):
        raise ModelFileError(
            path, f"tensor {name} has shape {tuple(tensor.shape)} but {implied_by} implies {tuple(shape)}", key=name
        )
    if not tensor.is_floating_point():
        raise ModelFileError(
            path, f"tensor {name} has dtype {str(tensor.dtype).replace('torch.', '')}, expected floating point",
            key=name,
        )
    values = tensor.float()
    if values.numel():
        largest = float(values.abs().amax())  # NaN propagates through amax
        if not math.isfinite(largest):
            raise ModelFileError(path, f"tensor {name} contains NaN or infinite values", key=name)
        if largest > MAX_ABS_WEIGHT:
            raise ModelFileError(
                path,
                f"tensor {name} holds a value of {largest:.3g}; weights beyond ±{MAX_ABS_WEIGHT:.0e} "
                "overflow a forward pass",
                key=name,
            )
    return values


def check_tokenizer(tokenizer: TextTokenizer, vocab_size: int, path: Path, vocab_key: str = "vocab_size") -> None:
    """Every id ``tokenizer`` (read from ``path``) can produce must index the model's
    ``vocab_size`` rows, and so must its BOS id."""
    token, token_id = tokenizer.largest_id()
    if token_id >= vocab_size:
        raise ModelFileError(
            path,
            f"token {token!r} has id {token_id}, outside the model's vocabulary "
            f"({vocab_key} {vocab_size} in config.json)",
            key=vocab_key,
        )
    bos = tokenizer.bos_token_id
    if bos is not None and not 0 <= bos < vocab_size:
        raise ModelFileError(path, f"bos_token_id {bos} is outside the vocabulary ({vocab_size})", key="bos_token_id")
