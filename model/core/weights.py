"""Saving and loading a model folder: ``config.json`` + ``model.safetensors`` (+ ``tokenizer.json``).

Only safetensors are read here; nothing is ever unpickled.
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from model.core.build import build_module, probe_forward
from model.core.config import load_config
from model.core.errors import ModelFileError
from model.core.paths import CONFIG_FILE, TOKENIZER_FILE, WEIGHTS_FILE
from model.core.transformer import Transformer
from model.core.validation import (
    check_file_fits,
    check_folder,
    check_tensor,
    require_file,
)

__all__ = ["CONFIG_FILE", "TOKENIZER_FILE", "WEIGHTS_FILE", "load_config", "load_model", "read_safetensors", "save_model"]



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


def read_safetensors(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a safetensors file, turning every failure into a :class:`ModelFileError`."""
    path = require_file(Path(path), "weights file")
    check_file_fits(path)
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError, RuntimeError, MemoryError) as exc:
        raise ModelFileError(path, f"corrupt or unreadable safetensors file ({exc})") from exc


def load_model(folder: str | Path) -> Transformer:
    """Build a :class:`Transformer` from a model folder, checking every tensor's name, shape,
    dtype and values, then that a forward pass on a few tokens stays finite."""
    folder = check_folder(folder)
    cfg = load_config(folder)
    weights_path = folder / WEIGHTS_FILE
    state = read_safetensors(weights_path)
    model = build_module(cfg, folder / CONFIG_FILE)
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
        raise ModelFileError(
            weights_path, "does not match config.json: " + "; ".join(parts), key=(missing or unexpected)[0]
        )
    checked = {name: check_tensor(tensor, name, weights_path, tuple(expected[name].shape)) for name, tensor in state.items()}
    model.load_state_dict(checked, strict=not cfg.tie_embeddings)
    model.eval()
    probe_forward(model, weights_path)
    return model
