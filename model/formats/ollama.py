"""Llama-layout GGUF models in Ollama's model store, listed by their Ollama names.

Ollama keeps ``manifests/<registry>/<namespace>/<model>/<tag>`` (JSON) whose layer of media
type ``application/vnd.ollama.image.model`` names a blob ``blobs/sha256-<hex>``: a plain
GGUF file. Read-only: nothing here talks to Ollama or downloads.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from model.core.errors import ModelFileError
from model.formats.gguf import ARCHITECTURES, GGUFSummary, is_gguf, scan_header

MODEL_LAYER = "application/vnd.ollama.image.model"
DEFAULT_REGISTRY = "registry.ollama.ai"


@dataclass(frozen=True)
class OllamaModel:
    name: str  # "llama3.2:1b", "someone/model:tag"
    blob: Path
    summary: GGUFSummary


def ollama_dirs() -> list[Path]:
    """``$OLLAMA_MODELS``, else ``~/.ollama/models`` and the Linux service's store."""
    if os.environ.get("OLLAMA_MODELS"):
        return [Path(os.environ["OLLAMA_MODELS"]).expanduser()]
    return [Path.home() / ".ollama" / "models", Path("/usr/share/ollama/.ollama/models")]


def _display_name(manifest: Path, manifests: Path) -> str:
    registry, *path, tag = manifest.relative_to(manifests).parts
    if registry == DEFAULT_REGISTRY and path[:1] == ["library"]:
        path = path[1:]
    else:
        path = ([registry] if registry != DEFAULT_REGISTRY else []) + path
    return f"{'/'.join(path)}:{tag}"


def find_ollama_models(
    roots: list[Path] | None = None, architectures: tuple[str, ...] | None = ARCHITECTURES
) -> list[OllamaModel]:
    """Every model in the store whose GGUF blob has one of ``architectures`` (None: any)."""
    found: list[OllamaModel] = []
    for root in roots if roots is not None else ollama_dirs():
        manifests = root / "manifests"
        if not manifests.is_dir():
            continue
        for manifest in sorted(p for p in manifests.rglob("*") if p.is_file()):
            try:
                layers = json.loads(manifest.read_text(encoding="utf-8")).get("layers") or []
                digest = next(layer["digest"] for layer in layers if layer.get("mediaType") == MODEL_LAYER)
                blob = root / "blobs" / str(digest).replace(":", "-")
                if not is_gguf(blob):
                    continue
                summary = scan_header(blob)
            except (OSError, ValueError, StopIteration, KeyError, TypeError, AttributeError, ModelFileError):
                continue
            if architectures is None or summary.architecture in architectures:
                found.append(OllamaModel(_display_name(manifest, manifests), blob, summary))
    return found


def find_ollama_blob(name: str, roots: list[Path] | None = None) -> Path | None:
    """The blob behind an Ollama name ("llama3.2" means "llama3.2:latest")."""
    wanted = name if ":" in name else f"{name}:latest"
    for model in find_ollama_models(roots, architectures=None):  # an unsupported one gets a clear error on load
        if model.name == wanted:
            return model.blob
    return None
