"""Finding model folders already on disk: the Hugging Face hub cache and folders the
person opened before. Read-only: nothing here downloads."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from model.core.errors import ModelFileError
from model.formats.gpt2 import MERGES_FILE, VOCAB_FILE
from model.formats.hf import (
    CONFIG_FILE,
    TOKENIZER_FILE,
    architecture_names,
    hf_kind,
    read_hf_config,
    weights_file,
)
from model.formats.llama import llama_family


def hf_cache_dir() -> Path:
    """The Hugging Face hub cache: ``$HF_HUB_CACHE``, ``$HF_HOME/hub``, or ``~/.cache/huggingface/hub``."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "huggingface" / "hub"


def is_checkpoint(folder: Path, kind: str = "gpt2") -> bool:
    """A complete local checkpoint of ``kind``: config, weights and tokenizer all present."""
    try:
        if not (folder / CONFIG_FILE).is_file() or weights_file(folder) is None:
            return False
        config = read_hf_config(folder)
        native = hf_kind(config) or ("llama" if llama_family(config) else None)
        # any other Hugging Face model folder: the generic source (model/formats/generic.py)
        if (native or ("generic" if "model_type" in config else None)) != kind:
            return False
    except (ModelFileError, OSError):
        return False
    if kind == "gpt2":
        return (folder / TOKENIZER_FILE).is_file() or (
            (folder / VOCAB_FILE).is_file() and (folder / MERGES_FILE).is_file()
        )
    if kind == "generic":  # a causal LM (or a folder that does not say), with its tokenizer.json
        names = architecture_names(config)
        causal = not names or any(n.endswith("ForCausalLM") or n.endswith("LMHeadModel") for n in names)
        return causal and (folder / TOKENIZER_FILE).is_file()
    return (folder / TOKENIZER_FILE).is_file() or (folder / "vocab.txt").is_file()


def cache_snapshots(cache: Path | None = None) -> Iterator[Path]:
    """One snapshot folder per cached model repo: the one ``refs/main`` names, else the newest."""
    cache = hf_cache_dir() if cache is None else cache
    if not cache.is_dir():
        return
    for repo in sorted(cache.glob("models--*")):
        snapshots = repo / "snapshots"
        if not snapshots.is_dir():
            continue
        ref = repo / "refs" / "main"
        try:
            main = snapshots / ref.read_text(encoding="utf-8").strip() if ref.is_file() else None
        except OSError:
            main = None
        if main is not None and main.is_dir():
            yield main
            continue
        candidates = [s for s in snapshots.iterdir() if s.is_dir()]
        if candidates:
            yield max(candidates, key=lambda s: s.stat().st_mtime)


def _walk(root: Path, max_depth: int) -> Iterator[Path]:
    """``root`` and its sub-folders to ``max_depth``, skipping hidden and virtual-env folders."""
    stack = [(root, 0)]
    while stack:
        folder, depth = stack.pop()
        yield folder
        if depth >= max_depth:
            continue
        try:
            children = sorted((c for c in folder.iterdir() if c.is_dir()), reverse=True)
        except OSError:
            continue
        for child in children:
            if not child.name.startswith(".") and child.name not in ("node_modules", "__pycache__", "site-packages"):
                stack.append((child, depth + 1))


def find_checkpoints(
    folder: str | Path | None = None,
    include_cache: bool = True,
    max_depth: int = 3,
    kind: str = "gpt2",
) -> list[Path]:
    """Model folders of ``kind`` ("gpt2", "bert", "llama", "generic") under ``folder`` (to ``max_depth`` levels) and, when
    ``include_cache``, in the Hugging Face hub cache. Read-only: never downloads."""
    found: list[Path] = []
    if folder is not None:
        root = Path(folder).expanduser()
        if root.is_dir():
            found += [f for f in _walk(root, max_depth) if is_checkpoint(f, kind)]
    if include_cache:
        found += [s for s in cache_snapshots() if is_checkpoint(s, kind)]
    unique: dict[Path, Path] = {}
    for path in found:
        unique.setdefault(path.resolve(), path)
    return list(unique.values())
