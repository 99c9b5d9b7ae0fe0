"""What every Hugging Face model folder shares: ``config.json``, the weights (single or
sharded safetensors, or ``pytorch_model.bin`` read with ``torch.load(weights_only=True)``,
never plain unpickling), and the checks that turn a bad file into a :class:`ModelFileError`
naming it. The family loaders (:mod:`model.formats.gpt2`, :mod:`model.formats.bert`) build on it."""

from __future__ import annotations

import json
import math
import os
import pickle
import stat
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import torch

from model.core.errors import ModelFileError
from model.core.paths import CONFIG_FILE, TOKENIZER_FILE  # noqa: F401 (re-exported)
from model.core.validation import (
    ConfigValueError,
    check_file_fits,
    check_tensor,
    file_in_folder,
    positive_int,
    read_json,
)
from model.core.weights import read_safetensors

T = TypeVar("T")

SAFETENSORS_FILE = "model.safetensors"
SAFETENSORS_INDEX = "model.safetensors.index.json"
BIN_FILE = "pytorch_model.bin"

# Hugging Face activation names → ours. gelu_new / gelu_fast / gelu_pytorch_tanh are all
# the tanh approximation of GELU (to within float rounding).
ACTIVATIONS = {
    "gelu": "gelu",
    "gelu_new": "gelu_tanh",
    "gelu_fast": "gelu_tanh",
    "gelu_pytorch_tanh": "gelu_tanh",
    "relu": "relu",
}


def read_hf_config(folder: str | Path) -> dict[str, Any]:
    """``config.json`` of a model folder as a dict; every failure is a :class:`ModelFileError`."""
    return read_json(Path(folder) / CONFIG_FILE, "config file")


def hf_kind(config: dict[str, Any]) -> str | None:
    """'gpt2', 'bert' or None, from ``model_type`` (or, failing that, ``architectures``)."""
    model_type = str(config.get("model_type", "")).lower()
    if model_type in ("gpt2", "bert"):
        return model_type
    if model_type:
        return None
    architectures = " ".join(architecture_names(config))
    if architectures.startswith("GPT2"):
        return "gpt2"
    if architectures.startswith("Bert"):
        return "bert"
    return None


def architecture_names(config: dict[str, Any]) -> list[str]:
    """``architectures`` as a list of strings, whatever the file holds (a bare name, a number)."""
    names = config.get("architectures")
    if names is None:
        return []
    return [str(a) for a in names] if isinstance(names, list) else [str(names)]


def config_int(config: dict[str, Any], path: Path, *keys: str, default: int | None = None) -> int:
    """The first of ``keys`` present in ``config``, as a positive int."""
    for key in keys:
        value = config.get(key)
        if value is not None:
            try:
                return positive_int(value, key)
            except ConfigValueError as exc:
                raise ModelFileError(path, str(exc), key=key) from exc
    if default is not None:
        return default
    raise ModelFileError(path, f"missing {' / '.join(keys)}")


def config_value(config: dict[str, Any], path: Path, key: str, check: Callable[[object, str], T], default: T) -> T:
    """``config[key]`` (``default`` when absent or null) passed through a check from
    :mod:`model.core.validation`, e.g. ``positive_float`` for an eps."""
    value = config.get(key)
    try:
        return default if value is None else check(value, key)
    except ConfigValueError as exc:
        raise ModelFileError(path, str(exc), key=key) from exc


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


MAX_HEADER_BYTES = 100 << 20  # a safetensors header is JSON of names and shapes: megabytes at most


def safetensors_summary(folder: str | Path) -> tuple[int, int] | None:
    """(parameter count, bytes on disk) of a folder's safetensors weights, from the file
    headers alone (no tensor is read); None without safetensors or when a header is unreadable."""
    path = weights_file(folder)
    if path is None or path.name == BIN_FILE:
        return None
    try:
        if path.name == SAFETENSORS_INDEX:
            index = read_json(path, "safetensors index")
            shards = sorted(set(index["weight_map"].values()))
            # the same rule as the load: names inside the folder, regular files only (a FIFO
            # blocked this summary forever, /dev/urandom read a random header length)
            files = [file_in_folder(path.parent, shard, path, "weight_map") for shard in shards]
        else:
            files = [path]
        n_params = size = 0
        for file in files:
            if not stat.S_ISREG(os.stat(file).st_mode):
                return None
            with open(file, "rb") as fh:
                (length,) = struct.unpack("<Q", fh.read(8))
                if length > MAX_HEADER_BYTES:
                    return None
                header = json.loads(fh.read(length))
            for name, entry in header.items():
                if name != "__metadata__":
                    n_params += math.prod(entry["shape"])
            size += file.stat().st_size
    except (OSError, ValueError, KeyError, TypeError, struct.error, ModelFileError):
        return None  # the loader reports what is wrong with the file
    return n_params, size


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
    check_file_fits(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, OSError, EOFError, ValueError, AttributeError, MemoryError) as exc:
        raise ModelFileError(path, f"corrupt or unsafe weights file ({exc})") from exc
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ModelFileError(path, "expected a dict of tensors (a state dict)")
    return state, path


def _read_sharded(index_path: Path) -> dict[str, torch.Tensor]:
    weight_map = read_json(index_path, "safetensors index").get("weight_map")
    if not isinstance(weight_map, dict) or not weight_map:
        raise ModelFileError(index_path, "not a valid safetensors index: weight_map must map tensor names to shard files", key="weight_map")
    shards = {}  # every name checked before any shard is opened
    for tensor, shard in weight_map.items():
        path = file_in_folder(index_path.parent, shard, index_path, f"weight_map[{tensor!r}]")
        shards.setdefault(path, tensor)
    state: dict[str, torch.Tensor] = {}
    for path in sorted(shards):
        state.update(read_safetensors(path))
    return state


def check_finite(state: dict[str, torch.Tensor], path: Path) -> None:
    """Every tensor floating point, finite and of sane magnitude (:func:`model.core.validation.check_tensor`)."""
    for name, tensor in state.items():
        check_tensor(tensor, name, path)


def take(state: dict[str, torch.Tensor], name: str, shape: tuple[int, ...], path: Path) -> torch.Tensor:
    """``state[name]`` as float32, checked against ``shape``; pops it so leftovers can be reported."""
    if name not in state:
        raise ModelFileError(path, f"missing tensor {name}")
    return check_tensor(state.pop(name), name, path, shape)


def drop_tied_head(state: dict[str, torch.Tensor], embedding: torch.Tensor, path: Path,
                   name: str = "lm_head.weight") -> None:
    """With tied embeddings (``tie_word_embeddings`` true) the output matrix is the embedding:
    a saved ``lm_head.weight`` is dropped when it is a copy of it, and refused when it is a
    different matrix (it was discarded without a word, issue #31). Compared a block of rows at
    a time, in the embedding's dtype (it came from the same file), so no second copy is made."""
    head = state.pop(name, None)
    if head is None:
        return
    same = tuple(head.shape) == tuple(embedding.shape)
    rows = 8192
    for start in range(0, embedding.shape[0], rows) if same else ():
        if not torch.equal(head[start:start + rows].to(embedding.dtype), embedding[start:start + rows]):
            same = False
            break
    if not same:
        raise ModelFileError(
            path, "config.json ties the output to the embedding (tie_word_embeddings is true), but the "
            f"checkpoint's {name} is a different matrix, which would be ignored; set tie_word_embeddings "
            f"to false to use it, or remove {name} to tie", key=name)


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
