"""One entry point for every kind of model the app can open: ``load_tracing_model(source)``.

``source`` is ``"bundled"`` (the teaching model in ``assets/``) or a path to a model
folder. Loaders for other architectures register here by folder layout.
"""

from __future__ import annotations

from pathlib import Path

from model.errors import ModelFileError
from model.paths import BUNDLED_MODEL_DIR
from model.runner import TracingModel

BUNDLED = "bundled"


def resolve_source(source: str | Path) -> Path:
    if str(source) == BUNDLED:
        return BUNDLED_MODEL_DIR
    return Path(source).expanduser()


def load_tracing_model(source: str | Path = BUNDLED) -> TracingModel:
    """Load a model by name or folder; raises :class:`ModelFileError` naming the file at fault."""
    folder = resolve_source(source)
    if not folder.exists():
        raise ModelFileError(folder, "no such file or folder")
    if not folder.is_dir():
        raise ModelFileError(folder, "expected a model folder (config.json, model.safetensors, tokenizer.json)")
    name = "teaching model (bundled)" if folder == BUNDLED_MODEL_DIR else None
    return TracingModel.from_folder(folder, name=name)
