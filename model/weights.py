"""Saving and loading a model folder: ``config.json`` + ``model.safetensors`` (+ ``tokenizer.json``).

Only safetensors are read here; nothing is ever unpickled.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from model.config import ModelConfig
from model.errors import ModelFileError
from model.transformer import Transformer

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
TOKENIZER_FILE = "tokenizer.json"


def save_model(
    model: Transformer,
    folder: str | Path,
    half_precision: bool | tuple[str, ...] = (),
    metadata: dict[str, str] | None = None,
) -> Path:
    """Write ``config.json`` and ``model.safetensors`` into ``folder``.

    ``half_precision`` names tensors stored as float16 (``True``: all of them); they are
    converted back to float32 on load, so the stored precision is what every later run sees.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {}
    for name, tensor in model.state_dict().items():
        if model.cfg.tie_embeddings and name == "unembed.weight":
            continue  # shared with tok_embed.weight; safetensors refuses aliased tensors
        tensor = tensor.detach().contiguous()
        halve = half_precision is True or (half_precision and name in half_precision)
        state[name] = tensor.half() if halve else tensor.float()
    model.cfg.save(folder / CONFIG_FILE)
    save_file(state, str(folder / WEIGHTS_FILE), metadata=metadata or {})
    return folder


def load_config(folder: str | Path) -> ModelConfig:
    path = Path(folder) / CONFIG_FILE
    if not path.is_file():
        raise ModelFileError(path, "config file not found")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFileError(path, f"not valid JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise ModelFileError(path, "expected a JSON object")
    try:
        return ModelConfig.from_dict(data)
    except (TypeError, ValueError) as exc:
        raise ModelFileError(path, f"invalid model config: {exc}") from exc


def read_safetensors(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a safetensors file, turning every failure into a :class:`ModelFileError`."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(path, "weights file not found")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise ModelFileError(path, f"corrupt or unreadable safetensors file ({exc})") from exc


def load_model(folder: str | Path) -> Transformer:
    """Build a :class:`Transformer` from a model folder, checking every tensor's name and shape."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ModelFileError(folder, "model folder not found")
    cfg = load_config(folder)
    weights_path = folder / WEIGHTS_FILE
    state = read_safetensors(weights_path)
    model = Transformer(cfg)
    expected = {k: v for k, v in model.state_dict().items()}
    if cfg.tie_embeddings:
        expected.pop("unembed.weight", None)
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing tensors: {', '.join(missing[:5])}{' …' if len(missing) > 5 else ''}")
        if unexpected:
            parts.append(f"unexpected tensors: {', '.join(unexpected[:5])}{' …' if len(unexpected) > 5 else ''}")
        raise ModelFileError(weights_path, "does not match config.json: " + "; ".join(parts))
    for name, tensor in state.items():
        if tuple(tensor.shape) != tuple(expected[name].shape):
            raise ModelFileError(
                weights_path,
                f"tensor {name} has shape {tuple(tensor.shape)} but config.json implies "
                f"{tuple(expected[name].shape)}",
            )
        if not torch.isfinite(tensor.float()).all():
            raise ModelFileError(weights_path, f"tensor {name} contains NaN or infinite values")
    model.load_state_dict({k: v.float() for k, v in state.items()}, strict=not cfg.tie_embeddings)
    model.eval()
    return model
