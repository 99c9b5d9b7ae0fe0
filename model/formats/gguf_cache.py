"""The GGUF cache: a file's dequantized float32 weights, config and tokenizer, kept as
safetensors in the user's cache folder keyed by the file's SHA-256, written under a temporary
name and renamed; temporaries of processes that are gone are swept."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
from pathlib import Path
from typing import Any

from tokenizers import Tokenizer

from model.core.errors import ModelFileError
from model.core.tokenizer import TextTokenizer
from model.core.transformer import Transformer
from model.core.weights import TOKENIZER_FILE, WEIGHTS_FILE, load_config, read_safetensors, save_model
from model.formats.llama import build_module

log = logging.getLogger(__name__)

CACHE_ENV = "ATTENTION_EXPLORER_CACHE"
CACHE_LAYOUT = "1"  # bump when what is cached changes: old entries are then ignored
META_FILE = "source.json"


def cache_root() -> Path:
    """``$ATTENTION_EXPLORER_CACHE``, else ``$XDG_CACHE_HOME/attention-explorer``, else
    ``~/.cache/attention-explorer``; GGUF entries live in its ``gguf`` folder."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "attention-explorer"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            while chunk := fh.read(1 << 22):
                digest.update(chunk)
    except OSError as exc:
        raise ModelFileError(path, f"cannot read the file ({exc})") from exc
    return digest.hexdigest()


_OLLAMA_BLOB = re.compile(r"^sha256-([0-9a-f]{64})$")


def cache_folder(path: Path, digest: str | None = None) -> Path:
    """The cache entry for ``path``: named by its SHA-256, which Ollama's blob names already
    are (hashing a multi-GB blob on every load would cost seconds)."""
    named = _OLLAMA_BLOB.match(path.name)
    digest = digest or (named.group(1) if named else file_sha256(path))
    return cache_root() / "gguf" / f"{digest}-v{CACHE_LAYOUT}"


def _read_cache(folder: Path) -> tuple[Transformer, TextTokenizer, str] | None:
    if not (folder / META_FILE).is_file():
        return None
    try:
        meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
        cfg = load_config(folder)
        weights = folder / WEIGHTS_FILE
        # Checked finite when it was written; the folder is named by the source's hash.
        module = build_module(read_safetensors(weights), cfg, weights, check=False)
        tokenizer = TextTokenizer.from_file(folder / TOKENIZER_FILE, bos_token_id=module.cfg.bos_token_id)
        return module, tokenizer, str(meta.get("note", ""))
    except (ModelFileError, OSError, ValueError) as exc:
        log.warning("ignoring a damaged cache entry %s: %s", folder, exc)
        shutil.rmtree(folder, ignore_errors=True)
        return None


def sweep_stale_temporaries(root: Path) -> list[Path]:
    """Remove half-written cache entries (``.<entry>.<pid>.tmp``) whose writing process is gone:
    closing the app during a first load ends its model thread without a ``finally``, and the
    folder (159 MB for SmolLM2) stayed for good. Returns what was removed."""
    removed = []
    try:
        candidates = [p for p in root.iterdir() if p.name.startswith(".") and p.name.endswith(".tmp")]
    except OSError:
        return removed
    for tmp in candidates:
        try:
            pid = int(tmp.name[: -len(".tmp")].rsplit(".", 1)[1])
        except (IndexError, ValueError):
            continue
        if pid == os.getpid() or _alive(pid):
            continue
        shutil.rmtree(tmp, ignore_errors=True)
        removed.append(tmp)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def _write_cache(folder: Path, module: Transformer, tokenizer: Tokenizer, meta: dict[str, Any]) -> None:
    """Write the entry under a temporary name, then rename it into place (atomic on POSIX)."""
    tmp = folder.with_name(f".{folder.name}.{os.getpid()}.tmp")
    try:
        shutil.rmtree(tmp, ignore_errors=True)
        save_model(module, tmp)
        tokenizer.save(str(tmp / TOKENIZER_FILE))
        (tmp / META_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, folder)
    except OSError as exc:  # read-only home, full disk, or another process won the race
        log.warning("could not cache the dequantized weights in %s: %s", folder, exc)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
